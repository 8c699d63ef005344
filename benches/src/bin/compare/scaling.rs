//! sairing busy-poll at other message sizes (64 B to 64 KiB) and ring
//! capacities (4 KiB to 64 MiB): one-way throughput and round trips, each
//! point beside the cache-line floor measured just before it.

use sairing_benches::measure::{self, Stats};

use crate::{plot, report};

/// Runs every point, printing each; returns the points by size and by
/// capacity.
pub fn run(quick: bool) -> anyhow::Result<(Vec<plot::Point>, Vec<plot::Point>)> {
    let samples = if quick { 1_000 } else { 20_000 };
    let max_messages: u64 = if quick { 20_000 } else { 1_000_000 };
    // Bytes each one-way run moves at most: big messages send fewer.
    let budget: u64 = if quick { 64 << 20 } else { 4 << 30 };
    // Each point carries the cache-line floor measured just before it: a
    // point taken while the machine was slow shows it.
    let point = |x: u64, s: &Stats, floor: &Stats| {
        let (p50, p99, _, _) = measure::percentiles(&s.hist);
        plot::Point {
            x,
            msgs_per_s: s.msgs_per_s.unwrap_or(0.0),
            p99_ns: p99,
            p50_ns: p50,
            floor_ns: floor.hist.value_at_quantile(0.5),
        }
    };
    let floor = || measure::floor_spin(samples.min(5_000));
    report::scaling_header(samples, max_messages);
    let mut by_size = Vec::new();
    for size in [64u64, 128, 256, 512, 1024, 4096, 16384, 65536] {
        // Room for many messages in flight, whatever their size.
        let capacity = (size * 256).next_power_of_two().max(1 << 24);
        let messages = (budget / size).min(max_messages);
        let shape = measure::Shape {
            size: size as usize,
            capacity,
        };
        let f = floor()?;
        let s = measure::sairing_shaped("sairing-spin", u64::MAX, samples, messages, shape)?;
        let p = point(size, &s, &f);
        report::scaling_row(size, capacity, &p);
        by_size.push(p);
    }
    let mut by_capacity = Vec::new();
    for capacity in [
        4u64 << 10,
        16 << 10,
        64 << 10,
        256 << 10,
        1 << 20,
        16 << 20,
        64 << 20,
    ] {
        let shape = measure::Shape {
            size: 128,
            capacity,
        };
        let f = floor()?;
        let s = measure::sairing_shaped("sairing-spin", u64::MAX, samples, max_messages, shape)?;
        let p = point(capacity, &s, &f);
        report::scaling_row(128, capacity, &p);
        by_capacity.push(p);
    }
    Ok((by_size, by_capacity))
}
