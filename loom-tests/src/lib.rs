//! loom models of the sairing ring. The models are in `tests/ring.rs` and run
//! only when the workspace is built with `RUSTFLAGS="--cfg loom"`, which swaps
//! the ring's atomics and data-area access tracking for loom's (see the ring's
//! `sync` facade): the models exercise the production code, not a copy.
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 \
//!     cargo test -p sairing-loom-tests --release -- --nocapture
//! loom-tests/mutants.sh   # every weakened ordering must be caught by a model
//! ```
#![deny(missing_docs)]

/// Runs `f` under loom's model checker with a preemption bound (from
/// `LOOM_MAX_PREEMPTIONS`, else 3) and returns how many executions it explored.
#[cfg(loom)]
pub fn model<F>(f: F) -> usize
where
    F: Fn() + Sync + Send + 'static,
{
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let count = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&count);
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(3);
    }
    builder.check(move || {
        c.fetch_add(1, Ordering::Relaxed);
        f()
    });
    count.load(Ordering::Relaxed)
}
