//! Property test: random sequences of reserve/commit/stage/publish/abandon/read/
//! batch/release/rewind/reopen against a reference model built on a `VecDeque`, on a real
//! file-backed ring of 4 KiB so that wrap-around, padding, full and empty all
//! happen often. The model predicts exactly when the ring is full (from the
//! format's padding rule), which records come out and in what order, and where
//! a reopened side resumes.

use std::collections::VecDeque;

use proptest::prelude::*;
use sairing_ring::layout::{max_payload, record_size};
use sairing_ring::{create, Consumer, CreateOptions, OpenOptions, Producer, PushError};

const CAP: u64 = 4096;

#[derive(Debug, Clone)]
enum Op {
    Push {
        len: usize,
        kind: u16,
    },
    /// Reserve, fill and stage (published later, with the next commit or
    /// publish; lost if the producer goes first).
    Stage {
        len: usize,
    },
    Publish,
    Abandon {
        len: usize,
    },
    Read,
    Batch(usize),
    Release,
    Rewind,
    ReopenConsumer,
    ReopenProducer,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0usize..700, 1u16..0xFFFF).prop_map(|(len, kind)| Op::Push { len, kind }),
        // Kind 0 (never-written memory) and the padding kind are refused.
        1 => (0usize..700, prop_oneof![Just(0u16), Just(0xFFFF)])
            .prop_map(|(len, kind)| Op::Push { len, kind }),
        1 => (1900usize..2100, 1u16..10).prop_map(|(len, kind)| Op::Push { len, kind }),
        3 => (0usize..500).prop_map(|len| Op::Stage { len }),
        1 => Just(Op::Publish),
        1 => (0usize..300).prop_map(|len| Op::Abandon { len }),
        5 => Just(Op::Read),
        2 => (1usize..8).prop_map(Op::Batch),
        3 => Just(Op::Release),
        1 => Just(Op::Rewind),
        1 => Just(Op::ReopenConsumer),
        1 => Just(Op::ReopenProducer),
    ]
}

struct Entry {
    seq: u64,
    kind: u16,
    payload: Vec<u8>,
    advance: u64,
}

struct Model {
    checksum: bool,
    tail: u64,
    head: u64,
    queue: VecDeque<Entry>,
    /// How many of `queue` the consumer can see (the rest are staged).
    published: usize,
    read: usize,
    next_seq: u64,
}

impl Model {
    /// `Some(advance)` if a record of `len` fits now, by the format's rules.
    fn fits(&self, len: usize) -> Option<u64> {
        let size = record_size(len, self.checksum) as u64;
        let to_end = CAP - self.tail % CAP;
        let pad = if size <= to_end { 0 } else { to_end };
        (self.tail + pad + size - self.head <= CAP).then_some(pad + size)
    }
}

fn payload(seq: u64, len: usize) -> Vec<u8> {
    (0..len).map(|i| (seq as usize * 131 + i) as u8).collect()
}

fn run(ops: Vec<Op>, checksum: bool) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ring");
    create(
        &path,
        &CreateOptions {
            capacity: CAP,
            checksums: checksum,
            group: None,
        },
    )
    .unwrap();
    let opts = OpenOptions::default();
    let mut p = Some(Producer::open(&path, &opts).unwrap());
    let mut c = Some(Consumer::open(&path, &opts).unwrap());
    let max = max_payload(CAP, checksum);
    let mut m = Model {
        checksum,
        tail: 0,
        head: 0,
        queue: VecDeque::new(),
        published: 0,
        read: 0,
        next_seq: 1,
    };
    for op in ops {
        let prod = p.as_mut().unwrap();
        let cons = c.as_mut().unwrap();
        match op {
            Op::Push { len, kind } => {
                let r = prod.push(kind, &payload(m.next_seq, len));
                if len > max {
                    prop_assert!(matches!(r, Err(PushError::TooLarge { .. })), "{r:?}");
                } else if kind == 0 || kind == 0xFFFF {
                    prop_assert!(matches!(r, Err(PushError::BadKind(_))), "{r:?}");
                } else {
                    match m.fits(len) {
                        Some(advance) => {
                            prop_assert_eq!(r.unwrap(), m.next_seq);
                            m.queue.push_back(Entry {
                                seq: m.next_seq,
                                kind,
                                payload: payload(m.next_seq, len),
                                advance,
                            });
                            m.tail += advance;
                            m.next_seq += 1;
                            m.published = m.queue.len(); // staged ones too
                        }
                        None => prop_assert!(matches!(r, Err(PushError::Full { .. })), "{r:?}"),
                    }
                }
            }
            Op::Stage { len } => {
                let r = prod.reserve(len, 2);
                prop_assert_eq!(r.is_ok(), m.fits(len).is_some());
                if let Ok(mut r) = r {
                    r.copy_from_slice(&payload(m.next_seq, len));
                    prop_assert_eq!(r.stage(), m.next_seq);
                    let advance = m.fits(len).expect("fits");
                    m.queue.push_back(Entry {
                        seq: m.next_seq,
                        kind: 2,
                        payload: payload(m.next_seq, len),
                        advance,
                    });
                    m.tail += advance;
                    m.next_seq += 1;
                    if checksum {
                        m.published = m.queue.len(); // staging is committing
                    }
                }
            }
            Op::Publish => {
                prod.publish();
                m.published = m.queue.len();
            }
            Op::Abandon { len } => {
                let r = prod.reserve(len, 1);
                prop_assert_eq!(r.is_ok(), m.fits(len).is_some());
                if let Ok(mut r) = r {
                    r.fill(0xAB);
                }
            }
            Op::Read => {
                // A mark names the sequence number of the record after it.
                let mark = cons.mark();
                let r = cons.read().unwrap();
                match m.queue.get(m.read).filter(|_| m.read < m.published) {
                    None => prop_assert!(r.is_none()),
                    Some(e) => {
                        let r = r.expect("model has a record");
                        prop_assert_eq!(mark.seq(), e.seq);
                        prop_assert_eq!(
                            (r.seq(), r.kind(), r.payload()),
                            (e.seq, e.kind, &e.payload[..])
                        );
                        m.read += 1;
                    }
                }
            }
            Op::Batch(n) => {
                let b = cons.read_batch(n).unwrap();
                let left = m.published - m.read;
                prop_assert!(b.len() <= n.min(left));
                prop_assert_eq!(b.is_empty(), left == 0);
                for (r, e) in b.iter().zip(m.queue.iter().skip(m.read)) {
                    prop_assert_eq!(
                        (r.seq(), r.kind(), r.payload()),
                        (e.seq, e.kind, &e.payload[..])
                    );
                }
                m.read += b.len();
            }
            Op::Release => {
                cons.release();
                for e in m.queue.drain(..m.read) {
                    m.head += e.advance;
                }
                m.published -= m.read;
                m.read = 0;
                prop_assert_eq!(
                    cons.released_seq(),
                    m.queue.front().map_or(m.next_seq, |e| e.seq)
                );
            }
            Op::Rewind => {
                cons.rewind();
                m.read = 0;
            }
            Op::ReopenConsumer => {
                drop(c.take()); // release the role before reopening
                c = Some(Consumer::open(&path, &opts).unwrap());
                m.read = 0;
                prop_assert_eq!(
                    c.as_ref().unwrap().next_seq(),
                    m.queue.front().map_or(m.next_seq, |e| e.seq)
                );
            }
            Op::ReopenProducer => {
                drop(p.take());
                // What it staged and never published is gone.
                for e in m.queue.drain(m.published..) {
                    m.tail -= e.advance;
                    m.next_seq -= 1;
                }
                p = Some(Producer::open(&path, &opts).unwrap());
                prop_assert_eq!(p.as_ref().unwrap().next_seq(), m.next_seq);
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn ring_agrees_with_vecdeque(ops in proptest::collection::vec(op(), 1..400)) {
        run(ops, false)?;
    }

    #[test]
    fn ring_with_checksums_agrees_with_vecdeque(ops in proptest::collection::vec(op(), 1..400)) {
        run(ops, true)?;
    }
}

/// A new ring file of `CAP` bytes, its producer and its consumer.
fn fresh() -> (tempfile::TempDir, Producer, Consumer) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ring");
    create(&path, &CreateOptions::with_capacity(CAP)).unwrap();
    let p = Producer::open(&path, &OpenOptions::default()).unwrap();
    let c = Consumer::open(&path, &OpenOptions::default()).unwrap();
    (dir, p, c)
}

/// Kind 0 and the padding kind are refused, whether the ring is empty, full
/// or has room, by `reserve` as by `push`, and nothing is written.
#[test]
fn reserved_kinds_are_refused() {
    let (_dir, mut p, mut c) = fresh();
    for kind in [0u16, 0xFFFF] {
        assert!(matches!(p.push(kind, b"x"), Err(PushError::BadKind(k)) if k == kind));
        assert!(matches!(p.reserve(1, kind), Err(PushError::BadKind(k)) if k == kind));
    }
    assert!(c.read().unwrap().is_none(), "a refused record was written");
    assert_eq!(
        p.push(0xFFFE, b"x").unwrap(),
        1,
        "the highest kind is valid"
    );
    assert_eq!(c.read().unwrap().unwrap().kind(), 0xFFFE);
}

/// A reservation reads back what was written into it and knows its sequence
/// number; committed shorter than reserved, its record is that long and the
/// next one follows it directly; committed longer, it keeps the length
/// reserved.
#[test]
fn a_reservation_reads_back_and_commits_shorter() {
    let (_dir, mut p, mut c) = fresh();
    p.push(1, b"first").unwrap();
    assert_eq!(c.read().unwrap().unwrap().seq(), 1);
    c.release();
    let mut r = p.reserve(100, 3).unwrap();
    r[..5].copy_from_slice(b"hello");
    let view: &[u8] = &r;
    assert_eq!((view.len(), &view[..5]), (100, &b"hello"[..]));
    let seq = r.seq();
    assert_eq!(seq, 2);
    assert_eq!(r.commit_len(5), seq);
    let mut r = p.reserve(8, 4).unwrap();
    r.copy_from_slice(b"abcdefgh");
    assert_eq!(r.commit_len(50), seq + 1);
    assert_eq!(p.push(5, b"next").unwrap(), seq + 2);
    let mut got = Vec::new();
    while let Some(rec) = c.read().unwrap() {
        got.push((rec.seq(), rec.kind(), rec.payload().to_vec()));
    }
    assert_eq!(
        got,
        [
            (seq, 3, b"hello".to_vec()),
            (seq + 1, 4, b"abcdefgh".to_vec()),
            (seq + 2, 5, b"next".to_vec())
        ]
    );
    // 5 + 16 rounded to 24, 8 + 16, 4 + 16 rounded to 24: nothing between.
    assert_eq!(c.pending_bytes(), 24 + 24 + 24);
}

/// Each side counts the attachments to its role, and sees whether the
/// other side is held.
#[test]
fn epochs_and_the_other_side() {
    let (dir, p, c) = fresh();
    assert_eq!((p.epoch(), c.epoch(), c.producer_epoch()), (1, 1, 1));
    assert!(p.consumer_alive().unwrap());
    assert!(c.producer_alive().unwrap());
    drop(p);
    assert!(!c.producer_alive().unwrap());
    let path = dir.path().join("ring");
    let p = Producer::open(&path, &OpenOptions::default()).unwrap();
    assert_eq!((p.epoch(), c.producer_epoch()), (2, 2));
    drop(c);
    assert!(!p.consumer_alive().unwrap());
    let c = Consumer::open(&path, &OpenOptions::default()).unwrap();
    assert_eq!(c.epoch(), 2);
}

/// `has_next` says whether a record is ready (looking at the producer's
/// cursor only when the cached one says there is none) and reads nothing;
/// `pending_bytes` counts what is committed and not released, from the
/// released position.
#[test]
fn has_next_and_pending_bytes() {
    let (_dir, mut p, mut c) = fresh();
    assert!(!c.has_next().unwrap());
    p.push(1, b"abc").unwrap(); // 24 bytes
    p.push(1, &[0; 30]).unwrap(); // 48 bytes
    assert!(c.has_next().unwrap());
    assert!(c.has_next().unwrap(), "has_next read something");
    assert_eq!(c.pending_bytes(), 72);
    assert_eq!(c.read().unwrap().unwrap().payload(), b"abc");
    c.release();
    assert_eq!(c.pending_bytes(), 48);
    assert!(c.has_next().unwrap(), "one record is still unread");
    c.read().unwrap().unwrap();
    assert!(!c.has_next().unwrap());
    assert_eq!(c.pending_bytes(), 48, "read but not released");
    c.release();
    assert_eq!(c.pending_bytes(), 0);
}

/// `release_to` releases exactly up to a mark, and refuses (releasing
/// nothing) a mark behind what is released or ahead of what is read.
#[test]
fn release_to_a_mark() {
    let (_dir, mut p, mut c) = fresh();
    for i in 0..4u8 {
        p.push(1, &[i; 8]).unwrap(); // 24 bytes each
    }
    let start = c.mark();
    c.read().unwrap().unwrap();
    let after_one = c.mark();
    c.read().unwrap().unwrap();
    let after_two = c.mark();
    assert!(c.release_to(after_one));
    assert_eq!(c.released_seq(), 2);
    assert_eq!(c.pending_bytes(), 72);
    assert!(!c.release_to(start), "a mark behind the released position");
    assert_eq!(c.released_seq(), 2);
    assert!(c.release_to(after_one), "the released position itself");
    c.read().unwrap().unwrap();
    c.read().unwrap().unwrap();
    let end = c.mark();
    c.rewind();
    assert!(!c.release_to(end), "a mark ahead of what is read");
    assert_eq!(c.released_seq(), 2);
    c.read().unwrap().unwrap();
    assert_eq!(c.mark(), after_two);
    assert!(c.release_to(after_two));
    assert_eq!((c.released_seq(), c.pending_bytes()), (3, 48));
}

/// A file ring has an identity of its own, random at creation and the same
/// for every side that opens that file.
#[test]
fn a_file_ring_has_an_identity() {
    let (dir, _p, c) = fresh();
    let id = c.ring_id();
    assert_ne!(id, [0; 16]);
    assert_ne!(id, [1; 16]);
    drop(c);
    let c = Consumer::open(dir.path().join("ring"), &OpenOptions::default()).unwrap();
    assert_eq!(c.ring_id(), id);
    let (_other_dir, _q, other) = fresh();
    assert_ne!(other.ring_id(), id);
}

/// What the sides report of the ring: its data area, and the largest payload
/// (half the data area less a header, so that any record fits after padding),
/// which is accepted exactly and refused one byte over.
#[test]
fn capacity_and_largest_payload() {
    let (_dir, mut p, mut c) = fresh();
    assert_eq!((p.capacity(), c.capacity()), (4096, 4096));
    assert_eq!(p.max_payload(), 2032);
    let max = p.max_payload();
    assert!(matches!(
        p.reserve(max + 1, 1),
        Err(PushError::TooLarge {
            len: 2033,
            max: 2032
        })
    ));
    p.push(1, &vec![5; max]).unwrap();
    assert_eq!(c.read().unwrap().unwrap().payload().len(), max);
}

/// The unit cases the random ones are built on, spelled out.
#[test]
fn exact_fill_wrap_and_padding() {
    let (_dir, mut p, mut c) = fresh();
    // Empty: nothing to read.
    assert!(c.read().unwrap().is_none());
    // Exactly full: 4096 / 256 = 16 records of 240 payload bytes.
    for i in 0..16 {
        assert_eq!(p.push(1, &[i; 240]).unwrap(), i as u64 + 1);
    }
    assert!(matches!(
        p.push(1, &[]),
        Err(PushError::Full {
            needed: 16,
            free: 0
        })
    ));
    // Release one: exactly one more fits, at the start of the data area.
    assert_eq!(c.read().unwrap().unwrap().payload(), &[0u8; 240]);
    c.release();
    assert!(matches!(p.push(1, &[0; 241]), Err(PushError::Full { .. })));
    p.push(1, &[99; 240]).unwrap();
    // A record that does not fit at the end gets a padding record before it.
    for _ in 0..15 {
        c.read().unwrap().unwrap();
    }
    assert_eq!(c.read().unwrap().unwrap().payload(), &[99u8; 240]);
    c.release();
    p.push(1, &[1; 1000]).unwrap(); // at 256..1272
    p.push(1, &[2; 2000]).unwrap(); // at 1272..3288
                                    // 808 bytes left before the end, 1064 free in all: the padding (808) plus
                                    // the record (1016) do not fit until the first record is released.
    assert!(matches!(
        p.push(1, &[3; 1000]),
        Err(PushError::Full {
            needed: 1824,
            free: 1064
        })
    ));
    assert_eq!(c.read().unwrap().unwrap().payload(), &[1u8; 1000]);
    c.release();
    p.push(1, &[3; 1000]).unwrap(); // padding at 3288..4096, then the record at 0
    assert_eq!(c.read().unwrap().unwrap().payload(), &[2u8; 2000]);
    assert_eq!(c.read().unwrap().unwrap().payload(), &[3u8; 1000]);
    assert!(c.read().unwrap().is_none());
    // A payload over half the ring can never fit.
    assert!(matches!(
        p.push(1, &vec![0; 2033]),
        Err(PushError::TooLarge { max: 2032, .. })
    ));
}

/// A producer about to wait for space publishes what it staged first: the
/// consumer can make space only by reading records it can see.
#[test]
fn a_wait_for_space_publishes_what_was_staged() {
    let (_dir, mut p, mut c) = fresh();
    for i in 0..16u8 {
        let mut r = p.reserve(240, 1).unwrap();
        r.fill(i);
        r.stage();
    }
    assert!(
        c.read().unwrap().is_none(),
        "staged records are not visible"
    );
    assert!(
        p.space_wait_prepare(240).unwrap(),
        "full: the producer must wait"
    );
    let mut n = 0;
    while let Some(r) = c.read().unwrap() {
        assert_eq!(r.payload(), &[n; 240]);
        n += 1;
    }
    assert_eq!(n, 16);
}
