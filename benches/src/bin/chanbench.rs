//! `chanbench`: round-trip latency and one-way throughput of a sairing channel
//! between two processes, beside the floors of this machine measured in the
//! same run: two processes ping-ponging a cache line, and two processes
//! ping-ponging through a pair of eventfds.
//!
//! ```text
//! cargo run --release -p sairing-benches --bin chanbench -- [--samples 100000] [--json out.json]
//! ```
//!
//! Messages are 128-byte SAI set requests (codec header, key, one attribute).
//! The server is this binary re-executed (`chanbench serve`), pinned to the
//! other core when there are two.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use sairing_benches::measure::*;

#[derive(Parser)]
#[command(about = "Cross-process latency and throughput of a sairing channel")]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    /// Round trips measured per mode, after warm-up.
    #[arg(long, default_value_t = 100_000)]
    samples: u64,
    /// Messages sent for the throughput figure.
    #[arg(long, default_value_t = 2_000_000)]
    messages: u64,
    /// Write the results here as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// `cbench` built from capi/bench/cbench.c (scripts/chanbench-c.sh builds
    /// it): adds the C client's and the C server's rows, busy-polling, beside
    /// the Rust rows they compare with.
    #[arg(long)]
    c_bench: Option<PathBuf>,
    /// With --c-bench: measure each C row and the Rust row it compares with
    /// this many times, alternating, and report every round's ratios and
    /// their median (this machine's run-to-run noise is larger than the
    /// differences measured).
    #[arg(long, default_value_t = 1)]
    rounds: u32,
}

#[derive(Subcommand)]
enum Cmd {
    /// (internal) the server side.
    Serve(ServeArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Cmd::Serve(args)) = cli.cmd {
        return serve(args);
    }
    if cpus() >= 2 {
        pin(0);
    }
    let n = cli.samples;
    eprintln!(
        "measuring: {n} round trips per mode after {} warm-up, {} one-way messages",
        n / 10,
        cli.messages
    );
    let mut runs = vec![
        floor_spin(n)?,
        floor_eventfd(n)?,
        sairing_mode("sairing-spin", u64::MAX, n, cli.messages)?,
        sairing_mode("sairing-eventfd", 0, n, cli.messages.min(200_000))?,
        sairing_mode("sairing-adaptive", 50, n, cli.messages)?,
    ];
    // Per round: the C client's p50 and one-way against the Rust client's,
    // then the C server's against a Rust server that answers as it does.
    let mut ratios: Vec<[f64; 4]> = Vec::new();
    if let Some(exe) = &cli.c_bench {
        let (spin, m, shape) = (u64::MAX, cli.messages, Shape::default());
        let p50 = |s: &Stats| percentiles(&s.hist).0 as f64;
        let rate = |s: &Stats| s.msgs_per_s.unwrap_or(f64::NAN);
        for round in 0..cli.rounds.max(1) {
            // The C client against the Rust server, beside the Rust client
            // against the same; the Rust client against the C server (which,
            // answering in request order, answers sets), beside a Rust
            // server that answers them too.
            let c = c_client("c-client-spin", exe, spin, n, m)?;
            let rust = sairing_against("sairing-spin", spin, n, m, shape, Peer::Rust)?;
            let answering = Peer::RustAnswering;
            let rust_answered =
                sairing_against("sairing-spin-answered", spin, n, m, shape, answering)?;
            let c_server = sairing_against("c-server-spin", spin, n, m, shape, Peer::C(exe))?;
            let r = [
                p50(&c) / p50(&rust),
                rate(&c) / rate(&rust),
                p50(&c_server) / p50(&rust_answered),
                rate(&c_server) / rate(&rust_answered),
            ];
            eprintln!(
                "round {}: C client p50 {:.2}x, one-way {:.2}x ({:.2} vs {:.2} M/s); C server p50 {:.2}x, one-way {:.2}x",
                round + 1,
                r[0],
                r[1],
                rate(&c) / 1e6,
                rate(&rust) / 1e6,
                r[2],
                r[3]
            );
            ratios.push(r);
            if round == 0 {
                runs.extend([c, rust_answered, c_server]);
            }
        }
    }
    println!(
        "{:<22} {:>10} {:>10} {:>10} {:>10} {:>14}",
        "channel", "p50", "p99", "p99.9", "max", "one-way msg/s"
    );
    let mut json = Vec::new();
    for s in &runs {
        let (p50, p99, p999, max) = percentiles(&s.hist);
        let us = |v: u64| format!("{:.2} µs", v as f64 / 1000.0);
        println!(
            "{:<22} {:>10} {:>10} {:>10} {:>10} {:>14}",
            s.name,
            us(p50),
            us(p99),
            us(p999),
            us(max),
            s.msgs_per_s
                .map_or("-".into(), |r| format!("{:.2} M", r / 1e6))
        );
        json.push(serde_json::json!({
            "name": s.name,
            "rtt_ns": {"p50": p50, "p99": p99, "p999": p999, "max": max},
            "msgs_per_s": s.msgs_per_s,
            "samples": s.hist.len(),
        }));
    }
    let floor = percentiles(&runs[1].hist).0 as f64;
    let ev = percentiles(&runs[3].hist).0 as f64;
    println!("sairing-eventfd p50 / bare eventfd p50 = {:.2}", ev / floor);
    if !ratios.is_empty() {
        let median = |i: usize| {
            let mut v: Vec<f64> = ratios.iter().map(|r| r[i]).collect();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        println!(
            "c-client-spin / sairing-spin: round-trip p50 {:.2}x, one-way {:.2}x (median of {} alternating rounds)",
            median(0),
            median(1),
            ratios.len()
        );
        println!(
            "c-server-spin / sairing-spin-answered: round-trip p50 {:.2}x, one-way {:.2}x (median of {} alternating rounds)",
            median(2),
            median(3),
            ratios.len()
        );
    }
    if let Some(path) = cli.json {
        let doc = serde_json::json!({
            "machine": {"cpus": cpus(), "message_bytes": 128},
            "channels": json,
        });
        std::fs::write(&path, serde_json::to_string_pretty(&doc)?)?;
    }
    Ok(())
}
