//! A channel is a directory: `req.ring` (client to server), `resp.ring` (server
//! to client: responses and notifications) and `sock`, the rendezvous socket on
//! which the server hands out its doorbell and checks who connects.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::socket;

use crate::bell::Conn;

use crate::error::{io, Error, Result};

/// The request ring's file name.
pub const REQUEST_RING: &str = "req.ring";
/// The response ring's file name.
pub const RESPONSE_RING: &str = "resp.ring";
/// The rendezvous socket's file name.
pub const SOCKET: &str = "sock";

/// The directory that holds the default channels.
pub const DEFAULT_ROOT: &str = "/dev/shm/sairing";

/// Where channels live unless told otherwise: tmpfs, so that the rings survive
/// process restarts at memory speed.
pub fn default_dir(name: &str) -> PathBuf {
    PathBuf::from(DEFAULT_ROOT).join(name)
}

/// Checks the directory that holds the channel directory `dir`: whoever can
/// rename entries in it can move the channel away and put another in its
/// place, so it must not be a symlink, must be owned by root, by this user or
/// by the channel's owner, and, if others may write to it, must be sticky (as
/// /dev/shm and /tmp are) so that they cannot rename what is not theirs.
pub fn check_parent(dir: &Path) -> Result<()> {
    let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) else {
        return Ok(());
    };
    let refuse = |what: String| Error::Unsafe {
        path: parent.to_owned(),
        what: format!(
            "{what}; another user could replace the channel {}",
            dir.display()
        ),
    };
    let meta = std::fs::symlink_metadata(parent).map_err(io(parent, "stat"))?;
    if meta.file_type().is_symlink() {
        return Err(refuse("is a symlink".into()));
    }
    let me = euid();
    let channel_owner = std::fs::symlink_metadata(dir)
        .map(|m| m.uid())
        .unwrap_or(me);
    if ![0, me, channel_owner].contains(&meta.uid()) {
        return Err(refuse(format!(
            "owned by uid {}, neither root nor this user ({me})",
            meta.uid()
        )));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 && mode & 0o1000 == 0 {
        return Err(refuse(format!(
            "writable by others (mode {mode:04o}) without the sticky bit"
        )));
    }
    Ok(())
}

/// The files of a channel.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The directory.
    pub dir: PathBuf,
    /// Client to server.
    pub request: PathBuf,
    /// Server to client.
    pub response: PathBuf,
    /// Rendezvous socket.
    pub socket: PathBuf,
}

impl Paths {
    /// The paths of the channel in `dir`.
    pub fn new(dir: impl AsRef<Path>) -> Paths {
        let dir = dir.as_ref().to_owned();
        Paths {
            request: dir.join(REQUEST_RING),
            response: dir.join(RESPONSE_RING),
            socket: dir.join(SOCKET),
            dir,
        }
    }
}

/// How to create a channel.
#[derive(Debug, Clone)]
pub struct ChannelOptions {
    /// Capacity of each ring in bytes (power of two, at least 4096). Default 64 MiB.
    pub capacity: u64,
    /// Let this group use the channel (directory 0770, files 0660); otherwise
    /// only the owner (0700 / 0600).
    pub group: Option<u32>,
    /// CRC-32C on every record (for rings on disk).
    pub checksums: bool,
}

impl Default for ChannelOptions {
    fn default() -> Self {
        ChannelOptions {
            capacity: sairing_ring::layout::DEFAULT_CAPACITY,
            group: None,
            checksums: false,
        }
    }
}

/// Creates the channel directory (and its parents) and both rings. Fails if the
/// channel already exists.
pub fn create(dir: impl AsRef<Path>, opts: &ChannelOptions) -> Result<Paths> {
    let p = Paths::new(dir);
    if let Some(parent) = p.dir.parent() {
        if parent == Path::new(DEFAULT_ROOT) {
            create_default_root(parent)?;
        }
        std::fs::create_dir_all(parent).map_err(io(parent, "create parent directory"))?;
    }
    check_parent(&p.dir)?;
    let mode = if opts.group.is_some() { 0o770 } else { 0o700 };
    match std::fs::DirBuilder::new().mode(mode).create(&p.dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            if p.request.exists() || p.response.exists() {
                return Err(Error::Exists { path: p.dir });
            }
        }
        Err(e) => return Err(io(&p.dir, "create channel directory")(e)),
    }
    // Modes are set through a descriptor opened without following a symlink:
    // a symlink planted at the channel's path is refused, never followed to
    // chmod (and fill) whatever it points at.
    let d = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW)
        .open(&p.dir)
        .map_err(|e| Error::Unsafe {
            path: p.dir.clone(),
            what: format!("not a directory of ours (a symlink?): {e}"),
        })?;
    let meta = d.metadata().map_err(io(&p.dir, "stat"))?;
    let me = euid();
    if meta.uid() != me {
        return Err(Error::Unsafe {
            path: p.dir.clone(),
            what: format!("owned by uid {}, not by this user ({me})", meta.uid()),
        });
    }
    d.set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(io(&p.dir, "chmod"))?;
    if let Some(gid) = opts.group {
        std::os::unix::fs::fchown(&d, None, Some(gid)).map_err(io(&p.dir, "chown"))?;
    }
    let ring = sairing_ring::CreateOptions {
        capacity: opts.capacity,
        checksums: opts.checksums,
        group: opts.group,
    };
    sairing_ring::create(&p.request, &ring)?;
    if let Err(e) = sairing_ring::create(&p.response, &ring) {
        let _ = std::fs::remove_file(&p.request);
        return Err(e.into());
    }
    Ok(p)
}

/// Creates the default channels' directory if it is missing. It is shared by
/// every user's channels, like /tmp: mode 1777, so that nobody can rename or
/// remove another user's channel. The mode is set through a descriptor opened
/// without following a symlink, never on whatever a planted symlink names.
fn create_default_root(root: &Path) -> Result<()> {
    match std::fs::DirBuilder::new().mode(0o700).create(root) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => return Err(io(root, "create directory")(e)),
    }
    let d = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW)
        .open(root)
        .map_err(io(root, "open"))?;
    let meta = d.metadata().map_err(io(root, "stat"))?;
    if meta.uid() != euid() {
        return Err(Error::Unsafe {
            path: root.to_owned(),
            what: format!("replaced by uid {} while being created", meta.uid()),
        });
    }
    d.set_permissions(std::fs::Permissions::from_mode(0o1777))
        .map_err(io(root, "chmod"))
}

/// Removes a channel. Refuses while a client or server is attached, unless
/// `force`. Without `force` each ring is removed holding both of its roles, so
/// a process attaching at the same moment is either refused or makes the
/// removal fail; it is never left attached to a ring that is gone.
pub fn remove(dir: impl AsRef<Path>, force: bool) -> Result<()> {
    let p = Paths::new(dir);
    for ring in [&p.request, &p.response] {
        let r = if force {
            std::fs::remove_file(ring).map_err(io(ring, "remove"))
        } else {
            sairing_ring::remove(ring).map_err(|e| match e {
                sairing_ring::Error::RoleHeld { .. } => Error::InUse {
                    path: p.dir.clone(),
                    holder: e,
                },
                e => e.into(),
            })
        };
        match r {
            Ok(()) => {}
            Err(Error::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {}
            Err(Error::Ring(sairing_ring::Error::Io { source, .. }))
                if source.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    match std::fs::remove_file(&p.socket) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(&p.socket, "remove")(e)),
    }
    std::fs::remove_dir(&p.dir).map_err(io(&p.dir, "remove channel directory"))
}

/// This process's effective uid.
fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Who may connect to a server.
#[derive(Debug, Clone, Copy, Default)]
pub struct AccessPolicy {
    /// Also admit processes whose primary group is this one.
    pub allow_gid: Option<u32>,
}

/// The other side of the rendezvous socket: the connection, which carries its
/// rings (one byte each) and whose hang-up says it has died.
#[derive(Debug)]
pub struct Peer {
    /// The connection.
    pub stream: Conn,
    /// The peer's pid, from the kernel (SO_PEERCRED).
    pub pid: i32,
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
pub struct PendingHandshake {
    stream: Conn,
    /// The listening process, checked when it accepted (SO_PEERCRED is fixed
    /// at connect, so there is nothing to check again).
    server_pid: i32,
}

impl AsRawFd for PendingHandshake {
    fn as_raw_fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }
}

/// Where a handshake stands.
#[derive(Debug)]
pub enum Handshake {
    /// Admitted: the server's connection.
    Done(Peer),
    /// The server has not answered yet (it may be busy, stopped or hung).
    Pending(PendingHandshake),
    /// No server (not listening, or it closed the connection).
    Gone,
}

/// Checks who answers on the channel's socket, before anything is sent to it:
/// the server must be this user, or the channel's owner; anyone else who
/// managed to bind the socket is not the server. Returns its pid.
fn check_server(paths: &Paths, stream: &UnixStream) -> Result<i32> {
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
    Ok(cred.pid())
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
pub fn connect_start(paths: &Paths) -> Result<Option<PendingHandshake>> {
    let (fd, addr) = unix_socket(paths)?;
    match socket::connect(fd.as_raw_fd(), &addr) {
        Ok(()) => {}
        Err(
            nix::errno::Errno::ENOENT | nix::errno::Errno::ECONNREFUSED | nix::errno::Errno::EAGAIN,
        ) => return Ok(None),
        Err(e) => return Err(io(&paths.socket, "connect")(e.into())),
    }
    let stream = Conn::new(UnixStream::from(fd));
    let server_pid = check_server(paths, &stream)?;
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
    Ok(Some(PendingHandshake { stream, server_pid }))
}

/// Client side, step two: looks for the server's reply, waiting at most `wait`
/// (zero: not at all).
pub fn connect_finish(paths: &Paths, hs: PendingHandshake, wait: Duration) -> Result<Handshake> {
    let PendingHandshake { stream, server_pid } = hs;
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
        Msg::Nothing => return Ok(Handshake::Pending(PendingHandshake { stream, server_pid })),
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
    Ok(Handshake::Done(Peer {
        stream,
        pid: server_pid,
    }))
}

/// Client side, both steps, waiting up to 2 s for the reply. `Ok(None)` when no
/// server is listening or it does not answer in time.
pub fn connect(paths: &Paths) -> Result<Option<Peer>> {
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
pub fn listen(paths: &Paths) -> Result<UnixListener> {
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
pub enum Accepted {
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
}

/// A connection whose hello has not arrived yet: the server never waits for
/// it, it looks again at its next service.
#[derive(Debug)]
pub struct PendingPeer {
    stream: Conn,
    since: Instant,
}

impl AsRawFd for PendingPeer {
    fn as_raw_fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }
}

/// At most this many connections wait for their hello; a newer one pushes out
/// the oldest, so silent connections cannot keep a client out.
pub const MAX_PENDING: usize = 8;

/// Server side: takes every new connection (without waiting) into `pending`,
/// then looks once, without waiting, at each pending one: returns the first
/// that finished its handshake (admitted, refused or failed), or
/// [`Accepted::Nothing`]. A connection silent for longer than the handshake
/// timeout, or pushed out by newer ones, fails.
pub fn accept(
    paths: &Paths,
    listener: &UnixListener,
    policy: AccessPolicy,
    pending: &mut Vec<PendingPeer>,
) -> Result<Accepted> {
    // While descriptors wait for the closer (stuck on one a peer made slow to
    // close), new connections wait in the kernel's backlog instead of filling
    // our descriptor table.
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
                return Ok(Accepted::Failed(format!("accept: {e}")));
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
    Ok(Accepted::Nothing)
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
    Accepted::Peer(Peer {
        stream,
        pid: cred.pid(),
    })
}
