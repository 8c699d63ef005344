//! The writing side: reserve space for a record, fill it in place, commit it
//! with one store of the tail; padding at the end of the data area; recovery
//! of the sequence when a producer reattaches; checksums and sync-on-commit on
//! their own (cold) path; the wait for space.

use super::record::{check_cursors, parse_checked, Step};
use super::wake::{announce_sleep, end_sleep, take_wakeup};
use super::{attach_role, corrupt_in, extra};
use crate::error::{Corruption, Error, PushError, Result, Role};
use crate::layout::*;
use crate::mem::{Mem, RoleHold};
use crate::sync::{fence, order, Access, Ordering::Relaxed};

/// The writing side of a ring.
pub struct Producer {
    mem: Mem,
    mask: u64,
    /// `record_size(len) == (len + extra) & !7`: header, trailer and rounding.
    extra: u64,
    /// The flags half-word of every record header, in place (`flags << 48`).
    flag_bits: u64,
    /// `reserve` takes its fast path for lengths below this: `max_payload + 1`,
    /// or 0 (no length) on a ring whose records all take the slow paths
    /// (checksums, sync on commit, or a fault seen; see `slow`).
    fast_below: usize,
    tail: u64,
    /// The tail as last stored for the consumer: below `tail` while records
    /// are staged ([`Reservation::stage`]) and not yet published.
    shared_tail: u64,
    head_cache: u64,
    next_seq: u64,
    checksum: bool,
    max_payload: usize,
    sync_on_commit: bool,
    synced_to: u64,
    sticky: Option<std::io::Error>,
    /// The data-area ranges written through, in order: for tests (an
    /// msync's effect cannot be seen short of a crash of the machine).
    #[cfg(test)]
    synced: Vec<(usize, usize)>,
    epoch: u64,
    /// The consumer's last sleep word this producer rang for.
    rung: u64,
    role: RoleHold,
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
    pub(crate) fn attach(
        mem: Mem,
        checksum: bool,
        role: RoleHold,
        sync_on_commit: bool,
    ) -> Result<Producer> {
        let cap = mem.capacity();
        let ctl = mem.ctl();
        let head = ctl.consumer.head.load(order::HEAD_ACQUIRE);
        let tail = ctl.producer.tail.load(Relaxed);
        let bad = corrupt_in(&mem);
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
            fast_below: if checksum || sync_on_commit {
                0
            } else {
                max_payload(cap, checksum) + 1
            },
            tail,
            shared_tail: tail,
            head_cache: head,
            next_seq,
            checksum,
            max_payload: max_payload(cap, checksum),
            sync_on_commit,
            synced_to: tail,
            sticky: None,
            #[cfg(test)]
            synced: Vec::new(),
            epoch,
            rung: 0,
            role,
            mem,
        })
    }

    /// Reserves space for a record of `len` payload bytes and the given kind
    /// (1..=0xFFFE). Never waits: a full ring is [`PushError::Full`].
    ///
    /// ```
    /// # use sairing_ring::HeapRing;
    /// # let ring = HeapRing::new(1 << 12, false)?;
    /// # let (mut tx, mut rx) = (ring.producer()?, ring.consumer()?);
    /// let mut slot = tx.reserve(5, 1)?;      // kind 1, five bytes, filled in place
    /// slot.copy_from_slice(b"hello");
    /// let seq = slot.commit();
    /// assert_eq!(rx.read()?.unwrap().seq(), seq);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn reserve(&mut self, len: usize, kind: u16) -> Result<Reservation<'_>, PushError> {
        if len >= self.fast_below || kind.wrapping_sub(1) >= 0xFFFE {
            self.reserve_check(len, kind)?;
        }
        let size = self.record_size(len);
        let (pad, fits) = self.fit(size);
        if !fits {
            self.refresh_head()?;
            if !self.fit(size).1 {
                return Err(self.full(pad + size));
            }
        }
        let mut access = Access::default();
        if pad != 0 {
            self.write_padding(self.tail & self.mask, pad, &mut access);
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

    /// The bytes a record of `len` payload bytes takes: header, payload,
    /// trailer (with checksums), rounded up to the record alignment.
    #[inline(always)]
    fn record_size(&self, len: usize) -> u64 {
        (len as u64 + self.extra) & !(RECORD_ALIGN as u64 - 1)
    }

    /// Where a record of `size` bytes would go at the tail: the padding before
    /// it (the rest of the data area, when it does not fit before the end), and
    /// whether padding and record fit in what the cached head leaves free.
    #[inline(always)]
    fn fit(&self, size: u64) -> (u64, bool) {
        let cap = self.mask + 1;
        let to_end = cap - (self.tail & self.mask);
        let pad = if size <= to_end { 0 } else { to_end };
        (pad, self.tail + pad + size - self.head_cache <= cap)
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
    ///
    /// ```
    /// # use sairing_ring::HeapRing;
    /// # let ring = HeapRing::new(1 << 12, false)?;
    /// # let (mut tx, mut rx) = (ring.producer()?, ring.consumer()?);
    /// assert!(tx.can_reserve(100)?);
    /// while tx.can_reserve(1000)? {
    ///     tx.push(1, &[0; 1000])?;
    /// }
    /// assert!(matches!(tx.push(1, &[0; 1000]), Err(sairing_ring::PushError::Full { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn can_reserve(&mut self, len: usize) -> Result<bool, Error> {
        let size = self.record_size(len.min(self.max_payload));
        if self.fit(size).1 {
            return Ok(true);
        }
        self.refresh_head()?;
        Ok(self.fit(size).1)
    }

    /// Copies `payload` into a new record and commits it; returns its sequence number.
    ///
    /// ```
    /// # use sairing_ring::HeapRing;
    /// # let ring = HeapRing::new(1 << 12, false)?;
    /// # let (mut tx, mut rx) = (ring.producer()?, ring.consumer()?);
    /// let seq = tx.push(7, b"abc")?;
    /// let r = rx.read()?.unwrap();
    /// assert_eq!((r.seq(), r.kind(), r.payload()), (seq, 7, &b"abc"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
        unsafe { self.mem.write_words(off, w0, seq) }
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
    ///
    /// ```
    /// # use sairing_ring::HeapRing;
    /// # let ring = HeapRing::new(1 << 12, false)?;
    /// # let (mut tx, mut rx) = (ring.producer()?, ring.consumer()?);
    /// let next = tx.next_seq();
    /// assert_eq!(tx.push(1, b"x")?, next);
    /// assert_eq!(tx.next_seq(), next + 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Publishes the records staged since the last publish or commit (one
    /// store of the tail); nothing when there are none.
    #[inline]
    pub fn publish(&mut self) {
        if self.shared_tail != self.tail {
            self.mem
                .ctl()
                .producer
                .tail
                .store(self.tail, order::TAIL_PUBLISH);
            self.shared_tail = self.tail;
            self.note_fault();
        }
    }

    /// After records were written: a truncation of the file under us (the
    /// SIGBUS guard saw a fault) means they went to memory nobody reads;
    /// from now on every record takes the slow path, whose first check
    /// reports it.
    #[inline(always)]
    fn note_fault(&mut self) {
        if self.mem.faulted() {
            self.fast_below = 0;
        }
    }

    /// Whether every record takes the slow paths: checksums or sync on
    /// commit (the paths that do more than the common case), or a fault seen.
    #[inline(always)]
    fn slow(&self) -> bool {
        self.fast_below == 0
    }

    /// The largest payload this ring accepts.
    ///
    /// ```
    /// # use sairing_ring::HeapRing;
    /// # let ring = HeapRing::new(1 << 12, false)?;
    /// # let (mut tx, mut rx) = (ring.producer()?, ring.consumer()?);
    /// let max = tx.max_payload();
    /// assert!(max < 1 << 12);
    /// assert!(tx.reserve(max + 1, 1).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
    ///
    /// ```
    /// # use sairing_ring::HeapRing;
    /// # let ring = HeapRing::new(1 << 12, false)?;
    /// # let (mut tx, mut rx) = (ring.producer()?, ring.consumer()?);
    /// assert!(rx.sleep_prepare()?);          // the consumer found nothing and will sleep
    /// tx.push(1, b"x")?;
    /// assert!(tx.take_consumer_wakeup());    // so the producer rings it, once
    /// assert!(!tx.take_consumer_wakeup());
    /// rx.sleep_done();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn take_consumer_wakeup(&mut self) -> bool {
        fence(order::SLEEP_FENCE);
        take_wakeup(&self.mem.ctl().consumer_wait.sleep, &mut self.rung)
    }

    /// Before blocking for space: announces that the producer waits for `len`
    /// payload bytes of space, then looks again. Returns `true` if the caller
    /// should now block on its doorbell (the consumer will ring it after its next
    /// release), `false` if space appeared (the announcement is withdrawn).
    ///
    /// ```
    /// # use sairing_ring::HeapRing;
    /// # let ring = HeapRing::new(1 << 12, false)?;
    /// # let (mut tx, mut rx) = (ring.producer()?, ring.consumer()?);
    /// while tx.can_reserve(1000)? {
    ///     tx.push(1, &[0; 1000])?;
    /// }
    /// assert!(tx.space_wait_prepare(1000)?); // full: block on the doorbell now
    /// while rx.read()?.is_some() {}
    /// rx.release();
    /// assert!(rx.take_producer_wakeup());    // the consumer's release rings the producer
    /// tx.space_wait_done();
    /// assert!(tx.can_reserve(1000)?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn space_wait_prepare(&mut self, len: usize) -> Result<bool, Error> {
        // Staged records are the consumer's to read before it can make space.
        self.publish();
        let w = &self.mem.ctl().producer_wait.sleep;
        announce_sleep(w);
        fence(order::SPACE_FENCE);
        self.refresh_head()?;
        if self.fit(self.record_size(len.min(self.max_payload))).1 {
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
        let r = match self.sticky.take() {
            Some(e) => Err(e),
            None => self
                .sync_range(self.synced_to, self.tail)
                .and_then(|()| self.mem.sync_header()),
        };
        r.map_err(|source| Error::Io {
            path: self.mem.path().to_owned(),
            op: "msync",
            source,
        })
    }

    fn sync_range(&mut self, from: u64, to: u64) -> std::io::Result<()> {
        // (For heap memory `sync_data` does nothing.)
        for (off, len) in wrapped_ranges(from, to, self.mask + 1) {
            if len > 0 {
                self.mem.sync_data(off, len)?;
                #[cfg(test)]
                self.synced.push((off, len));
            }
        }
        self.synced_to = to;
        Ok(())
    }

    /// Whether a consumer holds this ring now (an OS-lock query: it is `false`
    /// as soon as the consumer's process has died).
    pub fn consumer_alive(&self) -> Result<bool, Error> {
        self.role.alive(&self.mem, Role::Consumer)
    }
}

/// Where the bytes at positions `[from, to)` lie in a data area of `cap`
/// bytes (a power of two), as `(offset, length)` ranges: nothing when `to <=
/// from`, the whole area for a lap or more, else one range, or two when the
/// bytes run past the end and on from the start. Unused ranges have length 0.
fn wrapped_ranges(from: u64, to: u64, cap: u64) -> [(usize, usize); 2] {
    if to <= from {
        return [(0, 0); 2];
    }
    if to - from >= cap {
        return [(0, cap as usize), (0, 0)];
    }
    let a = (from & (cap - 1)) as usize;
    let b = (to & (cap - 1)) as usize;
    if a < b {
        [(a, b - a), (0, 0)]
    } else {
        // Wrapped, or ending exactly at the end (b == 0).
        [(a, cap as usize - a), (0, b)]
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

    /// Completes the record without publishing it: it becomes visible with
    /// the next [`Producer::publish`] or commit, in one store of the tail for
    /// a whole burst (each commit stores it, and a consumer reading as fast
    /// pays a cache-line transfer for each). Returns its sequence number.
    /// With checksums or sync on commit this is a commit.
    ///
    /// ```
    /// # use sairing_ring::HeapRing;
    /// # let ring = HeapRing::new(1 << 12, false)?;
    /// # let (mut tx, mut rx) = (ring.producer()?, ring.consumer()?);
    /// for i in 0..3u8 {
    ///     let mut slot = tx.reserve(1, 1)?;
    ///     slot[0] = i;
    ///     slot.stage();
    /// }
    /// assert!(rx.read()?.is_none()); // staged, not published
    /// tx.publish();
    /// assert_eq!(rx.read()?.unwrap().payload(), [0]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn stage(self) -> u64 {
        if self.p.slow() {
            return self.commit();
        }
        let Reservation {
            p,
            pad,
            size,
            _access,
            ..
        } = self;
        drop(_access);
        p.tail += pad + size;
        let seq = p.next_seq;
        p.next_seq = p.next_seq.wrapping_add(1);
        seq
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
        if p.slow() {
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
        p.shared_tail = new_tail;
        let seq = p.next_seq;
        p.next_seq = p.next_seq.wrapping_add(1);
        p.note_fault();
        seq
    }
}

impl Producer {
    /// Rewrites the length of the reserved record at `roff`; returns its new size.
    #[cold]
    fn shorten(&self, roff: usize, len: usize) -> u64 {
        // SAFETY: the header lies at `roff`, 8-aligned, inside the reservation,
        // which only this producer touches until it is published.
        unsafe {
            let (w0, seq) = self.mem.read_words(roff);
            self.mem
                .write_words(roff, (w0 & !0xFFFF_FFFF) | len as u64, seq);
        }
        self.record_size(len)
    }

    #[cold]
    fn write_crc(&self, roff: usize, len: usize) {
        let n = RECORD_HEADER_LEN + len;
        // SAFETY: the record with its trailer lies inside the reservation, which
        // only this producer touches until it is published.
        unsafe {
            let crc = crc32c::crc32c(self.mem.reserved(roff, n));
            self.mem.write_bytes(roff + n, &crc.to_le_bytes());
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
        unsafe { self.p.mem.reserved(self.roff + RECORD_HEADER_LEN, self.len) }
    }
}

impl std::ops::DerefMut for Reservation<'_> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as for `deref`; `&mut self` makes this the only borrow.
        unsafe {
            self.p
                .mem
                .reserved_mut(self.roff + RECORD_HEADER_LEN, self.len)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::wrapped_ranges;
    use crate::{create, CreateOptions, OpenOptions, Producer};

    /// A sync writes through the data committed since the last one, wrapped
    /// where it wraps, and nothing when nothing was committed.
    #[test]
    fn a_sync_writes_through_what_was_committed_since_the_last() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ring");
        create(&path, &CreateOptions::with_capacity(4096)).unwrap();
        let mut p = Producer::open(&path, &OpenOptions::default()).unwrap();
        let mut c = crate::Consumer::open(&path, &OpenOptions::default()).unwrap();
        p.push(1, &[1; 1000]).unwrap(); // 1,016 bytes at 0
        p.push(1, &[2; 1000]).unwrap(); // at 1,016
        p.sync().unwrap();
        assert_eq!(p.synced, [(0, 2032)]);
        p.sync().unwrap();
        assert_eq!(p.synced, [(0, 2032)], "nothing new, nothing written");
        while c.read().unwrap().is_some() {}
        c.release();
        p.push(1, &[3; 1000]).unwrap(); // at 2,032
        p.push(1, &[4; 2000]).unwrap(); // padding at 3,048, then at 0
        p.sync().unwrap();
        assert_eq!(p.synced[1..], [(2032, 4096 - 2032), (0, 2016)]);
    }

    /// Every span of positions up to two laps long, at every 8-byte start
    /// over three laps of a small area: the ranges cover exactly the offsets
    /// of those positions, each once, inside the area.
    #[test]
    fn wrapped_ranges_cover_exactly_the_positions() {
        let cap = 64u64;
        for from in (0..3 * cap).step_by(8) {
            for to in (0..from + 2 * cap).step_by(8) {
                let mut covered = vec![0u32; cap as usize];
                for (off, len) in wrapped_ranges(from, to, cap) {
                    assert!(off + len <= cap as usize, "{from}..{to}: {off}+{len}");
                    for c in &mut covered[off..off + len] {
                        *c += 1;
                    }
                }
                let mut expected = vec![0u32; cap as usize];
                for pos in from..to.min(from + cap) {
                    expected[(pos % cap) as usize] = 1;
                }
                assert_eq!(covered, expected, "positions {from}..{to}");
            }
        }
    }
}
