//! Criterion benchmarks of the ring against rtrb with the same payloads, in the
//! same run: one thread pushing and popping, and two threads streaming.
//!
//! `cargo bench -p sairing-benches --bench ring`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use sairing_benches::stream::{self, CAPACITY};
use std::hint::black_box;

const SIZES: [usize; 3] = [16, 128, 1024];

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

fn two_threads(c: &mut Criterion) {
    let mut g = c.benchmark_group("stream_2threads");
    g.throughput(Throughput::Elements(1));
    g.sample_size(20);
    for size in SIZES {
        let dir = sairing_benches::scratch_dir().unwrap();
        let (mut tx, mut rx) = sairing_benches::file_ring(&dir, CAPACITY).unwrap();
        g.bench_with_input(BenchmarkId::new("sairing", size), &size, |b, &size| {
            b.iter_custom(|iters| stream::sairing(&mut tx, &mut rx, size, iters))
        });
        g.bench_with_input(BenchmarkId::new("rtrb", size), &size, |b, &size| {
            b.iter_custom(|iters| stream::rtrb(size, iters))
        });
    }
    g.finish();
}

criterion_group!(benches, single_thread, two_threads);
criterion_main!(benches);
