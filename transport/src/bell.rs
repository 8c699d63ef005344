//! Doorbells. A side sleeps in `poll` on its own doorbell, an epoll instance
//! that holds its end of the connection to the peer; the peer rings it by
//! sending one byte on that connection.
//!
//! Nothing but the connection is shared with the peer, and each end of it is
//! its own open file description: every read and write here is non-blocking
//! per call (`MSG_DONTWAIT`), so no flag a peer sets can make them wait, and a
//! peer can neither fill nor drain our doorbell. (An eventfd handed to the peer
//! was both: O_NONBLOCK and the counter belong to the shared description, and a
//! hostile peer used them to block the server for ever.) Descriptors a peer
//! attaches to what it sends are refused by the kernel where it can
//! (`SO_PASSRIGHTS`, Linux 6.16 and later) and otherwise never kept: they are
//! closed on a thread of their own ([`close_later`]), since closing a
//! descriptor someone else prepared (a TCP socket with a long SO_LINGER) can
//! block.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A side's doorbell: readable when the peer has rung (or hung up).
#[derive(Debug)]
pub(crate) struct Bell {
    ep: OwnedFd,
}

impl Bell {
    /// A new doorbell, watching nothing yet (close-on-exec).
    pub fn new() -> io::Result<Bell> {
        // SAFETY: epoll_create1 has no memory preconditions; the result is checked.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a new descriptor that nothing else owns.
        let ep = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Bell { ep })
    }

    /// Rings for what arrives on `fd` (the peer's connection).
    pub(crate) fn watch(&self, fd: RawFd) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: fd as u64,
        };
        // SAFETY: EPOLL_CTL_ADD of a live descriptor with a live event.
        if unsafe { libc::epoll_ctl(self.ep.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Stops watching `fd` (before it is handed to [`close_later`]: until it is
    /// closed, a hung-up connection would keep the bell ringing).
    pub(crate) fn unwatch(&self, fd: RawFd) {
        // SAFETY: EPOLL_CTL_DEL takes no event; an fd not watched is an error
        // that changes nothing.
        unsafe {
            libc::epoll_ctl(
                self.ep.as_raw_fd(),
                libc::EPOLL_CTL_DEL,
                fd,
                std::ptr::null_mut(),
            );
        }
    }
}

impl AsFd for Bell {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.ep.as_fd()
    }
}

/// `SO_PASSRIGHTS` (Linux 6.16): 0 makes the kernel refuse descriptors sent to
/// this socket (the sender gets EPERM); inherited by accepted connections.
const SO_PASSRIGHTS: libc::c_int = 83;

/// Refuses descriptors sent to `fd` where the kernel can (6.16 and later);
/// elsewhere they are received and the connection dropped (see
/// [`recv_nowait`]). Must be set before the socket listens or connects: a
/// connection made earlier keeps accepting descriptors.
pub(crate) fn refuse_descriptors(fd: RawFd) {
    let zero: libc::c_int = 0;
    // SAFETY: setsockopt reads a live c_int; ENOPROTOOPT on older kernels
    // changes nothing (83 was never another SOL_SOCKET option).
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            SO_PASSRIGHTS,
            (&zero as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// Whether the kernel refuses descriptors sent to `fd` (SO_PASSRIGHTS is
/// known and off): then nothing a peer sent can make closing it slow.
fn refuses_descriptors(fd: RawFd) -> bool {
    let mut v: libc::c_int = 1;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into a live c_int.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            SO_PASSRIGHTS,
            (&mut v as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    r == 0 && v == 0
}

/// A connection to a peer (or one still in its handshake). Dropping it closes
/// it at once where the kernel refuses descriptors for it, and otherwise on
/// the closer's thread: its unread data may hold a descriptor that is slow to
/// close (a TCP socket with a long SO_LINGER), and the close of the last
/// socket holding it would run here.
#[derive(Debug)]
pub(crate) struct Conn {
    stream: Option<UnixStream>,
    refusing: bool,
}

impl Conn {
    pub(crate) fn new(stream: UnixStream) -> Conn {
        let refusing = refuses_descriptors(stream.as_raw_fd());
        Conn {
            stream: Some(stream),
            refusing,
        }
    }
}

impl std::ops::Deref for Conn {
    type Target = UnixStream;
    fn deref(&self) -> &UnixStream {
        self.stream
            .as_ref()
            .expect("a connection is present until dropped")
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if let Some(s) = self.stream.take() {
            if self.refusing {
                drop(s);
            } else {
                close_later(s);
            }
        }
    }
}

/// Rings the peer: one byte on the connection, never waiting (a full buffer
/// means the peer has been rung plenty and not yet looked; a peer that went
/// away is noticed when its hang-up is read).
pub(crate) fn ring(stream: &UnixStream) {
    // SAFETY: sends one byte from a static buffer on a socket we own.
    unsafe {
        libc::send(
            stream.as_raw_fd(),
            b"!".as_ptr().cast(),
            1,
            libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
        );
    }
}

/// What a non-blocking read found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Got {
    /// This many bytes.
    Bytes(usize),
    /// Nothing yet.
    Nothing,
    /// The peer closed the connection (or it failed).
    HungUp,
}

/// Reads what is there into `buf` without waiting. A peer that attaches
/// descriptors (where the kernel did not refuse them) is broken: they go to
/// [`close_later`], never kept, and the connection reads as hung up, so that
/// it is dropped and never read again.
pub(crate) fn recv_nowait(stream: &UnixStream, buf: &mut [u8]) -> Got {
    // Room for the most descriptors one message can carry (SCM_MAX_FD, 253):
    // any the buffer could not take, the kernel would close on this thread.
    let mut control = [0u64; 130];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: an all-zero msghdr is valid; the fields used are set below.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: `msg` points at live buffers of the lengths it states.
    let n = unsafe {
        libc::recvmsg(
            stream.as_raw_fd(),
            &mut msg,
            libc::MSG_DONTWAIT | libc::MSG_CMSG_CLOEXEC,
        )
    };
    if n < 0 {
        let e = io::Error::last_os_error();
        return match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Got::Nothing,
            _ => Got::HungUp,
        };
    }
    let mut sent_descriptors = msg.msg_flags & libc::MSG_CTRUNC != 0;
    // SAFETY: the kernel filled `msg`'s control area; CMSG_* walk it within
    // msg_controllen, and each SCM_RIGHTS payload holds whole c_ints.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(c).cast::<libc::c_int>();
                let bytes = (*c).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                sent_descriptors = true;
                for i in 0..bytes / std::mem::size_of::<libc::c_int>() {
                    let fd = data.add(i).read_unaligned();
                    // The kernel installed it in our table for us: ours to close.
                    close_later(OwnedFd::from_raw_fd(fd));
                }
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    if n == 0 || sent_descriptors {
        Got::HungUp
    } else {
        Got::Bytes(n as usize)
    }
}

/// Empties what the peer sent (its rings) without waiting, up to 16 KiB a
/// call (a peer that floods the connection cannot keep us here; what is left
/// keeps the connection readable, and is read at the next call); `false` once
/// it has hung up.
pub(crate) fn drain(stream: &UnixStream) -> bool {
    let mut buf = [0u8; 4096];
    for _ in 0..4 {
        match recv_nowait(stream, &mut buf) {
            Got::Bytes(n) if n == buf.len() => continue,
            Got::Bytes(_) | Got::Nothing => return true,
            Got::HungUp => return false,
        }
    }
    true
}

/// Descriptors handed to the closer and not yet closed.
static CLOSER_BACKLOG: AtomicUsize = AtomicUsize::new(0);

/// How many descriptors wait for the closer (a server stops accepting while
/// this is high: a stuck closer must not turn into a full descriptor table).
pub(crate) fn closer_backlog() -> usize {
    CLOSER_BACKLOG.load(Ordering::Relaxed)
}

/// Closes `fd` on a thread of its own, never here: a descriptor that came
/// from a peer (or a connection whose unread data may hold one) can take as
/// long to close as the peer likes. If that thread is stuck and 1,024 closes
/// wait behind it, or it cannot be started, the descriptor is leaked rather
/// than waited for (the thread is started again at the next call).
pub(crate) fn close_later(fd: impl Into<OwnedFd>) {
    static CLOSER: Mutex<Option<SyncSender<OwnedFd>>> = Mutex::new(None);
    let fd = fd.into();
    let Ok(mut tx) = CLOSER.lock() else {
        std::mem::forget(fd);
        return;
    };
    if tx.is_none() {
        let (t, rx) = sync_channel::<OwnedFd>(1024);
        let spawned = std::thread::Builder::new()
            .name("sairing-closer".into())
            .spawn(move || {
                for fd in rx {
                    drop(fd);
                    CLOSER_BACKLOG.fetch_sub(1, Ordering::Relaxed);
                }
            });
        if spawned.is_ok() {
            *tx = Some(t);
        }
    }
    let Some(t) = tx.as_ref() else {
        std::mem::forget(fd);
        return;
    };
    CLOSER_BACKLOG.fetch_add(1, Ordering::Relaxed);
    if let Err(TrySendError::Full(fd) | TrySendError::Disconnected(fd)) = t.try_send(fd) {
        CLOSER_BACKLOG.fetch_sub(1, Ordering::Relaxed);
        std::mem::forget(fd);
    }
}

/// Waits until one of `fds` is readable (or hung up), or `timeout` passes
/// (`None`: forever); the caller keeps them open for the call. Returns the
/// `revents` of each, in order.
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

    /// Ringing a peer that never reads (its buffer full) and draining an
    /// empty connection both return at once, whatever flags the peer set on
    /// its own end.
    #[test]
    fn ringing_and_draining_never_wait() {
        let (a, b) = UnixStream::pair().unwrap();
        b.set_nonblocking(false).unwrap();
        a.set_nonblocking(false).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for _ in 0..1_000_000 {
                ring(&a);
            }
            assert!(drain(&a), "open");
            let _ = tx.send(());
            drop(b);
        });
        rx.recv_timeout(Duration::from_secs(30))
            .expect("ring or drain waited on a peer that never reads");
    }

    /// A peer sends us a descriptor that is slow to close: a TCP socket with
    /// unsent data and a long SO_LINGER, whose receiver never reads (found in
    /// review: syncd closed such a descriptor inline and blocked for as long
    /// as the attacker liked). Draining hands it to the closer and returns.
    /// (Where the kernel refuses descriptors, SO_PASSRIGHTS is not set here:
    /// this is the path older kernels take.)
    #[test]
    fn a_descriptor_slow_to_close_never_blocks_a_drain() {
        let (a, b) = UnixStream::pair().unwrap();
        let t = send_a_slow_descriptor(&a);
        drop(t);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let open = drain(&b);
            let _ = tx.send(open);
            drop(a);
        });
        let open = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("draining blocked closing a descriptor the peer sent");
        assert!(!open, "a peer that sends descriptors is dropped");
    }

    /// Sends one byte over `sock` with `fds` attached.
    fn send_descriptors(sock: RawFd, fds: &[RawFd]) -> nix::Result<usize> {
        nix::sys::socket::sendmsg::<()>(
            sock,
            &[std::io::IoSlice::new(b"!")],
            &[nix::sys::socket::ControlMessage::ScmRights(fds)],
            nix::sys::socket::MsgFlags::empty(),
            None,
        )
    }

    /// Sends over `a` a descriptor that is slow to close: a TCP socket with
    /// unsent data and a long SO_LINGER, whose receiver never reads. Returns
    /// the sender's copy, to drop once the descriptor is in flight.
    fn send_a_slow_descriptor(a: &UnixStream) -> std::net::TcpStream {
        use std::io::Write;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut t = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (u, _) = listener.accept().unwrap();
        std::mem::forget(u); // never reads, never closes
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 3600,
        };
        // SAFETY: setsockopt reads a live linger struct.
        unsafe {
            libc::setsockopt(
                t.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&linger as *const libc::linger).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            );
        }
        t.set_nonblocking(true).unwrap();
        let chunk = [0u8; 65536];
        while t.write(&chunk).is_ok() {}
        let fds = [t.as_raw_fd()];
        send_descriptors(a.as_raw_fd(), &fds).unwrap();
        t
    }

    /// A connection whose unread data holds such a descriptor is closed on
    /// the closer's thread, not by the drop (which would wait out the
    /// linger), and counts in the closer's backlog until it is.
    #[test]
    fn dropping_a_connection_never_waits_for_what_it_holds() {
        let (a, b) = UnixStream::pair().unwrap();
        drop(send_a_slow_descriptor(&a));
        if refuses_descriptors(b.as_raw_fd()) {
            // Closing `b` here would wait out the linger: left open.
            std::mem::forget(b);
            panic!("a pair never told to refuse descriptors is taken for refusing");
        }
        let conn = Conn::new(b);
        let before = closer_backlog();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            drop(conn);
            let _ = tx.send(closer_backlog());
        });
        let after = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("dropping the connection waited for the descriptor it held");
        assert!(after > before, "backlog {before} then {after}");
        drop(a);
    }

    /// A socket is seen to refuse descriptors exactly when the kernel refuses
    /// to send it one: never before it is told to, and after, where the
    /// kernel knows SO_PASSRIGHTS.
    #[test]
    fn refusing_descriptors_is_seen_where_the_kernel_can() {
        let (a, b) = UnixStream::pair().unwrap();
        assert!(!refuses_descriptors(a.as_raw_fd()), "before");
        refuse_descriptors(a.as_raw_fd());
        let sent = send_descriptors(b.as_raw_fd(), &[b.as_raw_fd()]);
        assert_eq!(
            refuses_descriptors(a.as_raw_fd()),
            sent.is_err(),
            "{sent:?}"
        );
    }

    /// A drain takes 4 KiB reads until one comes back short, at most four:
    /// 10,000 bytes all, 20,000 all but the last 3,616.
    #[test]
    fn a_drain_reads_until_a_short_read() {
        use std::io::{Read, Write};
        for (sent, left) in [(10_000usize, 0usize), (20_000, 20_000 - (16 << 10))] {
            let (mut a, mut b) = UnixStream::pair().unwrap();
            b.write_all(&vec![7u8; sent]).unwrap();
            assert!(drain(&a));
            a.set_nonblocking(true).unwrap();
            let mut rest = Vec::new();
            let _ = a.read_to_end(&mut rest);
            assert_eq!(rest.len(), left, "{sent} sent");
        }
    }

    /// A hang-up is a hang-up whatever errno holds from before (a read of 0
    /// bytes sets none).
    #[test]
    fn a_hang_up_reads_as_one_after_a_would_block() {
        let (a, b) = UnixStream::pair().unwrap();
        assert_eq!(recv_nowait(&a, &mut [0; 8]), Got::Nothing); // errno EAGAIN
        drop(b);
        assert_eq!(recv_nowait(&a, &mut [0; 8]), Got::HungUp);
    }

    /// Credentials a socket asked for (SO_PASSCRED) are control data too, but
    /// not descriptors: the bytes are read as bytes.
    #[test]
    fn credentials_are_not_taken_for_descriptors() {
        let (a, b) = UnixStream::pair().unwrap();
        nix::sys::socket::setsockopt(&a, nix::sys::socket::sockopt::PassCred, &true).unwrap();
        ring(&b);
        assert_eq!(recv_nowait(&a, &mut [0; 8]), Got::Bytes(1));
    }

    /// A descriptor a peer sends is closed, not kept: the pipe whose write end
    /// went across reads its end once the sender's copy is closed too.
    #[test]
    fn a_descriptor_received_is_closed() {
        let (a, b) = UnixStream::pair().unwrap();
        let (r, w) = nix::unistd::pipe().unwrap();
        let fds = [w.as_raw_fd()];
        send_descriptors(b.as_raw_fd(), &fds).unwrap();
        drop(w);
        assert_eq!(recv_nowait(&a, &mut [0; 8]), Got::HungUp);
        let ends = wait_raw(&[r.as_raw_fd()], Some(Duration::from_secs(10))).unwrap()[0];
        assert_ne!(ends & libc::POLLHUP, 0, "the received copy is still open");
    }

    /// Without a timeout, a wait lasts until something is readable.
    #[test]
    fn a_wait_without_a_timeout_waits() {
        let (a, b) = UnixStream::pair().unwrap();
        let writer = std::thread::spawn(move || {
            use std::io::Write;
            // Only makes the wait long; the check holds whatever the pause.
            std::thread::sleep(Duration::from_millis(50));
            (&b).write_all(b"!").unwrap();
            b
        });
        let got = wait_raw(&[a.as_raw_fd()], None).unwrap()[0];
        assert_ne!(got & libc::POLLIN, 0, "returned with nothing readable");
        drop(writer.join().unwrap());
    }

    /// A signal that interrupts a wait does not end it: `poll` is called
    /// again. (Signals are sent for 200 ms, so that some land inside `poll`;
    /// the check holds whatever the timing.)
    #[test]
    fn a_signal_does_not_end_a_wait() {
        extern "C" fn nothing(_: libc::c_int) {}
        // SAFETY: a handler that does nothing, for a signal nothing else in
        // this test process uses.
        unsafe { libc::signal(libc::SIGUSR2, nothing as *const () as libc::sighandler_t) };
        let (a, b) = UnixStream::pair().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = std::thread::spawn(move || {
            // SAFETY: pthread_self has no preconditions.
            tx.send(unsafe { libc::pthread_self() }).unwrap();
            wait_raw(&[a.as_raw_fd()], Some(Duration::from_secs(60)))
        });
        let thread = rx.recv().unwrap();
        for _ in 0..20 {
            // SAFETY: the waiter is alive: it waits until `b` writes, below.
            unsafe { libc::pthread_kill(thread, libc::SIGUSR2) };
            std::thread::sleep(Duration::from_millis(10));
        }
        std::io::Write::write_all(&mut &b, b"!").unwrap();
        let got = waiter.join().unwrap().expect("the wait failed on a signal");
        assert_ne!(got[0] & libc::POLLIN, 0);
    }

    /// A peer that floods its connection cannot keep a drain reading: one
    /// call takes at most 16 KiB, and the rest stays readable for the next.
    #[test]
    fn a_drain_is_bounded() {
        use std::io::Write;
        let (a, mut b) = UnixStream::pair().unwrap();
        b.set_nonblocking(true).unwrap();
        let chunk = [0u8; 4096];
        let mut sent = 0;
        while let Ok(n) = b.write(&chunk) {
            sent += n;
        }
        assert!(sent > 16 << 10, "only {sent} bytes fit");
        assert!(drain(&a));
        let left = wait_raw(&[a.as_raw_fd()], Some(Duration::ZERO)).unwrap()[0];
        assert_ne!(left & libc::POLLIN, 0, "the rest is still there");
    }

    /// The bell rings when the watched connection has data, and is silent
    /// again once it is drained and unwatched.
    #[test]
    fn the_bell_follows_the_watched_connection() {
        let bell = Bell::new().unwrap();
        let (a, b) = UnixStream::pair().unwrap();
        bell.watch(a.as_raw_fd()).unwrap();
        let quiet = |bell: &Bell| {
            wait_raw(&[bell.as_fd().as_raw_fd()], Some(Duration::ZERO)).unwrap()[0] == 0
        };
        assert!(quiet(&bell));
        ring(&b);
        assert!(!quiet(&bell), "rung");
        assert!(drain(&a));
        assert!(quiet(&bell), "drained");
        drop(b);
        assert!(!quiet(&bell), "a hang-up rings too");
        assert!(!drain(&a), "hung up");
        bell.unwatch(a.as_raw_fd());
        assert!(quiet(&bell), "unwatched");
    }
}
