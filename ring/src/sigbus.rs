//! Surviving a ring file that another process truncates while we have it mapped.
//!
//! Touching a mapped page beyond the end of its file raises SIGBUS, which kills
//! the process by default. The ring treats the file as untrusted, so it installs
//! (once, chaining to whatever handler was there before) a SIGBUS handler that
//! looks the faulting address up in a fixed table of the ring mappings this
//! process holds. For an address inside one, it maps anonymous zero pages over
//! the rest of that mapping and marks it faulted; the faulting instruction then
//! reads zeros (never a valid record: kind 0 is invalid) and the ring reports
//! [`Corruption::TruncatedWhileMapped`](crate::Corruption::TruncatedWhileMapped)
//! at its next check. Faults at other addresses go to the previous handler, or
//! to the default action, exactly as if this handler did not exist.
//!
//! The handler only reads atomics and calls `mmap`, a system call that is safe
//! to make from a signal handler on Linux.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::OnceLock;

pub(crate) const SLOTS: usize = 256;

struct Slot {
    start: AtomicUsize,
    end: AtomicUsize,
    faulted: AtomicBool,
}

#[allow(clippy::declare_interior_mutable_const)]
const EMPTY: Slot = Slot {
    start: AtomicUsize::new(0),
    end: AtomicUsize::new(0),
    faulted: AtomicBool::new(false),
};

static TABLE: [Slot; SLOTS] = [EMPTY; SLOTS];
static PAGE: AtomicUsize = AtomicUsize::new(4096);

struct Previous(libc::sigaction);
// SAFETY: a `sigaction` is plain data (a handler address, flags and a signal
// mask); it is written once before the handler is installed and only read after.
unsafe impl Sync for Previous {}
// SAFETY: as above; it holds no pointer that is tied to a thread.
unsafe impl Send for Previous {}

static PREVIOUS: OnceLock<Previous> = OnceLock::new();

/// A registered mapping; unregisters on drop.
pub(crate) struct Guard {
    slot: usize,
}

impl Guard {
    /// Whether the mapping has been hit by a SIGBUS (its file shrank).
    #[inline]
    pub(crate) fn faulted(&self) -> bool {
        TABLE[self.slot].faulted.load(Ordering::Relaxed)
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let s = &TABLE[self.slot];
        s.end.store(0, Ordering::Release);
        s.faulted.store(false, Ordering::Relaxed);
        s.start.store(0, Ordering::Release);
    }
}

/// Registers `[start, start + len)` as a ring mapping. `None` when the table is
/// full (the caller refuses the mapping).
pub(crate) fn register(start: usize, len: usize) -> Option<Guard> {
    install();
    for (i, s) in TABLE.iter().enumerate() {
        // Claim the slot with a placeholder start so the handler ignores it
        // until `end` is set.
        if s.start
            .compare_exchange(0, usize::MAX, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            s.faulted.store(false, Ordering::Relaxed);
            s.end.store(start + len, Ordering::Release);
            s.start.store(start, Ordering::Release);
            return Some(Guard { slot: i });
        }
    }
    None
}

fn install() {
    PREVIOUS.get_or_init(|| {
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        if page > 0 {
            PAGE.store(page as usize, Ordering::Relaxed);
        }
        // SAFETY: an all-zero sigaction is a valid value (SIG_DFL, no flags, empty mask).
        let mut new: libc::sigaction = unsafe { std::mem::zeroed() };
        new.sa_sigaction = handler as *const () as usize;
        new.sa_flags = libc::SA_SIGINFO | libc::SA_NODEFER | libc::SA_ONSTACK;
        // SAFETY: as above.
        let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: `new` is a fully initialised sigaction whose handler has the
        // SA_SIGINFO signature; `old` is a valid place for the kernel to write to.
        // PREVIOUS is not readable by the handler until this closure returns,
        // and the handler treats "not yet set" as "use the default action".
        unsafe {
            libc::sigemptyset(&mut new.sa_mask);
            libc::sigaction(libc::SIGBUS, &new, &mut old);
        }
        Previous(old)
    });
}

extern "C" fn handler(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for an SA_SIGINFO handler.
    let (addr, code) = unsafe { ((*info).si_addr() as usize, (*info).si_code) };
    // Only an access beyond the end of the file (BUS_ADRERR) is a truncation;
    // any other SIGBUS (alignment, a hardware error, one sent by kill) is not
    // ours to repair.
    let candidates = if code == libc::BUS_ADRERR {
        &TABLE[..]
    } else {
        &[]
    };
    for s in candidates.iter() {
        let start = s.start.load(Ordering::Acquire);
        let end = s.end.load(Ordering::Acquire);
        if start == 0 || start == usize::MAX || addr < start || addr >= end {
            continue;
        }
        let page = addr & !(PAGE.load(Ordering::Relaxed) - 1);
        // SAFETY: [page, end) lies inside a live mapping that this process made
        // for a ring (it is in the table until the mapping is dropped); replacing
        // it with private zero pages keeps every pointer into it valid, and the
        // ring checks `faulted` before trusting anything it reads from it again.
        let r = unsafe {
            libc::mmap(
                page as *mut libc::c_void,
                end - page,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        if r != libc::MAP_FAILED {
            s.faulted.store(true, Ordering::Release);
            return;
        }
        break;
    }
    // Not ours (or we could not repair it): behave as the previous disposition.
    match PREVIOUS.get() {
        Some(Previous(prev))
            if prev.sa_sigaction != libc::SIG_DFL && prev.sa_sigaction != libc::SIG_IGN =>
        {
            if prev.sa_flags & libc::SA_SIGINFO != 0 {
                // SAFETY: the previous handler was installed with SA_SIGINFO, so
                // its address has this signature.
                let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                    unsafe { std::mem::transmute(prev.sa_sigaction) };
                f(sig, info, ctx);
            } else {
                // SAFETY: without SA_SIGINFO the previous handler takes only the signal number.
                let f: extern "C" fn(libc::c_int) =
                    unsafe { std::mem::transmute(prev.sa_sigaction) };
                f(sig);
            }
        }
        _ => {
            // Restore the default action; returning re-executes the faulting
            // access, which now terminates the process as SIGBUS always did.
            // SAFETY: resetting a signal's disposition to SIG_DFL is async-signal-safe.
            unsafe {
                libc::signal(libc::SIGBUS, libc::SIG_DFL);
            }
        }
    }
}
