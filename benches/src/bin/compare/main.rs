//! `compare`: sairing beside the channels it replaces, on the same 128-byte SAI
//! request, producer and consumer in separate processes, in one run.
//!
//! ```text
//! cargo run --release -p sairing-benches --bin compare -- \
//!     [--quick] [--restart] [--scaling] [--plots DIR] [--json results.json]
//! ```
//!
//! `--restart` adds the restart-loss matrix: each channel's consumer, doing
//! `--apply-us` of work per request so that it falls behind, is killed with
//! SIGKILL half way through a stream of numbered requests and restarted, and
//! the run counts the requests in flight at the kill, lost, and applied twice.
//! `--scaling` adds sairing at other message sizes and ring capacities;
//! `--plots` draws `latency.svg` and `scaling.svg`. docs/BENCHMARKS.md explains
//! every number.
//!
//! Channels: sairing (busy-poll and eventfd), SONiC's Redis
//! channel rebuilt as SONiC builds it (a Lua script LPUSHes key/values/op onto a
//! list and PUBLISHes a wakeup; the consumer, woken by its subscription, pops a
//! batch and writes the ASIC_STATE hashes in one Lua script; responses come back
//! through a response queue and channel), Redis Streams (XADD, XREADGROUP BLOCK,
//! XACK), ZeroMQ as SONiC's ZMQ mode (PUSH/PULL plus a reply path, libzmq over
//! ipc://), gRPC (tonic over TCP loopback, unary and bidirectional streaming;
//! protoc comes from the protoc-bin-vendored crate), a plain Unix domain socket,
//! rtrb between two threads, and the floors
//! (cache-line and eventfd ping-pong between two processes). Each reports round
//! trips (p50, p99, p99.9, max) and one-way throughput. The servers start their
//! own private redis-server; nothing needs setting up beyond the README's.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use hdrhistogram::Histogram;
use sairing_benches::measure::{self, Stats};
use serde_json::json;

mod grpc;
mod plot;
mod report;
mod scaling;

#[derive(Parser)]
#[command(about = "sairing beside the channels it replaces, in one run")]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    /// A few thousand requests per channel (for CI: checks the harness, not the machine).
    #[arg(long)]
    quick: bool,
    /// Write the results here as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Also the restart-loss matrix: each channel's consumer is killed with
    /// SIGKILL in the middle of a stream of numbered requests and restarted.
    #[arg(long)]
    restart: bool,
    /// In the restart matrix, the consumer's work per request (as syncd's on
    /// the ASIC), so that it falls behind the producer as syncd does and the
    /// kill lands on a backlog.
    #[arg(long, default_value_t = 10)]
    apply_us: u64,
    /// Only the restart matrix, for these channels (comma-separated), and no
    /// latency table: for looking at one channel's behaviour.
    #[arg(long, value_delimiter = ',')]
    restart_only: Vec<String>,
    /// Also sairing busy-poll at message sizes from 64 B to 64 KiB and ring
    /// capacities from 4 KiB to 64 MiB: one-way throughput and round trips.
    #[arg(long)]
    scaling: bool,
    /// Write SVG plots here: latency.svg (every channel's round trips by
    /// percentile) and, with --scaling, scaling.svg.
    #[arg(long)]
    plots: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Cmd {
    /// (internal) a sairing server.
    Serve(measure::ServeArgs),
    /// (internal) a Unix-socket server.
    ServeUds { path: PathBuf },
    /// (internal) the consumer of SONiC's Redis list channel.
    ServeRedisList { url: String },
    /// (internal) the consumer of the Redis Streams channel.
    ServeRedisStreams { url: String },
    /// (internal) the ZeroMQ server: PULL requests, PUSH answers.
    ServeZmq { dir: PathBuf },
    /// (internal) the gRPC server (unary and streaming).
    ServeGrpc {
        #[arg(long, default_value = "127.0.0.1:0")]
        addr: String,
    },
    /// (internal) a consumer for the restart matrix: applies numbered requests
    /// by appending their numbers to LOG.
    Apply {
        channel: String,
        target: String,
        log: PathBuf,
        /// Microseconds of work per request before it counts as applied.
        #[arg(long, default_value_t = 0)]
        apply_us: u64,
    },
}

/// Request kinds every channel carries: a get is answered, a set is one-way,
/// a flush is answered once everything before it has been consumed.
const GET: u8 = b'g';
const SET: u8 = b's';
const FLUSH: u8 = b'f';

fn hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("valid bounds")
}

/// The request every non-sairing channel carries: 128 bytes, shaped like the
/// sairing codec's (an op byte, a key, one attribute).
fn message(op: u8) -> Vec<u8> {
    let mut m = vec![b'x'; 128];
    m[0] = op;
    let key = b"SAI_OBJECT_TYPE_ROUTE_ENTRY:{\"dest\":\"10.0.0.0/24\"}|SAI_ROUTE_ENTRY_ATTR_NEXT_HOP_ID=oid:0x40000000000a1";
    m[1..1 + key.len()].copy_from_slice(key);
    m
}

fn spawn_self(args: &[&str]) -> anyhow::Result<(Child, BufReader<std::process::ChildStdout>)> {
    let (child, out, _) = spawn_self_ready(args)?;
    Ok((child, out))
}

/// Starts this binary with `args` and waits for its `ready [WORDS]` line;
/// returns the process, its stdout (kept open) and the WORDS.
fn spawn_self_ready(
    args: &[&str],
) -> anyhow::Result<(Child, BufReader<std::process::ChildStdout>, String)> {
    let mut child = Command::new(std::env::current_exe()?)
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .context("starting the server process")?;
    let mut out = BufReader::new(child.stdout.take().context("server stdout")?);
    let mut line = String::new();
    out.read_line(&mut line)?;
    match line.trim().strip_prefix("ready") {
        Some(rest) => Ok((child, out, rest.trim().to_owned())),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            bail!("server {args:?} did not start: {line:?}")
        }
    }
}

fn stop(mut c: Child) {
    let _ = c.kill();
    let _ = c.wait();
}

// ---------- Unix domain socket ----------

fn frame_write(s: &mut UnixStream, b: &[u8]) -> std::io::Result<()> {
    s.write_all(&(b.len() as u32).to_le_bytes())?;
    s.write_all(b)
}

fn frame_read(s: &mut impl Read, buf: &mut Vec<u8>) -> std::io::Result<bool> {
    let mut len = [0u8; 4];
    if let Err(e) = s.read_exact(&mut len) {
        return if e.kind() == std::io::ErrorKind::UnexpectedEof {
            Ok(false)
        } else {
            Err(e)
        };
    }
    buf.resize(u32::from_le_bytes(len) as usize, 0);
    s.read_exact(buf)?;
    Ok(true)
}

fn serve_uds(path: PathBuf) -> anyhow::Result<()> {
    measure::pin(1);
    let _ = std::fs::remove_file(&path);
    let l = UnixListener::bind(&path)?;
    println!("ready");
    let (mut s, _) = l.accept()?;
    let mut r = BufReader::with_capacity(1 << 16, s.try_clone()?);
    let mut buf = Vec::new();
    while frame_read(&mut r, &mut buf)? {
        if buf[0] != SET {
            frame_write(&mut s, b"SAI_STATUS_SUCCESS")?;
        }
    }
    Ok(())
}

fn uds(samples: u64, messages: u64) -> anyhow::Result<Stats> {
    let tmp = tempfile::tempdir()?;
    let path = tmp.path().join("uds.sock");
    let (child, _out) = spawn_self(&["serve-uds", path.to_str().context("utf-8")?])?;
    let r = (|| {
        let mut s = UnixStream::connect(&path)?;
        let (get, set, flush) = (message(GET), message(SET), message(FLUSH));
        let mut h = hist();
        let mut buf = Vec::new();
        for i in 0..samples + samples / 10 {
            let t = Instant::now();
            frame_write(&mut s, &get)?;
            frame_read(&mut s, &mut buf)?;
            if i >= samples / 10 {
                h.record((t.elapsed().as_nanos() as u64).max(1))?;
            }
        }
        let mut w = std::io::BufWriter::with_capacity(1 << 16, s.try_clone()?);
        let t = Instant::now();
        for _ in 0..messages {
            w.write_all(&(set.len() as u32).to_le_bytes())?;
            w.write_all(&set)?;
        }
        w.write_all(&(flush.len() as u32).to_le_bytes())?;
        w.write_all(&flush)?;
        w.flush()?;
        frame_read(&mut s, &mut buf)?;
        Ok(Stats {
            name: "uds",
            hist: h,
            msgs_per_s: Some(messages as f64 / t.elapsed().as_secs_f64()),
        })
    })();
    stop(child);
    r
}

// ---------- SONiC's Redis list channel ----------

const REQ_QUEUE: &str = "ASIC_STATE_KEY_VALUE_OP_QUEUE";
const REQ_CHANNEL: &str = "ASIC_STATE_CHANNEL";
const RESP_QUEUE: &str = "GETRESPONSE_KEY_VALUE_OP_QUEUE";
const RESP_CHANNEL: &str = "GETRESPONSE_CHANNEL";

/// ProducerTable's script: push key, values and op; publish a wakeup.
const PRODUCE: &str =
    "redis.call('LPUSH', KEYS[1], ARGV[1], ARGV[2], ARGV[3]); redis.call('PUBLISH', KEYS[2], 'G')";

/// ConsumerTable's pop, with the ASIC_STATE writes in the same script: take up
/// to ARGV[1] entries from the tail (oldest first), trim them, and for a set
/// write its field/value pairs into the object's hash. Returns the entries.
const CONSUME: &str = r#"
local n = tonumber(ARGV[1]) * 3
local r = redis.call('LRANGE', KEYS[1], -n, -1)
if #r == 0 then return r end
redis.call('LTRIM', KEYS[1], 0, -#r - 1)
for i = #r, 1, -3 do
  local key, values, op = r[i], r[i - 1], r[i - 2]
  if op == 'Sset' then
    local fv = cjson.decode(values)
    for j = 1, #fv, 2 do redis.call('HSET', 'ASIC_STATE:' .. key, fv[j], fv[j + 1]) end
  end
end
return r
"#;

fn redis_kv(op: u8) -> (String, String, &'static str) {
    let key = "SAI_OBJECT_TYPE_ROUTE_ENTRY:{\"dest\":\"10.0.0.0/24\",\"switch_id\":\"oid:0x21000000000000\"}".to_owned();
    let values = r#"["SAI_ROUTE_ENTRY_ATTR_NEXT_HOP_ID","oid:0x40000000000a1"]"#.to_owned();
    let op = match op {
        GET => "Sget",
        SET => "Sset",
        _ => "Sflush",
    };
    (key, values, op)
}

fn serve_redis_list(url: String) -> anyhow::Result<()> {
    measure::pin(1);
    let client = redis::Client::open(url.as_str())?;
    let mut sub = client.get_connection()?;
    let mut con = client.get_connection()?;
    let consume = redis::Script::new(CONSUME);
    let produce = redis::Script::new(PRODUCE);
    let mut ps = sub.as_pubsub();
    ps.subscribe(REQ_CHANNEL)?;
    println!("ready");
    loop {
        let _msg = ps.get_message()?;
        loop {
            let r: Vec<String> = consume.key(REQ_QUEUE).arg(128).invoke(&mut con)?;
            if r.is_empty() {
                break;
            }
            for i in (0..r.len()).step_by(3).rev() {
                let (op, key) = (&r[i], &r[i + 2]);
                if op != "Sset" {
                    // The response, as syncd sends it: through its own queue and channel.
                    produce
                        .key(RESP_QUEUE)
                        .key(RESP_CHANNEL)
                        .arg(key)
                        .arg("SAI_STATUS_SUCCESS")
                        .arg("getresponse")
                        .invoke::<()>(&mut con)?;
                }
            }
        }
    }
}

fn redis_list(url: &str, samples: u64, messages: u64) -> anyhow::Result<Stats> {
    let (child, _out) = spawn_self(&["serve-redis-list", url])?;
    let r = (|| {
        let client = redis::Client::open(url)?;
        let mut con = client.get_connection()?;
        let mut sub = client.get_connection()?;
        let produce = redis::Script::new(PRODUCE);
        let pop = redis::Script::new(
            "local r = redis.call('LRANGE', KEYS[1], 0, -1); redis.call('DEL', KEYS[1]); return r",
        );
        let mut ps = sub.as_pubsub();
        ps.subscribe(RESP_CHANNEL)?;
        ps.set_read_timeout(Some(Duration::from_secs(30)))?;
        let call = |con: &mut redis::Connection, op: u8| -> redis::RedisResult<()> {
            let (k, v, o) = redis_kv(op);
            produce
                .key(REQ_QUEUE)
                .key(REQ_CHANNEL)
                .arg(k)
                .arg(v)
                .arg(o)
                .invoke(con)
        };
        let mut h = hist();
        let wait_response =
            |ps: &mut redis::PubSub<'_>, con: &mut redis::Connection| -> anyhow::Result<()> {
                loop {
                    ps.get_message()?;
                    let r: Vec<String> = pop.key(RESP_QUEUE).invoke(con)?;
                    if !r.is_empty() {
                        return Ok(());
                    }
                }
            };
        for i in 0..samples + samples / 10 {
            let t = Instant::now();
            call(&mut con, GET)?;
            wait_response(&mut ps, &mut con)?;
            if i >= samples / 10 {
                h.record((t.elapsed().as_nanos() as u64).max(1))?;
            }
        }
        // One-way: sets, pipelined 128 at a time as ProducerTable's batches are.
        let t = Instant::now();
        let (k, v, o) = redis_kv(SET);
        let mut left = messages;
        while left > 0 {
            let n = left.min(128);
            let mut p = redis::pipe();
            for _ in 0..n {
                p.cmd("EVALSHA")
                    .arg(produce.get_hash())
                    .arg(2)
                    .arg(REQ_QUEUE)
                    .arg(REQ_CHANNEL)
                    .arg(&k)
                    .arg(&v)
                    .arg(o)
                    .ignore();
            }
            if let Err(e) = p.query::<()>(&mut con) {
                // The script is not cached yet: load it and try again.
                produce.prepare_invoke().load(&mut con)?;
                if !e.to_string().contains("NOSCRIPT") {
                    return Err(e.into());
                }
                continue;
            }
            left -= n;
        }
        call(&mut con, FLUSH)?;
        wait_response(&mut ps, &mut con)?;
        let rate = messages as f64 / t.elapsed().as_secs_f64();
        Ok(Stats {
            name: "redis-list",
            hist: h,
            msgs_per_s: Some(rate),
        })
    })();
    stop(child);
    r
}

// ---------- Redis Streams ----------

const REQ_STREAM: &str = "sairing:req";
const RESP_STREAM: &str = "sairing:resp";

fn serve_redis_streams(url: String) -> anyhow::Result<()> {
    measure::pin(1);
    let client = redis::Client::open(url.as_str())?;
    let mut con = client.get_connection()?;
    let _: redis::RedisResult<()> = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(REQ_STREAM)
        .arg("syncd")
        .arg("$")
        .arg("MKSTREAM")
        .query(&mut con);
    println!("ready");
    loop {
        let reply: redis::streams::StreamReadReply = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg("syncd")
            .arg("c1")
            .arg("COUNT")
            .arg(128)
            .arg("BLOCK")
            .arg(0)
            .arg("STREAMS")
            .arg(REQ_STREAM)
            .arg(">")
            .query(&mut con)?;
        for key in reply.keys {
            let mut p = redis::pipe();
            for id in &key.ids {
                let op: String = id.get("op").unwrap_or_default();
                let k: String = id.get("key").unwrap_or_default();
                if op == "Sset" {
                    let v: String = id.get("values").unwrap_or_default();
                    p.hset(
                        format!("ASIC_STATE:{k}"),
                        "SAI_ROUTE_ENTRY_ATTR_NEXT_HOP_ID",
                        v,
                    )
                    .ignore();
                } else {
                    p.cmd("XADD")
                        .arg(RESP_STREAM)
                        .arg("*")
                        .arg("status")
                        .arg("SAI_STATUS_SUCCESS")
                        .ignore();
                }
                p.cmd("XACK")
                    .arg(REQ_STREAM)
                    .arg("syncd")
                    .arg(&id.id)
                    .ignore();
            }
            p.query::<()>(&mut con)?;
        }
    }
}

fn redis_streams(url: &str, samples: u64, messages: u64) -> anyhow::Result<Stats> {
    let (child, _out) = spawn_self(&["serve-redis-streams", url])?;
    let r = (|| {
        let client = redis::Client::open(url)?;
        let mut con = client.get_connection()?;
        let (k, v, _) = redis_kv(SET);
        // XADD of one request, as the producer writes it.
        let xadd = |op: &str| {
            let mut c = redis::cmd("XADD");
            c.arg(REQ_STREAM)
                .arg("*")
                .arg("key")
                .arg(&k)
                .arg("values")
                .arg(&v)
                .arg("op")
                .arg(op);
            c
        };
        let add = |con: &mut redis::Connection, op: &str| -> redis::RedisResult<String> {
            xadd(op).query(con)
        };
        let wait = |con: &mut redis::Connection, last: &mut String| -> anyhow::Result<()> {
            let reply: redis::streams::StreamReadReply = redis::cmd("XREAD")
                .arg("COUNT")
                .arg(1)
                .arg("BLOCK")
                .arg(30_000)
                .arg("STREAMS")
                .arg(RESP_STREAM)
                .arg(last.as_str())
                .query(con)?;
            let id = reply
                .keys
                .first()
                .and_then(|k| k.ids.last())
                .map(|i| i.id.clone());
            *last = id.context("no response within 30 s")?;
            Ok(())
        };
        // The response stream's position before the first request.
        let ids: redis::streams::StreamRangeReply = redis::cmd("XREVRANGE")
            .arg(RESP_STREAM)
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .query(&mut con)?;
        let mut last = ids.ids.first().map_or("0-0".to_owned(), |i| i.id.clone());
        let mut h = hist();
        for i in 0..samples + samples / 10 {
            let t = Instant::now();
            add(&mut con, "Sget")?;
            wait(&mut con, &mut last)?;
            if i >= samples / 10 {
                h.record((t.elapsed().as_nanos() as u64).max(1))?;
            }
        }
        let t = Instant::now();
        let mut left = messages;
        while left > 0 {
            let n = left.min(128);
            let mut p = redis::pipe();
            for _ in 0..n {
                p.add_command(xadd("Sset")).ignore();
            }
            p.query::<()>(&mut con)?;
            left -= n;
        }
        add(&mut con, "Sflush")?;
        wait(&mut con, &mut last)?;
        let rate = messages as f64 / t.elapsed().as_secs_f64();
        Ok(Stats {
            name: "redis-streams",
            hist: h,
            msgs_per_s: Some(rate),
        })
    })();
    stop(child);
    r
}

// ---------- ZeroMQ, as SONiC's ZMQ mode: PUSH/PULL plus a reply path ----------

fn zmq_endpoints(dir: &std::path::Path) -> (String, String) {
    (
        format!("ipc://{}/req", dir.display()),
        format!("ipc://{}/resp", dir.display()),
    )
}

fn serve_zmq(dir: PathBuf) -> anyhow::Result<()> {
    measure::pin(1);
    let ctx = zmq::Context::new();
    let (req, resp) = zmq_endpoints(&dir);
    let pull = ctx.socket(zmq::PULL)?;
    pull.bind(&req)?;
    let push = ctx.socket(zmq::PUSH)?;
    push.connect(&resp)?;
    println!("ready");
    loop {
        let m = pull.recv_bytes(0)?;
        if m.first() != Some(&SET) {
            push.send(&b"SAI_STATUS_SUCCESS"[..], 0)?;
        }
    }
}

fn zmq_channel(samples: u64, messages: u64) -> anyhow::Result<Stats> {
    let tmp = tempfile::tempdir()?;
    let ctx = zmq::Context::new();
    let (req, resp) = zmq_endpoints(tmp.path());
    let pull = ctx.socket(zmq::PULL)?;
    pull.bind(&resp)?;
    let (child, _out) = spawn_self(&["serve-zmq", tmp.path().to_str().context("utf-8")?])?;
    let r = (|| {
        let push = ctx.socket(zmq::PUSH)?;
        push.connect(&req)?;
        let (get, set, flush) = (message(GET), message(SET), message(FLUSH));
        let mut h = hist();
        for i in 0..samples + samples / 10 {
            let t = Instant::now();
            push.send(&get[..], 0)?;
            pull.recv_bytes(0)?;
            if i >= samples / 10 {
                h.record((t.elapsed().as_nanos() as u64).max(1))?;
            }
        }
        let t = Instant::now();
        for _ in 0..messages {
            push.send(&set[..], 0)?;
        }
        push.send(&flush[..], 0)?;
        pull.recv_bytes(0)?;
        Ok(Stats {
            name: "zmq",
            hist: h,
            msgs_per_s: Some(messages as f64 / t.elapsed().as_secs_f64()),
        })
    })();
    stop(child);
    r
}

// ---------- rtrb between two threads ----------

fn rtrb_inproc(samples: u64, messages: u64) -> anyhow::Result<Stats> {
    let (mut req_tx, mut req_rx) = rtrb::RingBuffer::<[u8; 128]>::new(1 << 14);
    let (mut resp_tx, mut resp_rx) = rtrb::RingBuffer::<u8>::new(1 << 14);
    let server = std::thread::spawn(move || {
        measure::pin(1);
        loop {
            match req_rx.pop() {
                Ok(m) if m[0] == SET => {}
                Ok(m) => {
                    while resp_tx.push(m[0]).is_err() {}
                    if m[0] == b'q' {
                        return;
                    }
                }
                Err(_) => std::hint::spin_loop(),
            }
        }
    });
    let msg = |op: u8| {
        let mut a = [0u8; 128];
        a.copy_from_slice(&message(op));
        a
    };
    let (get, set, flush) = (msg(GET), msg(SET), msg(FLUSH));
    let mut h = hist();
    let rtt =
        |req_tx: &mut rtrb::Producer<[u8; 128]>, resp_rx: &mut rtrb::Consumer<u8>, m: [u8; 128]| {
            while req_tx.push(m).is_err() {}
            loop {
                if resp_rx.pop().is_ok() {
                    break;
                }
                std::hint::spin_loop();
            }
        };
    for i in 0..samples + samples / 10 {
        let t = Instant::now();
        rtt(&mut req_tx, &mut resp_rx, get);
        if i >= samples / 10 {
            h.record((t.elapsed().as_nanos() as u64).max(1))?;
        }
    }
    let t = Instant::now();
    for _ in 0..messages {
        while req_tx.push(set).is_err() {
            std::hint::spin_loop();
        }
    }
    rtt(&mut req_tx, &mut resp_rx, flush);
    let rate = messages as f64 / t.elapsed().as_secs_f64();
    rtt(&mut req_tx, &mut resp_rx, msg(b'q'));
    server
        .join()
        .map_err(|_| anyhow::anyhow!("rtrb server thread panicked"))?;
    Ok(Stats {
        name: "rtrb-inproc",
        hist: h,
        msgs_per_s: Some(rate),
    })
}

// ---------- the restart-loss matrix ----------

/// What applying one request costs a restart-matrix consumer, in nanoseconds.
static APPLY_NS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Applies requests: does their work ([`APPLY_NS`] each), then appends their
/// numbers to the log (one write: it survives a kill of the process once
/// written).
fn log_applied(log: &mut std::fs::File, nums: &[u64]) -> anyhow::Result<()> {
    let work = APPLY_NS.load(std::sync::atomic::Ordering::Relaxed) as u128 * nums.len() as u128;
    let t = Instant::now();
    while t.elapsed().as_nanos() < work {
        std::hint::spin_loop();
    }
    let mut b = Vec::with_capacity(nums.len() * 8);
    for n in nums {
        b.extend_from_slice(&n.to_le_bytes());
    }
    log.write_all(&b)?;
    Ok(())
}

fn read_log(path: &std::path::Path) -> Vec<u64> {
    std::fs::read(path)
        .unwrap_or_default()
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect()
}

/// A consumer that applies numbered requests by logging their numbers.
fn apply(channel: &str, target: &str, log_path: &std::path::Path) -> anyhow::Result<()> {
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)?;
    match channel {
        "sairing" => {
            // As syncd does: skip what was applied before a crash, and free ring
            // space only once a batch is applied.
            let last = read_log(log_path).last().copied().unwrap_or(0);
            let mut server = sairing_transport::Server::open(target, &Default::default())?;
            server.set_auto_release(false);
            println!("ready");
            let mut batch = Vec::new();
            loop {
                let got = match server.recv(Some(Duration::from_millis(1)))? {
                    Some(req) => {
                        let n: u64 = req.request.key.parse().unwrap_or(0);
                        if n > last {
                            batch.push(n);
                        }
                        true
                    }
                    None => false,
                };
                if !got || batch.len() >= 64 {
                    log_applied(&mut log, &batch)?;
                    batch.clear();
                    server.release();
                }
            }
        }
        "redis-list" => {
            // As SONiC's ConsumerTable does: pop a batch (LRANGE + LTRIM in one
            // script), then process it.
            let client = redis::Client::open(target)?;
            let mut sub = client.get_connection()?;
            let mut con = client.get_connection()?;
            let pop = redis::Script::new("local r = redis.call('LRANGE', KEYS[1], -ARGV[1], -1); if #r > 0 then redis.call('LTRIM', KEYS[1], 0, -#r - 1) end; return r");
            let mut ps = sub.as_pubsub();
            ps.subscribe(REQ_CHANNEL)?;
            ps.set_read_timeout(Some(Duration::from_millis(20)))?;
            println!("ready");
            loop {
                let r: Vec<u64> = pop.key(REQ_QUEUE).arg(128).invoke(&mut con)?;
                if r.is_empty() {
                    let _ = ps.get_message();
                    continue;
                }
                let nums: Vec<u64> = r.into_iter().rev().collect();
                log_applied(&mut log, &nums)?;
            }
        }
        "redis-streams" => {
            // A careful consumer: its own pending entries first (delivered
            // before a crash, never acknowledged), then new ones; XACK after applying.
            let client = redis::Client::open(target)?;
            let mut con = client.get_connection()?;
            let _: redis::RedisResult<()> = redis::cmd("XGROUP")
                .arg("CREATE")
                .arg("restart:req")
                .arg("g")
                .arg("0")
                .arg("MKSTREAM")
                .query(&mut con);
            println!("ready");
            let mut from = "0".to_owned();
            loop {
                let reply: redis::streams::StreamReadReply = redis::cmd("XREADGROUP")
                    .arg("GROUP")
                    .arg("g")
                    .arg("c")
                    .arg("COUNT")
                    .arg(128)
                    .arg("BLOCK")
                    .arg(20)
                    .arg("STREAMS")
                    .arg("restart:req")
                    .arg(&from)
                    .query(&mut con)?;
                let ids: Vec<_> = reply.keys.into_iter().flat_map(|k| k.ids).collect();
                if ids.is_empty() {
                    from = ">".into();
                    continue;
                }
                let nums: Vec<u64> = ids.iter().map(|i| i.get::<u64>("n").unwrap_or(0)).collect();
                log_applied(&mut log, &nums)?;
                let mut ack = redis::cmd("XACK");
                ack.arg("restart:req").arg("g");
                for i in &ids {
                    ack.arg(&i.id);
                }
                ack.query::<()>(&mut con)?;
            }
        }
        "zmq" => {
            let ctx = zmq::Context::new();
            let pull = ctx.socket(zmq::PULL)?;
            pull.bind(&format!("ipc://{target}"))?;
            println!("ready");
            loop {
                let m = pull.recv_bytes(0)?;
                log_applied(&mut log, &[u64::from_le_bytes(m[..8].try_into()?)])?;
            }
        }
        "uds" => {
            let _ = std::fs::remove_file(target);
            let l = UnixListener::bind(target)?;
            println!("ready");
            loop {
                let (s, _) = l.accept()?;
                let mut r = BufReader::with_capacity(1 << 16, s);
                let mut buf = Vec::new();
                while frame_read(&mut r, &mut buf)? {
                    let n = u64::from_le_bytes(buf[..8].try_into()?);
                    log_applied(&mut log, &[n])?;
                }
            }
        }
        "grpc-unary" | "grpc-stream" => grpc::serve(target, Some(log_path)),
        other => bail!("unknown channel {other}"),
    }
}

/// One channel's row of the restart matrix.
struct Restart {
    name: &'static str,
    sent: u64,
    /// Sent but not yet applied when the consumer was killed.
    in_flight: u64,
    lost: u64,
    duplicated: u64,
}

/// One channel's restart run: sends 1..=total, kills the consumer half way,
/// restarts it, and counts what was applied.
fn restart_run(
    name: &'static str,
    url: &str,
    total: u64,
    apply_us: u64,
) -> anyhow::Result<Restart> {
    let tmp = tempfile::tempdir_in("/dev/shm").or_else(|_| tempfile::tempdir())?;
    let log = tmp.path().join("applied.log");
    let target = match name {
        "sairing" => {
            let dir = tmp.path().join("chan");
            sairing_transport::channel::create(
                &dir,
                &sairing_transport::channel::ChannelOptions {
                    capacity: 1 << 24,
                    ..Default::default()
                },
            )?;
            dir.to_string_lossy().into_owned()
        }
        "uds" => tmp.path().join("uds.sock").to_string_lossy().into_owned(),
        "zmq" => tmp.path().join("zmq.ipc").to_string_lossy().into_owned(),
        "grpc-unary" | "grpc-stream" => {
            // A port for the consumer and every restart of it; the listener
            // sets SO_REUSEADDR, so the killed one's connections do not block it.
            let port = std::net::TcpListener::bind("127.0.0.1:0")?
                .local_addr()?
                .port();
            format!("127.0.0.1:{port}")
        }
        _ => url.to_owned(),
    };
    let apply_us = apply_us.to_string();
    let start_consumer = || {
        spawn_self(&[
            "apply",
            name,
            &target,
            log.to_str().expect("utf-8 path"),
            "--apply-us",
            &apply_us,
        ])
    };
    let (mut consumer, _out) = start_consumer()?;
    let mut out_keep = Some(_out);
    let killed = std::sync::atomic::AtomicBool::new(false);
    let sent = std::cell::Cell::new(0u64);
    // Requests sent but not yet applied when the consumer was killed.
    let in_flight = std::cell::Cell::new(None::<u64>);
    let applied_len = || std::fs::metadata(&log).map(|m| m.len() / 8).unwrap_or(0);
    // Kill the consumer once half the numbers are applied, and start another.
    let restart_if_due = |consumer: &mut Child,
                          out: &mut Option<BufReader<std::process::ChildStdout>>|
     -> anyhow::Result<()> {
        if !killed.load(std::sync::atomic::Ordering::Relaxed) && applied_len() >= total / 2 {
            killed.store(true, std::sync::atomic::Ordering::Relaxed);
            in_flight.set(Some(sent.get().saturating_sub(applied_len())));
            consumer.kill()?;
            consumer.wait()?;
            let (c, o) = start_consumer()?;
            *consumer = c;
            *out = Some(o);
        }
        Ok(())
    };
    // (The socket holds its context.)
    let zmq_push = if name == "zmq" {
        let push = zmq::Context::new().socket(zmq::PUSH)?;
        // Dropping it at the end of the run must not wait on a dead consumer.
        push.set_linger(0)?;
        push.connect(&format!("ipc://{target}"))?;
        Some(push)
    } else {
        None
    };
    // The producer side, per channel.
    let send_all = |consumer: &mut Child,
                    out_keep: &mut Option<BufReader<std::process::ChildStdout>>|
     -> anyhow::Result<()> {
        match name {
            "sairing" => {
                let mut c = sairing_transport::Client::open(&target, &Default::default())?;
                let a: [(&str, &str); 0] = [];
                for n in 1..=total {
                    c.send(
                        sairing_transport::Op::Set,
                        &n.to_string(),
                        &sairing_transport::Body::Attrs(&a[..]),
                    )?;
                    sent.set(sent.get() + 1);
                    restart_if_due(consumer, out_keep)?;
                }
            }
            "redis-list" => {
                let client = redis::Client::open(url)?;
                let mut con = client.get_connection()?;
                let produce = redis::Script::new(
                    "redis.call('LPUSH', KEYS[1], ARGV[1]); redis.call('PUBLISH', KEYS[2], 'G')",
                );
                for n in 1..=total {
                    produce
                        .key(REQ_QUEUE)
                        .key(REQ_CHANNEL)
                        .arg(n)
                        .invoke::<()>(&mut con)?;
                    sent.set(sent.get() + 1);
                    restart_if_due(consumer, out_keep)?;
                }
            }
            "redis-streams" => {
                let client = redis::Client::open(url)?;
                let mut con = client.get_connection()?;
                for n in 1..=total {
                    redis::cmd("XADD")
                        .arg("restart:req")
                        .arg("*")
                        .arg("n")
                        .arg(n)
                        .query::<String>(&mut con)?;
                    sent.set(sent.get() + 1);
                    restart_if_due(consumer, out_keep)?;
                }
            }
            "grpc-unary" | "grpc-stream" => {
                let port = target
                    .rsplit(':')
                    .next()
                    .and_then(|p| p.parse().ok())
                    .context("port")?;
                grpc::produce(name == "grpc-stream", port, total, &sent, || {
                    restart_if_due(consumer, out_keep)
                })?;
            }
            "zmq" => {
                // PUSH keeps its queue across the consumer's restart; what the
                // dead consumer had received but not applied is gone. The
                // socket lives to the end of the run, as a producer's does:
                // closing it would drop what it still queues.
                let push = zmq_push.as_ref().context("zmq socket")?;
                for n in 1..=total {
                    push.send(&n.to_le_bytes()[..], 0)?;
                    sent.set(sent.get() + 1);
                    restart_if_due(consumer, out_keep)?;
                }
            }
            _ => {
                // A plain socket: a write to a dead consumer fails; the client
                // reconnects to the next one and goes on with the next number.
                let mut s: Option<UnixStream> = None;
                for n in 1..=total {
                    sent.set(sent.get() + 1);
                    if s.is_none() {
                        let deadline = Instant::now() + Duration::from_secs(10);
                        while s.is_none() {
                            s = UnixStream::connect(&target).ok();
                            if s.is_none() {
                                anyhow::ensure!(
                                    Instant::now() < deadline,
                                    "no consumer to connect to"
                                );
                                std::thread::sleep(Duration::from_millis(1));
                            }
                        }
                    }
                    if frame_write(s.as_mut().expect("connected"), &n.to_le_bytes()).is_err() {
                        s = None; // this one is lost
                    }
                    restart_if_due(consumer, out_keep)?;
                }
            }
        }
        Ok(())
    };
    send_all(&mut consumer, &mut out_keep)?;
    // Let the consumer drain (the kill may come now, in the middle of the
    // stream still waiting in the channel), until the log stops growing.
    let mut last = u64::MAX;
    let mut still = Instant::now();
    loop {
        restart_if_due(&mut consumer, &mut out_keep)?;
        let now = applied_len();
        if now != last {
            last = now;
            still = Instant::now();
        }
        if now >= total && still.elapsed() > Duration::from_millis(200)
            || still.elapsed() > Duration::from_secs(3)
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    stop(consumer);
    if name == "redis-list" || name == "redis-streams" {
        let mut con = redis::Client::open(url)?.get_connection()?;
        let _: () = redis::cmd("DEL")
            .arg(REQ_QUEUE)
            .arg("restart:req")
            .query(&mut con)?;
    }
    let applied = read_log(&log);
    let distinct: std::collections::HashSet<u64> = applied.iter().copied().collect();
    let lost = (1..=total).filter(|n| !distinct.contains(n)).count() as u64;
    let duplicated = applied.len() as u64 - distinct.len() as u64;
    anyhow::ensure!(
        killed.load(std::sync::atomic::Ordering::Relaxed),
        "{name}: the consumer was never killed: it applied {} of the {} sent, then stopped",
        applied.len(),
        sent.get()
    );
    Ok(Restart {
        name,
        sent: sent.get(),
        in_flight: in_flight.get().unwrap_or(0),
        lost,
        duplicated,
    })
}

/// The latency and throughput table: every channel, measured.
fn latency_runs(url: &str, n: u64, m: u64, m_slow: u64) -> anyhow::Result<Vec<Stats>> {
    // The floors first (as chanbench does), then sairing, then the others.
    let floors = [measure::floor_spin(n)?, measure::floor_eventfd(n)?];
    let mut runs = vec![
        measure::sairing_mode("sairing-spin", u64::MAX, n, m)?,
        measure::sairing_mode("sairing-eventfd", 0, n, m)?,
    ];
    runs.push(redis_list(url, n, m_slow)?);
    runs.push(redis_streams(url, n, m_slow)?);
    runs.push(zmq_channel(n, m)?);
    let (unary, stream) = grpc::measure(n, m_slow)?;
    runs.push(unary);
    runs.push(stream);
    runs.push(uds(n, m)?);
    runs.push(rtrb_inproc(n, m)?);
    runs.extend(floors);
    Ok(runs)
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.cmd {
        Some(Cmd::Serve(args)) => return measure::serve(args),
        Some(Cmd::ServeUds { path }) => return serve_uds(path),
        Some(Cmd::ServeRedisList { url }) => return serve_redis_list(url),
        Some(Cmd::ServeRedisStreams { url }) => return serve_redis_streams(url),
        Some(Cmd::ServeZmq { dir }) => return serve_zmq(dir),
        Some(Cmd::ServeGrpc { addr }) => return grpc::serve(&addr, None),
        Some(Cmd::Apply {
            channel,
            target,
            log,
            apply_us,
        }) => {
            APPLY_NS.store(apply_us * 1000, std::sync::atomic::Ordering::Relaxed);
            return apply(&channel, &target, &log);
        }
        None => {}
    }
    let (n, m) = if cli.quick {
        (2_000, 20_000)
    } else {
        (100_000, 1_000_000)
    };
    // The Redis and gRPC channels are slow: fewer one-way messages keep the run short.
    let m_redis = m / 10;
    // Redis starts before this process pins itself, so it is not pinned with it.
    let redis = sairing_testkit::PrivateRedis::start()?;
    measure::pin(0);
    let url = redis.url(1);
    eprintln!("compare: {n} round trips per channel after {} warm-up; {m} one-way messages ({m_redis} for Redis and gRPC)", n / 10);
    // The machine's own speed can change during a run (a VM's vCPUs move):
    // the cache-line floor is taken again after each part, and reported.
    let mut floors: Vec<(&str, u64)> = Vec::new();
    let mut floor_check = |part| -> anyhow::Result<()> {
        let s = measure::floor_spin(n.min(20_000))?;
        floors.push((part, s.hist.value_at_quantile(0.5)));
        Ok(())
    };
    floor_check("start")?;
    let (runs, channels) = if cli.restart_only.is_empty() {
        let runs = latency_runs(&url, n, m, m_redis)?;
        let channels = report::latency_table(&runs);
        (runs, channels)
    } else {
        (Vec::new(), Vec::new())
    };
    floor_check("latency table")?;
    let mut restart = Vec::new();
    // sairing's guarantee: the run fails (after writing its results) if broken.
    let mut sairing_failed = None;
    if cli.restart || !cli.restart_only.is_empty() {
        let total = if cli.quick { 5_000 } else { 100_000 };
        println!();
        println!(
            "restart: the consumer (applying a request takes {} µs) killed with SIGKILL half way through {total} numbered requests, then restarted",
            cli.apply_us
        );
        println!(
            "{:<16} {:>8} {:>10} {:>8} {:>11}",
            "channel", "sent", "in flight", "lost", "duplicated"
        );
        for name in [
            "sairing",
            "redis-list",
            "redis-streams",
            "zmq",
            "grpc-unary",
            "grpc-stream",
            "uds",
        ] {
            if !cli.restart_only.is_empty() && !cli.restart_only.iter().any(|c| c == name) {
                continue;
            }
            let r = restart_run(name, &url, total, cli.apply_us)?;
            println!(
                "{:<16} {:>8} {:>10} {:>8} {:>11}",
                r.name, r.sent, r.in_flight, r.lost, r.duplicated
            );
            restart.push(json!({
                "name": r.name,
                "sent": r.sent,
                "in_flight_at_kill": r.in_flight,
                "lost": r.lost,
                "duplicated": r.duplicated,
            }));
            if r.name == "sairing" && (r.lost != 0 || r.duplicated != 0) {
                sairing_failed = Some(format!(
                    "lost {} and applied {} twice",
                    r.lost, r.duplicated
                ));
            }
        }
    }
    let mut scaled = None;
    if cli.scaling {
        scaled = Some(scaling::run(cli.quick)?);
        floor_check("scaling")?;
    }
    let floors = report::floors(&floors, scaled.as_ref());
    let mut machine = report::machine();
    machine["quick"] = json!(cli.quick);
    machine["floor_spin_checks"] = floors;
    if let Some(dir) = &cli.plots {
        std::fs::create_dir_all(dir)?;
        let title = format!(
            "round trips, 128-byte requests, {} ({} cores)",
            machine["cpu"].as_str().unwrap_or("this machine"),
            measure::cpus()
        );
        if !runs.is_empty() {
            plot::latency(&dir.join("latency.svg"), &runs, &title)?;
            eprintln!("compare: wrote {}", dir.join("latency.svg").display());
        }
        if let Some((by_size, by_capacity)) = &scaled {
            let title = format!("sairing busy-poll scaling ({} cores)", measure::cpus());
            plot::scaling(&dir.join("scaling.svg"), by_size, by_capacity, &title)?;
            eprintln!("compare: wrote {}", dir.join("scaling.svg").display());
        }
    }
    if let Some(path) = cli.json {
        let doc = report::document(machine, channels, restart, scaled.as_ref());
        std::fs::write(&path, serde_json::to_string_pretty(&doc)?)?;
    }
    if let Some(what) = sairing_failed {
        bail!("sairing broke its guarantee in the restart matrix: it {what}");
    }
    Ok(())
}
