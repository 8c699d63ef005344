//! Looking at a ring without taking part in it: no role lock, a read-only
//! mapping, and records copied out. For operator tools (`sairing inspect`,
//! `dump`, `tail`): neither side is slowed or blocked, and a reader that falls
//! behind is told so instead of reading bytes that were reused.

use std::path::{Path, PathBuf};

use crate::error::{Corruption, Error, Result, Role};
use crate::file;
use crate::layout::{StaticHeader, CRC_LEN, FLAG_CHECKSUM, RECORD_ALIGN, RECORD_HEADER_LEN};
use crate::mem::Mem;
use crate::ring::{check_crc, check_cursors, copy_out, parse_at, Step};
use crate::sync::Ordering::{Acquire, Relaxed};

/// A read-only view of a ring file.
pub struct Observer {
    mem: Mem,
    file: std::fs::File,
    header: StaticHeader,
    path: PathBuf,
}

/// The control block, as read now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursors {
    /// First unreleased byte position.
    pub head: u64,
    /// Sequence number of the record at `head` (or the next one).
    pub head_seq: u64,
    /// End of the last committed record.
    pub tail: u64,
    /// The consumer's sleep word (`generation << 1 | asleep`).
    pub consumer_sleep: u64,
    /// The producer's sleep word.
    pub producer_sleep: u64,
    /// Pid of the last producer to attach.
    pub producer_pid: u32,
    /// Producer attaches so far.
    pub producer_epoch: u64,
    /// Pid of the last consumer to attach.
    pub consumer_pid: u32,
    /// Consumer attaches so far.
    pub consumer_epoch: u64,
}

/// A record, copied out of the ring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// Its byte position.
    pub pos: u64,
    /// Its sequence number.
    pub seq: u64,
    /// Its kind.
    pub kind: u16,
    /// Its payload.
    pub payload: Vec<u8>,
    /// The position of the next record.
    pub next: u64,
}

/// What is at a position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Look {
    /// A committed record.
    Record(Observed),
    /// Nothing committed yet at or after this position.
    End,
    /// The position was released and the producer is close to (or past)
    /// reusing it: the observer fell behind. Continue from `head`.
    Lapped {
        /// The consumer's position now.
        head: u64,
    },
}

impl Observer {
    /// Opens `path` for observation. Fails, naming the problem, on a damaged file.
    pub fn open(path: impl AsRef<Path>) -> Result<Observer> {
        let path = path.as_ref();
        let o = file::open_readonly(path)?;
        Ok(Observer {
            mem: o.mem,
            file: o.file,
            header: o.header,
            path: path.to_owned(),
        })
    }

    /// The static header.
    pub fn header(&self) -> &StaticHeader {
        &self.header
    }

    /// The control block now.
    pub fn cursors(&self) -> Cursors {
        let c = self.mem.ctl();
        Cursors {
            head: c.consumer.head.load(Acquire),
            head_seq: c.consumer.head_seq.load(Relaxed),
            tail: c.producer.tail.load(Acquire),
            consumer_sleep: c.consumer_wait.sleep.load(Relaxed),
            producer_sleep: c.producer_wait.sleep.load(Relaxed),
            producer_pid: c.producer_role.pid.load(Relaxed),
            producer_epoch: c.producer_role.epoch.load(Relaxed),
            consumer_pid: c.consumer_role.pid.load(Relaxed),
            consumer_epoch: c.consumer_role.epoch.load(Relaxed),
        }
    }

    /// The control block, checked by the same rules the ring's sides apply.
    pub fn check_cursors(&self) -> Result<Cursors> {
        let c = self.cursors();
        check_cursors(c.head, c.tail, self.mem.capacity()).map_err(|p| self.corrupt(p))?;
        Ok(c)
    }

    /// Whether a producer and a consumer hold their roles now (OS locks).
    pub fn roles_alive(&self) -> Result<(bool, bool)> {
        Ok((
            file::is_locked(&self.path, &self.file, Role::Producer)?,
            file::is_locked(&self.path, &self.file, Role::Consumer)?,
        ))
    }

    /// Whether the file has shrunk under the mapping.
    pub fn check(&self) -> Result<()> {
        let shrunk = self.mem.faulted()
            || self
                .file
                .metadata()
                .map(|m| m.len() < crate::layout::HEADER_LEN as u64 + self.mem.capacity())
                .unwrap_or(false);
        if shrunk {
            return Err(self.corrupt(Corruption::TruncatedWhileMapped));
        }
        Ok(())
    }

    fn corrupt(&self, problem: Corruption) -> Error {
        Error::Corrupt {
            path: self.path.clone(),
            problem,
        }
    }

    /// The record at `pos` or the first one after it (skipping padding), copied.
    /// `pos` must be a record boundary: `head`, or a previous record's `next`.
    pub fn read_at(&self, mut pos: u64) -> Result<Look> {
        let checksum = self.header.flags & FLAG_CHECKSUM != 0;
        let ctl = self.mem.ctl();
        loop {
            let head = ctl.consumer.head.load(Acquire);
            let tail = ctl.producer.tail.load(Acquire);
            check_cursors(head, tail, self.mem.capacity()).map_err(|p| self.corrupt(p))?;
            if pos >= crate::ring::MAX_POSITION || !pos.is_multiple_of(RECORD_ALIGN as u64) {
                return Err(self.corrupt(Corruption::BadCursors {
                    head,
                    tail,
                    capacity: self.mem.capacity(),
                    why: "the position asked for is not a record boundary",
                }));
            }
            if pos + self.mem.capacity() / 2 <= tail && pos < head {
                return Ok(Look::Lapped { head });
            }
            if pos >= tail {
                return Ok(Look::End);
            }
            let step = parse_at(&self.mem, pos, tail, checksum);
            let copied = match step {
                Ok(Step::Skip(to)) => {
                    pos = to;
                    continue;
                }
                Ok(Step::Record(h, size)) => {
                    let off = (pos & (self.mem.capacity() - 1)) as usize + RECORD_HEADER_LEN;
                    let mut payload = Vec::new();
                    // The bytes may be changing (the record may be released and
                    // reused meanwhile); the copy is judged below and discarded
                    // if so.
                    let n = h.len as usize + if checksum { CRC_LEN } else { 0 };
                    copy_out(&self.mem, off, n, &mut payload);
                    if self.mem.faulted() {
                        // Truncated under the copy: it holds the guard's zeros.
                        return Err(self.corrupt(Corruption::TruncatedWhileMapped));
                    }
                    let crc = if checksum {
                        check_crc(h, &payload, pos)
                    } else {
                        Ok(())
                    };
                    payload.truncate(h.len as usize);
                    crc.map(|()| Observed {
                        pos,
                        seq: h.seq,
                        kind: h.kind,
                        payload,
                        next: pos + size,
                    })
                }
                Err(e) => Err(e),
            };
            // Could the bytes have been reused while we copied them? Only once
            // the consumer has released them (head > pos) *and* the producer has
            // come round the ring to them. A released record is still taken when
            // the producer is more than half a ring away from its bytes (no
            // single reservation spans more than half the ring) and its header is
            // the same after the copy as before.
            let head = ctl.consumer.head.load(Acquire);
            if head > pos {
                let tail_now = ctl.producer.tail.load(Acquire);
                let same_header = match (
                    &copied,
                    parse_at(&self.mem, pos, tail_now.max(pos + 1), checksum),
                ) {
                    (Ok(o), Ok(Step::Record(h, _))) => h.seq == o.seq,
                    _ => false,
                };
                if !same_header || tail_now >= pos + self.mem.capacity() / 2 {
                    return Ok(Look::Lapped { head });
                }
            }
            return match copied {
                Ok(o) => Ok(Look::Record(o)),
                Err(p) => {
                    self.check()?;
                    Err(self.corrupt(p))
                }
            };
        }
    }
}
