//! What is read from the data area is judged here: cursors against each other
//! and the capacity, each record header against the space it claims and the
//! ring's checksum setting, and a record's CRC on its private copy. The
//! consumer, the producer's recovery and the observer share these rules.

use crate::error::Corruption;
use crate::layout::*;
use crate::mem::Mem;

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
    // SAFETY: `to_end >= 16` here, so `off + 16 <= capacity`; `off` is a
    // position masked by the capacity, and positions are 8-aligned (checked
    // with the cursors).
    let (w0, seq) = unsafe { mem.read_words(off) };
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
#[inline(always)]
pub(crate) fn copy_out(mem: &Mem, off: usize, len: usize, dst: &mut Vec<u8>) {
    let _access = mem.tracker().read(off, len);
    // SAFETY: callers pass a range `parse_at` found inside the data area (a
    // record's payload, with its trailer), so `off + len <= capacity`.
    unsafe { mem.copy_out(off, len, dst) }
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
