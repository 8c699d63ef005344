//! loom models of the ring's publish/consume protocol, wrap-around, full-ring
//! backpressure, batching, the sleep/wake handshakes, consumer restart and a
//! staged burst published at once.
//! Each uses a ring of 64 bytes (records of at most 32 bytes, payloads of at
//! most 16) so that records wrap after two or three.
//!
//! Each model prints how many executions loom explored (`--nocapture`).
#![cfg(loom)]

use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use loom::sync::{Arc, Notify};
use loom::thread;
use sairing_loom_tests::model;
use sairing_ring::{Consumer, HeapRing, Producer, PushError};

/// Pushes one record, yielding while the ring is full.
fn push_spin(tx: &mut Producer, kind: u16, fill: u8, len: usize) -> u64 {
    loop {
        match tx.reserve(len, kind) {
            Ok(mut r) => {
                r.fill(fill);
                return r.commit();
            }
            Err(PushError::Full { .. }) => thread::yield_now(),
            Err(e) => panic!("{e}"),
        }
    }
}

/// Reads the next record, yielding while the ring is empty, checks it, and
/// returns its sequence number without releasing it.
fn read_spin(rx: &mut Consumer, kind: u16, fill: u8, len: usize) -> u64 {
    loop {
        match rx.read().expect("valid ring") {
            Some(r) => {
                assert_eq!(r.kind(), kind);
                assert_eq!(r.payload().len(), len);
                assert!(
                    r.payload().iter().all(|&b| b == fill),
                    "record {} corrupted",
                    r.seq()
                );
                return r.seq();
            }
            None => thread::yield_now(),
        }
    }
}

fn report(name: &str, n: usize) {
    println!("model {name}: {n} executions explored");
}

/// Model 1: Records of mixed sizes (16, 32, 32, 24, 16 bytes) through a 64-byte ring:
/// the third needs an explicit padding record (16 bytes left, 32 needed), the
/// fifth an implicit 8-byte gap.
/// Contents and order arrive intact; a read racing a write would be reported by
/// the data area's tracked cells.
#[test]
fn publish_consume_with_wrap_and_padding() {
    const SIZES: [usize; 5] = [0, 16, 16, 8, 0];
    let n = model(|| {
        let ring = HeapRing::new(64, false).unwrap();
        let mut tx = ring.producer().unwrap();
        let mut rx = ring.consumer().unwrap();
        let t = thread::spawn(move || {
            for (i, &len) in SIZES.iter().enumerate() {
                push_spin(&mut tx, 1 + i as u16, 1 + i as u8, len);
            }
        });
        for (i, &len) in SIZES.iter().enumerate() {
            assert_eq!(
                read_spin(&mut rx, 1 + i as u16, 1 + i as u8, len),
                1 + i as u64
            );
            rx.release();
        }
        t.join().unwrap();
    });
    report("publish_consume_with_wrap_and_padding", n);
}

/// Model 2: A full ring refuses the producer exactly while the consumer holds the
/// space, and accepts it once the space is released.
#[test]
fn full_ring_backpressure() {
    let n = model(|| {
        let ring = HeapRing::new(64, false).unwrap();
        let mut tx = ring.producer().unwrap();
        let mut rx = ring.consumer().unwrap();
        tx.push(1, &[7; 16]).unwrap(); // 32 bytes
        tx.push(1, &[8; 16]).unwrap(); // 32 bytes: the ring is full
        assert!(matches!(
            tx.push(2, &[]),
            Err(PushError::Full {
                needed: 16,
                free: 0
            })
        ));
        let released = Arc::new(AtomicBool::new(false));
        let r2 = Arc::clone(&released);
        let t = thread::spawn(move || {
            assert_eq!(read_spin(&mut rx, 1, 7, 16), 1);
            r2.store(true, Release);
            rx.release();
            assert_eq!(read_spin(&mut rx, 1, 8, 16), 2);
            rx.release();
            assert_eq!(read_spin(&mut rx, 2, 9, 8), 3);
            rx.release();
        });
        loop {
            match tx.reserve(8, 2) {
                Ok(mut r) => {
                    // Space can only have come from the release.
                    assert!(
                        released.load(Acquire),
                        "producer overwrote unreleased space"
                    );
                    r.fill(9);
                    r.commit();
                    break;
                }
                Err(PushError::Full { .. }) => thread::yield_now(),
                Err(e) => panic!("{e}"),
            }
        }
        t.join().unwrap();
    });
    report("full_ring_backpressure", n);
}

/// Model 3: Batches: records read together stay valid together, and one release frees
/// them all; the producer needs that space to finish.
#[test]
fn batch_read_and_release() {
    const LENS: [usize; 4] = [0, 8, 0, 8];
    let n = model(|| {
        let ring = HeapRing::new(64, false).unwrap();
        let mut tx = ring.producer().unwrap();
        let mut rx = ring.consumer().unwrap();
        let t = thread::spawn(move || {
            for (i, &len) in LENS.iter().enumerate() {
                push_spin(&mut tx, 1 + i as u16, 1 + i as u8, len);
            }
        });
        let mut next = 0usize;
        while next < LENS.len() {
            let batch = rx.read_batch(3).unwrap();
            if batch.is_empty() {
                drop(batch);
                thread::yield_now();
                continue;
            }
            for r in batch.iter() {
                assert_eq!(r.seq(), 1 + next as u64);
                assert_eq!(r.payload().len(), LENS[next]);
                assert!(r.payload().iter().all(|&b| b == 1 + next as u8));
                next += 1;
            }
            batch.release();
        }
        t.join().unwrap();
    });
    report("batch_read_and_release", n);
}

/// Model 4a: The consumer sleeps on a doorbell (loom's `Notify`, standing in for the
/// eventfd) when the ring is empty. No record is ever left unannounced: a lost
/// wakeup leaves the consumer blocked forever, which loom reports as a deadlock.
/// The producer rings only in answer to an announced sleep.
#[test]
fn consumer_sleep_no_lost_wakeup() {
    let n = model(|| {
        let ring = HeapRing::new(64, false).unwrap();
        let mut tx = ring.producer().unwrap();
        let mut rx = ring.consumer().unwrap();
        let bell = Arc::new(Notify::new());
        let rings = Arc::new(AtomicUsize::new(0));
        let (bell2, rings2) = (Arc::clone(&bell), Arc::clone(&rings));
        let t = thread::spawn(move || {
            for i in 0..2u8 {
                tx.push(1, &[i]).unwrap();
                if tx.take_consumer_wakeup() {
                    rings2.fetch_add(1, Relaxed);
                    bell2.notify();
                }
            }
        });
        let mut got = 0u8;
        let mut announced = 0;
        while got < 2 {
            if let Some(r) = rx.read().unwrap() {
                assert_eq!(r.payload(), &[got]);
                got += 1;
                continue;
            }
            rx.release();
            announced += 1;
            if rx.sleep_prepare().unwrap() {
                bell.wait();
            }
            rx.sleep_done();
        }
        rx.release();
        t.join().unwrap();
        assert!(
            rings.load(Relaxed) <= announced,
            "the producer rang a consumer that never announced sleep"
        );
    });
    report("consumer_sleep_no_lost_wakeup", n);
}

/// Model 4b: The producer sleeps on a doorbell while the ring is full; the consumer
/// rings it after releasing. A lost wakeup is a deadlock.
#[test]
fn producer_space_wait_no_lost_wakeup() {
    let n = model(|| {
        let ring = HeapRing::new(64, false).unwrap();
        let mut tx = ring.producer().unwrap();
        let mut rx = ring.consumer().unwrap();
        let bell = Arc::new(Notify::new());
        let bell2 = Arc::clone(&bell);
        tx.push(1, &[1; 16]).unwrap();
        tx.push(1, &[1; 16]).unwrap(); // the ring is full
        let t = thread::spawn(move || {
            assert_eq!(read_spin(&mut rx, 1, 1, 16), 1);
            rx.release();
            if rx.take_producer_wakeup() {
                bell2.notify();
            }
            assert_eq!(read_spin(&mut rx, 1, 1, 16), 2);
            assert_eq!(read_spin(&mut rx, 2, 2, 8), 3);
            rx.release();
        });
        loop {
            match tx.push(2, &[2; 8]) {
                Ok(_) => break,
                Err(PushError::Full { .. }) => {
                    if tx.space_wait_prepare(8).unwrap() {
                        bell.wait();
                    }
                    tx.space_wait_done();
                }
                Err(e) => panic!("{e}"),
            }
        }
        t.join().unwrap();
    });
    report("producer_space_wait_no_lost_wakeup", n);
}

/// Model 5: A consumer releases one record, reads another without releasing it, and
/// is dropped; a new consumer on the same memory resumes exactly at the released
/// position (the unreleased record is delivered again), while the producer keeps
/// writing into the space the first one freed.
#[test]
fn consumer_restart_resumes_at_release() {
    let n = model(|| {
        let ring = HeapRing::new(64, false).unwrap();
        let mut tx = ring.producer().unwrap();
        let t = thread::spawn(move || {
            for i in 1..=3u8 {
                push_spin(&mut tx, i as u16, i, 8); // 24 bytes each: the third wraps
            }
        });
        let mut rx = ring.consumer().unwrap();
        assert_eq!(read_spin(&mut rx, 1, 1, 8), 1);
        rx.release();
        assert_eq!(read_spin(&mut rx, 2, 2, 8), 2); // read, never released
        drop(rx);
        let mut rx = ring.consumer().unwrap();
        assert_eq!(rx.next_seq(), 2);
        assert_eq!(read_spin(&mut rx, 2, 2, 8), 2);
        rx.release();
        assert_eq!(read_spin(&mut rx, 3, 3, 8), 3);
        rx.release();
        t.join().unwrap();
    });
    report("consumer_restart_resumes_at_release", n);
}

/// Model 7: A burst staged and published with one store of the tail (how a
/// client sends a batch): nothing of it is visible before the store, and once
/// the first record is, the whole burst is, intact.
#[test]
fn staged_burst_published_at_once() {
    let n = model(|| {
        let ring = HeapRing::new(64, false).unwrap();
        let mut tx = ring.producer().unwrap();
        let mut rx = ring.consumer().unwrap();
        let t = thread::spawn(move || {
            for i in 0..2u8 {
                let mut r = tx.reserve(8, 1).unwrap();
                r.fill(1 + i);
                r.stage();
            }
            tx.publish();
        });
        assert_eq!(read_spin(&mut rx, 1, 1, 8), 1);
        let second = rx.read().unwrap().expect("published with the first");
        assert_eq!((second.seq(), second.payload()), (2, &[2u8; 8][..]));
        t.join().unwrap();
    });
    report("staged_burst_published_at_once", n);
}
