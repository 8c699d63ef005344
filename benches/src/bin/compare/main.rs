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

//!
//! Where things are: `harness` runs the latency table's channels in order,
//! each channel under `channels/` (its servers, its client for the latency
//! table, its consumer and producer for the restart matrix), `restart` the
//! restart matrix, `scaling` the scaling runs, `report` what is printed and
//! written as JSON, `plot` the SVGs. Servers and consumers are this binary
//! re-executed with an internal subcommand.

use std::path::PathBuf;

use anyhow::bail;
use clap::{Parser, Subcommand};
use sairing_benches::measure;
use serde_json::json;

mod channels;
mod harness;
mod plot;
mod report;
mod restart;
mod scaling;

use channels::Channel;

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
    restart_only: Vec<Channel>,
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
        channel: Channel,
        target: String,
        log: PathBuf,
        /// Microseconds of work per request before it counts as applied.
        #[arg(long, default_value_t = 0)]
        apply_us: u64,
    },
}

/// Runs an internal subcommand: this binary re-executed as a server or a
/// consumer.
fn internal(cmd: Cmd) -> anyhow::Result<()> {
    match cmd {
        Cmd::Serve(args) => measure::serve(args),
        Cmd::ServeUds { path } => channels::uds::serve(path),
        Cmd::ServeRedisList { url } => channels::redis_list::serve(url),
        Cmd::ServeRedisStreams { url } => channels::redis_streams::serve(url),
        Cmd::ServeZmq { dir } => channels::zmq::serve(dir),
        Cmd::ServeGrpc { addr } => channels::grpc::serve(&addr, None),
        Cmd::Apply {
            channel,
            target,
            log,
            apply_us,
        } => channel.consume(&target, restart::AppliedLog::open(&log, apply_us * 1000)?),
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(cmd) = cli.cmd {
        return internal(cmd);
    }
    let (n, m) = if cli.quick {
        (2_000, 20_000)
    } else {
        (100_000, 1_000_000)
    };
    // The Redis and gRPC channels are slow: fewer one-way messages keep the run short.
    let m_redis = m / 10;
    // The ring beside rtrb, two threads streaming: before this process pins
    // itself (its threads would share the one core).
    let ring = report::ring_rows(if cli.quick { 100_000 } else { 4_000_000 })?;
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
        let runs = harness::latency_runs(&url, n, m, m_redis)?;
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
        report::restart_header(cli.apply_us, total);
        for channel in Channel::ALL {
            if !cli.restart_only.is_empty() && !cli.restart_only.contains(&channel) {
                continue;
            }
            let r = restart::run(channel, &url, total, cli.apply_us)?;
            restart.push(report::restart_row(&r));
            if channel == Channel::Sairing && (r.lost != 0 || r.duplicated != 0) {
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
        let mut doc = report::document(machine, channels, restart, scaled.as_ref());
        doc["ring"] = serde_json::Value::Array(ring);
        std::fs::write(&path, serde_json::to_string_pretty(&doc)?)?;
    }
    if let Some(what) = sairing_failed {
        bail!("sairing broke its guarantee in the restart matrix: it {what}");
    }
    Ok(())
}
