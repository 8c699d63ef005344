//! Records syncd cannot use never crash-loop it: a record of the wrong kind is
//! skipped and counted like an undecodable one, and an answer too large for the
//! response ring becomes an error status.

use std::path::Path;

use sairing_ring::{OpenOptions, Producer};
use sairing_transport::{channel, Client, ClientOptions, Outcome};

mod common;
use common::{create, spawn, vlan, Syncd};

/// A syncd without a mirror, which must start.
fn start(dir: &Path, extra: &[&str]) -> Syncd {
    let mut a = vec!["--no-mirror"];
    a.extend(extra);
    let (sd, line) = spawn(dir, &a);
    assert!(
        line.starts_with("syncd: ready"),
        "syncd did not start: {line}"
    );
    sd
}

/// (Found: a record of another kind made syncd exit without releasing it, so
/// every restart died on it again.)
#[test]
fn a_record_of_the_wrong_kind_is_skipped_and_counted() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ch");
    channel::create(
        &dir,
        &channel::ChannelOptions {
            capacity: 1 << 16,
            ..Default::default()
        },
    )
    .unwrap();
    // A writer with access to the request ring puts in a record of kind 0x77.
    let mut p = Producer::open(channel::Paths::new(&dir).request, &OpenOptions::default()).unwrap();
    p.push(0x77, b"not a request").unwrap();
    drop(p);
    for round in 0..2 {
        let sd = start(&dir, &[]);
        let mut c = Client::open(&dir, &ClientOptions::default()).unwrap();
        create(&mut c, round + 1);
        drop(c);
        let last = sd.stop();
        let malformed = if round == 0 { 1 } else { 0 };
        assert!(
            last.contains(&format!("{malformed} malformed")),
            "round {round}: {last}"
        );
    }
}

/// An answer that cannot fit in the response ring is answered with
/// SAI_STATUS_BUFFER_OVERFLOW, and syncd goes on.
#[test]
fn an_answer_too_large_for_the_ring_is_an_error_status() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ch");
    let sd = start(&dir, &["--create", "--capacity", "65536"]);
    let mut c = Client::open(&dir, &ClientOptions::default()).unwrap();
    // Each request fits (under half the ring), but the object grows to more.
    let big = "x".repeat(12_000);
    let key = vlan(1);
    match c
        .create(&key, &[("SAI_VLAN_ATTR_A", big.as_str())])
        .unwrap()
    {
        Outcome::Done(r) => assert_eq!(r.status, "SAI_STATUS_SUCCESS"),
        Outcome::Sent(s) => panic!("Sent({s})"),
    }
    for name in ["SAI_VLAN_ATTR_B", "SAI_VLAN_ATTR_C"] {
        match c.set(&key, name, &big).unwrap() {
            Outcome::Done(r) => assert_eq!(r.status, "SAI_STATUS_SUCCESS"),
            Outcome::Sent(s) => panic!("Sent({s})"),
        }
    }
    let names = [
        ("SAI_VLAN_ATTR_A", ""),
        ("SAI_VLAN_ATTR_B", ""),
        ("SAI_VLAN_ATTR_C", ""),
    ];
    let r = c.get(&key, &names).unwrap();
    assert_eq!(r.status, "SAI_STATUS_BUFFER_OVERFLOW");
    assert!(r.attrs.is_empty());
    // One attribute fits.
    let r = c.get(&key, &names[..1]).unwrap();
    assert_eq!(r.status, "SAI_STATUS_SUCCESS");
    assert_eq!(r.attrs, vec![("SAI_VLAN_ATTR_A".to_owned(), big.clone())]);
    create(&mut c, 2);
    drop(c);
    sd.stop();
}
