//! A channel is a directory: `req.ring` (client to server), `resp.ring` (server
//! to client: responses and notifications) and `sock`, the rendezvous socket on
//! which the server checks who connects and each side rings the other
//! (`rendezvous.rs`). This module makes, checks and removes the directory.

use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{io, Error, Result};

/// The request ring's file name.
pub const REQUEST_RING: &str = "req.ring";
/// The response ring's file name.
pub const RESPONSE_RING: &str = "resp.ring";
/// The rendezvous socket's file name.
pub const SOCKET: &str = "sock";

/// At most this many connections wait for their hello at the server; a newer
/// one pushes out the oldest, so silent connections cannot keep a client out.
pub const MAX_PENDING: usize = 8;

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
///
/// ```
/// # let tmp = tempfile::tempdir()?;
/// # let dir = tmp.path().join("asic");
/// use sairing_transport::channel::{self, ChannelOptions};
/// let paths = channel::create(&dir, &ChannelOptions { capacity: 1 << 16, ..Default::default() })?;
/// assert!(paths.request.exists() && paths.response.exists());
/// assert!(channel::create(&dir, &Default::default()).is_err()); // never overwritten
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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
///
/// ```
/// # let tmp = tempfile::tempdir()?;
/// # let dir = tmp.path().join("asic");
/// # sairing_transport::channel::create(&dir, &Default::default())?;
/// use sairing_transport::channel;
/// channel::remove(&dir, false)?;
/// assert!(!dir.exists());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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
pub(crate) fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// What [`probe`] found at a channel's socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// A server welcomed this process (the connection is closed again).
    Admitted,
    /// Nothing listens on the socket.
    NoServer,
    /// The server, or what listens in its place, refused this process, or this
    /// process refused it (not the channel's owner): why.
    Refused(String),
}

/// Connects to the channel's socket as a client would, without the rings, and
/// says whether this process would be admitted. For operators and tests: it
/// takes no role and leaves nothing behind but a line in the server's counts.
///
/// ```
/// # let tmp = tempfile::tempdir()?;
/// # let dir = tmp.path().join("asic");
/// # sairing_transport::channel::create(&dir, &Default::default())?;
/// use sairing_transport::channel::{self, Probe};
/// assert_eq!(channel::probe(&dir)?, Probe::NoServer);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn probe(dir: impl AsRef<Path>) -> Result<Probe> {
    match crate::rendezvous::connect(&Paths::new(dir)) {
        Ok(Some(_)) => Ok(Probe::Admitted),
        Ok(None) => Ok(Probe::NoServer),
        Err(Error::Refused { reason, .. }) => Ok(Probe::Refused(reason)),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_channels_live_under_the_default_root() {
        assert_eq!(
            default_dir("asic"),
            Path::new("/dev/shm/sairing").join("asic")
        );
    }

    /// The shared root is made like /tmp (mode 1777, ours), and one that is
    /// already there is taken as it is.
    #[test]
    fn the_default_root_is_made_sticky_and_once() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("sairing");
        create_default_root(&root).unwrap();
        let meta = std::fs::metadata(&root).unwrap();
        assert_eq!(meta.permissions().mode() & 0o7777, 0o1777);
        assert_eq!(meta.uid(), euid());
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
        create_default_root(&root).unwrap();
        let again = std::fs::metadata(&root).unwrap().permissions().mode() & 0o7777;
        assert_eq!(again, 0o755, "an existing root was changed");
    }

    /// Missing parents are made; a channel with either ring present is not
    /// made again, and one with a ring missing is removed all the same.
    #[test]
    fn create_and_remove_around_missing_pieces() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b/asic");
        let p = create(&dir, &ChannelOptions::default()).unwrap();
        for (keep, gone) in [(&p.request, &p.response), (&p.response, &p.request)] {
            std::fs::remove_file(gone).unwrap();
            assert!(keep.exists());
            let again = create(&dir, &ChannelOptions::default());
            assert!(
                matches!(again, Err(Error::Exists { .. })),
                "{again:?} with {} there",
                keep.display()
            );
            std::fs::rename(keep, gone).unwrap();
            std::fs::copy(gone, keep).unwrap();
        }
        // An empty directory left behind is a channel to make.
        for force in [false, true] {
            std::fs::remove_file(&p.response).unwrap();
            remove(&dir, force).unwrap();
            assert!(!dir.exists(), "force {force}");
            std::fs::create_dir(&dir).unwrap();
            create(&dir, &ChannelOptions::default()).unwrap();
        }
    }

    /// Errors other than the expected "already there" or "not there" are
    /// reported, not taken for them, and a removal stops at the first.
    #[test]
    fn other_errors_are_not_taken_for_there_or_not_there() {
        let tmp = tempfile::tempdir().unwrap();
        // A name longer than any file system takes.
        let long = tmp.path().join("x".repeat(300));
        let r = create(&long, &ChannelOptions::default());
        assert!(matches!(r, Err(Error::Io { .. })), "{r:?}");
        let r = create_default_root(&long);
        assert!(matches!(r, Err(Error::Io { .. })), "{r:?}");
        // A ring that is a directory: neither removed nor skipped.
        for force in [false, true] {
            let dir = tmp.path().join(format!("ring-{force}"));
            let p = create(&dir, &ChannelOptions::default()).unwrap();
            std::fs::remove_file(&p.request).unwrap();
            std::fs::create_dir(&p.request).unwrap();
            let r = remove(&dir, force);
            assert!(r.is_err(), "force {force}: {r:?}");
            assert!(p.response.exists(), "force {force}: went on past {r:?}");
        }
        // The socket's path a directory: the error names it.
        let dir = tmp.path().join("socket");
        let p = create(&dir, &ChannelOptions::default()).unwrap();
        std::fs::create_dir(&p.socket).unwrap();
        let e = remove(&dir, false).unwrap_err().to_string();
        assert!(
            e.contains(&p.socket.display().to_string()),
            "{e} does not name {}",
            p.socket.display()
        );
    }
}
