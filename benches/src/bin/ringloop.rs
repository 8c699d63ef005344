//! `ringloop`: push and pop `--messages N` records of `--size S` bytes in one
//! thread through a file-backed ring, for instruction counts:
//!
//! ```text
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null ringloop --messages 200000
//! ```
//!
//! Setup costs the same for any N, so the cost of one push+pop is the difference
//! between two runs divided by the difference in N (`scripts/instructions.sh`).
//!
//! `ringloop --stream --rounds R` instead streams the records from one thread
//! to another, through the ring and then through rtrb, R times in turn, and
//! prints each run's rate: alternating runs in one process, for comparisons
//! on a machine whose speed wanders.

use std::hint::black_box;
use std::time::Instant;

use anyhow::{bail, Context};
use clap::Parser;

#[derive(Parser)]
#[command(about = "Push and pop records through a file-backed ring in one thread")]
struct Args {
    /// Records to push and pop.
    #[arg(long, default_value_t = 1_000_000)]
    messages: u64,
    /// Payload bytes per record.
    #[arg(long, default_value_t = 128)]
    size: usize,
    /// Ring capacity in bytes.
    #[arg(long, default_value_t = 1 << 20)]
    capacity: u64,
    /// Stream between two threads, the ring and rtrb in turn (sizes 16, 128
    /// or 1024).
    #[arg(long)]
    stream: bool,
    /// With --stream: how many runs of each.
    #[arg(long, default_value_t = 5)]
    rounds: u32,
}

fn stream(args: &Args) -> anyhow::Result<()> {
    use sairing_benches::stream;
    let dir = sairing_benches::scratch_dir().context("temporary directory")?;
    let (mut tx, mut rx) = sairing_benches::file_ring(&dir, stream::CAPACITY)?;
    let rate = |t: std::time::Duration| args.messages as f64 / t.as_secs_f64() / 1e6;
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for round in 1..=args.rounds {
        let a = rate(stream::sairing(&mut tx, &mut rx, args.size, args.messages));
        let b = rate(stream::rtrb(args.size, args.messages));
        println!("run {round}: sairing {a:.1} M/s, rtrb {b:.1} M/s");
        ours.push(a);
        theirs.push(b);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "{} B, {} records a run, medians: sairing {:.1} M/s, rtrb {:.1} M/s",
        args.size,
        args.messages,
        median(&mut ours),
        median(&mut theirs)
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.stream {
        return stream(&args);
    }
    let dir = sairing_benches::scratch_dir().context("temporary directory")?;
    let (mut tx, mut rx) = sairing_benches::file_ring(&dir, args.capacity)?;
    let payload = vec![0x5Au8; args.size];
    let mut sum = 0u64;
    let start = Instant::now();
    for _ in 0..args.messages {
        let mut r = tx.reserve(args.size, 1)?;
        r.copy_from_slice(black_box(&payload));
        r.commit();
        let Some(rec) = rx.read()? else {
            bail!("record vanished");
        };
        sum = sum.wrapping_add(black_box(rec.payload()).len() as u64);
        rx.release();
    }
    let el = start.elapsed();
    if sum != args.messages * args.size as u64 {
        bail!(
            "read {sum} bytes, expected {}",
            args.messages * args.size as u64
        );
    }
    println!(
        "{} push+pop of {} bytes in {:.3} s: {:.1} ns each",
        args.messages,
        args.size,
        el.as_secs_f64(),
        el.as_nanos() as f64 / args.messages as f64
    );
    Ok(())
}
