//! The ring file's format: every byte of the header and of a record.
//! `docs/FORMAT.md` explains the same in prose; the constants here are the truth.
//!
//! ```text
//! file  = header page (4096 bytes) ++ data area (capacity bytes, a power of two)
//! header page:
//!   0   magic            8  b"SAIRING\0"
//!   8   version          4  u32 = 1
//!   12  header_len       4  u32 = 4096 (offset of the data area)
//!   16  capacity         8  u64, power of two, 4096 ..= 2^40
//!   24  flags            8  u64, bit 0: records carry a CRC-32C trailer
//!   32  ring_id         16  random bytes chosen at creation
//!   48  created_unix_ns  8  u64
//!   56  header_crc       4  CRC-32C of bytes 0..56
//!   60  reserved         4  zero
//!   128 producer line:   tail u64 (byte position after the last committed record)
//!   256 consumer line:   head u64 (byte position of the first unreleased record),
//!                        head_seq u64 (sequence number of that record)
//!   384 consumer-wait:   sleep u64 = generation << 1 | asleep (written by the consumer)
//!   512 producer-wait:   sleep u64 = generation << 1 | asleep (written by the producer)
//!   640 producer role:   pid u32, reserved u32, epoch u64 (incremented per attach)
//!   768 consumer role:   pid u32, reserved u32, epoch u64
//! record (at a position p, p % 8 == 0, never straddling the end of the data area):
//!   0   len   u32  payload length in bytes
//!   4   kind  u16  1..=0xFFFE user kinds; 0xFFFF padding; 0 is never valid
//!   6   flags u16  bit 0: a CRC-32C trailer follows the payload
//!   8   seq   u64  sequence number: 1, 2, 3, ... with no gaps
//!   16  payload (len bytes), then the CRC-32C of bytes 0..16+len when flagged,
//!       then zero to seven bytes of alignment
//! ```
//! All integers are little-endian; the crate refuses to build for big-endian hosts.

#[cfg(not(target_endian = "little"))]
compile_error!("the sairing ring file format is little-endian and its cursors are native atomics");

use crate::sync::{AtomicU32, AtomicU64};

/// Magic bytes at offset 0.
pub const MAGIC: [u8; 8] = *b"SAIRING\0";
/// The file format version this build reads and writes.
pub const VERSION: u32 = 1;
/// Size of the header page; the data area starts here.
pub const HEADER_LEN: usize = 4096;
/// Size of a record header.
pub const RECORD_HEADER_LEN: usize = 16;
/// Alignment of every record.
pub const RECORD_ALIGN: usize = 8;
/// Size of a record's CRC-32C trailer, when the ring has checksums.
pub const CRC_LEN: usize = 4;
/// The smallest data area.
pub const MIN_CAPACITY: u64 = 4096;
/// The largest data area.
pub const MAX_CAPACITY: u64 = 1 << 40;
/// The data area of a ring created without an explicit capacity.
pub const DEFAULT_CAPACITY: u64 = 64 << 20;
/// The kind of a padding record, which fills the end of the data area.
pub const KIND_PAD: u16 = 0xFFFF;
/// Header flag: records carry a CRC-32C trailer.
pub const FLAG_CHECKSUM: u64 = 1;
/// Record flag: a CRC-32C trailer follows the payload.
pub const REC_FLAG_CRC: u16 = 1;
/// The sequence number of the first record of a new ring.
pub const FIRST_SEQ: u64 = 1;

pub(crate) const OFF_HEADER_CRC: usize = 56;
/// Size of the static header at the start of the file.
pub const STATIC_HEADER_LEN: usize = 64;
/// Offset of the control block (the cursor and role lines) in the header page.
pub(crate) const OFF_CONTROL: usize = 128;
/// Byte offsets locked (as OS record locks) by the producer and consumer roles.
pub(crate) const LOCK_PRODUCER: i64 = 640;
pub(crate) const LOCK_CONSUMER: i64 = 768;

/// The immutable part of the header, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticHeader {
    /// Magic bytes as found.
    pub magic: [u8; 8],
    /// Format version.
    pub version: u32,
    /// Offset of the data area.
    pub header_len: u32,
    /// Size of the data area in bytes.
    pub capacity: u64,
    /// Header flags (`FLAG_*`).
    pub flags: u64,
    /// The ring's identity, random at creation.
    pub ring_id: [u8; 16],
    /// Creation time, nanoseconds since the Unix epoch.
    pub created_unix_ns: u64,
    /// CRC-32C of bytes 0..56 as stored.
    pub header_crc: u32,
}

impl StaticHeader {
    /// Decodes the first 64 bytes of a file, without judging them.
    pub fn decode(b: &[u8; STATIC_HEADER_LEN]) -> StaticHeader {
        let u32_at = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        let u64_at = |o: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[o..o + 8]);
            u64::from_le_bytes(w)
        };
        let mut magic = [0u8; 8];
        magic.copy_from_slice(&b[0..8]);
        let mut ring_id = [0u8; 16];
        ring_id.copy_from_slice(&b[32..48]);
        StaticHeader {
            magic,
            version: u32_at(8),
            header_len: u32_at(12),
            capacity: u64_at(16),
            flags: u64_at(24),
            ring_id,
            created_unix_ns: u64_at(48),
            header_crc: u32_at(OFF_HEADER_CRC),
        }
    }

    /// Encodes the header, computing its CRC.
    pub fn encode(&self) -> [u8; STATIC_HEADER_LEN] {
        let mut b = [0u8; STATIC_HEADER_LEN];
        b[0..8].copy_from_slice(&self.magic);
        b[8..12].copy_from_slice(&self.version.to_le_bytes());
        b[12..16].copy_from_slice(&self.header_len.to_le_bytes());
        b[16..24].copy_from_slice(&self.capacity.to_le_bytes());
        b[24..32].copy_from_slice(&self.flags.to_le_bytes());
        b[32..48].copy_from_slice(&self.ring_id);
        b[48..56].copy_from_slice(&self.created_unix_ns.to_le_bytes());
        let crc = crc32c::crc32c(&b[..OFF_HEADER_CRC]);
        b[56..60].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// The CRC the header should carry.
    pub fn expected_crc(raw: &[u8; STATIC_HEADER_LEN]) -> u32 {
        crc32c::crc32c(&raw[..OFF_HEADER_CRC])
    }
}

/// Whether `capacity` is a valid data-area size.
pub fn capacity_is_valid(capacity: u64) -> bool {
    capacity.is_power_of_two() && (MIN_CAPACITY..=MAX_CAPACITY).contains(&capacity)
}

/// Bytes a record of `len` payload bytes occupies, trailer and alignment included.
#[inline(always)]
pub fn record_size(len: usize, checksum: bool) -> usize {
    let raw = RECORD_HEADER_LEN + len + if checksum { CRC_LEN } else { 0 };
    (raw + RECORD_ALIGN - 1) & !(RECORD_ALIGN - 1)
}

/// The largest payload a ring of `capacity` accepts: a record may take at most
/// half of the data area, so that one always fits after a padding record.
pub fn max_payload(capacity: u64, checksum: bool) -> usize {
    let half = (capacity / 2).min(u32::MAX as u64 / 2) as usize;
    half - RECORD_HEADER_LEN - if checksum { CRC_LEN } else { 0 }
}

/// A record header, decoded from its two 64-bit words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecordHeader {
    pub len: u32,
    pub kind: u16,
    pub flags: u16,
    pub seq: u64,
}

impl RecordHeader {
    #[inline(always)]
    pub(crate) fn word0(&self) -> u64 {
        self.len as u64 | (self.kind as u64) << 32 | (self.flags as u64) << 48
    }

    #[inline(always)]
    pub(crate) fn from_words(w0: u64, seq: u64) -> RecordHeader {
        RecordHeader {
            len: w0 as u32,
            kind: (w0 >> 32) as u16,
            flags: (w0 >> 48) as u16,
            seq,
        }
    }
}

/// One cache line pair (128 bytes: x86 prefetches lines in pairs) holding the
/// producer's cursor.
#[repr(C, align(128))]
pub(crate) struct ProducerLine {
    pub tail: AtomicU64,
}

/// The consumer's cursor and the sequence number found there.
#[repr(C, align(128))]
pub(crate) struct ConsumerLine {
    pub head: AtomicU64,
    pub head_seq: AtomicU64,
}

/// A side's "I am asleep, ring my bell" word, alone on its line so that the
/// other side can poll it without stealing the cursor lines: `generation << 1 |
/// asleep`, written only by the side that sleeps.
#[repr(C, align(128))]
pub(crate) struct WaitLine {
    pub sleep: AtomicU64,
}

/// Who holds a role (advisory, for messages; the OS lock is the authority).
#[repr(C, align(128))]
pub(crate) struct RoleLine {
    pub pid: AtomicU32,
    pub _reserved: AtomicU32,
    pub epoch: AtomicU64,
}

/// The mutable part of the header page, at `OFF_CONTROL`.
#[repr(C)]
pub(crate) struct Control {
    pub producer: ProducerLine,
    pub consumer: ConsumerLine,
    pub consumer_wait: WaitLine,
    pub producer_wait: WaitLine,
    pub producer_role: RoleLine,
    pub consumer_role: RoleLine,
}

#[cfg(not(loom))]
const _: () = {
    use core::mem::{offset_of, size_of};
    assert!(OFF_CONTROL + offset_of!(Control, producer) == 128);
    assert!(OFF_CONTROL + offset_of!(Control, consumer) == 256);
    assert!(
        OFF_CONTROL + offset_of!(Control, consumer) + offset_of!(ConsumerLine, head_seq) == 264
    );
    assert!(OFF_CONTROL + offset_of!(Control, consumer_wait) == 384);
    assert!(OFF_CONTROL + offset_of!(Control, producer_wait) == 512);
    assert!(OFF_CONTROL + offset_of!(Control, producer_role) == LOCK_PRODUCER as usize);
    assert!(OFF_CONTROL + offset_of!(Control, consumer_role) == LOCK_CONSUMER as usize);
    assert!(OFF_CONTROL + size_of::<Control>() <= HEADER_LEN);
};

impl Control {
    /// A fresh control block (the loom models).
    #[cfg(loom)]
    pub(crate) fn new() -> Control {
        let line = || WaitLine {
            sleep: AtomicU64::new(0),
        };
        let role = || RoleLine {
            pid: AtomicU32::new(0),
            _reserved: AtomicU32::new(0),
            epoch: AtomicU64::new(0),
        };
        Control {
            producer: ProducerLine {
                tail: AtomicU64::new(0),
            },
            consumer: ConsumerLine {
                head: AtomicU64::new(0),
                head_seq: AtomicU64::new(FIRST_SEQ),
            },
            consumer_wait: line(),
            producer_wait: line(),
            producer_role: role(),
            consumer_role: role(),
        }
    }
}
