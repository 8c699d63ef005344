//! What a read hands out: a record (its payload a private copy), a batch of
//! them, and a mark to release up to later.

use super::Consumer;

#[derive(Clone, Copy)]
pub(super) struct Desc {
    /// Its byte position.
    pub(super) pos: u64,
    /// Where its payload starts: in the data area, then (in a batch) in the
    /// batch's private copy.
    pub(super) off: usize,
    pub(super) len: u32,
    pub(super) kind: u16,
    pub(super) seq: u64,
}

/// A position in the stream that the consumer has read up to, for releasing
/// later (see [`Consumer::release_to`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    /// Byte position (private: a mark is only ever one this consumer made, so
    /// `release_to` can trust it to be a record boundary).
    pub(super) pos: u64,
    /// Sequence number of the next record after it.
    pub(super) seq: u64,
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
    pub(super) seq: u64,
    pub(super) kind: u16,
    pub(super) payload: &'a [u8],
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

/// Records read together, copied into private memory; they are released
/// together.
pub struct Batch<'a> {
    pub(super) c: &'a mut Consumer,
    pub(super) descs: Vec<Desc>,
    pub(super) data: Vec<u8>,
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
