//! What a `compare` run prints and writes: the latency table, the restart
//! matrix's and the scaling runs' rows, the cache-line floor's checks through
//! the run, and the JSON of it all.

use sairing_benches::measure::{self, Stats};
use serde_json::json;

use crate::plot;
use crate::restart::Restart;

/// Prints the latency and throughput table (ratios to the first row) and
/// returns its rows as JSON.
pub fn latency_table(runs: &[Stats]) -> Vec<serde_json::Value> {
    let base = measure::percentiles(&runs[0].hist);
    let base_rate = runs[0].msgs_per_s.unwrap_or(0.0);
    println!(
        "{:<16} {:>10} {:>10} {:>10} {:>11} {:>14} {:>10} {:>10}",
        "channel", "p50", "p99", "p99.9", "max", "one-way msg/s", "p50 /spin", "rate/spin"
    );
    let mut channels = Vec::new();
    for s in runs {
        let (p50, p99, p999, max) = measure::percentiles(&s.hist);
        let us = |v: u64| format!("{:.2} µs", v as f64 / 1000.0);
        println!(
            "{:<16} {:>10} {:>10} {:>10} {:>11} {:>14} {:>9.1}x {:>10}",
            s.name,
            us(p50),
            us(p99),
            us(p999),
            us(max),
            s.msgs_per_s
                .map_or("-".into(), |r| format!("{:.3} M", r / 1e6)),
            p50 as f64 / base.0 as f64,
            s.msgs_per_s
                .map_or("-".into(), |r| format!("{:.4}x", r / base_rate)),
        );
        channels.push(json!({
            "name": s.name,
            "rtt_ns": {"p50": p50, "p99": p99, "p999": p999, "max": max},
            "msgs_per_s": s.msgs_per_s,
            "samples": s.hist.len(),
        }));
    }
    channels
}

/// Prints the restart matrix's heading.
pub fn restart_header(apply_us: u64, total: u64) {
    println!();
    println!(
        "restart: the consumer (applying a request takes {apply_us} µs) killed with SIGKILL half way through {total} numbered requests, then restarted"
    );
    println!(
        "{:<16} {:>8} {:>10} {:>8} {:>11}",
        "channel", "sent", "in flight", "lost", "duplicated"
    );
}

/// Prints one row of the restart matrix and returns it as JSON.
pub fn restart_row(r: &Restart) -> serde_json::Value {
    let name = r.channel.name();
    println!(
        "{:<16} {:>8} {:>10} {:>8} {:>11}",
        name, r.sent, r.in_flight, r.lost, r.duplicated
    );
    json!({
        "name": name,
        "sent": r.sent,
        "in_flight_at_kill": r.in_flight,
        "lost": r.lost,
        "duplicated": r.duplicated,
    })
}

/// Prints the scaling runs' heading.
pub fn scaling_header(samples: u64, max_messages: u64) {
    println!();
    println!("scaling, sairing busy-poll: {samples} round trips and up to {max_messages} one-way messages per point");
    println!(
        "{:<9} {:>9} {:>14} {:>11} {:>10} {:>10} {:>11}",
        "size", "capacity", "one-way msg/s", "MB/s", "p50", "p99", "floor p50"
    );
}

/// Prints one point of the scaling runs, measured with messages of `size`
/// bytes on rings of `capacity` bytes.
pub fn scaling_row(size: u64, capacity: u64, p: &plot::Point) {
    println!(
        "{:<9} {:>9} {:>14} {:>11.0} {:>10} {:>10} {:>11}",
        format!("{size} B"),
        format!("{} KiB", capacity >> 10),
        format!("{:.3} M", p.msgs_per_s / 1e6),
        p.msgs_per_s * size as f64 / 1e6,
        format!("{:.2} µs", p.p50_ns as f64 / 1000.0),
        format!("{:.2} µs", p.p99_ns as f64 / 1000.0),
        format!("{:.2} µs", p.floor_ns as f64 / 1000.0),
    );
}

/// Prints the cache-line floor's checks through the run (each the p50 after
/// the part it names), warns when they (or the scaling points' own) differ
/// by more than 2x, and returns them as JSON.
pub fn floors(
    checks: &[(&str, u64)],
    scaled: Option<&(Vec<plot::Point>, Vec<plot::Point>)>,
) -> serde_json::Value {
    let points = scaled
        .into_iter()
        .flat_map(|(by_size, by_capacity)| by_size.iter().chain(by_capacity));
    let p50s: Vec<u64> = checks
        .iter()
        .map(|c| c.1)
        .chain(points.map(|p| p.floor_ns))
        .collect();
    let lo = p50s.iter().copied().min().unwrap_or(0).max(1);
    let hi = p50s.iter().copied().max().unwrap_or(0);
    println!();
    println!(
        "floor-spin p50 through the run: {}",
        checks
            .iter()
            .map(|(after, ns)| format!("{:.2} µs after {after}", *ns as f64 / 1000.0))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if hi > lo * 2 {
        println!(
            "warning: the cache-line floor moved {:.1}x during the run: this machine changed speed, so compare rows measured at different times with care",
            hi as f64 / lo as f64
        );
    }
    checks
        .iter()
        .map(|(after, ns)| json!({"after": after, "p50_ns": ns}))
        .collect()
}

/// What the run ran on, for the JSON and the plots.
pub fn machine() -> serde_json::Value {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let field = |text: &str, name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_owned())
    };
    let cpuinfo = read("/proc/cpuinfo");
    let meminfo = read("/proc/meminfo");
    let unix_time = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    json!({
        "cpus": measure::cpus(),
        "cpu": field(&cpuinfo, "model name"),
        "memory": field(&meminfo, "MemTotal"),
        "kernel": read("/proc/sys/kernel/osrelease").trim(),
        "message_bytes": 128,
        "unix_time": unix_time,
    })
}

/// Scaling points as JSON, their x under the key `x`; bytes per second from
/// messages of `size` bytes (None: of x bytes).
fn points_json(points: &[plot::Point], x: &str, size: Option<u64>) -> serde_json::Value {
    points
        .iter()
        .map(|p| {
            let bytes = size.unwrap_or(p.x);
            json!({
                x: p.x,
                "msgs_per_s": p.msgs_per_s,
                "bytes_per_s": p.msgs_per_s * bytes as f64,
                "rtt_ns": {"p50": p.p50_ns, "p99": p.p99_ns},
                "floor_spin_p50_ns": p.floor_ns,
            })
        })
        .collect()
}

/// The JSON document of a run.
pub fn document(
    machine: serde_json::Value,
    channels: Vec<serde_json::Value>,
    restart: Vec<serde_json::Value>,
    scaled: Option<&(Vec<plot::Point>, Vec<plot::Point>)>,
) -> serde_json::Value {
    let mut doc = json!({
        "machine": machine,
        "channels": channels,
        "restart": restart,
    });
    if let Some((by_size, by_capacity)) = scaled {
        doc["scaling"] = json!({
            "by_size": points_json(by_size, "bytes", None),
            "by_capacity": points_json(by_capacity, "capacity", Some(128)),
        });
    }
    doc
}

/// The ring and rtrb streaming `n` records between two threads, for 16, 128
/// and 1024 bytes: three alternating runs of each, the best of each kept.
/// Prints a table; returns the rows for the JSON (`ring`).
pub fn ring_rows(n: u64) -> anyhow::Result<Vec<serde_json::Value>> {
    use sairing_benches::stream;
    eprintln!("compare: the ring beside rtrb, two threads streaming {n} records");
    println!(
        "{:>6} {:>16} {:>16} {:>8}",
        "bytes", "sairing msg/s", "rtrb msg/s", "ratio"
    );
    let mut rows = Vec::new();
    for size in [16usize, 128, 1024] {
        let dir = sairing_benches::scratch_dir()?;
        let (mut tx, mut rx) = sairing_benches::file_ring(&dir, stream::CAPACITY)?;
        let (mut ours, mut theirs) = (0f64, 0f64);
        for _ in 0..3 {
            let t = stream::sairing(&mut tx, &mut rx, size, n);
            ours = ours.max(n as f64 / t.as_secs_f64());
            let t = stream::rtrb(size, n);
            theirs = theirs.max(n as f64 / t.as_secs_f64());
        }
        println!(
            "{size:>6} {:>14.1} M {:>14.1} M {:>7.2}x",
            ours / 1e6,
            theirs / 1e6,
            ours / theirs
        );
        rows.push(json!({"size": size, "sairing_msgs_per_s": ours, "rtrb_msgs_per_s": theirs}));
    }
    Ok(rows)
}
