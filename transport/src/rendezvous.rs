//! The rendezvous socket: the server listens on the channel's `sock`, checks
//! who connects (SO_PEERCRED against its [`AccessPolicy`]) and welcomes one
//! client at a time with a 16-byte handshake; the connection then carries each
//! side's doorbell (one byte) and its hang-up tells each side the other died.
//! `docs/PROTOCOL.md` gives the bytes.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::{Duration, Instant};

use nix::sys::socket;

use crate::bell::Conn;
use crate::channel::{euid, Paths, MAX_PENDING};
use crate::error::{io, Error, Result};

/// Who may connect to a server.
#[derive(Debug, Clone, Copy, Default)]
pub struct AccessPolicy {
    /// Also admit processes whose primary group is this one.
    pub allow_gid: Option<u32>,
}

/// The other side of the rendezvous socket: the connection, which carries its
/// rings (one byte each) and whose hang-up says it has died.
#[derive(Debug)]
pub(crate) struct Peer {
    /// The connection.
    pub stream: Conn,
}

impl Peer {
    /// Rings the peer's doorbell.
    pub fn ring(&self) {
        crate::bell::ring(&self.stream);
    }

    /// Whether the peer has hung up (reads what it sent, without waiting).
    pub fn hung_up(&self) -> bool {
        !crate::bell::drain(&self.stream)
    }
}

const HELLO: &[u8; 16] = b"SAIRING-HELLO-2\0";
const WELCOME: &[u8; 16] = b"SAIRING-WELCOME\0";
const REFUSED: &[u8; 16] = b"SAIRING-REFUSED\0";
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(2);

/// Sends a 16-byte handshake message without waiting (it always fits in an
/// empty connection's buffer).
fn send16(sock: &UnixStream, msg: &[u8; 16]) -> io::Result<()> {
    // SAFETY: sends 16 bytes from a live array on a socket we own.
    let n = unsafe {
        libc::send(
            sock.as_raw_fd(),
            msg.as_ptr().cast(),
            16,
            libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
        )
    };
    match n {
        16 => Ok(()),
        n if n < 0 => Err(io::Error::last_os_error()),
        _ => Err(io::Error::new(io::ErrorKind::WriteZero, "short send")),
    }
}

/// A handshake message, as far as it has arrived.
enum Msg {
    In([u8; 16], usize),
    Nothing,
    HungUp,
}

/// Reads a 16-byte handshake message if it is there, without waiting.
fn recv16(sock: &UnixStream) -> Msg {
    let mut buf = [0u8; 16];
    match crate::bell::recv_nowait(sock, &mut buf) {
        crate::bell::Got::Bytes(n) => Msg::In(buf, n),
        crate::bell::Got::Nothing => Msg::Nothing,
        crate::bell::Got::HungUp => Msg::HungUp,
    }
}

/// A client's handshake in progress: connected, hello sent, reply awaited.
#[derive(Debug)]
pub(crate) struct PendingHandshake {
    /// Its server was checked at connect (SO_PEERCRED is fixed then, so there
    /// is nothing to check again).
    stream: Conn,
}

impl AsRawFd for PendingHandshake {
    fn as_raw_fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }
}

/// Where a handshake stands.
#[derive(Debug)]
pub(crate) enum Handshake {
    /// Admitted: the server's connection.
    Done(Peer),
    /// The server has not answered yet (it may be busy, stopped or hung).
    Pending(PendingHandshake),
    /// No server (not listening, or it closed the connection).
    Gone,
}

/// Checks who answers on the channel's socket, before anything is sent to it:
/// the server must be this user, or the channel's owner; anyone else who
/// managed to bind the socket is not the server.
fn check_server(paths: &Paths, stream: &UnixStream) -> Result<()> {
    let cred = socket::getsockopt(stream, socket::sockopt::PeerCredentials).map_err(|e| {
        Error::Handshake {
            path: paths.socket.clone(),
            what: format!("SO_PEERCRED: {e}"),
        }
    })?;
    let me = euid();
    let owner = std::fs::metadata(&paths.dir)
        .map_err(io(&paths.dir, "stat"))?
        .uid();
    if cred.uid() != me && cred.uid() != owner {
        return Err(Error::Refused {
            path: paths.socket.clone(),
            reason: format!(
                "the process answering (pid {}) runs as uid {}, neither this process's ({me}) nor the channel's owner ({owner})",
                cred.pid(),
                cred.uid()
            ),
        });
    }
    Ok(())
}

/// A non-blocking, close-on-exec Unix stream socket that refuses descriptors
/// (set before it connects or listens, see `bell::refuse_descriptors`), and
/// the channel socket's address.
fn unix_socket(paths: &Paths) -> Result<(std::os::fd::OwnedFd, socket::UnixAddr)> {
    let addr =
        socket::UnixAddr::new(&paths.socket).map_err(|e| io(&paths.socket, "address")(e.into()))?;
    let fd = socket::socket(
        socket::AddressFamily::Unix,
        socket::SockType::Stream,
        socket::SockFlag::SOCK_NONBLOCK | socket::SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|e| io(&paths.socket, "socket")(e.into()))?;
    crate::bell::refuse_descriptors(fd.as_raw_fd());
    Ok((fd, addr))
}

/// Client side, step one: connects to the server's socket, checks who is
/// listening, and says hello. Never waits for the server: `Ok(None)` when none
/// is listening, or when its backlog is full (a hung or stopped server that
/// does not accept; the connect is non-blocking, so the client tries again
/// later).
pub(crate) fn connect_start(paths: &Paths) -> Result<Option<PendingHandshake>> {
    let (fd, addr) = unix_socket(paths)?;
    match socket::connect(fd.as_raw_fd(), &addr) {
        Ok(()) => {}
        Err(
            nix::errno::Errno::ENOENT | nix::errno::Errno::ECONNREFUSED | nix::errno::Errno::EAGAIN,
        ) => return Ok(None),
        Err(e) => return Err(io(&paths.socket, "connect")(e.into())),
    }
    let stream = Conn::new(UnixStream::from(fd));
    check_server(paths, &stream)?;
    match send16(&stream, HELLO) {
        Ok(()) => {}
        // The server closed the connection: its reason, if any, is read next.
        Err(e) if matches!(e.raw_os_error(), Some(libc::EPIPE | libc::ECONNRESET)) => {}
        Err(e) => {
            return Err(Error::Handshake {
                path: paths.socket.clone(),
                what: format!("send hello: {e}"),
            });
        }
    }
    Ok(Some(PendingHandshake { stream }))
}

/// Client side, step two: looks for the server's reply, waiting at most `wait`
/// (zero: not at all).
pub(crate) fn connect_finish(
    paths: &Paths,
    hs: PendingHandshake,
    wait: Duration,
) -> Result<Handshake> {
    let PendingHandshake { stream } = hs;
    let hs_err = |what: String| Error::Handshake {
        path: paths.socket.clone(),
        what,
    };
    if !wait.is_zero() {
        crate::bell::wait_raw(&[stream.as_raw_fd()], Some(wait))
            .map_err(io(&paths.socket, "poll"))?;
    }
    let (msg, n) = match recv16(&stream) {
        Msg::In(m, n) => (m, n),
        Msg::Nothing => return Ok(Handshake::Pending(PendingHandshake { stream })),
        Msg::HungUp => return Ok(Handshake::Gone), // the server is going away
    };
    if &msg == REFUSED {
        return Err(Error::Refused {
            path: paths.socket.clone(),
            reason: "this process's uid/gid is not allowed by the server".into(),
        });
    }
    if n != 16 || &msg != WELCOME {
        return Err(hs_err(format!(
            "unexpected reply {:?}",
            String::from_utf8_lossy(&msg[..n])
        )));
    }
    Ok(Handshake::Done(Peer { stream }))
}

/// Client side, both steps, waiting up to 2 s for the reply. `Ok(None)` when no
/// server is listening or it does not answer in time.
pub(crate) fn connect(paths: &Paths) -> Result<Option<Peer>> {
    let Some(hs) = connect_start(paths)? else {
        return Ok(None);
    };
    match connect_finish(paths, hs, HANDSHAKE_TIMEOUT)? {
        Handshake::Done(p) => Ok(Some(p)),
        Handshake::Pending(_) | Handshake::Gone => Ok(None),
    }
}

/// Server side: binds the rendezvous socket (replacing a stale one: the caller
/// holds the rings' roles, so no other server is alive).
pub(crate) fn listen(paths: &Paths) -> Result<UnixListener> {
    match std::fs::remove_file(&paths.socket) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(&paths.socket, "remove stale socket")(e)),
    }
    let dir_meta = std::fs::metadata(&paths.dir).map_err(io(&paths.dir, "stat"))?;
    let mode = if dir_meta.mode() & 0o070 != 0 {
        0o660
    } else {
        0o600
    };
    // The socket is born with its final mode (bind honours the umask): no
    // window in which it is open wider. The umask is the process's, so it is
    // put back at once.
    // Descriptors are refused before the socket listens: a connection made
    // before the option is set would keep accepting them.
    let (fd, addr) = unix_socket(paths)?;
    // SAFETY: umask has no preconditions and cannot fail.
    let old = unsafe { libc::umask(0o777 & !mode) };
    let bound = socket::bind(fd.as_raw_fd(), &addr);
    // SAFETY: as above.
    unsafe { libc::umask(old) };
    bound.map_err(|e| io(&paths.socket, "bind")(e.into()))?;
    socket::listen(
        &fd,
        socket::Backlog::new(128).expect("128 is a valid backlog"),
    )
    .map_err(|e| io(&paths.socket, "listen")(e.into()))?;
    let l = UnixListener::from(fd);
    // Checked, never changed: a chmod by path would follow a symlink that
    // someone with write access to the directory put in the socket's place.
    let meta = std::fs::symlink_metadata(&paths.socket).map_err(io(&paths.socket, "stat"))?;
    if !meta.file_type().is_socket() || meta.mode() & 0o777 != mode {
        return Err(Error::Unsafe {
            path: paths.socket.clone(),
            what: format!(
                "not the socket just bound with mode {mode:o} (replaced, or the umask changed meanwhile)"
            ),
        });
    }
    Ok(l)
}

/// What became of one pending connection.
pub(crate) enum Accepted {
    /// Nobody was waiting.
    Nothing,
    /// A client was admitted.
    Peer(Peer),
    /// A client was turned away (its uid, gid and pid).
    Refused {
        /// Its uid.
        uid: u32,
        /// Its gid.
        gid: u32,
        /// Its pid.
        pid: i32,
    },
    /// A client that broke off the handshake (it died, or spoke nonsense).
    Failed(String),
    /// This process is out of descriptors: new connections wait in the
    /// kernel's backlog, and the caller stops accepting until its next look
    /// (asking again at once would fail the same way, for ever).
    Stalled(String),
}

/// A connection whose hello has not arrived yet: the server never waits for
/// it, it looks again at its next service.
#[derive(Debug)]
pub(crate) struct PendingPeer {
    stream: Conn,
    since: Instant,
}

impl AsRawFd for PendingPeer {
    fn as_raw_fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }
}

/// Server side: takes every new connection (without waiting) into `pending`,
/// then looks once, without waiting, at each pending one: returns the first
/// that finished its handshake (admitted, refused or failed), or
/// [`Accepted::Nothing`]. A connection silent for longer than the handshake
/// timeout, or pushed out by newer ones, fails. Out of descriptors, it still
/// looks at the pending ones, then says [`Accepted::Stalled`].
pub(crate) fn accept(
    paths: &Paths,
    listener: &UnixListener,
    policy: AccessPolicy,
    pending: &mut Vec<PendingPeer>,
) -> Result<Accepted> {
    // While descriptors wait for the closer (stuck on one a peer made slow to
    // close), new connections wait in the kernel's backlog instead of filling
    // our descriptor table.
    let mut stalled = None;
    while crate::bell::closer_backlog() < 64 {
        match listener.accept() {
            Ok((stream, _)) => {
                let stream = Conn::new(stream);
                if stream.set_nonblocking(true).is_err() {
                    return Ok(Accepted::Failed(
                        "could not configure the connection".into(),
                    ));
                }
                pending.push(PendingPeer {
                    stream,
                    since: Instant::now(),
                });
                if pending.len() > MAX_PENDING {
                    pending.remove(0);
                    return Ok(Accepted::Failed(format!(
                        "more than {MAX_PENDING} connections waiting to say hello: the oldest was dropped"
                    )));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // Out of descriptors: leave the connection in the backlog for now.
            Err(e) if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) => {
                stalled = Some(format!("accept: {e}"));
                break;
            }
            Err(e) => return Err(io(&paths.socket, "accept")(e)),
        }
    }
    let mut i = 0;
    while i < pending.len() {
        match recv16(&pending[i].stream) {
            Msg::Nothing => {
                if pending[i].since.elapsed() > HANDSHAKE_TIMEOUT {
                    pending.remove(i);
                    return Ok(Accepted::Failed(format!(
                        "no hello within {HANDSHAKE_TIMEOUT:?}"
                    )));
                }
                i += 1;
            }
            Msg::HungUp => {
                pending.remove(i);
                return Ok(Accepted::Failed(
                    "the client closed the connection before its hello".into(),
                ));
            }
            Msg::In(msg, n) => {
                let p = pending.remove(i);
                return Ok(handshake(p.stream, msg, n, policy));
            }
        }
    }
    Ok(stalled.map_or(Accepted::Nothing, Accepted::Stalled))
}

/// The rest of a handshake once the hello is in: credentials, the hello
/// itself, the welcome.
fn handshake(stream: Conn, msg: [u8; 16], n: usize, policy: AccessPolicy) -> Accepted {
    let fail = |stream: Conn, why: String| {
        drop(stream);
        Accepted::Failed(why)
    };
    let cred = match socket::getsockopt(&*stream, socket::sockopt::PeerCredentials) {
        Ok(c) => c,
        Err(e) => return fail(stream, format!("SO_PEERCRED: {e}")),
    };
    let me = euid();
    let admitted = cred.uid() == me || policy.allow_gid == Some(cred.gid());
    if !admitted {
        // The hello was read first, so closing never discards unread data
        // (which would reset the connection before the client read why).
        let _ = send16(&stream, REFUSED);
        let _ = stream.shutdown(std::net::Shutdown::Write);
        return Accepted::Refused {
            uid: cred.uid(),
            gid: cred.gid(),
            pid: cred.pid(),
        };
    }
    if n != 16 || &msg != HELLO {
        let why = format!(
            "unexpected hello {:?} (a client of another protocol version?)",
            String::from_utf8_lossy(&msg[..n])
        );
        return fail(stream, why);
    }
    if let Err(e) = send16(&stream, WELCOME) {
        return fail(stream, format!("send welcome: {e}"));
    }
    Accepted::Peer(Peer { stream })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// A client given time to wait for the reply waits for it: the server
    /// here answers a tenth of a second after the hello, and the handshake
    /// still finishes (`channel::probe` waits so; a look without waiting
    /// would call the server absent).
    #[test]
    fn a_handshake_given_time_waits_for_the_reply() {
        let tmp = tempfile::tempdir().unwrap();
        let paths = Paths::new(tmp.path());
        let listener = UnixListener::bind(&paths.socket).unwrap();
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut hello = [0u8; 16];
            conn.read_exact(&mut hello).unwrap();
            assert_eq!(&hello, HELLO);
            // Late on purpose: the client must be waiting by now.
            std::thread::sleep(Duration::from_millis(100));
            conn.write_all(WELCOME).unwrap();
            conn
        });
        let hs = connect_start(&paths).unwrap().expect("a listener");
        let r = connect_finish(&paths, hs, Duration::from_secs(10)).unwrap();
        assert!(matches!(r, Handshake::Done(_)), "{r:?}");
        drop(server.join().unwrap());
    }
}
