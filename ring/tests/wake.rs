//! The sleep/wake handshake through the public API, in one thread: a side that
//! announced its sleep is rung once per announcement; a side that is awake, or
//! withdrew its announcement, never. (The doc examples say the same, but the
//! mutation runs use nextest, which does not run doc tests; the loom models
//! check the orderings.)

use sairing_ring::HeapRing;

#[test]
fn a_sleeping_consumer_is_rung_once_per_sleep() {
    let ring = HeapRing::new(1 << 12, false).unwrap();
    let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
    tx.push(1, b"a").unwrap();
    assert!(
        !tx.take_consumer_wakeup(),
        "rang a consumer that never slept"
    );
    // Something to read: the announcement is withdrawn at once.
    assert!(!rx.sleep_prepare().unwrap());
    tx.push(1, b"b").unwrap();
    assert!(!tx.take_consumer_wakeup(), "rang a withdrawn sleep");
    while rx.read().unwrap().is_some() {}
    // Each sleep a new generation: rung once, however many commits follow.
    // Enough sleeps that a generation that grew by shifting (a wrong `>>`)
    // would have run out of bits and repeated.
    for round in 0..70 {
        assert!(
            rx.sleep_prepare().unwrap(),
            "round {round}: nothing to read"
        );
        tx.push(1, b"c").unwrap();
        assert!(tx.take_consumer_wakeup(), "round {round}: not rung");
        tx.push(1, b"d").unwrap();
        assert!(!tx.take_consumer_wakeup(), "round {round}: rung twice");
        rx.sleep_done();
        while rx.read().unwrap().is_some() {}
        tx.push(1, b"e").unwrap();
        assert!(!tx.take_consumer_wakeup(), "round {round}: rung awake");
        while rx.read().unwrap().is_some() {}
        rx.release();
    }
}

#[test]
fn a_producer_waiting_for_space_is_rung_once_per_wait() {
    let ring = HeapRing::new(1 << 12, false).unwrap();
    let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
    // Space: the announcement is withdrawn at once.
    assert!(!tx.space_wait_prepare(1000).unwrap());
    tx.push(1, &[0; 1000]).unwrap();
    while rx.read().unwrap().is_some() {}
    rx.release();
    assert!(!rx.take_producer_wakeup(), "rang a withdrawn wait");
    for round in 0..3 {
        let mut pushed = 0;
        while tx.can_reserve(1000).unwrap() {
            tx.push(1, &[0; 1000]).unwrap();
            pushed += 1;
            assert!(pushed <= 4, "round {round}: 5 KiB in a 4 KiB ring");
        }
        assert!(tx.space_wait_prepare(1000).unwrap(), "round {round}: full");
        rx.read().unwrap().expect("a record");
        rx.release();
        assert!(rx.take_producer_wakeup(), "round {round}: not rung");
        while rx.read().unwrap().is_some() {}
        rx.release();
        assert!(!rx.take_producer_wakeup(), "round {round}: rung twice");
        tx.space_wait_done();
        tx.push(1, &[0; 1000]).unwrap();
        rx.read().unwrap().expect("a record");
        rx.release();
        assert!(!rx.take_producer_wakeup(), "round {round}: rung awake");
    }
}

/// A side that announced a sleep or a wait and then gave it up (it found
/// work, or its wait timed out) is not rung for it afterwards.
#[test]
fn a_sleep_or_wait_given_up_is_not_rung() {
    let ring = HeapRing::new(1 << 12, false).unwrap();
    let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
    assert!(rx.sleep_prepare().unwrap());
    rx.sleep_done();
    tx.push(1, b"a").unwrap();
    assert!(
        !tx.take_consumer_wakeup(),
        "rang a consumer that gave up sleeping"
    );
    while tx.can_reserve(1000).unwrap() {
        tx.push(1, &[0; 1000]).unwrap();
    }
    assert!(tx.space_wait_prepare(1000).unwrap());
    tx.space_wait_done();
    while rx.read().unwrap().is_some() {}
    rx.release();
    assert!(
        !rx.take_producer_wakeup(),
        "rang a producer that gave up waiting"
    );
}
