//! The sleep/wake handshake. A side about to sleep stores `generation << 1 | 1`
//! into its own sleep word (a new generation each time), issues a SeqCst fence
//! and looks at the ring once more. The other side, after publishing (or
//! releasing), issues a SeqCst fence and loads that word. Either the sleeper's
//! second look sees the new cursor, or the waker's load sees the announcement:
//! no wakeup is lost. The waker rings once per generation it sees asleep, so a
//! burst of commits rings once, and an awake peer is never rung. Only plain
//! loads and stores touch the word (no read-modify-write), and the generation
//! lives in the file, so a restarted sleeper continues it.

use crate::sync::{AtomicU64, Ordering::Relaxed};

/// Announces that this side is about to sleep: a new generation, odd.
pub(super) fn announce_sleep(w: &AtomicU64) {
    let generation = (w.load(Relaxed) >> 1) + 1;
    w.store(generation << 1 | 1, Relaxed);
}

/// Withdraws the announcement (the generation stays: it is the waker's memory).
pub(super) fn end_sleep(w: &AtomicU64) {
    let v = w.load(Relaxed);
    w.store(v & !1, Relaxed);
}

/// Whether the side whose word this is sleeps in a generation not yet rung
/// for; if so, remembers it in `rung` so that it is rung once.
#[inline(always)]
pub(super) fn take_wakeup(w: &AtomicU64, rung: &mut u64) -> bool {
    let v = w.load(Relaxed);
    if v & 1 != 0 && v != *rung {
        *rung = v;
        return true;
    }
    false
}
