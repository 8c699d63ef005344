//! Doorbells: an eventfd per waiting side, and `poll` over a few descriptors.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// An eventfd that a side sleeps on and its peer rings.
#[derive(Debug)]
pub struct Bell {
    fd: OwnedFd,
}

impl Bell {
    /// A new, unrung bell (non-blocking, close-on-exec).
    pub fn new() -> io::Result<Bell> {
        // SAFETY: eventfd has no memory preconditions; the result is checked.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a new descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Bell { fd })
    }

    /// Empties the bell's counter (after waking).
    pub fn drain(&self) {
        drain(self.fd.as_raw_fd());
    }
}

impl AsFd for Bell {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Takes a doorbell received from a peer: it must be an eventfd, and it is set
/// non-blocking here (whatever the peer set), so that ringing it can never
/// block this process, not even on a counter the peer filled to 2^64 - 2.
/// `Err` says why it was refused.
pub fn adopt(fd: OwnedFd) -> Result<OwnedFd, String> {
    let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .map_err(|e| format!("cannot tell what the doorbell is: {e}"))?;
    if link.as_os_str() != "anon_inode:[eventfd]" {
        return Err(format!(
            "the doorbell is not an eventfd but {}",
            link.display()
        ));
    }
    // SAFETY: fcntl on a descriptor we own; F_GETFL/F_SETFL take and return ints.
    let ok = unsafe {
        let fl = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        fl >= 0 && libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK) == 0
    };
    if !ok {
        return Err(format!(
            "cannot make the doorbell non-blocking: {}",
            io::Error::last_os_error()
        ));
    }
    Ok(fd)
}

/// Rings an eventfd (ours or a peer's, adopted with [`adopt`]).
///
/// O_NONBLOCK belongs to the open file description, which the peer shares and
/// can clear again after [`adopt`]; a write to an eventfd whose counter the
/// peer filled would then block. So the counter is looked at first: one that
/// cannot take another 1 is rung already and is left alone. (A peer racing to
/// fill it between the look and the write can still block this write; only
/// the peer that owns the bell can, and docs/PROTOCOL.md says so.)
pub fn ring(fd: BorrowedFd<'_>) {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: polls one live pollfd without waiting.
    let writable = unsafe { libc::poll(&mut p, 1, 0) } == 1 && p.revents & libc::POLLOUT != 0;
    if !writable {
        return;
    }
    let one: u64 = 1;
    // SAFETY: writes 8 bytes from a live u64 to a descriptor we hold. A full
    // counter (EAGAIN) already means "rung"; a peer that went away is noticed
    // through its socket, so the result is not needed.
    unsafe {
        libc::write(fd.as_raw_fd(), (&one as *const u64).cast(), 8);
    }
}

/// Empties an eventfd without ever waiting, whatever its O_NONBLOCK flag says
/// (a peer holding the same description can clear the flag): RWF_NOWAIT makes
/// this one read non-blocking; kernels without it for eventfds (before 5.12)
/// fall back to a plain read of the non-blocking descriptor.
fn drain(fd: RawFd) {
    let mut v: u64 = 0;
    let iov = libc::iovec {
        iov_base: (&mut v as *mut u64).cast(),
        iov_len: 8,
    };
    // SAFETY: one iovec over a live u64; offset -1 is the file's position,
    // which an eventfd ignores.
    let r = unsafe { libc::preadv2(fd, &iov, 1, -1, libc::RWF_NOWAIT) };
    if r < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EOPNOTSUPP) {
        // SAFETY: reads 8 bytes into a live u64 from a non-blocking eventfd.
        unsafe {
            libc::read(fd, (&mut v as *mut u64).cast(), 8);
        }
    }
}

/// Waits until one of `fds` is readable (or hung up), or `timeout` passes
/// (`None`: forever). Returns the `revents` of each, in order.
pub fn wait(fds: &[BorrowedFd<'_>], timeout: Option<Duration>) -> io::Result<Vec<i16>> {
    let raw: Vec<RawFd> = fds.iter().map(|f| f.as_raw_fd()).collect();
    wait_raw(&raw, timeout)
}

/// [`wait`] on raw descriptors that the caller keeps open for the call.
pub(crate) fn wait_raw(fds: &[RawFd], timeout: Option<Duration>) -> io::Result<Vec<i16>> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        let ms = match deadline {
            None => -1,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                // Round up so a short wait does not become a busy loop.
                left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32
            }
        };
        // SAFETY: `pfds` is a live array of `pfds.len()` initialised pollfds.
        let n = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, ms) };
        if n >= 0 {
            return Ok(pfds.iter().map(|p| p.revents).collect());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A peer that shares our bell clears O_NONBLOCK on it (found in review:
    /// syncd then blocked for ever in drain). Draining an empty bell still
    /// returns at once, and ringing a full one does not block.
    #[test]
    fn a_bell_made_blocking_by_a_peer_never_blocks_us() {
        let b = Bell::new().unwrap();
        let fd = b.as_fd().as_raw_fd();
        // SAFETY: fcntl on a live descriptor; F_SETFL takes an int.
        unsafe {
            libc::fcntl(fd, libc::F_SETFL, 0);
        }
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            b.drain();
            let full: u64 = 0xffff_ffff_ffff_fffe;
            // SAFETY: writes 8 bytes from a live u64 to the bell.
            unsafe { libc::write(b.as_fd().as_raw_fd(), (&full as *const u64).cast(), 8) };
            ring(b.as_fd());
            let _ = tx.send(());
        });
        rx.recv_timeout(Duration::from_secs(10))
            .expect("drain or ring blocked on a bell a peer made blocking");
    }
}
