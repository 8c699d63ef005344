//! The read-only observer: it reads committed records without a role, keeps
//! reading released ones while the producer is far from reusing them, and says
//! so when it has fallen behind instead of returning reused bytes.

use sairing_ring::{create, Consumer, CreateOptions, Look, Observer, Producer};

#[test]
fn observes_without_consuming_and_notices_when_lapped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ring");
    create(&path, &CreateOptions::with_capacity(4096)).unwrap();
    let mut p = Producer::open(&path, &Default::default()).unwrap();
    let mut c = Consumer::open(&path, &Default::default()).unwrap();
    let o = Observer::open(&path).unwrap();
    for i in 0..4u8 {
        p.push(1, &[i; 40]).unwrap();
    }
    // Every committed record, in order, copied; the consumer is not disturbed.
    let start = o.cursors().head;
    let mut pos = start;
    for i in 0..4u8 {
        match o.read_at(pos).unwrap() {
            Look::Record(r) => {
                assert_eq!((r.seq, r.payload.as_slice()), (i as u64 + 1, &[i; 40][..]));
                pos = r.next;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(o.read_at(pos).unwrap(), Look::End);
    assert_eq!(c.read().unwrap().unwrap().seq(), 1);
    // Released, but the producer is far from reusing the space: still readable.
    while c.read().unwrap().is_some() {}
    c.release();
    assert!(matches!(o.read_at(start).unwrap(), Look::Record(r) if r.seq == 1));
    // The producer comes round the ring: the observer is told it fell behind,
    // and where to go on from.
    for i in 0..200u8 {
        p.push(2, &[i; 40]).unwrap();
        while c.read().unwrap().is_some() {}
        c.release();
    }
    match o.read_at(start).unwrap() {
        Look::Lapped { head } => assert_eq!(head, o.cursors().head),
        other => panic!("read reused space: {other:?}"),
    }
    // An observer needs no role, so it works beside both holders; and it cannot
    // write: its mapping is read-only.
    assert_eq!(o.roles_alive().unwrap(), (true, true));
}

/// Cursors another process wrote near 2^64, and positions that are not record
/// boundaries, are errors, never a panic or a read elsewhere. (Found in review:
/// sums of such positions overflowed, a panic in debug builds.)
#[test]
fn hostile_cursors_and_positions_are_errors() {
    use std::os::unix::fs::FileExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ring");
    create(&path, &CreateOptions::with_capacity(4096)).unwrap();
    let o = Observer::open(&path).unwrap();
    assert!(o.read_at(3).is_err(), "a misaligned position");
    assert!(o.read_at(u64::MAX - 7).is_err(), "a position near 2^64");
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    let huge = (u64::MAX - 7).to_le_bytes();
    f.write_all_at(&huge, 128).unwrap(); // tail
    f.write_all_at(&huge, 256).unwrap(); // head
    assert!(o.read_at(u64::MAX - 7).is_err());
    assert!(o.read_at(0).is_err());
}
