//! The single-producer / single-consumer ring of variable-length records.
//!
//! # Algorithm
//!
//! Two monotonically increasing 64-bit byte positions: `tail` (written only by
//! the producer: the end of the last committed record) and `head` (written only
//! by the consumer: the start of the first record not yet released). The byte at
//! position `p` lives at `p & (capacity - 1)` of the data area, so `tail - head`
//! is the number of bytes in use and never exceeds the capacity. Positions never
//! wrap in practice (2^64 bytes).
//!
//! Records are 8-byte aligned and contiguous: when a record does not fit before
//! the end of the data area, the producer fills the rest with a padding record
//! (or, when fewer than 16 bytes remain, leaves an implicit gap both sides can
//! compute) and writes the record at the start.
//!
//! Publishing: the producer writes a record's bytes, then stores `tail` with
//! Release. The consumer loads `tail` with Acquire and may then read every byte
//! below it. Releasing: the consumer stores `head` (and the sequence number
//! found there) with Release once it no longer borrows the bytes below it; the
//! producer loads `head` with Acquire before reusing them. Each side keeps a
//! private copy of the other's cursor and reloads it only when that copy says the
//! ring is full (producer) or empty (consumer): one shared-line transfer per
//! batch, not per record.
//!
//! Sleeping: see [`Consumer::sleep_prepare`] and [`Producer::space_wait_prepare`]
//! (a Dekker-style store, SeqCst fence, load on each side).
//!
//! Crash safety: a half-written record is not below `tail`, so it is invisible.
//! A producer that reattaches reads `tail` and continues the sequence after the
//! last record below it; a consumer that reattaches resumes at `head`.
//!
//! Everything read from the shared memory is validated before use: cursors
//! against each other and the capacity, every record header against the space
//! it claims, the ring's checksum setting, and the expected sequence number.
//!
//! The modules: `record` judges what is read, `producer` and `consumer` are
//! the two sides, `wake` is the sleep/wake handshake, `heap` the in-process
//! ring. Every access to the data area goes through `Mem`'s few primitives.

mod consumer;
mod heap;
mod producer;
mod read;
mod record;
mod wake;

pub use consumer::{Batch, Consumer, Mark, Record};
pub use heap::HeapRing;
pub use producer::{Producer, Reservation};
pub(crate) use record::{check_crc, check_cursors, copy_out, parse_at, Step, MAX_POSITION};

use crate::error::Role;
use crate::layout::*;
use crate::mem::Mem;
use crate::sync::Ordering::Relaxed;

/// What a record adds to its payload before rounding down to the alignment:
/// the header, the trailer (with checksums) and `RECORD_ALIGN - 1`, so that
/// `(len + extra) & !7` is the record's size.
fn extra(checksum: bool) -> u64 {
    (RECORD_HEADER_LEN + RECORD_ALIGN - 1 + if checksum { CRC_LEN } else { 0 }) as u64
}

/// Turns a problem found in `mem` into the error that names its file.
fn corrupt_in(mem: &Mem) -> impl Fn(crate::error::Corruption) -> crate::error::Error + Copy + '_ {
    |problem| crate::error::Error::Corrupt {
        path: mem.path().to_owned(),
        problem,
    }
}

/// Records in the file that this process now holds `role`: its pid, and one
/// more attachment (the role's epoch).
fn attach_role(mem: &Mem, role: Role) {
    let ctl = mem.ctl();
    let line = match role {
        Role::Producer => &ctl.producer_role,
        Role::Consumer => &ctl.consumer_role,
    };
    line.pid.store(std::process::id(), Relaxed);
    line.epoch.fetch_add(1, Relaxed);
}
