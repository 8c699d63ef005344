//! Notifications outlive orchagent: those syncd sends while no orchagent is
//! attached, and those an orchagent read but died before taking, reach the next
//! orchagent in order and once. (SONiC's Redis Pub/Sub loses them.)

use std::path::Path;
use std::time::{Duration, Instant};

use redis::Commands;
use sairing_testkit::PrivateRedis;
use sairing_transport::{Client, ClientOptions, Outcome};

mod common;
use common::{done, spawn, Syncd};

const T: Duration = Duration::from_secs(60);

fn start(dir: &Path, url: &str, args: &[&str]) -> Syncd {
    let mut a = vec!["--redis", url];
    a.extend(args);
    let (sd, line) = spawn(dir, &a);
    assert!(line.starts_with("syncd: ready"), "{line}");
    sd
}

fn port(n: u64) -> String {
    format!("SAI_OBJECT_TYPE_PORT:oid:0x{:x}", 0x1u64 << 48 | n)
}

fn up(c: &mut Client, n: u64) -> Outcome {
    c.set(&port(n), "SAI_PORT_ATTR_ADMIN_STATE", "true")
        .unwrap()
}

/// The port a port_state_change is about.
fn about(payload: &str) -> u64 {
    let id = payload
        .split("\"port_id\":\"oid:0x")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_else(|| panic!("no port_id in {payload}"));
    u64::from_str_radix(id, 16).unwrap() & 0xFFFF_FFFF
}

#[test]
fn notifications_reach_the_next_orchagent_in_order_and_once() {
    let r = PrivateRedis::start()
        .unwrap_or_else(|e| panic!("this test needs its own redis-server: {e}"));
    let url = r.url(1);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("asic");
    let sd = start(&dir, &url, &["--create", "--capacity", "1048576"]);

    // The first orchagent: four ports, port 1 brought up and its notification taken.
    let mut a = Client::open(&dir, &ClientOptions::default()).unwrap();
    for n in 1..=4 {
        done(
            a.create(&port(n), &[("SAI_PORT_ATTR_SPEED", "100000")])
                .unwrap(),
        );
    }
    done(up(&mut a, 1));
    let first = a
        .next_notification(T)
        .unwrap()
        .expect("port 1's notification");
    assert_eq!(about(&first.payload), 1);
    // Ports 2 and 3: answered, so their notifications have been read off the
    // ring by this client, but it dies before taking them.
    done(up(&mut a, 2));
    done(up(&mut a, 3));
    // syncd stops; port 4 is brought up while it is down, and orchagent dies.
    sd.stop();
    a.set_mode(sairing_transport::Mode::Async);
    match up(&mut a, 4) {
        Outcome::Sent(_) => {}
        Outcome::Done(r) => panic!("answered with syncd down: {r:?}"),
    }
    let last = a.next_request_seq() - 1;
    drop(a);

    // syncd comes back while no orchagent runs, and applies port 4's request:
    // its notification has nobody to go to.
    let sd = start(&dir, &url, &["--warm"]);
    let mut con = redis::Client::open(url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let deadline = Instant::now() + T;
    loop {
        let seq: Option<u64> = con.hget("SAIRING_PROGRESS", "seq").unwrap();
        if seq >= Some(last) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "syncd never applied request {last}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }

    // The next orchagent gets ports 2, 3 and 4, in that order, once each.
    let mut b = Client::open(&dir, &ClientOptions::default()).unwrap();
    let mut got = Vec::new();
    while got.len() < 3 {
        match b.next_notification(T).unwrap() {
            Some(n) => got.push(about(&n.payload)),
            None => panic!("only {got:?} arrived"),
        }
    }
    assert_eq!(got, vec![2, 3, 4]);
    let extra = b.next_notification(Duration::from_millis(300)).unwrap();
    assert!(extra.is_none(), "delivered again: {extra:?}");
    drop(b);
    // Taken means taken: a third orchagent gets none of them again.
    let mut c = Client::open(&dir, &ClientOptions::default()).unwrap();
    let again = c.next_notification(Duration::from_millis(300)).unwrap();
    assert!(again.is_none(), "delivered again: {again:?}");
    drop(c);
    sd.stop();
}
