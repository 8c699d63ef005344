//! The concurrency facade: the one place the ring takes the atomics, fences and
//! data-area access tracking of its shared state from. (A heap ring's two role
//! flags are std's: they are process-local and never modelled by loom.)
//!
//! In a normal build these are `core`'s atomics and the tracking is a no-op that
//! compiles to nothing. Under `--cfg loom` they are loom's, so that the same ring
//! code (not a copy) runs inside loom's model checker, and every access to the
//! data area is checked for races through one `loom::cell::UnsafeCell<()>` per
//! 8-byte word of the buffer.
//!
//! Each ordering that the protocol relies on is a named constant here, so a
//! mutant build (`--cfg sairing_mutant="<site>"`) can weaken exactly one of them
//! and the loom models can show that they notice.

pub(crate) use core::sync::atomic::Ordering;

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicU32, AtomicU64};

#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{fence, AtomicU32, AtomicU64};

/// The orderings of the publish/consume and sleep/wake protocols, one per site.
pub(crate) mod order {
    use super::Ordering::{self, *};

    /// Producer publishes its tail after writing a record (pairs with `TAIL_ACQUIRE`).
    pub(crate) const TAIL_PUBLISH: Ordering = if cfg!(sairing_mutant = "tail_publish") {
        Relaxed
    } else {
        Release
    };
    /// Consumer reads the producer's tail before reading the records below it.
    pub(crate) const TAIL_ACQUIRE: Ordering = if cfg!(sairing_mutant = "tail_acquire") {
        Relaxed
    } else {
        Acquire
    };
    /// Consumer publishes its head after it has finished reading the records below it
    /// (pairs with `HEAD_ACQUIRE`).
    pub(crate) const HEAD_RELEASE: Ordering = if cfg!(sairing_mutant = "head_release") {
        Relaxed
    } else {
        Release
    };
    /// Producer reads the consumer's head before overwriting the space below it.
    pub(crate) const HEAD_ACQUIRE: Ordering = if cfg!(sairing_mutant = "head_acquire") {
        Relaxed
    } else {
        Acquire
    };
    /// The store-load fence of the consumer-sleeps protocol (both sides).
    pub(crate) const SLEEP_FENCE: Ordering = if cfg!(sairing_mutant = "sleep_fence") {
        AcqRel
    } else {
        SeqCst
    };
    /// The store-load fence of the producer-waits-for-space protocol (both sides).
    pub(crate) const SPACE_FENCE: Ordering = if cfg!(sairing_mutant = "space_fence") {
        AcqRel
    } else {
        SeqCst
    };
}

/// Proof of access to a byte range of the data area, held for as long as the
/// bytes are borrowed. A zero-sized no-op outside loom.
#[cfg(not(loom))]
#[derive(Default)]
pub(crate) struct Access {
    _none: (),
}

#[cfg(not(loom))]
impl Access {
    #[inline(always)]
    pub(crate) fn join(&mut self, _other: Access) {}
}

/// Empty, so that `drop(access)` reads as what it is under loom, the end of
/// the access, in both builds.
#[cfg(not(loom))]
impl Drop for Access {
    #[inline(always)]
    fn drop(&mut self) {}
}

/// Proof of access to a byte range of the data area: loom's guards for every
/// 8-byte word the range touches, live until dropped.
#[cfg(loom)]
#[derive(Default)]
pub(crate) struct Access {
    reads: Vec<loom::cell::ConstPtr<()>>,
    writes: Vec<loom::cell::MutPtr<()>>,
}

#[cfg(loom)]
impl Access {
    pub(crate) fn join(&mut self, other: Access) {
        self.reads.extend(other.reads);
        self.writes.extend(other.writes);
    }
}

/// Race-tracking cells for the data area (loom only).
#[cfg(loom)]
pub(crate) struct Tracker {
    words: Box<[loom::cell::UnsafeCell<()>]>,
}

#[cfg(loom)]
impl Tracker {
    pub(crate) fn new(capacity: usize) -> Self {
        let words = (0..capacity / 8)
            .map(|_| loom::cell::UnsafeCell::new(()))
            .collect();
        Tracker { words }
    }

    /// The words that bytes `[off, off + len)` touch (none when `len` is 0).
    fn span(&self, off: usize, len: usize) -> core::ops::Range<usize> {
        if len == 0 {
            return 0..0;
        }
        let first = off / 8;
        let last = (off + len).div_ceil(8);
        first..last.min(self.words.len())
    }

    pub(crate) fn read(&self, off: usize, len: usize) -> Access {
        let reads = self.span(off, len).map(|i| self.words[i].get()).collect();
        Access {
            reads,
            writes: Vec::new(),
        }
    }

    pub(crate) fn write(&self, off: usize, len: usize) -> Access {
        let writes = self
            .span(off, len)
            .map(|i| self.words[i].get_mut())
            .collect();
        Access {
            reads: Vec::new(),
            writes,
        }
    }
}

/// Race-tracking cells for the data area: nothing outside loom.
#[cfg(not(loom))]
pub(crate) struct Tracker;

#[cfg(not(loom))]
impl Tracker {
    #[inline(always)]
    pub(crate) fn read(&self, _off: usize, _len: usize) -> Access {
        Access::default()
    }

    #[inline(always)]
    pub(crate) fn write(&self, _off: usize, _len: usize) -> Access {
        Access::default()
    }
}
