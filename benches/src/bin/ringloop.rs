//! `ringloop`: push and pop `--messages N` records of `--size S` bytes in one
//! thread through a file-backed ring, for instruction counts:
//!
//! ```text
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null ringloop --messages 200000
//! ```
//!
//! Setup costs the same for any N, so the cost of one push+pop is the difference
//! between two runs divided by the difference in N (`scripts/instructions.sh`).

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
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
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
