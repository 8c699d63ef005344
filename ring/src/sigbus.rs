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
//! to the default action, exactly as if this handler did not exist: the
//! earlier handler runs with its own mask (and SIGBUS blocked unless it asked
//! for SA_NODEFER), once only under SA_RESETHAND, and a SIGBUS sent by `kill`
//! is ignored under SIG_IGN and terminates the process under SIG_DFL.
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

/// The SIGBUS disposition in place before the guard, kept so that signals the
/// guard does not own end as they would have without it.
///
/// Two slots and a selector, so the handler never reads a slot being written:
/// slot 0 is filled from a query *before* the guard is installed (closing the
/// window in which the handler could run with nothing to chain to), and slot 1
/// with what `sigaction` returned while installing, in case another thread
/// changed the disposition in between; the selector moves to it afterwards.
struct Earlier([std::cell::UnsafeCell<libc::sigaction>; 2]);
// SAFETY: each slot is written only by `install` (once, under the OnceLock) or
// by `keep_guard_installed`, and only while `CHAIN` does not point at it; the handler reads only the slot `CHAIN`
// points at, with Acquire ordering after the Release that published it.
unsafe impl Sync for Earlier {}

static EARLIER: Earlier = Earlier([
    // SAFETY: an all-zero sigaction is a valid value (SIG_DFL, no flags, empty mask).
    std::cell::UnsafeCell::new(unsafe { std::mem::zeroed() }),
    // SAFETY: as above.
    std::cell::UnsafeCell::new(unsafe { std::mem::zeroed() }),
]);

/// Which earlier disposition the handler chains to.
static CHAIN: AtomicUsize = AtomicUsize::new(CHAIN_DEFAULT);
/// The default action: no earlier handler, or one installed with SA_RESETHAND
/// that has already run once.
const CHAIN_DEFAULT: usize = 2;

static INSTALLED: OnceLock<()> = OnceLock::new();

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
    INSTALLED.get_or_init(|| {
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        if page > 0 {
            PAGE.store(page as usize, Ordering::Relaxed);
        }
        // SAFETY: slot 0 is not yet published (CHAIN is CHAIN_DEFAULT), so no
        // handler reads it; a null new action only queries the disposition.
        unsafe {
            libc::sigaction(libc::SIGBUS, std::ptr::null(), EARLIER.0[0].get());
        }
        CHAIN.store(0, Ordering::Release);
        let new = guard_action();
        // SAFETY: `new` is a fully initialised sigaction whose handler has the
        // SA_SIGINFO signature; slot 1 is not published, so the kernel may
        // write the replaced disposition into it while the handler reads slot 0.
        unsafe {
            libc::sigaction(libc::SIGBUS, &new, EARLIER.0[1].get());
        }
        CHAIN.store(1, Ordering::Release);
    });
}

/// The guard's own disposition.
fn guard_action() -> libc::sigaction {
    // SAFETY: an all-zero sigaction is a valid value (SIG_DFL, no flags, empty mask).
    let mut new: libc::sigaction = unsafe { std::mem::zeroed() };
    new.sa_sigaction = handler as *const () as usize;
    new.sa_flags = libc::SA_SIGINFO | libc::SA_NODEFER | libc::SA_ONSTACK;
    // SAFETY: sigemptyset writes into the mask of a local value.
    unsafe {
        libc::sigemptyset(&mut new.sa_mask);
    }
    new
}

/// After an earlier handler ran: if it replaced the disposition (std's
/// stack-overflow handler resets SIGBUS to the default for a fault it does not
/// own), chain to what it set from now on and put the guard back, so that one
/// foreign SIGBUS does not leave every ring unguarded. Two threads doing this
/// at once (two foreign SIGBUSes at the same instant) may lose one update;
/// both would have set the same disposition.
fn keep_guard_installed() {
    // SAFETY: an all-zero sigaction is a valid place for the kernel to write to.
    let mut now: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: a null new action only queries; sigaction is async-signal-safe.
    if unsafe { libc::sigaction(libc::SIGBUS, std::ptr::null(), &mut now) } != 0
        || now.sa_sigaction == handler as *const () as usize
    {
        return;
    }
    let free = if CHAIN.load(Ordering::Acquire) == 0 {
        1
    } else {
        0
    };
    // SAFETY: the slot CHAIN does not point at is read by no handler (see
    // `Earlier`); it is published by the store below.
    unsafe {
        *EARLIER.0[free].get() = now;
    }
    CHAIN.store(free, Ordering::Release);
    let ours = guard_action();
    // SAFETY: a fully initialised sigaction for our SA_SIGINFO handler.
    unsafe {
        libc::sigaction(libc::SIGBUS, &ours, std::ptr::null_mut());
    }
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
    // Not ours (or we could not repair it): behave as the earlier disposition.
    chain(sig, info, ctx, code);
}

/// Hands a signal on as the disposition before the guard would have handled it.
fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void, code: i32) {
    // A signal sent by a process (kill, raise, sigqueue) has si_code <= 0 and
    // does not come back when the handler returns; a fault does.
    let sent = code <= 0;
    let which = CHAIN.load(Ordering::Acquire);
    let earlier = if which < 2 {
        // SAFETY: CHAIN points at a slot only after it was written (see `Earlier`).
        Some(unsafe { &*EARLIER.0[which].get() })
    } else {
        None
    };
    match earlier {
        Some(prev) if prev.sa_sigaction == libc::SIG_IGN && sent => {}
        Some(prev) if prev.sa_sigaction != libc::SIG_DFL && prev.sa_sigaction != libc::SIG_IGN => {
            if prev.sa_flags & libc::SA_RESETHAND != 0 {
                // The kernel would have reset the disposition on entry.
                CHAIN.store(CHAIN_DEFAULT, Ordering::Release);
            }
            // Block what the kernel would have blocked for it: its mask, and
            // SIGBUS itself unless it asked for SA_NODEFER.
            let mut mask = prev.sa_mask;
            // SAFETY: an all-zero sigset_t is a valid place to write to.
            let mut saved: libc::sigset_t = unsafe { std::mem::zeroed() };
            // SAFETY: sigaddset and pthread_sigmask (sigprocmask) are
            // async-signal-safe and only touch the two local sets and this
            // thread's mask, which is restored after the call.
            unsafe {
                if prev.sa_flags & libc::SA_NODEFER == 0 {
                    libc::sigaddset(&mut mask, libc::SIGBUS);
                }
                libc::pthread_sigmask(libc::SIG_BLOCK, &mask, &mut saved);
            }
            if prev.sa_flags & libc::SA_SIGINFO != 0 {
                // SAFETY: the earlier handler was installed with SA_SIGINFO, so
                // its address has this signature.
                let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                    unsafe { std::mem::transmute(prev.sa_sigaction) };
                f(sig, info, ctx);
            } else {
                // SAFETY: without SA_SIGINFO the earlier handler takes only the signal number.
                let f: extern "C" fn(libc::c_int) =
                    unsafe { std::mem::transmute(prev.sa_sigaction) };
                f(sig);
            }
            // SAFETY: restores this thread's mask saved above.
            unsafe {
                libc::pthread_sigmask(libc::SIG_SETMASK, &saved, std::ptr::null_mut());
            }
            keep_guard_installed();
        }
        _ => {
            // The default action (a fault cannot be ignored: the kernel would
            // force the default too). Restore it; a fault then terminates the
            // process when the access is re-executed on return, and a sent
            // signal is raised again (SA_NODEFER: it is not blocked here).
            // SAFETY: resetting a disposition and raising a signal are
            // async-signal-safe.
            unsafe {
                libc::signal(libc::SIGBUS, libc::SIG_DFL);
                if sent {
                    libc::raise(libc::SIGBUS);
                }
            }
        }
    }
}
