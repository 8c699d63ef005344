//! Errors. Every variant names the file (or `<heap>` for an in-memory ring) and
//! what was wrong with it, with the expected and found values where there are any.

use std::io;
use std::path::PathBuf;

/// Which side of the ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The writer.
    Producer,
    /// The reader.
    Consumer,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Producer => "producer",
            Role::Consumer => "consumer",
        })
    }
}

/// What is wrong with a file's contents.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Corruption {
    /// The magic bytes are not `SAIRING\0`.
    #[error("not a sairing ring: magic is {found:02x?}, expected \"SAIRING\\0\"")]
    BadMagic {
        /// The bytes found.
        found: [u8; 8],
    },
    /// An unknown format version.
    #[error("format version {found}, but this build reads version {expected}")]
    BadVersion {
        /// Found in the file.
        found: u32,
        /// What this build reads.
        expected: u32,
    },
    /// A header field outside its range.
    #[error("header field {field} is {found}: {why}")]
    BadHeaderField {
        /// The field's name.
        field: &'static str,
        /// Its value.
        found: u64,
        /// The rule it breaks.
        why: &'static str,
    },
    /// The header's CRC does not match its bytes.
    #[error("header checksum is {found:#010x}, but its bytes sum to {expected:#010x}")]
    HeaderChecksum {
        /// Stored.
        found: u32,
        /// Computed.
        expected: u32,
    },
    /// The file's size disagrees with the header.
    #[error("file is {found} bytes, but its header (capacity {capacity}) requires {expected}")]
    WrongSize {
        /// Actual size.
        found: u64,
        /// Size the header implies.
        expected: u64,
        /// Capacity in the header.
        capacity: u64,
    },
    /// A cursor is impossible.
    #[error("cursors are inconsistent: head {head}, tail {tail}, capacity {capacity} ({why})")]
    BadCursors {
        /// Consumer cursor.
        head: u64,
        /// Producer cursor.
        tail: u64,
        /// Data area size.
        capacity: u64,
        /// The rule broken.
        why: &'static str,
    },
    /// A record header is impossible.
    #[error("record at position {pos}: {why} (len {len}, kind {kind:#06x}, flags {flags:#06x}, seq {seq})")]
    BadRecord {
        /// Byte position of the record.
        pos: u64,
        /// The rule broken.
        why: &'static str,
        /// Its length field.
        len: u32,
        /// Its kind field.
        kind: u16,
        /// Its flags field.
        flags: u16,
        /// Its sequence number field.
        seq: u64,
    },
    /// A record's sequence number is not the next one.
    #[error("record at position {pos} has sequence number {found}, expected {expected}")]
    BadSequence {
        /// Byte position of the record.
        pos: u64,
        /// Found.
        found: u64,
        /// Expected.
        expected: u64,
    },
    /// A record's CRC does not match (a torn or corrupted write).
    #[error("record {seq} at position {pos}: checksum {found:#010x}, expected {expected:#010x} (torn or corrupted write)")]
    RecordChecksum {
        /// Byte position.
        pos: u64,
        /// Sequence number.
        seq: u64,
        /// Stored.
        found: u32,
        /// Computed.
        expected: u32,
    },
    /// The file shrank while it was mapped.
    #[error("the file was truncated by another process while mapped; recreate the ring")]
    TruncatedWhileMapped,
}

/// An error of the ring layer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An operating-system call failed.
    #[error("{}: {op}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// `create` found a file already there.
    #[error("{}: already exists", path.display())]
    AlreadyExists {
        /// The file.
        path: PathBuf,
    },
    /// The path is a symbolic link.
    #[error("{}: is a symbolic link; sairing does not follow links to ring files", path.display())]
    Symlink {
        /// The file.
        path: PathBuf,
    },
    /// The path is not a regular file.
    #[error("{}: not a regular file", path.display())]
    NotRegular {
        /// The file.
        path: PathBuf,
    },
    /// The file belongs to someone else.
    #[error("{}: owned by uid {owner}, not by this process's uid {me}; allow foreign owners explicitly to open it", path.display())]
    ForeignOwner {
        /// The file.
        path: PathBuf,
        /// Its owner.
        owner: u32,
        /// Our effective uid.
        me: u32,
    },
    /// A capacity that is not a power of two in range.
    #[error("invalid ring capacity {capacity}: must be a power of two from 4096 to 2^40")]
    BadCapacity {
        /// The capacity asked for.
        capacity: u64,
    },
    /// The role is taken by a live process.
    #[error("{}: {role} role is held by pid {pid}", path.display())]
    RoleHeld {
        /// The file.
        path: PathBuf,
        /// The role.
        role: Role,
        /// The holder, as it recorded itself (0 if it had not yet).
        pid: u32,
    },
    /// The file was removed (its last name unlinked) while it was being opened.
    #[error("{}: the file was removed while it was being opened", path.display())]
    Removed {
        /// The file.
        path: PathBuf,
    },
    /// The file's contents are invalid.
    #[error("{}: {problem}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: Corruption,
    },
}

impl Error {
    /// The corruption, if this is one.
    pub fn corruption(&self) -> Option<&Corruption> {
        match self {
            Error::Corrupt { problem, .. } => Some(problem),
            _ => None,
        }
    }
}

/// Why a record could not be pushed.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// Not enough free space until the consumer releases some.
    #[error("ring is full: {needed} bytes needed, {free} free")]
    Full {
        /// Bytes the record needs (padding included).
        needed: usize,
        /// Bytes free now.
        free: usize,
    },
    /// The payload can never fit.
    #[error("payload of {len} bytes exceeds the ring's maximum of {max}")]
    TooLarge {
        /// Asked for.
        len: usize,
        /// The maximum.
        max: usize,
    },
    /// A kind outside 1..=0xFFFE.
    #[error("record kind {0:#06x} is reserved; use 1..=0xfffe")]
    BadKind(u16),
    /// The shared state is corrupt.
    #[error(transparent)]
    Ring(#[from] Error),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
