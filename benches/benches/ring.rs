//! Criterion benchmarks of the ring against rtrb with the same payloads, in the
//! same run: one thread pushing and popping, and two threads streaming.
//!
//! `cargo bench -p sairing-benches --bench ring`

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use sairing_ring::PushError;

const SIZES: [usize; 3] = [16, 128, 1024];
const CAPACITY: u64 = 1 << 20;

fn single_thread(c: &mut Criterion) {
    let mut g = c.benchmark_group("push_pop_1thread");
    g.throughput(Throughput::Elements(1));
    for size in SIZES {
        let dir = sairing_benches::scratch_dir().unwrap();
        let (mut tx, mut rx) = sairing_benches::file_ring(&dir, CAPACITY).unwrap();
        let payload = vec![7u8; size];
        g.bench_with_input(BenchmarkId::new("sairing", size), &size, |b, &size| {
            b.iter(|| {
                let mut r = tx.reserve(size, 1).unwrap();
                r.copy_from_slice(black_box(&payload));
                r.commit();
                let rec = rx.read().unwrap().unwrap();
                black_box(rec.payload());
                rx.release();
            })
        });
        macro_rules! rtrb_case {
            ($n:literal) => {{
                let (mut p, mut q) = rtrb::RingBuffer::<[u8; $n]>::new((CAPACITY as usize) / $n);
                let item = [7u8; $n];
                g.bench_with_input(BenchmarkId::new("rtrb", $n), &$n, |b, _| {
                    b.iter(|| {
                        p.push(black_box(item)).unwrap();
                        black_box(q.pop().unwrap());
                    })
                });
            }};
        }
        match size {
            16 => rtrb_case!(16),
            128 => rtrb_case!(128),
            _ => rtrb_case!(1024),
        }
    }
    g.finish();
}

/// Streams `n` records from this thread to a consumer thread; returns the time.
fn sairing_stream(
    tx: &mut sairing_ring::Producer,
    rx: &mut sairing_ring::Consumer,
    size: usize,
    n: u64,
) -> Duration {
    let payload = vec![7u8; size];
    std::thread::scope(|s| {
        let consumer = s.spawn(|| {
            let mut got = 0u64;
            let mut since_release = 0;
            while got < n {
                match rx.read().unwrap() {
                    Some(rec) => {
                        black_box(rec.payload());
                        got += 1;
                        since_release += 1;
                        if since_release == 64 {
                            rx.release();
                            since_release = 0;
                        }
                    }
                    None => {
                        rx.release();
                        since_release = 0;
                        std::hint::spin_loop();
                    }
                }
            }
            rx.release();
        });
        let start = Instant::now();
        let mut sent = 0;
        while sent < n {
            match tx.reserve(size, 1) {
                Ok(mut r) => {
                    r.copy_from_slice(&payload);
                    r.commit();
                    sent += 1;
                }
                Err(PushError::Full { .. }) => std::hint::spin_loop(),
                Err(e) => panic!("{e}"),
            }
        }
        consumer.join().unwrap();
        start.elapsed()
    })
}

fn rtrb_stream<const N: usize>(n: u64) -> Duration {
    let (mut p, mut q) = rtrb::RingBuffer::<[u8; N]>::new(CAPACITY as usize / N);
    let item = [7u8; N];
    std::thread::scope(|s| {
        let consumer = s.spawn(move || {
            let mut got = 0;
            while got < n {
                match q.pop() {
                    Ok(v) => {
                        black_box(v);
                        got += 1;
                    }
                    Err(_) => std::hint::spin_loop(),
                }
            }
        });
        let start = Instant::now();
        let mut sent = 0;
        while sent < n {
            if p.push(item).is_ok() {
                sent += 1;
            } else {
                std::hint::spin_loop();
            }
        }
        consumer.join().unwrap();
        start.elapsed()
    })
}

fn two_threads(c: &mut Criterion) {
    let mut g = c.benchmark_group("stream_2threads");
    g.throughput(Throughput::Elements(1));
    g.sample_size(20);
    for size in SIZES {
        let dir = sairing_benches::scratch_dir().unwrap();
        let (mut tx, mut rx) = sairing_benches::file_ring(&dir, CAPACITY).unwrap();
        g.bench_with_input(BenchmarkId::new("sairing", size), &size, |b, &size| {
            b.iter_custom(|iters| sairing_stream(&mut tx, &mut rx, size, iters))
        });
        g.bench_with_input(BenchmarkId::new("rtrb", size), &size, |b, &size| {
            b.iter_custom(|iters| match size {
                16 => rtrb_stream::<16>(iters),
                128 => rtrb_stream::<128>(iters),
                _ => rtrb_stream::<1024>(iters),
            })
        });
    }
    g.finish();
}

criterion_group!(benches, single_thread, two_threads);
criterion_main!(benches);
