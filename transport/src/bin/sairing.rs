//! `sairing`: the operator's tool for a sairing channel. It looks into the
//! rings without taking part in them (no role, read-only mappings), so it works
//! on live channels without slowing or blocking either side, on channels whose
//! daemons are dead, and on damaged files.
//!
//! ```text
//! sairing inspect /dev/shm/sairing/asic [--redis redis://127.0.0.1:6379/1]
//! sairing dump /dev/shm/sairing/asic [--from SEQ] [--count N] [--responses]
//! sairing tail /dev/shm/sairing/asic
//! sairing replay testdata/recordings/bringup.rec /dev/shm/sairing/asic
//! sairing channel create /dev/shm/sairing/asic [--capacity BYTES] [--group GID]
//! sairing channel remove /dev/shm/sairing/asic [--force]
//! ```
//!
//! Every subcommand takes `--json` for scripts.

use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use clap::{Parser, Subcommand};
use sairing_ring::layout::{StaticHeader, HEADER_LEN, STATIC_HEADER_LEN};
use sairing_ring::{Look, Observer};
use sairing_transport::codec::{self, KIND_NOTIFICATION, KIND_REQUEST, KIND_RESPONSE};
use sairing_transport::{channel, drive::Driver, rec, Client, ClientOptions, Mode, WaitPolicy};
use serde_json::{json, Value};

#[derive(Parser)]
#[command(about = "Inspect, dump, tail and replay a sairing channel")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Format, identity, cursors, pending records, peers and (with --redis) the mirror's progress.
    Inspect {
        /// A channel directory or one ring file.
        path: PathBuf,
        /// Also show the mirror's checkpoint in this Redis.
        #[arg(long)]
        redis: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// The pending records, decoded, one per line in sairedis.rec format.
    Dump {
        dir: PathBuf,
        /// Start at this sequence number.
        #[arg(long)]
        from: Option<u64>,
        /// At most this many records.
        #[arg(long)]
        count: Option<u64>,
        /// The response ring (responses and notifications) instead of requests.
        #[arg(long)]
        responses: bool,
        #[arg(long)]
        json: bool,
    },
    /// Follow requests and responses live, in sairedis.rec format, without consuming them.
    Tail {
        dir: PathBuf,
        /// Start at the oldest pending record instead of the newest.
        #[arg(long)]
        from_head: bool,
        /// Stop after this many lines.
        #[arg(long)]
        count: Option<u64>,
        /// Stop after this many seconds.
        #[arg(long)]
        seconds: Option<f64>,
        #[arg(long)]
        json: bool,
    },
    /// Replay a sairedis.rec recording into a channel (as `orchagent replay`).
    Replay {
        file: PathBuf,
        dir: PathBuf,
        #[arg(long, value_enum, default_value_t = Mode::Pipelined)]
        mode: Mode,
        /// Pass over `@` (sleep) lines instead of sleeping.
        #[arg(long)]
        no_sleep: bool,
        #[arg(long)]
        json: bool,
    },
    /// Create or remove a channel.
    Channel {
        #[command(subcommand)]
        cmd: ChannelCmd,
    },
}

#[derive(Subcommand)]
enum ChannelCmd {
    /// Create the directory and both rings.
    Create {
        dir: PathBuf,
        /// Bytes per ring (a power of two, at least 4096).
        #[arg(long, default_value_t = sairing_ring::layout::DEFAULT_CAPACITY)]
        capacity: u64,
        /// Let this group use the channel (0770/0660) instead of only the owner.
        #[arg(long)]
        group: Option<u32>,
        #[arg(long)]
        json: bool,
    },
    /// Remove it (refused while a client or server is attached, unless --force).
    Remove {
        dir: PathBuf,
        #[arg(long)]
        force: bool,
        #[arg(long)]
        json: bool,
    },
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Everything `inspect` can say about one ring file, damaged or not.
fn inspect_ring(path: &Path) -> Value {
    match Observer::open(path) {
        Ok(o) => inspect_healthy(path, &o),
        Err(e) => inspect_damaged(path, &e.to_string()),
    }
}

fn inspect_healthy(path: &Path, o: &Observer) -> Value {
    let h = o.header();
    let c = o.cursors();
    let alive = o.roles_alive().ok();
    // Walk the pending records: count them, find the last sequence number, and
    // report the first problem, if any, instead of stopping the inspection.
    let (mut records, mut last_seq, mut problem) =
        (0u64, None, o.check_cursors().err().map(|e| e.to_string()));
    let mut pos = c.head;
    while problem.is_none() {
        match o.read_at(pos) {
            Ok(Look::Record(r)) => {
                records += 1;
                last_seq = Some(r.seq);
                pos = r.next;
            }
            Ok(Look::End) => break,
            Ok(Look::Lapped { head }) => pos = head, // the consumer moved on meanwhile
            Err(e) => {
                problem = Some(e.to_string());
                break;
            }
        }
    }
    json!({
        "path": path,
        "ok": problem.is_none(),
        "problem": problem,
        "version": h.version,
        "ring_id": hex(&h.ring_id),
        "capacity": h.capacity,
        "checksums": h.flags & 1 != 0,
        "created": rec::timestamp(SystemTime::UNIX_EPOCH + Duration::from_nanos(h.created_unix_ns)),
        "head": c.head,
        "tail": c.tail,
        "pending_bytes": c.tail.saturating_sub(c.head),
        "pending_records": records,
        "seq_at_head": c.head_seq,
        "seq_at_tail": last_seq.map_or(c.head_seq.saturating_sub(1), |s| s),
        "producer": {"pid": c.producer_pid, "epoch": c.producer_epoch, "alive": alive.map(|a| a.0),
                      "waiting_for_space": c.producer_sleep & 1 == 1},
        "consumer": {"pid": c.consumer_pid, "epoch": c.consumer_epoch, "alive": alive.map(|a| a.1),
                     "sleeping": c.consumer_sleep & 1 == 1},
    })
}

/// What can be read from a file that does not open: its size, the header as
/// found, and the cursors if the file is long enough to hold them.
fn inspect_damaged(path: &Path, error: &str) -> Value {
    let mut v = json!({"path": path, "ok": false, "problem": error});
    let Ok(f) = std::fs::File::open(path) else {
        return v;
    };
    let size = f.metadata().map(|m| m.len()).unwrap_or(0);
    v["file_bytes"] = json!(size);
    let mut raw = [0u8; STATIC_HEADER_LEN];
    if f.read_exact_at(&mut raw, 0).is_ok() {
        let h = StaticHeader::decode(&raw);
        v["header_as_found"] = json!({
            "magic": String::from_utf8_lossy(&h.magic).trim_end_matches('\0').to_string(),
            "version": h.version, "header_len": h.header_len, "capacity": h.capacity,
            "flags": h.flags, "ring_id": hex(&h.ring_id),
            "header_crc": format!("{:#010x}", h.header_crc),
            "header_crc_expected": format!("{:#010x}", StaticHeader::expected_crc(&raw)),
            "size_expected": HEADER_LEN as u64 + h.capacity,
        });
    }
    let word = |off: u64| {
        let mut b = [0u8; 8];
        f.read_exact_at(&mut b, off)
            .ok()
            .map(|()| u64::from_le_bytes(b))
    };
    if let (Some(tail), Some(head), Some(head_seq)) = (word(128), word(256), word(264)) {
        v["cursors_as_found"] = json!({"head": head, "tail": tail, "seq_at_head": head_seq});
    }
    v
}

fn print_ring(name: &str, v: &Value) {
    println!("{name}: {}", v["path"].as_str().unwrap_or("?"));
    if v["version"].is_null() {
        println!("  DAMAGED: {}", v["problem"].as_str().unwrap_or("?"));
        if let Some(n) = v["file_bytes"].as_u64() {
            println!("  file is {n} bytes");
        }
        if let Some(h) = v.get("header_as_found") {
            println!("  header as found: {h}");
        }
        if let Some(c) = v.get("cursors_as_found") {
            println!("  cursors as found: {c}");
        }
        return;
    }
    println!(
        "  format version {}, ring {}, capacity {} bytes, checksums {}, created {}",
        v["version"],
        v["ring_id"].as_str().unwrap_or(""),
        v["capacity"],
        if v["checksums"].as_bool() == Some(true) {
            "on"
        } else {
            "off"
        },
        v["created"].as_str().unwrap_or("")
    );
    println!(
        "  head {} (seq {}), tail {} (last seq {}): {} bytes, {} records pending",
        v["head"],
        v["seq_at_head"],
        v["tail"],
        v["seq_at_tail"],
        v["pending_bytes"],
        v["pending_records"]
    );
    let role = |r: &Value, extra: &str, flag: &str| {
        let alive = match r["alive"].as_bool() {
            Some(true) => "alive",
            Some(false) => "dead",
            None => "unknown",
        };
        format!(
            "pid {} ({alive}), epoch {}, {extra}: {}",
            r["pid"],
            r["epoch"],
            if r[flag].as_bool() == Some(true) {
                "yes"
            } else {
                "no"
            }
        )
    };
    println!(
        "  producer: {}",
        role(&v["producer"], "waiting for space", "waiting_for_space")
    );
    println!(
        "  consumer: {}",
        role(&v["consumer"], "sleeping", "sleeping")
    );
    if let Some(p) = v["problem"].as_str() {
        println!("  DAMAGED RECORD: {p}");
    }
}

fn mirror_progress(url: &str) -> anyhow::Result<Value> {
    let client = redis::Client::open(url)?;
    let mut con = client.get_connection_with_timeout(Duration::from_secs(2))?;
    let h: std::collections::HashMap<String, String> = redis::cmd("HGETALL")
        .arg("SAIRING_PROGRESS")
        .query(&mut con)?;
    Ok(
        json!({"url": url, "seq": h.get("seq").and_then(|s| s.parse::<u64>().ok()), "ring_id": h.get("ring_id")}),
    )
}

fn inspect(path: &Path, redis_url: Option<&str>, as_json: bool) -> anyhow::Result<bool> {
    let is_dir = path.is_dir();
    let rings: Vec<(&str, PathBuf)> = if is_dir {
        let p = channel::Paths::new(path);
        vec![
            ("req.ring (orchagent -> syncd)", p.request),
            ("resp.ring (syncd -> orchagent)", p.response),
        ]
    } else {
        vec![("ring", path.to_owned())]
    };
    let mut out = json!({"path": path});
    let mut ok = true;
    let mut list = Vec::new();
    for (name, p) in &rings {
        let v = inspect_ring(p);
        ok &= v["ok"].as_bool() == Some(true);
        list.push((name.to_string(), v));
    }
    out["rings"] = json!(list
        .iter()
        .map(|(n, v)| json!({"name": n, "ring": v}))
        .collect::<Vec<_>>());
    if is_dir {
        out["socket_present"] = json!(channel::Paths::new(path).socket.exists());
    }
    if let Some(url) = redis_url {
        out["mirror"] = match mirror_progress(url) {
            Ok(m) => {
                let ours = list
                    .first()
                    .and_then(|(_, v)| v["ring_id"].as_str().map(str::to_owned));
                let mut m = m;
                m["matches_request_ring"] =
                    json!(ours.is_some() && m["ring_id"].as_str() == ours.as_deref());
                m
            }
            Err(e) => json!({"url": url, "error": e.to_string()}),
        };
    }
    if as_json {
        println!("{out}");
    } else {
        for (n, v) in &list {
            print_ring(n, v);
        }
        if is_dir {
            println!(
                "socket: {}",
                if out["socket_present"] == true {
                    "present"
                } else {
                    "absent (no server has run here)"
                }
            );
        }
        if let Some(m) = out.get("mirror") {
            match m.get("error") {
                Some(e) => println!(
                    "mirror: {}: {}",
                    m["url"].as_str().unwrap_or(""),
                    e.as_str().unwrap_or("")
                ),
                None => println!(
                    "mirror: {} has applied up to request {} for ring {} ({})",
                    m["url"].as_str().unwrap_or(""),
                    m["seq"],
                    m["ring_id"].as_str().unwrap_or("none"),
                    if m["matches_request_ring"] == true {
                        "this channel"
                    } else {
                        "NOT this channel"
                    }
                ),
            }
        }
    }
    Ok(ok)
}

/// A record as recording lines (a response that sairedis would not record,
/// a plain success, gives none).
fn record_lines(kind: u16, seq: u64, payload: &[u8], ts: &str) -> Vec<String> {
    match kind {
        KIND_REQUEST => match codec::decode_request(payload, seq) {
            Ok(r) => vec![rec::request_line(ts, &r)],
            Err(e) => vec![format!("{ts}|#|{e}")],
        },
        KIND_RESPONSE => match codec::decode_response(payload, seq) {
            Ok(r) => rec::response_line(ts, r.op, r.status, r.attrs.clone(), &r.statuses)
                .into_iter()
                .collect(),
            Err(e) => vec![format!("{ts}|#|{e}")],
        },
        KIND_NOTIFICATION => match codec::decode_notification(payload, seq) {
            Ok(n) => vec![rec::notification_line(ts, n.name, n.payload)],
            Err(e) => vec![format!("{ts}|#|{e}")],
        },
        k => vec![format!("{ts}|#|record {seq} has unknown kind {k}")],
    }
}

fn dump(
    dir: &Path,
    from: Option<u64>,
    count: Option<u64>,
    responses: bool,
    as_json: bool,
) -> anyhow::Result<()> {
    let p = channel::Paths::new(dir);
    let ring = if responses { p.response } else { p.request };
    let o = Observer::open(&ring)?;
    let mut pos = o.cursors().head;
    let mut n = 0;
    let ts = rec::timestamp(SystemTime::now());
    while count.is_none_or(|c| n < c) {
        match o.read_at(pos)? {
            Look::Record(r) => {
                pos = r.next;
                if from.is_some_and(|f| r.seq < f) {
                    continue;
                }
                n += 1;
                for line in record_lines(r.kind, r.seq, &r.payload, &ts) {
                    if as_json {
                        println!("{}", json!({"seq": r.seq, "line": line}));
                    } else {
                        println!("{line}");
                    }
                }
            }
            Look::End => break,
            Look::Lapped { head } => pos = head,
        }
    }
    Ok(())
}

fn tail(
    dir: &Path,
    from_head: bool,
    count: Option<u64>,
    seconds: Option<f64>,
    as_json: bool,
) -> anyhow::Result<()> {
    let p = channel::Paths::new(dir);
    let rings = [Observer::open(&p.request)?, Observer::open(&p.response)?];
    let mut pos: Vec<u64> = rings
        .iter()
        .map(|o| {
            if from_head {
                o.cursors().head
            } else {
                o.cursors().tail
            }
        })
        .collect();
    let mut expect: Vec<Option<u64>> = vec![None, None];
    let start = Instant::now();
    let mut lines = 0u64;
    let emit = |line: String, seq: u64, ring: &str| {
        if as_json {
            println!("{}", json!({"ring": ring, "seq": seq, "line": line}));
        } else {
            println!("{line}");
        }
    };
    loop {
        let mut idle = true;
        for (i, o) in rings.iter().enumerate() {
            let name = if i == 0 { "req" } else { "resp" };
            match o.read_at(pos[i])? {
                Look::Record(r) => {
                    idle = false;
                    if let Some(e) = expect[i] {
                        if r.seq > e {
                            emit(
                                format!(
                                    "{}|#|sairing tail: {} {name} records skipped",
                                    rec::timestamp(SystemTime::now()),
                                    r.seq - e
                                ),
                                r.seq,
                                name,
                            );
                        }
                    }
                    expect[i] = Some(r.seq + 1);
                    pos[i] = r.next;
                    for line in record_lines(
                        r.kind,
                        r.seq,
                        &r.payload,
                        &rec::timestamp(SystemTime::now()),
                    ) {
                        emit(line, r.seq, name);
                        lines += 1;
                    }
                }
                Look::End => {}
                Look::Lapped { head } => {
                    // Fell behind: the consumer released (and the producer may have
                    // reused) what we had not read yet. Go on from its position.
                    pos[i] = head;
                    idle = false;
                }
            }
        }
        if count.is_some_and(|c| lines >= c)
            || seconds.is_some_and(|s| start.elapsed().as_secs_f64() >= s)
        {
            return Ok(());
        }
        if idle {
            // An observer cannot be rung without joining the channel; a short
            // poll costs the daemons nothing.
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

fn replay(
    file: &Path,
    dir: &Path,
    mode: Mode,
    no_sleep: bool,
    as_json: bool,
) -> anyhow::Result<bool> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let recording = rec::parse(&text).with_context(|| file.display().to_string())?;
    let client = Client::open(
        dir,
        &ClientOptions {
            wait: WaitPolicy::default(),
            ..Default::default()
        },
    )?;
    let d = Driver::new(client, mode, 8192, Duration::from_secs(120));
    let (r, _) = sairing_transport::drive::replay(
        d,
        &recording,
        &file.display().to_string(),
        sairing_transport::drive::ReplayOptions { no_sleep },
        || {},
    )?;
    if as_json {
        println!("{}", r.to_json(json!({"file": file, "mode": mode.name()})));
    } else {
        println!("{}", r.line());
    }
    for f in &r.summary.first_failures {
        eprintln!("sairing: failure: {f}");
    }
    Ok(r.summary.failures == 0)
}

fn run(cli: Cli) -> anyhow::Result<bool> {
    match cli.cmd {
        Cmd::Inspect { path, redis, json } => inspect(&path, redis.as_deref(), json),
        Cmd::Dump {
            dir,
            from,
            count,
            responses,
            json,
        } => dump(&dir, from, count, responses, json).map(|()| true),
        Cmd::Tail {
            dir,
            from_head,
            count,
            seconds,
            json,
        } => tail(&dir, from_head, count, seconds, json).map(|()| true),
        Cmd::Replay {
            file,
            dir,
            mode,
            no_sleep,
            json,
        } => replay(&file, &dir, mode, no_sleep, json),
        Cmd::Channel {
            cmd:
                ChannelCmd::Create {
                    dir,
                    capacity,
                    group,
                    json,
                },
        } => {
            channel::create(
                &dir,
                &channel::ChannelOptions {
                    capacity,
                    group,
                    checksums: false,
                },
            )?;
            if json {
                println!(
                    "{}",
                    json!({"created": dir, "capacity": capacity, "group": group})
                );
            } else {
                println!("created {} (two rings of {capacity} bytes)", dir.display());
            }
            Ok(true)
        }
        Cmd::Channel {
            cmd: ChannelCmd::Remove { dir, force, json },
        } => {
            channel::remove(&dir, force)?;
            if json {
                println!("{}", json!({"removed": dir}));
            } else {
                println!("removed {}", dir.display());
            }
            Ok(true)
        }
    }
}

fn main() {
    match run(Cli::parse()) {
        Ok(true) => {}
        Ok(false) => std::process::exit(2),
        Err(e) => {
            eprintln!("sairing: {e:#}");
            std::process::exit(1);
        }
    }
}
