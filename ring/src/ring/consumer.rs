//! The reading side: each record copied into private memory before anything
//! judges it (one at a time, or a batch), the common case decided with a few
//! comparisons and everything else by the full rules of `record`; releasing
//! with one store; marks to release up to later; the sleep before a wait.

use super::record::{check_crc, check_cursors, copy_out, parse_at, parse_checked, Step};
use super::wake::{announce_sleep, end_sleep, take_wakeup};
use super::{attach_role, corrupt_in, extra};
use crate::error::{Corruption, Error, Result, Role};
use crate::layout::*;
use crate::mem::{Mem, RoleHold};
use crate::sync::{fence, order, Ordering::Relaxed};

use super::read::Desc;
pub use super::read::{Batch, Mark, Record};

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
    pub(super) batch: Vec<Desc>,
    /// Private memory a batch's records are copied into.
    pub(super) batch_data: Vec<u8>,
    epoch: u64,
    /// The producer's last sleep word this consumer rang for.
    rung: u64,
    ring_id: [u8; 16],
    role: RoleHold,
    /// Records (and padding) judged by the full rules rather than the
    /// common case's few comparisons: for tests that the common case is
    /// taken when it should be (a wrong comparison there only costs speed).
    #[cfg(test)]
    slow_steps: u64,
}

impl Consumer {
    pub(crate) fn attach(
        mem: Mem,
        checksum: bool,
        role: RoleHold,
        ring_id: [u8; 16],
    ) -> Result<Consumer> {
        let cap = mem.capacity();
        let ctl = mem.ctl();
        let head = ctl.consumer.head.load(Relaxed);
        let tail = ctl.producer.tail.load(order::TAIL_ACQUIRE);
        let bad = corrupt_in(&mem);
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
            #[cfg(test)]
            slow_steps: 0,
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
    ///
    /// ```
    /// # use sairing_ring::HeapRing;
    /// # let ring = HeapRing::new(1 << 12, false)?;
    /// # let (mut tx, mut rx) = (ring.producer()?, ring.consumer()?);
    /// tx.push(1, b"one")?;
    /// assert_eq!(rx.read()?.unwrap().payload(), b"one");
    /// assert!(rx.read()?.is_none());          // nothing new: never waits
    /// rx.release();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
            // SAFETY: `to_end >= 16`, so `off + 16 <= capacity`; `off` is
            // 8-aligned (positions are, see `parse_at`).
            let (w0, seq) = unsafe { self.mem.read_words(off) };
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
        const LINE: u64 = 64;
        const AHEAD: u64 = 4 * LINE;
        let end = self.tail_cache.min(from + AHEAD);
        let mut at = from & !(LINE - 1);
        while at < end {
            self.mem.prefetch((at & self.mask) as usize);
            at += LINE;
        }
    }

    #[cold]
    fn next_desc_slow(&mut self) -> Result<Option<Desc>, Error> {
        #[cfg(test)]
        {
            self.slow_steps += 1;
        }
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
    ///
    /// ```
    /// # use sairing_ring::HeapRing;
    /// # let ring = HeapRing::new(1 << 12, false)?;
    /// # let (mut tx, mut rx) = (ring.producer()?, ring.consumer()?);
    /// assert!(!rx.has_next()?);
    /// tx.push(1, b"x")?;
    /// assert!(rx.has_next()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn has_next(&mut self) -> Result<bool, Error> {
        Ok(self.read_pos != self.tail_cache || self.refresh_tail()?)
    }

    /// Reads up to `max` records at once (reloading the producer's cursor at most
    /// once), copied into private memory, to be used together and released
    /// together. A corrupt record ends the batch before it; the error comes
    /// with the next read, or now if the batch would be empty.
    ///
    /// ```
    /// # use sairing_ring::HeapRing;
    /// # let ring = HeapRing::new(1 << 12, false)?;
    /// # let (mut tx, mut rx) = (ring.producer()?, ring.consumer()?);
    /// for i in 0..3u8 {
    ///     tx.push(1, &[i])?;
    /// }
    /// let batch = rx.read_batch(16)?;
    /// let bytes: Vec<u8> = batch.iter().map(|r| r.payload()[0]).collect();
    /// assert_eq!(bytes, [0, 1, 2]);
    /// batch.release();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
    ///
    /// ```
    /// # use sairing_ring::HeapRing;
    /// # let ring = HeapRing::new(1 << 12, false)?;
    /// # let (mut tx, mut rx) = (ring.producer()?, ring.consumer()?);
    /// tx.push(1, b"x")?;
    /// rx.read()?;
    /// assert_eq!(rx.released_seq(), rx.next_seq() - 1);
    /// rx.release();                            // the producer may reuse its space now
    /// assert_eq!(rx.released_seq(), rx.next_seq());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
    ///
    /// ```
    /// # use sairing_ring::HeapRing;
    /// # let ring = HeapRing::new(1 << 12, false)?;
    /// # let (mut tx, mut rx) = (ring.producer()?, ring.consumer()?);
    /// tx.push(1, b"a")?;
    /// tx.push(1, b"b")?;
    /// rx.read()?;
    /// let after_a = rx.mark();
    /// rx.read()?;
    /// assert!(rx.release_to(after_a));        // `a` is released, `b` is not
    /// assert_eq!(rx.released_seq(), after_a.seq());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
    ///
    /// ```
    /// # use sairing_ring::HeapRing;
    /// # let ring = HeapRing::new(1 << 12, false)?;
    /// # let (mut tx, mut rx) = (ring.producer()?, ring.consumer()?);
    /// tx.push(1, b"a")?;
    /// rx.read()?;
    /// rx.rewind();                             // not released: it is read again
    /// assert_eq!(rx.read()?.unwrap().payload(), b"a");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
    ///
    /// ```
    /// # use sairing_ring::HeapRing;
    /// # let ring = HeapRing::new(1 << 12, false)?;
    /// # let (mut tx, mut rx) = (ring.producer()?, ring.consumer()?);
    /// assert_eq!(rx.pending_bytes(), 0);
    /// tx.push(1, b"abc")?;
    /// rx.has_next()?;                          // looks at the producer's cursor
    /// assert!(rx.pending_bytes() >= 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
    ///
    /// ```
    /// # use sairing_ring::HeapRing;
    /// # let ring = HeapRing::new(1 << 12, false)?;
    /// # let (mut tx, mut rx) = (ring.producer()?, ring.consumer()?);
    /// if rx.sleep_prepare()? {
    ///     // Block on the doorbell here; the producer's next commit rings it.
    ///     rx.sleep_done();
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
        self.role.alive(&self.mem, Role::Producer)
    }
}

#[cfg(test)]
mod tests {
    use crate::HeapRing;

    /// Ordinary records, one of them ending exactly at the end of the data
    /// area, and the empty ring after them, are read by the common case; a
    /// padding record is not.
    #[test]
    fn ordinary_records_take_the_common_case() {
        let ring = HeapRing::new(4096, false).unwrap();
        let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
        // 16 records of 256 bytes fill the data area exactly.
        for round in 0..3u8 {
            for i in 0..16u8 {
                tx.push(1 + i as u16, &[round ^ i; 240]).unwrap();
            }
            for i in 0..16u8 {
                let r = rx.read().unwrap().expect("a record");
                assert_eq!(
                    (r.kind(), r.payload()),
                    (1 + i as u16, &[round ^ i; 240][..])
                );
            }
            assert!(rx.read().unwrap().is_none());
            rx.release();
        }
        assert_eq!(rx.slow_steps, 0, "an ordinary record took the full rules");
        // A record that does not fit before the end: padding first, which
        // only the full rules handle.
        // At offset 0: records of 120 and 2,016 bytes; a second of 2,016
        // does not fit in the 1,960 left before the end.
        for len in [100, 2000, 2000] {
            tx.push(1, &vec![7; len]).unwrap();
            assert_eq!(rx.read().unwrap().unwrap().payload().len(), len);
            rx.release();
        }
        assert!(rx.read().unwrap().is_none());
        assert_eq!(rx.slow_steps, 1);
    }
}
