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

// `drop(access)` marks where an access to the data area ends: a no-op outside
// loom, a tracked end of access inside it.
#![allow(clippy::drop_non_drop)]

use crate::error::{Corruption, Error, PushError, Result, Role};
use crate::layout::*;
use crate::mem::Mem;
use crate::sync::{fence, order, Access, AtomicU64, Ordering::Relaxed};

#[cfg(not(loom))]
use crate::file::{self, CreateOptions, OpenOptions};
#[cfg(not(loom))]
use std::path::Path;

/// What holds a role: an OS lock on the file, or a flag of a heap ring.
enum RoleHold {
    #[cfg(not(loom))]
    File(std::fs::File),
    Heap(std::sync::Arc<[std::sync::atomic::AtomicBool; 2]>, usize),
}

impl Drop for RoleHold {
    fn drop(&mut self) {
        if let RoleHold::Heap(flags, i) = self {
            flags[*i].store(false, std::sync::atomic::Ordering::Release);
        }
    }
}

impl RoleHold {
    /// Whether the file behind the ring has shrunk below its full size (the
    /// pages past the new end read as zeros, or fault; both are caught).
    #[cold]
    fn shrunk(&self, mem: &Mem) -> bool {
        if mem.faulted() {
            return true;
        }
        match self {
            #[cfg(not(loom))]
            RoleHold::File(f) => f
                .metadata()
                .map(|m| m.len() < HEADER_LEN as u64 + mem.capacity())
                .unwrap_or(false),
            RoleHold::Heap(..) => false,
        }
    }
}

/// One step of a scan: a record, or padding to skip.
pub(crate) enum Step {
    Record(RecordHeader, u64),
    Skip(u64),
}

/// Positions at or above this are refused as corrupt.
pub(crate) const MAX_POSITION: u64 = 1 << 62;

#[inline(always)]
pub(crate) fn check_cursors(head: u64, tail: u64, capacity: u64) -> Result<(), Corruption> {
    let bad = |why| {
        Err(Corruption::BadCursors {
            head,
            tail,
            capacity,
            why,
        })
    };
    if !head.is_multiple_of(RECORD_ALIGN as u64) || !tail.is_multiple_of(RECORD_ALIGN as u64) {
        return bad("not 8-byte aligned");
    }
    // Positions only grow, by at most the ring's size per lap: 2^62 bytes is
    // more than a century at 1 TB/s. Beyond it the sums in the checks below
    // (position + record size, + capacity) could overflow.
    if tail >= MAX_POSITION {
        return bad("positions beyond 2^62");
    }
    if head > tail {
        return bad("head is beyond tail");
    }
    if tail - head > capacity {
        return bad("more bytes in use than the capacity");
    }
    Ok(())
}

/// Reads and validates the record (or padding) at `pos`, which must be below `limit`.
#[inline(always)]
pub(crate) fn parse_at(
    mem: &Mem,
    pos: u64,
    limit: u64,
    checksum: bool,
) -> Result<Step, Corruption> {
    let cap = mem.capacity();
    let off = (pos & (cap - 1)) as usize;
    let to_end = cap - off as u64;
    if to_end < RECORD_HEADER_LEN as u64 {
        if pos + to_end > limit {
            return Err(Corruption::BadCursors {
                head: pos,
                tail: limit,
                capacity: cap,
                why: "tail falls inside the gap at the end of the data area",
            });
        }
        return Ok(Step::Skip(pos + to_end));
    }
    let access = mem.tracker().read(off, RECORD_HEADER_LEN);
    // SAFETY: `off + 16 <= capacity`, so both words are inside the data area;
    // `off` is 8-aligned and the data area is page-aligned, so both loads are
    // aligned. Volatile: the bytes are shared with another process, and each is
    // read exactly once into a local before it is judged.
    let (w0, seq) = unsafe {
        let p = mem.data().add(off) as *const u64;
        (p.read_volatile(), p.add(1).read_volatile())
    };
    drop(access);
    let h = RecordHeader::from_words(w0, seq);
    let bad = |why| {
        Err(Corruption::BadRecord {
            pos,
            why,
            len: h.len,
            kind: h.kind,
            flags: h.flags,
            seq: h.seq,
        })
    };
    if h.kind == KIND_PAD {
        if h.len as u64 != to_end - RECORD_HEADER_LEN as u64 {
            return bad("padding does not end at the end of the data area");
        }
        if pos + to_end > limit {
            return bad("padding runs past the producer's tail");
        }
        return Ok(Step::Skip(pos + to_end));
    }
    if h.kind == 0 {
        return bad("kind 0 (zeroed or never-written memory)");
    }
    if h.flags != if checksum { REC_FLAG_CRC } else { 0 } {
        return bad("flags disagree with the ring's checksum setting");
    }
    let size = record_size(h.len as usize, checksum) as u64;
    if size > to_end {
        return bad("record runs past the end of the data area");
    }
    if pos + size > limit {
        return bad("record runs past the producer's tail");
    }
    Ok(Step::Record(h, size))
}

/// [`parse_at`], and for a record of a ring with checksums, its CRC checked on
/// a copy in `scratch` (for scans that do not deliver the record).
pub(crate) fn parse_checked(
    mem: &Mem,
    pos: u64,
    limit: u64,
    checksum: bool,
    scratch: &mut Vec<u8>,
) -> Result<Step, Corruption> {
    let step = parse_at(mem, pos, limit, checksum)?;
    if let (true, Step::Record(h, _)) = (checksum, &step) {
        let h = *h;
        let off = (pos & (mem.capacity() - 1)) as usize + RECORD_HEADER_LEN;
        scratch.clear();
        copy_out(mem, off, h.len as usize + CRC_LEN, scratch);
        check_crc(h, scratch, pos)?;
    }
    Ok(step)
}

/// Appends `len` bytes at data-area offset `off` to `dst`: the only way bytes
/// leave the mapping on the read side. Everything is judged on the copy, which
/// no other process can change; no reference to the mapping is ever formed.
/// The source is read through a raw pointer only: another process may be
/// changing those bytes (a hostile peer, or a producer reusing released space
/// under an observer), and then the copy holds arbitrary bytes, which every
/// reader validates afterwards.
#[inline(always)]
pub(crate) fn copy_out(mem: &Mem, off: usize, len: usize, dst: &mut Vec<u8>) {
    let _access = mem.tracker().read(off, len);
    let at = dst.len();
    dst.reserve(len);
    // SAFETY: `off + len <= capacity` (callers pass a range `parse_at` found
    // inside the data area), and `reserve` made room for `len` bytes after `at`.
    unsafe {
        std::ptr::copy_nonoverlapping(mem.data().add(off), dst.as_mut_ptr().add(at), len);
        dst.set_len(at + len);
    }
}

/// Checks a record's CRC-32C: over its header (as decoded) and its payload,
/// against the trailer; `copied` is the payload and the trailer, copied out.
#[cold]
pub(crate) fn check_crc(h: RecordHeader, copied: &[u8], pos: u64) -> Result<(), Corruption> {
    let n = h.len as usize;
    let mut head = [0u8; RECORD_HEADER_LEN];
    head[..8].copy_from_slice(&h.word0().to_le_bytes());
    head[8..].copy_from_slice(&h.seq.to_le_bytes());
    let expected = crc32c::crc32c_append(crc32c::crc32c(&head), &copied[..n]);
    let t = &copied[n..n + CRC_LEN];
    let found = u32::from_le_bytes([t[0], t[1], t[2], t[3]]);
    if found != expected {
        return Err(Corruption::RecordChecksum {
            pos,
            seq: h.seq,
            found,
            expected,
        });
    }
    Ok(())
}

// The sleep/wake handshake. A side about to sleep stores `generation << 1 | 1`
// into its own sleep word (a new generation each time), issues a SeqCst fence
// and looks at the ring once more. The other side, after publishing (or
// releasing), issues a SeqCst fence and loads that word. Either the sleeper's
// second look sees the new cursor, or the waker's load sees the announcement:
// no wakeup is lost. The waker rings once per generation it sees asleep, so a
// burst of commits rings once, and an awake peer is never rung. Only plain
// loads and stores touch the word (no read-modify-write), and the generation
// lives in the file, so a restarted sleeper continues it.

fn announce_sleep(w: &AtomicU64) {
    let generation = (w.load(Relaxed) >> 1) + 1;
    w.store(generation << 1 | 1, Relaxed);
}

fn end_sleep(w: &AtomicU64) {
    let v = w.load(Relaxed);
    w.store(v & !1, Relaxed);
}

#[inline(always)]
fn take_wakeup(w: &AtomicU64, rung: &mut u64) -> bool {
    let v = w.load(Relaxed);
    if v & 1 != 0 && v != *rung {
        *rung = v;
        return true;
    }
    false
}

fn extra(checksum: bool) -> u64 {
    (RECORD_HEADER_LEN + RECORD_ALIGN - 1 + if checksum { CRC_LEN } else { 0 }) as u64
}

fn attach_role(mem: &Mem, role: Role) {
    let ctl = mem.ctl();
    let line = match role {
        Role::Producer => &ctl.producer_role,
        Role::Consumer => &ctl.consumer_role,
    };
    line.pid.store(std::process::id(), Relaxed);
    line.epoch.fetch_add(1, Relaxed);
}

/// The writing side of a ring.
pub struct Producer {
    mem: Mem,
    mask: u64,
    /// `record_size(len) == (len + extra) & !7`: header, trailer and rounding.
    extra: u64,
    /// The flags half-word of every record header, in place (`flags << 48`).
    flag_bits: u64,
    /// Checksums or sync-on-commit: the paths that do more than the common case.
    slow: bool,
    tail: u64,
    head_cache: u64,
    next_seq: u64,
    checksum: bool,
    max_payload: usize,
    sync_on_commit: bool,
    synced_to: u64,
    sticky: Option<std::io::Error>,
    epoch: u64,
    /// The consumer's last sleep word this producer rang for.
    rung: u64,
    role: RoleHold,
}

/// The reading side of a ring.
pub struct Consumer {
    mem: Mem,
    mask: u64,
    /// `record_size(len) == (len + extra) & !7`.
    extra: u64,
    /// The fast path takes a record when `tag - 1 < fast_kinds` (`tag` is
    /// `flags << 16 | kind`): 0xFFFE accepts exactly the user kinds 1..=0xFFFE
    /// with no flags. For a ring with checksums it is 0, which no tag passes:
    /// every record goes to the slow path, and its CRC is checked.
    fast_kinds: u32,
    head: u64,
    head_seq: u64,
    read_pos: u64,
    read_seq: u64,
    tail_cache: u64,
    checksum: bool,
    /// Private memory the last record read was copied into.
    buf: Vec<u8>,
    batch: Vec<Desc>,
    /// Private memory a batch's records are copied into.
    batch_data: Vec<u8>,
    epoch: u64,
    /// The producer's last sleep word this consumer rang for.
    rung: u64,
    ring_id: [u8; 16],
    role: RoleHold,
}

#[derive(Clone, Copy)]
struct Desc {
    /// Its byte position.
    pos: u64,
    /// Where its payload starts: in the data area, then (in a batch) in the
    /// batch's private copy.
    off: usize,
    len: u32,
    kind: u16,
    seq: u64,
}

/// A position in the stream that the consumer has read up to, for releasing
/// later (see [`Consumer::release_to`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    /// Byte position (private: a mark is only ever one this consumer made, so
    /// `release_to` can trust it to be a record boundary).
    pos: u64,
    /// Sequence number of the next record after it.
    seq: u64,
}

impl Mark {
    /// The sequence number of the first record after the mark.
    pub fn seq(&self) -> u64 {
        self.seq
    }
}

/// A record read from the ring: its payload was copied into the consumer's
/// private memory (reused, not allocated per record) before anything looked at
/// it, so a peer that rewrites the ring afterwards cannot change it.
pub struct Record<'a> {
    seq: u64,
    kind: u16,
    payload: &'a [u8],
}

impl<'a> Record<'a> {
    /// Its sequence number.
    #[inline]
    pub fn seq(&self) -> u64 {
        self.seq
    }
    /// Its kind (1..=0xFFFE).
    #[inline]
    pub fn kind(&self) -> u16 {
        self.kind
    }
    /// Its payload: a private copy, valid until the next read.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }
}

impl std::fmt::Debug for Record<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Record")
            .field("seq", &self.seq)
            .field("kind", &self.kind)
            .field("len", &self.payload.len())
            .finish()
    }
}

/// Space reserved for one record: fill it, then [`commit`](Reservation::commit).
/// Dropping it without committing publishes nothing.
pub struct Reservation<'a> {
    p: &'a mut Producer,
    roff: usize,
    len: usize,
    pad: u64,
    size: u64,
    _access: Access,
}

impl Producer {
    fn attach(mem: Mem, checksum: bool, role: RoleHold, sync_on_commit: bool) -> Result<Producer> {
        let cap = mem.capacity();
        let ctl = mem.ctl();
        let head = ctl.consumer.head.load(order::HEAD_ACQUIRE);
        let tail = ctl.producer.tail.load(Relaxed);
        let bad = |p| Error::Corrupt {
            path: mem.path().to_owned(),
            problem: p,
        };
        check_cursors(head, tail, cap).map_err(bad)?;
        // The sequence continues after the last record below the tail; with no
        // record there, at the sequence number the consumer expects next.
        let mut next_seq = ctl.consumer.head_seq.load(Relaxed);
        let mut pos = head;
        let mut last: Option<u64> = None;
        let mut scratch = Vec::new();
        while pos < tail {
            match parse_checked(&mem, pos, tail, checksum, &mut scratch).map_err(bad)? {
                Step::Skip(to) => pos = to,
                Step::Record(h, size) => {
                    if let Some(prev) = last {
                        if h.seq != prev.wrapping_add(1) {
                            return Err(bad(Corruption::BadSequence {
                                pos,
                                found: h.seq,
                                expected: prev.wrapping_add(1),
                            }));
                        }
                    }
                    last = Some(h.seq);
                    pos += size;
                }
            }
        }
        if let Some(l) = last {
            next_seq = l.wrapping_add(1);
        }
        attach_role(&mem, Role::Producer);
        let epoch = mem.ctl().producer_role.epoch.load(Relaxed);
        Ok(Producer {
            mask: cap - 1,
            extra: extra(checksum),
            flag_bits: if checksum {
                (REC_FLAG_CRC as u64) << 48
            } else {
                0
            },
            slow: checksum || sync_on_commit,
            tail,
            head_cache: head,
            next_seq,
            checksum,
            max_payload: max_payload(cap, checksum),
            sync_on_commit,
            synced_to: tail,
            sticky: None,
            epoch,
            rung: 0,
            role,
            mem,
        })
    }

    /// Opens the ring file at `path` as its producer. Fails with
    /// [`Error::RoleHeld`] while another live process (or another handle in this
    /// one) is its producer.
    #[cfg(not(loom))]
    pub fn open(path: impl AsRef<Path>, opts: &OpenOptions) -> Result<Producer> {
        let path = path.as_ref();
        let o = file::open(path, opts)?;
        if !file::take_role(path, &o.file, Role::Producer)? {
            let pid = o.mem.ctl().producer_role.pid.load(Relaxed);
            return Err(Error::RoleHeld {
                path: path.to_owned(),
                role: Role::Producer,
                pid,
            });
        }
        let checksum = o.header.flags & FLAG_CHECKSUM != 0;
        Producer::attach(o.mem, checksum, RoleHold::File(o.file), opts.sync_on_commit)
    }

    /// Reserves space for a record of `len` payload bytes and the given kind
    /// (1..=0xFFFE). Never waits: a full ring is [`PushError::Full`].
    #[inline]
    pub fn reserve(&mut self, len: usize, kind: u16) -> Result<Reservation<'_>, PushError> {
        if len > self.max_payload || kind.wrapping_sub(1) >= 0xFFFE || self.slow {
            self.reserve_check(len, kind)?;
        }
        let cap = self.mask + 1;
        let size = (len as u64 + self.extra) & !(RECORD_ALIGN as u64 - 1);
        let off = self.tail & self.mask;
        let to_end = cap - off;
        let pad = if size <= to_end { 0 } else { to_end };
        if self.tail + pad + size - self.head_cache > cap {
            self.refresh_head()?;
            if self.tail + pad + size - self.head_cache > cap {
                return Err(self.full(pad + size));
            }
        }
        let mut access = Access::default();
        if pad != 0 {
            self.write_padding(off, pad, &mut access);
        }
        let roff = ((self.tail + pad) & self.mask) as usize;
        access.join(self.mem.tracker().write(roff, size as usize));
        self.write_words(
            roff,
            len as u64 | (kind as u64) << 32 | self.flag_bits,
            self.next_seq,
        );
        Ok(Reservation {
            p: self,
            roff,
            len,
            pad,
            size,
            _access: access,
        })
    }

    /// The rare cases of `reserve`: bad arguments, and a failed sync to report.
    #[cold]
    fn reserve_check(&mut self, len: usize, kind: u16) -> Result<(), PushError> {
        if kind == 0 || kind == KIND_PAD {
            return Err(PushError::BadKind(kind));
        }
        if len > self.max_payload {
            return Err(PushError::TooLarge {
                len,
                max: self.max_payload,
            });
        }
        if self.mem.faulted() {
            return Err(PushError::Ring(
                self.corrupt(Corruption::TruncatedWhileMapped),
            ));
        }
        if let Some(e) = self.sticky.take() {
            return Err(PushError::Ring(Error::Io {
                path: self.mem.path().to_owned(),
                op: "msync",
                source: e,
            }));
        }
        Ok(())
    }

    #[cold]
    fn full(&self, needed: u64) -> PushError {
        PushError::Full {
            needed: needed as usize,
            free: (self.mask + 1 - (self.tail - self.head_cache)) as usize,
        }
    }

    /// Fills `[off, capacity)` with a padding record (or leaves the implicit gap
    /// when it is shorter than a header).
    #[cold]
    fn write_padding(&self, off: u64, pad: u64, access: &mut Access) {
        if pad >= RECORD_HEADER_LEN as u64 {
            let h = RecordHeader {
                len: (pad - RECORD_HEADER_LEN as u64) as u32,
                kind: KIND_PAD,
                flags: 0,
                seq: self.next_seq,
            };
            access.join(self.mem.tracker().write(off as usize, RECORD_HEADER_LEN));
            self.write_header(off as usize, h);
        }
    }

    /// Whether a record of `len` payload bytes would fit now (looking at the
    /// consumer's cursor if the cached one says no). Never waits, reserves nothing.
    #[inline]
    pub fn can_reserve(&mut self, len: usize) -> Result<bool, Error> {
        let cap = self.mask + 1;
        let size = (len.min(self.max_payload) as u64 + self.extra) & !(RECORD_ALIGN as u64 - 1);
        let off = self.tail & self.mask;
        let pad = if size <= cap - off { 0 } else { cap - off };
        if self.tail + pad + size - self.head_cache <= cap {
            return Ok(true);
        }
        self.refresh_head()?;
        Ok(self.tail + pad + size - self.head_cache <= cap)
    }

    /// Copies `payload` into a new record and commits it; returns its sequence number.
    #[inline]
    pub fn push(&mut self, kind: u16, payload: &[u8]) -> Result<u64, PushError> {
        let mut r = self.reserve(payload.len(), kind)?;
        r.copy_from_slice(payload);
        Ok(r.commit())
    }

    #[inline(always)]
    fn write_header(&self, off: usize, h: RecordHeader) {
        self.write_words(off, h.word0(), h.seq);
    }

    #[inline(always)]
    fn write_words(&self, off: usize, w0: u64, seq: u64) {
        // SAFETY: `off + 16 <= capacity` (the caller reserved at least a header
        // there), `off` is 8-aligned, and the space is free: below `head +
        // capacity` and at or above `tail`, so the consumer does not read it.
        unsafe {
            let p = self.mem.data().add(off) as *mut u64;
            p.write(w0);
            p.add(1).write(seq);
        }
    }

    #[inline]
    fn refresh_head(&mut self) -> Result<(), Error> {
        let h = self.mem.ctl().consumer.head.load(order::HEAD_ACQUIRE);
        if h < self.head_cache || h > self.tail || !h.is_multiple_of(RECORD_ALIGN as u64) {
            return Err(self.bad_head(h));
        }
        self.head_cache = h;
        Ok(())
    }

    #[cold]
    fn bad_head(&self, h: u64) -> Error {
        self.corrupt(Corruption::BadCursors {
            head: h,
            tail: self.tail,
            capacity: self.mask + 1,
            why: "the consumer's head moved backwards or past the tail",
        })
    }

    #[cold]
    fn corrupt(&self, problem: Corruption) -> Error {
        let problem = if self.role.shrunk(&self.mem) {
            Corruption::TruncatedWhileMapped
        } else {
            problem
        };
        Error::Corrupt {
            path: self.mem.path().to_owned(),
            problem,
        }
    }

    /// The sequence number the next committed record will carry.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The largest payload this ring accepts.
    pub fn max_payload(&self) -> usize {
        self.max_payload
    }

    /// The data area's size.
    pub fn capacity(&self) -> u64 {
        self.mask + 1
    }

    /// How many times a producer has attached to this ring, this one included.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Whether the file behind this ring was truncated under us; if so every
    /// further operation fails.
    pub fn check(&self) -> Result<(), Error> {
        if self.role.shrunk(&self.mem) {
            return Err(self.corrupt(Corruption::TruncatedWhileMapped));
        }
        Ok(())
    }

    /// After committing: whether the consumer has announced that it is going to
    /// sleep and must be woken. `true` once per announcement, so exactly one bell
    /// is rung per sleep; a busy consumer costs one fence and one load of a line
    /// it rarely writes.
    #[inline]
    pub fn take_consumer_wakeup(&mut self) -> bool {
        fence(order::SLEEP_FENCE);
        take_wakeup(&self.mem.ctl().consumer_wait.sleep, &mut self.rung)
    }

    /// Before blocking for space: announces that the producer waits for `len`
    /// payload bytes of space, then looks again. Returns `true` if the caller
    /// should now block on its doorbell (the consumer will ring it after its next
    /// release), `false` if space appeared (the announcement is withdrawn).
    pub fn space_wait_prepare(&mut self, len: usize) -> Result<bool, Error> {
        let w = &self.mem.ctl().producer_wait.sleep;
        announce_sleep(w);
        fence(order::SPACE_FENCE);
        self.refresh_head()?;
        let size = record_size(len.min(self.max_payload), self.checksum) as u64;
        let off = self.tail & self.mask;
        let pad = if size <= self.mask + 1 - off {
            0
        } else {
            self.mask + 1 - off
        };
        if self.tail + pad + size - self.head_cache <= self.mask + 1 {
            end_sleep(&self.mem.ctl().producer_wait.sleep);
            return Ok(false);
        }
        Ok(true)
    }

    /// After waking (or giving up waiting) for space.
    pub fn space_wait_done(&mut self) {
        end_sleep(&self.mem.ctl().producer_wait.sleep);
    }

    /// Writes every committed record, then the cursors, through to the file
    /// (`msync`). A no-op for heap rings.
    pub fn sync(&mut self) -> Result<(), Error> {
        #[cfg(not(loom))]
        {
            let path = self.mem.path().to_owned();
            let io = |source| Error::Io {
                path,
                op: "msync",
                source,
            };
            let r = match self.sticky.take() {
                Some(e) => Err(e),
                None => self
                    .sync_range(self.synced_to, self.tail)
                    .and_then(|()| self.mem.sync_header()),
            };
            r.map_err(io)?;
        }
        Ok(())
    }

    #[cfg(not(loom))]
    fn sync_range(&mut self, from: u64, to: u64) -> std::io::Result<()> {
        if to <= from || !self.mem.is_file() {
            self.synced_to = to;
            return Ok(());
        }
        let cap = self.mask + 1;
        if to - from >= cap {
            self.mem.sync_data(0, cap as usize)?;
        } else {
            let a = (from & self.mask) as usize;
            let b = (to & self.mask) as usize;
            if a < b || b == 0 {
                let end = if b == 0 { cap as usize } else { b };
                self.mem.sync_data(a, end - a)?;
            } else {
                self.mem.sync_data(a, cap as usize - a)?;
                self.mem.sync_data(0, b)?;
            }
        }
        self.synced_to = to;
        Ok(())
    }

    /// Whether a consumer holds this ring now (an OS-lock query: it is `false`
    /// as soon as the consumer's process has died).
    pub fn consumer_alive(&self) -> Result<bool, Error> {
        match &self.role {
            #[cfg(not(loom))]
            RoleHold::File(f) => file::is_locked(self.mem.path(), f, Role::Consumer),
            RoleHold::Heap(flags, _) => Ok(flags[1].load(std::sync::atomic::Ordering::Acquire)),
        }
    }
}

impl Reservation<'_> {
    /// The sequence number this record will carry.
    pub fn seq(&self) -> u64 {
        self.p.next_seq
    }

    /// Publishes the record; returns its sequence number.
    #[inline]
    pub fn commit(self) -> u64 {
        let len = self.len;
        self.commit_len(len)
    }

    /// Publishes only the first `len` bytes of the reservation (at most what was
    /// reserved): for encoders that reserve an upper bound.
    #[inline]
    pub fn commit_len(self, len: usize) -> u64 {
        let Reservation {
            p,
            roff,
            len: reserved,
            pad,
            mut size,
            _access,
        } = self;
        if len < reserved {
            size = p.shorten(roff, len);
        }
        let new_tail = p.tail + pad + size;
        if p.slow {
            p.commit_slow(roff, len.min(reserved), new_tail, _access);
        } else {
            drop(_access);
            p.mem
                .ctl()
                .producer
                .tail
                .store(new_tail, order::TAIL_PUBLISH);
        }
        p.tail = new_tail;
        let seq = p.next_seq;
        p.next_seq = p.next_seq.wrapping_add(1);
        // A truncation of the file under us (the SIGBUS guard saw a fault):
        // this record went to memory nobody reads, and the next reserve says so.
        if p.mem.faulted() {
            p.slow = true;
        }
        seq
    }
}

impl Producer {
    /// Rewrites the length of the reserved record at `roff`; returns its new size.
    #[cold]
    fn shorten(&self, roff: usize, len: usize) -> u64 {
        // SAFETY: the header word lies at `roff`, inside the reservation, which
        // only this producer touches until it is published.
        unsafe {
            let w = self.mem.data().add(roff) as *mut u64;
            let old = w.read();
            w.write((old & !0xFFFF_FFFF) | len as u64);
        }
        (len as u64 + self.extra) & !(RECORD_ALIGN as u64 - 1)
    }

    #[cold]
    fn write_crc(&self, roff: usize, len: usize) {
        let n = RECORD_HEADER_LEN + len;
        // SAFETY: the record with its trailer lies inside the reservation, which
        // only this producer touches until it is published.
        unsafe {
            let base = self.mem.data().add(roff);
            let crc = crc32c::crc32c(std::slice::from_raw_parts(base, n));
            std::ptr::copy_nonoverlapping(crc.to_le_bytes().as_ptr(), base.add(n), CRC_LEN);
        }
    }

    /// Commit with a checksum and/or a sync: the trailer is written, then (with
    /// sync on commit) the data is written through first and the cursor after,
    /// so a reboot never finds a cursor covering unwritten records.
    #[cold]
    fn commit_slow(&mut self, roff: usize, len: usize, new_tail: u64, access: Access) {
        if self.checksum {
            self.write_crc(roff, len);
        }
        drop(access);
        #[cfg(not(loom))]
        if self.sync_on_commit {
            if let Err(e) = self.sync_range(self.synced_to, new_tail) {
                self.sticky = Some(e);
            }
        }
        self.mem
            .ctl()
            .producer
            .tail
            .store(new_tail, order::TAIL_PUBLISH);
        #[cfg(not(loom))]
        if self.sync_on_commit {
            if let Err(e) = self.mem.sync_header() {
                self.sticky = Some(e);
            }
        }
    }
}

impl std::ops::Deref for Reservation<'_> {
    type Target = [u8];
    #[inline(always)]
    fn deref(&self) -> &[u8] {
        // SAFETY: the payload lies inside the reserved record, which the consumer
        // cannot read until it is committed and this borrow has ended.
        unsafe {
            std::slice::from_raw_parts(
                self.p.mem.data().add(self.roff + RECORD_HEADER_LEN),
                self.len,
            )
        }
    }
}

impl std::ops::DerefMut for Reservation<'_> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as for `deref`; `&mut self` makes this the only borrow.
        unsafe {
            std::slice::from_raw_parts_mut(
                self.p.mem.data().add(self.roff + RECORD_HEADER_LEN),
                self.len,
            )
        }
    }
}

impl Consumer {
    fn attach(mem: Mem, checksum: bool, role: RoleHold, ring_id: [u8; 16]) -> Result<Consumer> {
        let cap = mem.capacity();
        let ctl = mem.ctl();
        let head = ctl.consumer.head.load(Relaxed);
        let tail = ctl.producer.tail.load(order::TAIL_ACQUIRE);
        let bad = |p| Error::Corrupt {
            path: mem.path().to_owned(),
            problem: p,
        };
        check_cursors(head, tail, cap).map_err(bad)?;
        // Resume at the record at `head`; its own sequence number is the truth
        // (`head_seq` may be one release ahead if the last consumer died between
        // its two stores). With nothing there, `head_seq` is exact.
        let mut seq = ctl.consumer.head_seq.load(Relaxed);
        let mut pos = head;
        let mut buf = Vec::new();
        while pos < tail {
            match parse_checked(&mem, pos, tail, checksum, &mut buf).map_err(bad)? {
                Step::Skip(to) => pos = to,
                Step::Record(h, _) => {
                    seq = h.seq;
                    break;
                }
            }
        }
        attach_role(&mem, Role::Consumer);
        let epoch = mem.ctl().consumer_role.epoch.load(Relaxed);
        Ok(Consumer {
            mask: cap - 1,
            extra: extra(checksum),
            fast_kinds: if checksum { 0 } else { 0xFFFE },
            head,
            head_seq: seq,
            read_pos: head,
            read_seq: seq,
            tail_cache: tail,
            checksum,
            buf,
            batch: Vec::new(),
            batch_data: Vec::new(),
            epoch,
            rung: 0,
            ring_id,
            role,
            mem,
        })
    }

    /// Opens the ring file at `path` as its consumer. Fails with
    /// [`Error::RoleHeld`] while another live process (or another handle in this
    /// one) is its consumer.
    #[cfg(not(loom))]
    pub fn open(path: impl AsRef<Path>, opts: &OpenOptions) -> Result<Consumer> {
        let path = path.as_ref();
        let o = file::open(path, opts)?;
        if !file::take_role(path, &o.file, Role::Consumer)? {
            let pid = o.mem.ctl().consumer_role.pid.load(Relaxed);
            return Err(Error::RoleHeld {
                path: path.to_owned(),
                role: Role::Consumer,
                pid,
            });
        }
        let checksum = o.header.flags & FLAG_CHECKSUM != 0;
        Consumer::attach(o.mem, checksum, RoleHold::File(o.file), o.header.ring_id)
    }

    #[cold]
    fn corrupt(&self, problem: Corruption) -> Error {
        let problem = if self.role.shrunk(&self.mem) {
            Corruption::TruncatedWhileMapped
        } else {
            problem
        };
        Error::Corrupt {
            path: self.mem.path().to_owned(),
            problem,
        }
    }

    /// Reloads the producer's tail; `Ok(false)` if there is still nothing new.
    #[inline]
    fn refresh_tail(&mut self) -> Result<bool, Error> {
        let t = self.mem.ctl().producer.tail.load(order::TAIL_ACQUIRE);
        if t == self.read_pos {
            return Ok(false);
        }
        // Forward, and by no more than the free space. (A misaligned tail is
        // caught by the record checks: no record can end on it.)
        if t.wrapping_sub(self.tail_cache) > self.head + self.mask + 1 - self.tail_cache {
            return Err(self.bad_tail(t));
        }
        self.tail_cache = t;
        Ok(true)
    }

    #[cold]
    fn bad_tail(&self, t: u64) -> Error {
        self.corrupt(Corruption::BadCursors {
            head: self.head,
            tail: t,
            capacity: self.mask + 1,
            why: "the producer's tail moved backwards or too far ahead",
        })
    }

    /// Reads the next record without releasing it. `Ok(None)` when there is
    /// nothing new. Never waits.
    #[inline]
    pub fn read(&mut self) -> Result<Option<Record<'_>>, Error> {
        let Some(d) = self.next_desc()? else {
            return Ok(None);
        };
        self.buf.clear();
        if self.checksum {
            let mut buf = std::mem::take(&mut self.buf);
            let copied = self.copy_record(d, &mut buf);
            self.buf = buf;
            copied?;
        } else {
            copy_out(&self.mem, d.off, d.len as usize, &mut self.buf);
            self.check_copy(d)?;
        }
        Ok(Some(Record {
            seq: d.seq,
            kind: d.kind,
            payload: &self.buf,
        }))
    }

    /// Appends the payload of the record `d` (just read) to `dst`; in a ring
    /// with checksums, the trailer too, checked on the copy and removed. A bad
    /// checksum unreads the record: reading again gives the same error.
    #[inline(always)]
    fn copy_record(&mut self, d: Desc, dst: &mut Vec<u8>) -> Result<(), Error> {
        let at = dst.len();
        if !self.checksum {
            copy_out(&self.mem, d.off, d.len as usize, dst);
            return self.check_copy(d).inspect_err(|_| dst.truncate(at));
        }
        copy_out(&self.mem, d.off, d.len as usize + CRC_LEN, dst);
        self.check_copy(d).inspect_err(|_| dst.truncate(at))?;
        let h = RecordHeader {
            len: d.len,
            kind: d.kind,
            flags: REC_FLAG_CRC,
            seq: d.seq,
        };
        if let Err(p) = check_crc(h, &dst[at..], d.pos) {
            dst.truncate(at);
            self.read_pos = d.pos;
            self.read_seq = d.seq;
            return Err(self.corrupt(p));
        }
        dst.truncate(at + d.len as usize);
        Ok(())
    }

    /// After copying record `d`: had the file been truncated under the copy,
    /// the guard put zeros where its pages were, and the copy holds them. The
    /// record is unread and the truncation reported, never the zeros delivered.
    #[inline(always)]
    fn check_copy(&mut self, d: Desc) -> Result<(), Error> {
        if self.mem.faulted() {
            self.read_pos = d.pos;
            self.read_seq = d.seq;
            return Err(self.corrupt(Corruption::TruncatedWhileMapped));
        }
        Ok(())
    }

    #[inline(always)]
    fn next_desc(&mut self) -> Result<Option<Desc>, Error> {
        if self.read_pos == self.tail_cache && !self.refresh_tail()? {
            return Ok(None);
        }
        // The common case, judged with a few comparisons: an ordinary record,
        // not at the end of the data area, no checksum. Anything else (padding,
        // checksums, every kind of corruption) goes to `next_desc_slow`, which
        // applies the full rules of `parse_at`.
        let pos = self.read_pos;
        let off = (pos & self.mask) as usize;
        let to_end = self.mask + 1 - off as u64;
        if to_end >= RECORD_HEADER_LEN as u64 {
            let access = self.mem.tracker().read(off, RECORD_HEADER_LEN);
            // SAFETY: `off + 16 <= capacity`; both loads are 8-aligned (see
            // `parse_at`); each word is read once and judged as a local.
            let (w0, seq) = unsafe {
                let p = self.mem.data().add(off) as *const u64;
                (p.read_volatile(), p.add(1).read_volatile())
            };
            drop(access);
            let tag = (w0 >> 32) as u32;
            let size = ((w0 as u32) as u64 + self.extra) & !(RECORD_ALIGN as u64 - 1);
            if tag.wrapping_sub(1) < self.fast_kinds
                && size <= to_end.min(self.tail_cache - pos)
                && seq == self.read_seq
            {
                self.read_pos = pos + size;
                self.read_seq = self.read_seq.wrapping_add(1);
                self.prefetch_published(pos + size);
                return Ok(Some(Desc {
                    pos,
                    off: off + RECORD_HEADER_LEN,
                    len: w0 as u32,
                    kind: tag as u16,
                    seq,
                }));
            }
        }
        self.next_desc_slow()
    }

    /// Streaming: asks the cache for the lines after `from` that the producer
    /// has already published, so that the next records arrive while this one
    /// is decoded. Only hints; reads nothing. Lines not yet published are left
    /// alone (touching them would take them from the producer mid-write). In a
    /// ping-pong nothing more is published, and this is one comparison.
    #[inline(always)]
    fn prefetch_published(&self, from: u64) {
        if self.tail_cache > from {
            self.prefetch_lines(from);
        }
    }

    #[inline(never)]
    fn prefetch_lines(&self, from: u64) {
        #[cfg(all(target_arch = "x86_64", not(loom)))]
        {
            const LINE: u64 = 64;
            const AHEAD: u64 = 4 * LINE;
            let end = self.tail_cache.min(from + AHEAD);
            let mut at = from & !(LINE - 1);
            while at < end {
                let p = self.mem.data().wrapping_add((at & self.mask) as usize);
                // SAFETY: SSE is part of the x86_64 baseline, so the
                // instruction exists; a prefetch is a hint that never faults
                // and reads nothing into the program, and `p` is inside the
                // mapped data area anyway (offset masked by the capacity).
                unsafe {
                    std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                        p as *const i8,
                    );
                }
                at += LINE;
            }
        }
        #[cfg(not(all(target_arch = "x86_64", not(loom))))]
        let _ = from;
    }

    #[cold]
    fn next_desc_slow(&mut self) -> Result<Option<Desc>, Error> {
        loop {
            if self.read_pos == self.tail_cache && !self.refresh_tail()? {
                return Ok(None);
            }
            match parse_at(&self.mem, self.read_pos, self.tail_cache, self.checksum) {
                Ok(Step::Record(h, size)) => {
                    if h.seq != self.read_seq {
                        return Err(self.corrupt(Corruption::BadSequence {
                            pos: self.read_pos,
                            found: h.seq,
                            expected: self.read_seq,
                        }));
                    }
                    let pos = self.read_pos;
                    let off = (pos & self.mask) as usize + RECORD_HEADER_LEN;
                    self.read_pos += size;
                    self.read_seq = self.read_seq.wrapping_add(1);
                    return Ok(Some(Desc {
                        pos,
                        off,
                        len: h.len,
                        kind: h.kind,
                        seq: h.seq,
                    }));
                }
                Ok(Step::Skip(to)) => self.read_pos = to,
                Err(p) => return Err(self.corrupt(p)),
            }
        }
    }

    /// Whether a record is ready to read (reloading the producer's cursor if the
    /// cached one says empty). Never waits.
    #[inline]
    pub fn has_next(&mut self) -> Result<bool, Error> {
        Ok(self.read_pos != self.tail_cache || self.refresh_tail()?)
    }

    /// Reads up to `max` records at once (reloading the producer's cursor at most
    /// once), copied into private memory, to be used together and released
    /// together. A corrupt record ends the batch before it; the error comes
    /// with the next read, or now if the batch would be empty.
    pub fn read_batch(&mut self, max: usize) -> Result<Batch<'_>, Error> {
        let mut descs = std::mem::take(&mut self.batch);
        let mut data = std::mem::take(&mut self.batch_data);
        descs.clear();
        data.clear();
        let mut failed = None;
        while descs.len() < max {
            if self.read_pos == self.tail_cache && !descs.is_empty() {
                break;
            }
            let d = match self.next_desc() {
                Ok(Some(d)) => d,
                Ok(None) => break,
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            };
            let start = data.len();
            if let Err(e) = self.copy_record(d, &mut data) {
                failed = Some(e);
                break;
            }
            descs.push(Desc { off: start, ..d });
        }
        if let (Some(e), true) = (failed, descs.is_empty()) {
            self.batch = descs;
            self.batch_data = data;
            return Err(e);
        }
        Ok(Batch {
            c: self,
            descs,
            data,
        })
    }

    /// Releases every record read so far: the producer may reuse their space.
    /// One store of the cursor, however many records.
    #[inline]
    pub fn release(&mut self) {
        if self.read_pos != self.head {
            self.publish_head(self.read_pos, self.read_seq);
        }
    }

    #[inline(always)]
    fn publish_head(&mut self, pos: u64, seq: u64) {
        let ctl = self.mem.ctl();
        ctl.consumer.head_seq.store(seq, Relaxed);
        ctl.consumer.head.store(pos, order::HEAD_RELEASE);
        self.head = pos;
        self.head_seq = seq;
    }

    /// The position read up to now.
    #[inline]
    pub fn mark(&self) -> Mark {
        Mark {
            pos: self.read_pos,
            seq: self.read_seq,
        }
    }

    /// Releases the records before `mark` (a mark taken earlier from this
    /// consumer). Returns `false`, releasing nothing, if the mark is behind the
    /// released position or ahead of the read position.
    #[inline]
    pub fn release_to(&mut self, mark: Mark) -> bool {
        if mark.pos < self.head || mark.pos > self.read_pos {
            return false;
        }
        if mark.pos != self.head {
            self.publish_head(mark.pos, mark.seq);
        }
        true
    }

    /// Forgets what was read but not released: the next read starts again at the
    /// released position.
    pub fn rewind(&mut self) {
        self.read_pos = self.head;
        self.read_seq = self.head_seq;
    }

    /// The sequence number of the next record to be read.
    pub fn next_seq(&self) -> u64 {
        self.read_seq
    }

    /// The ring's identity (random at creation; zero for a heap ring).
    pub fn ring_id(&self) -> [u8; 16] {
        self.ring_id
    }

    /// The sequence number of the first record not yet released.
    pub fn released_seq(&self) -> u64 {
        self.head_seq
    }

    /// Bytes committed and not yet released, as of the last look at the tail.
    pub fn pending_bytes(&self) -> u64 {
        self.tail_cache - self.head
    }

    /// The data area's size.
    pub fn capacity(&self) -> u64 {
        self.mask + 1
    }

    /// How many times a consumer has attached to this ring, this one included.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The producer's epoch as it recorded it (how many times a producer has
    /// attached). Read from the shared page: the other side (or anyone who can
    /// write the file) can change it, so it is only fit for addressing a
    /// message, never for a decision.
    pub fn producer_epoch(&self) -> u64 {
        self.mem.ctl().producer_role.epoch.load(Relaxed)
    }

    /// Before blocking for records: announces that the consumer is about to
    /// sleep, then looks again. Returns `true` if the caller should now block on
    /// its doorbell (the producer's next commit will see the announcement and
    /// ring it), `false` if a record appeared (the announcement is withdrawn).
    pub fn sleep_prepare(&mut self) -> Result<bool, Error> {
        announce_sleep(&self.mem.ctl().consumer_wait.sleep);
        fence(order::SLEEP_FENCE);
        if self.read_pos != self.tail_cache || self.refresh_tail()? {
            end_sleep(&self.mem.ctl().consumer_wait.sleep);
            return Ok(false);
        }
        Ok(true)
    }

    /// After waking (or giving up sleeping).
    pub fn sleep_done(&mut self) {
        end_sleep(&self.mem.ctl().consumer_wait.sleep);
    }

    /// After releasing: whether the producer waits for space and must be woken.
    /// `true` once per announcement.
    #[inline]
    pub fn take_producer_wakeup(&mut self) -> bool {
        fence(order::SPACE_FENCE);
        take_wakeup(&self.mem.ctl().producer_wait.sleep, &mut self.rung)
    }

    /// Whether the file behind this ring was truncated under us.
    pub fn check(&self) -> Result<(), Error> {
        if self.role.shrunk(&self.mem) {
            return Err(self.corrupt(Corruption::TruncatedWhileMapped));
        }
        Ok(())
    }

    /// Whether a producer holds this ring now (an OS-lock query).
    pub fn producer_alive(&self) -> Result<bool, Error> {
        match &self.role {
            #[cfg(not(loom))]
            RoleHold::File(f) => file::is_locked(self.mem.path(), f, Role::Producer),
            RoleHold::Heap(flags, _) => Ok(flags[0].load(std::sync::atomic::Ordering::Acquire)),
        }
    }
}

/// Records read together, copied into private memory; they are released
/// together.
pub struct Batch<'a> {
    c: &'a mut Consumer,
    descs: Vec<Desc>,
    data: Vec<u8>,
}

impl Batch<'_> {
    /// How many records.
    pub fn len(&self) -> usize {
        self.descs.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.descs.is_empty()
    }

    /// The records, in order.
    pub fn iter(&self) -> impl Iterator<Item = Record<'_>> + '_ {
        self.descs.iter().map(|d| Record {
            seq: d.seq,
            kind: d.kind,
            payload: &self.data[d.off..d.off + d.len as usize],
        })
    }

    /// Releases the whole batch (and anything read before it) with one store.
    pub fn release(self) {
        self.c.release();
    }
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        self.c.batch = std::mem::take(&mut self.descs);
        self.c.batch_data = std::mem::take(&mut self.data);
    }
}

/// A ring in this process's memory: the same algorithm and layout as a file
/// ring, for tests, benchmarks and loom models.
pub struct HeapRing {
    mem: Mem,
    checksum: bool,
    roles: std::sync::Arc<[std::sync::atomic::AtomicBool; 2]>,
}

impl HeapRing {
    /// A new, empty ring. `capacity` is checked like a file ring's, except that
    /// under loom any power of two of at least 32 bytes is accepted so that
    /// models can wrap around after a few records.
    pub fn new(capacity: u64, checksum: bool) -> Result<HeapRing> {
        let ok = if cfg!(loom) {
            capacity.is_power_of_two() && capacity >= 32
        } else {
            capacity_is_valid(capacity)
        };
        if !ok {
            return Err(Error::BadCapacity { capacity });
        }
        Ok(HeapRing {
            mem: Mem::heap(capacity),
            checksum,
            roles: Default::default(),
        })
    }

    fn take(&self, role: Role) -> Result<RoleHold> {
        let i = match role {
            Role::Producer => 0,
            Role::Consumer => 1,
        };
        if self.roles[i].swap(true, std::sync::atomic::Ordering::AcqRel) {
            return Err(Error::RoleHeld {
                path: self.mem.path().to_owned(),
                role,
                pid: std::process::id(),
            });
        }
        Ok(RoleHold::Heap(std::sync::Arc::clone(&self.roles), i))
    }

    /// Attaches the producer (once at a time).
    pub fn producer(&self) -> Result<Producer> {
        let role = self.take(Role::Producer)?;
        Producer::attach(self.mem.share(), self.checksum, role, false)
    }

    /// Attaches the consumer (once at a time; again after the previous one is dropped).
    pub fn consumer(&self) -> Result<Consumer> {
        let role = self.take(Role::Consumer)?;
        Consumer::attach(self.mem.share(), self.checksum, role, [0; 16])
    }
}

/// Creates a ring file (see [`CreateOptions`]).
#[cfg(not(loom))]
pub fn create(path: impl AsRef<Path>, opts: &CreateOptions) -> Result<()> {
    file::create(path.as_ref(), opts)
}
