//! The heap syncd's object store takes for the route workload's state, an
//! object at a time: the store filled with what `orchagent --routes N` leaves
//! (900,137 objects for a million routes), and the heap counted before and
//! after by an allocator that asks malloc what each block really holds.
//!
//! ```sh
//! cargo run --release -p sairing-orchagent --example store_bytes -- 1000000
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};

use sairing_orchagent::workload::Routes;
use sairing_syncd::store::Store;

/// Bytes malloc holds for live blocks (its usable size and an 8-byte
/// header each), and how many blocks.
static BYTES: AtomicIsize = AtomicIsize::new(0);
static BLOCKS: AtomicIsize = AtomicIsize::new(0);

struct Counting;

fn held(p: *mut u8) -> isize {
    // SAFETY: `p` is a live block from the system allocator (malloc), which
    // is what malloc_usable_size takes.
    unsafe { libc::malloc_usable_size(p.cast()) as isize + 8 }
}

// SAFETY: every call is passed to the system allocator unchanged; the counts
// are only read.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        // SAFETY: the caller's layout, as GlobalAlloc::alloc requires.
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            BYTES.fetch_add(held(p), Relaxed);
            BLOCKS.fetch_add(1, Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        BYTES.fetch_sub(held(p), Relaxed);
        BLOCKS.fetch_sub(1, Relaxed);
        // SAFETY: `p` came from `alloc` with this layout.
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static A: Counting = Counting;

fn main() {
    let routes: u64 = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("a number of routes"))
        .unwrap_or(1_000_000);
    let state = Routes::new(routes, 1).expected_state();
    let (bytes, blocks) = (BYTES.load(Relaxed), BLOCKS.load(Relaxed));
    let started = std::time::Instant::now();
    let mut store = Store::new();
    for (k, attrs) in &state {
        store.put(k, attrs.iter().map(|(n, v)| (n.as_str(), v.as_str())));
    }
    let filled = started.elapsed();
    let started = std::time::Instant::now();
    let rounds: usize = std::env::var("LOOKUPS").map_or(1, |v| v.parse().expect("a number"));
    let mut found = 0;
    for _ in 0..rounds {
        found = state.keys().filter(|k| store.contains(k)).count();
    }
    assert_eq!(found, state.len());
    let looked = started.elapsed();
    let rounds = rounds.max(1);
    // The same thousand keys over and over: the cost without cache misses.
    let few: Vec<&String> = state.keys().take(1000).collect();
    let started = std::time::Instant::now();
    for _ in 0..1000 {
        for k in &few {
            assert!(store.contains(std::hint::black_box(k)));
        }
    }
    let hot = started.elapsed();
    let n = store.len() as f64;
    let (bytes, blocks) = (BYTES.load(Relaxed) - bytes, BLOCKS.load(Relaxed) - blocks);
    println!(
        "{} objects: {:.0} B of heap an object ({} MiB in {} blocks, the table included)",
        store.len(),
        bytes as f64 / n,
        bytes >> 20,
        blocks
    );
    let text: usize = state
        .iter()
        .map(|(k, a)| k.len() + a.iter().map(|(n, v)| n.len() + v.len()).sum::<usize>())
        .sum();
    println!("their text: {:.0} B an object", text as f64 / n);
    println!(
        "filled in {:.0} ns an object, each found again in {:.0} ns ({:.0} ns from the cache)",
        filled.as_nanos() as f64 / n,
        looked.as_nanos() as f64 / n / rounds as f64,
        hot.as_nanos() as f64 / 1e6
    );
    drop(store);
}
