//! The end of the data area met exactly: a record that ends on it, and one
//! that starts a header's length before it. Every tail position in the last
//! 64 bytes is tried, with records of every small size, in a 4 KiB ring.

use sairing_ring::layout::record_size;
use sairing_ring::{create, Consumer, CreateOptions, HeapRing, Look, Observer, Producer};

const CAP: u64 = 4096;

/// Moves an empty ring's cursors to `at` bytes into the data area by pushing
/// and reading records, then pushes records of `lens` payload bytes and reads
/// them back: every one arrives, in order, intact.
fn round_trip_at(at: u64, lens: &[usize]) {
    let ring = HeapRing::new(CAP, false).unwrap();
    let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
    advance(&mut tx, &mut rx, at);
    let mut seqs = Vec::new();
    for (i, &len) in lens.iter().enumerate() {
        seqs.push(tx.push(2, &vec![i as u8; len]).unwrap());
    }
    for (i, &len) in lens.iter().enumerate() {
        let r = rx
            .read()
            .unwrap()
            .unwrap_or_else(|| panic!("record {i} at {at}"));
        assert_eq!(
            (r.seq(), r.kind(), r.payload()),
            (seqs[i], 2, &vec![i as u8; len][..]),
            "record {i} of {lens:?} after {at} bytes"
        );
    }
    assert!(rx.read().unwrap().is_none());
    rx.release();
}

#[test]
fn records_meeting_the_end_of_the_data_area_are_read() {
    for before_end in (8..=64).step_by(8) {
        for len in 0..=40 {
            // One record where the tail is, then one more (wrapping, or
            // after a padding record or the gap too short for one).
            round_trip_at(CAP - before_end, &[len, len]);
        }
    }
}

/// Moves an empty ring's cursors `at` bytes on by pushing, reading and
/// releasing records.
fn advance(tx: &mut Producer, rx: &mut Consumer, at: u64) {
    let mut left = at;
    while left > 0 {
        // The largest record that leaves a whole record (or nothing) after it.
        let size = if left >= 2048 { 1024 } else { left };
        let len = size as usize - record_size(0, false);
        assert_eq!(record_size(len, false) as u64, size);
        tx.push(1, &vec![0; len]).unwrap();
        rx.read().unwrap().expect("the filler");
        rx.release();
        left -= size;
    }
}

/// The observer walks every record with the full parser (the consumer's
/// fast path does not): a record of a header's size that ends on the end of
/// the data area is a record to it, not the gap there.
#[test]
fn the_observer_reads_a_header_sized_record_ending_on_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ring");
    create(&path, &CreateOptions::with_capacity(CAP)).unwrap();
    let mut tx = Producer::open(&path, &Default::default()).unwrap();
    let mut rx = Consumer::open(&path, &Default::default()).unwrap();
    advance(&mut tx, &mut rx, CAP - record_size(0, false) as u64);
    let a = tx.push(3, &[]).unwrap();
    let b = tx.push(4, b"next").unwrap();
    let o = Observer::open(&path).unwrap();
    let mut pos = o.cursors().head;
    let mut seen = Vec::new();
    loop {
        match o.read_at(pos).unwrap() {
            Look::Record(r) => {
                seen.push((r.seq, r.kind, r.payload));
                pos = r.next;
            }
            Look::End => break,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(seen, [(a, 3, vec![]), (b, 4, b"next".to_vec())]);
}
