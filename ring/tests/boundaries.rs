//! The end of the data area met exactly: a record that ends on it, and one
//! that starts a header's length before it. Every tail position in the last
//! 64 bytes is tried, with records of every small size, in a 4 KiB ring.

use sairing_ring::layout::record_size;
use sairing_ring::HeapRing;

const CAP: u64 = 4096;

/// Moves an empty ring's cursors to `at` bytes into the data area by pushing
/// and reading records, then pushes records of `lens` payload bytes and reads
/// them back: every one arrives, in order, intact.
fn round_trip_at(at: u64, lens: &[usize]) {
    let ring = HeapRing::new(CAP, false).unwrap();
    let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
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
