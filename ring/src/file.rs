//! Ring files: creation, opening with validation, and the role locks.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Corruption, Error, Result, Role};
use crate::layout::*;
use crate::mem::{Mem, RoleHold};
use crate::ring::{Consumer, Producer};

/// How to create a ring file.
#[derive(Debug, Clone)]
pub struct CreateOptions {
    /// Size of the data area: a power of two from 4096 to 2^40. Default 64 MiB.
    pub capacity: u64,
    /// Give each record a CRC-32C trailer so torn writes are detected (for rings
    /// on disk that must survive a reboot). Default off.
    pub checksums: bool,
    /// Make the file group-readable and -writable (mode 0660) for this gid;
    /// otherwise it is 0600.
    pub group: Option<u32>,
}

impl Default for CreateOptions {
    fn default() -> Self {
        CreateOptions {
            capacity: DEFAULT_CAPACITY,
            checksums: false,
            group: None,
        }
    }
}

impl CreateOptions {
    /// Options with the given capacity and defaults otherwise.
    pub fn with_capacity(capacity: u64) -> Self {
        CreateOptions {
            capacity,
            ..Default::default()
        }
    }
}

/// How to open a ring file.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// Open a file owned by another user (refused by default).
    pub allow_foreign_owner: bool,
    /// Producer only: `msync` each committed record and then the cursor, so a
    /// committed record survives a reboot (slow; for rings on disk).
    pub sync_on_commit: bool,
}

fn io_err<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(io::Error) -> Error + 'a {
    move |source| Error::Io {
        path: path.to_owned(),
        op,
        source,
    }
}

fn corrupt(path: &Path, problem: Corruption) -> Error {
    Error::Corrupt {
        path: path.to_owned(),
        problem,
    }
}

fn cpath(path: &Path) -> Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| Error::Io {
        path: path.to_owned(),
        op: "encode path",
        source: io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"),
    })
}

fn open_raw(path: &Path, flags: libc::c_int, mode: libc::mode_t) -> Result<File> {
    let c = cpath(path)?;
    // SAFETY: `c` is a NUL-terminated path that lives across the call.
    let fd = unsafe {
        libc::open(
            c.as_ptr(),
            flags | libc::O_CLOEXEC | libc::O_NOFOLLOW,
            mode as libc::c_uint,
        )
    };
    if fd < 0 {
        let e = io::Error::last_os_error();
        return Err(match e.raw_os_error() {
            Some(libc::ELOOP) => Error::Symlink {
                path: path.to_owned(),
            },
            Some(libc::EEXIST) => Error::AlreadyExists {
                path: path.to_owned(),
            },
            _ => Error::Io {
                path: path.to_owned(),
                op: "open",
                source: e,
            },
        });
    }
    // SAFETY: `fd` is a freshly opened descriptor that nothing else owns.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// Creates a ring file at `path`, fully allocated, mode 0600 (0660 with a group).
/// The file appears at `path` only once its header is complete; an existing file
/// is never overwritten.
pub fn create(path: impl AsRef<Path>, opts: &CreateOptions) -> Result<()> {
    let path = path.as_ref();
    if !capacity_is_valid(opts.capacity) {
        return Err(Error::BadCapacity {
            capacity: opts.capacity,
        });
    }
    let mut id = [0u8; 16];
    getrandom::getrandom(&mut id).map_err(|e| Error::Io {
        path: path.to_owned(),
        op: "choose a random ring identity",
        source: io::Error::other(e.to_string()),
    })?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().ok_or_else(|| Error::Io {
        path: path.to_owned(),
        op: "create",
        source: io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"),
    })?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(
        ".{}.{:02x}{:02x}.tmp",
        std::process::id(),
        id[0],
        id[1]
    ));
    let tmp = dir.join(tmp_name);

    let mode = if opts.group.is_some() { 0o660 } else { 0o600 };
    let file = open_raw(&tmp, libc::O_RDWR | libc::O_CREAT | libc::O_EXCL, mode)?;
    let result = (|| {
        file.set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(io_err(&tmp, "chmod"))?;
        if let Some(gid) = opts.group {
            // SAFETY: fchown on a descriptor we own; -1 leaves the owner as is.
            if unsafe { libc::fchown(file.as_raw_fd(), u32::MAX, gid) } != 0 {
                return Err(io_err(&tmp, "chown to group")(io::Error::last_os_error()));
            }
        }
        let size = HEADER_LEN as u64 + opts.capacity;
        // Allocate every block now, so that touching the mapping later can never
        // fail for want of space (which would be a SIGBUS).
        // SAFETY: posix_fallocate on a descriptor we own.
        let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, size as libc::off_t) };
        if rc != 0 {
            return Err(io_err(&tmp, "allocate")(io::Error::from_raw_os_error(rc)));
        }
        let created = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let header = StaticHeader {
            magic: MAGIC,
            version: VERSION,
            header_len: HEADER_LEN as u32,
            capacity: opts.capacity,
            flags: if opts.checksums { FLAG_CHECKSUM } else { 0 },
            ring_id: id,
            created_unix_ns: created,
            header_crc: 0,
        };
        file.write_all_at(&header.encode(), 0)
            .map_err(io_err(&tmp, "write header"))?;
        // head_seq: the first record will carry sequence number FIRST_SEQ.
        file.write_all_at(&FIRST_SEQ.to_le_bytes(), 264)
            .map_err(io_err(&tmp, "write header"))?;
        file.sync_all().map_err(io_err(&tmp, "fsync"))?;
        std::fs::hard_link(&tmp, path).map_err(|e| {
            if e.kind() == io::ErrorKind::AlreadyExists {
                Error::AlreadyExists {
                    path: path.to_owned(),
                }
            } else {
                io_err(path, "link into place")(e)
            }
        })?;
        if let Ok(d) = File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    let _ = std::fs::remove_file(&tmp);
    result
}

/// An opened, validated, mapped ring file.
pub(crate) struct Opened {
    pub file: File,
    pub mem: Mem,
    pub header: StaticHeader,
}

/// Reads and validates the static header of an open file.
pub(crate) fn read_header(path: &Path, file: &File) -> Result<(StaticHeader, u64)> {
    let meta = file.metadata().map_err(io_err(path, "stat"))?;
    let size = meta.len();
    let mut raw = [0u8; STATIC_HEADER_LEN];
    if size < STATIC_HEADER_LEN as u64 {
        return Err(corrupt(
            path,
            Corruption::WrongSize {
                found: size,
                expected: HEADER_LEN as u64 + MIN_CAPACITY,
                capacity: 0,
            },
        ));
    }
    file.read_exact_at(&mut raw, 0)
        .map_err(io_err(path, "read header"))?;
    let h = StaticHeader::decode(&raw);
    validate_header(&h, &raw, size).map_err(|p| corrupt(path, p))?;
    Ok((h, size))
}

/// Checks a decoded header against its raw bytes and the file's size.
pub fn validate_header(
    h: &StaticHeader,
    raw: &[u8; STATIC_HEADER_LEN],
    size: u64,
) -> Result<(), Corruption> {
    if h.magic != MAGIC {
        return Err(Corruption::BadMagic { found: h.magic });
    }
    if h.version != VERSION {
        return Err(Corruption::BadVersion {
            found: h.version,
            expected: VERSION,
        });
    }
    let crc = StaticHeader::expected_crc(raw);
    if h.header_crc != crc {
        return Err(Corruption::HeaderChecksum {
            found: h.header_crc,
            expected: crc,
        });
    }
    if h.header_len as usize != HEADER_LEN {
        return Err(Corruption::BadHeaderField {
            field: "header_len",
            found: h.header_len as u64,
            why: "must be 4096",
        });
    }
    if !capacity_is_valid(h.capacity) {
        return Err(Corruption::BadHeaderField {
            field: "capacity",
            found: h.capacity,
            why: "must be a power of two from 4096 to 2^40",
        });
    }
    if h.flags & !FLAG_CHECKSUM != 0 {
        return Err(Corruption::BadHeaderField {
            field: "flags",
            found: h.flags,
            why: "unknown flag bits",
        });
    }
    let expected = HEADER_LEN as u64 + h.capacity;
    if size != expected {
        return Err(Corruption::WrongSize {
            found: size,
            expected,
            capacity: h.capacity,
        });
    }
    Ok(())
}

/// Opens, checks ownership and type, validates and maps a ring file.
pub(crate) fn open(path: &Path, opts: &OpenOptions) -> Result<Opened> {
    let file = open_raw(path, libc::O_RDWR, 0)?;
    let meta = file.metadata().map_err(io_err(path, "stat"))?;
    if !meta.file_type().is_file() {
        return Err(Error::NotRegular {
            path: path.to_owned(),
        });
    }
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me && !opts.allow_foreign_owner {
        return Err(Error::ForeignOwner {
            path: path.to_owned(),
            owner: meta.uid(),
            me,
        });
    }
    let (header, size) = read_header(path, &file)?;
    // Populate the page tables now: a first touch of each page later would be a
    // minor fault (microseconds) in the middle of some unlucky round trip.
    let map = memmap2::MmapOptions::new()
        .len(size as usize)
        .populate()
        .map_raw(&file)
        .map_err(io_err(path, "mmap"))?;
    // The file may have shrunk between the size check and the mapping; the
    // SIGBUS guard registered by `from_map` covers that window from here on,
    // and this second check closes the one before it.
    let mem = Mem::from_map(map, header.capacity, path)?;
    let now = file.metadata().map_err(io_err(path, "stat"))?.len();
    if now != size {
        return Err(corrupt(
            path,
            Corruption::WrongSize {
                found: now,
                expected: size,
                capacity: header.capacity,
            },
        ));
    }
    Ok(Opened { file, mem, header })
}

/// Opens a ring file read-only for observation: the same checks as [`open`]
/// except ownership (an operator may inspect another user's ring), and a
/// read-only mapping, so an observer can never disturb the ring.
pub(crate) fn open_readonly(path: &Path) -> Result<Opened> {
    let file = open_raw(path, libc::O_RDONLY, 0)?;
    let meta = file.metadata().map_err(io_err(path, "stat"))?;
    if !meta.file_type().is_file() {
        return Err(Error::NotRegular {
            path: path.to_owned(),
        });
    }
    let (header, size) = read_header(path, &file)?;
    let map = memmap2::MmapOptions::new()
        .len(size as usize)
        .map_raw_read_only(&file)
        .map_err(io_err(path, "mmap"))?;
    let mem = Mem::from_map(map, header.capacity, path)?;
    Ok(Opened { file, mem, header })
}

fn flock_at(offset: i64, ty: libc::c_int) -> libc::flock {
    // SAFETY: an all-zero flock is valid; the fields that matter are set below.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = ty as libc::c_short;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    fl.l_start = offset as libc::off_t;
    fl.l_len = 1;
    fl.l_pid = 0;
    fl
}

fn lock_offset(role: Role) -> i64 {
    match role {
        Role::Producer => LOCK_PRODUCER,
        Role::Consumer => LOCK_CONSUMER,
    }
}

/// Takes the role's lock: an open-file-description record lock, which the kernel
/// drops when the holder's descriptor closes, including when the holder dies.
/// Returns `Ok(false)` when another open file description holds it.
pub(crate) fn try_lock(path: &Path, file: &File, role: Role) -> Result<bool> {
    let fl = flock_at(lock_offset(role), libc::F_WRLCK);
    // SAFETY: F_OFD_SETLK with a valid, initialised flock on a descriptor we own.
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_SETLK, &fl) };
    if rc == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EAGAIN) | Some(libc::EACCES) => Ok(false),
        _ => Err(io_err(path, "lock role")(e)),
    }
}

/// Takes the role's lock on a file opened at `path`, refusing a file whose last
/// name was unlinked meanwhile: [`remove`] holds both locks while it unlinks, so
/// an opener either takes its role first (and the removal is refused) or after
/// the unlink (and is refused here).
pub(crate) fn take_role(path: &Path, file: &File, role: Role) -> Result<bool> {
    if !try_lock(path, file, role)? {
        return Ok(false);
    }
    let meta = file.metadata().map_err(io_err(path, "stat"))?;
    if meta.nlink() == 0 {
        return Err(Error::Removed {
            path: path.to_owned(),
        });
    }
    Ok(true)
}

/// The pid a role's holder recorded for itself (0 if it has not yet), read
/// from the file without mapping it. For messages only.
fn recorded_pid(file: &File, role: Role) -> u32 {
    let mut b = [0u8; 4];
    match file.read_exact_at(&mut b, lock_offset(role) as u64) {
        Ok(()) => u32::from_le_bytes(b),
        Err(_) => 0,
    }
}

/// Removes the ring file at `path` unless a live process holds either role.
/// Both roles are held while the name is unlinked, so a process opening the
/// file at the same moment ends either attached (and the removal is refused)
/// or refused with [`Error::Removed`]; never attached to a file that is gone.
pub fn remove(path: &Path) -> Result<()> {
    let file = open_raw(path, libc::O_RDWR, 0)?;
    for role in [Role::Producer, Role::Consumer] {
        if !try_lock(path, &file, role)? {
            return Err(Error::RoleHeld {
                path: path.to_owned(),
                role,
                pid: recorded_pid(&file, role),
            });
        }
    }
    std::fs::remove_file(path).map_err(io_err(path, "remove"))
}

/// Whether some open file description (any process, this one included) holds
/// the role's lock, i.e. whether that role's holder is alive.
pub(crate) fn is_locked(path: &Path, file: &File, role: Role) -> Result<bool> {
    let mut fl = flock_at(lock_offset(role), libc::F_WRLCK);
    // SAFETY: F_OFD_GETLK with a valid flock that the kernel overwrites.
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_GETLK, &mut fl) };
    if rc != 0 {
        return Err(io_err(path, "query role lock")(io::Error::last_os_error()));
    }
    Ok(fl.l_type != libc::F_UNLCK as libc::c_short)
}

/// Liveness of a ring's roles, read without taking either.
pub fn roles_alive(path: &Path) -> Result<(bool, bool)> {
    let file = open_raw(path, libc::O_RDONLY, 0)?;
    Ok((
        is_locked(path, &file, Role::Producer)?,
        is_locked(path, &file, Role::Consumer)?,
    ))
}

// Attaching to a ring file: the role's OS lock first, then the ring's own
// checks (`Producer::attach`, `Consumer::attach`).

/// Opens the ring file at `path` and takes `role`'s lock; while another live
/// process (or handle) holds it, [`Error::RoleHeld`] with the pid it recorded.
fn open_as(path: &Path, opts: &OpenOptions, role: Role) -> Result<Opened> {
    let o = open(path, opts)?;
    if !take_role(path, &o.file, role)? {
        let ctl = o.mem.ctl();
        let line = match role {
            Role::Producer => &ctl.producer_role,
            Role::Consumer => &ctl.consumer_role,
        };
        return Err(Error::RoleHeld {
            path: path.to_owned(),
            role,
            pid: line.pid.load(crate::sync::Ordering::Relaxed),
        });
    }
    Ok(o)
}

impl Producer {
    /// Opens the ring file at `path` as its producer. Fails with
    /// [`Error::RoleHeld`] while another live process (or another handle in this
    /// one) is its producer.
    pub fn open(path: impl AsRef<Path>, opts: &OpenOptions) -> Result<Producer> {
        let o = open_as(path.as_ref(), opts, Role::Producer)?;
        let checksum = o.header.flags & FLAG_CHECKSUM != 0;
        Producer::attach(o.mem, checksum, RoleHold::File(o.file), opts.sync_on_commit)
    }
}

impl Consumer {
    /// Opens the ring file at `path` as its consumer. Fails with
    /// [`Error::RoleHeld`] while another live process (or another handle in this
    /// one) is its consumer.
    pub fn open(path: impl AsRef<Path>, opts: &OpenOptions) -> Result<Consumer> {
        let o = open_as(path.as_ref(), opts, Role::Consumer)?;
        let checksum = o.header.flags & FLAG_CHECKSUM != 0;
        Consumer::attach(o.mem, checksum, RoleHold::File(o.file), o.header.ring_id)
    }
}
