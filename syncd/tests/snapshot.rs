//! The warm start's reader of Redis (`sairing_syncd::snapshot`): what it
//! reads from a real Redis equals what was written, and a Redis (or something
//! posing as one) that answers nonsense is an error naming it, never a panic
//! or a hang.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::thread::JoinHandle;

use redis::Commands;
use sairing_syncd::snapshot;
use sairing_testkit::PrivateRedis;

type State = BTreeMap<String, Vec<(String, String)>>;

fn read(url: &str) -> State {
    let (store, _) = snapshot::load(url).unwrap();
    store
        .iter()
        .map(|o| (o.key().to_string(), o.to_attrs()))
        .collect()
}

#[test]
fn what_is_read_is_what_redis_holds() {
    let redis = PrivateRedis::start()
        .unwrap_or_else(|e| panic!("this test needs its own redis-server: {e}"));
    let mut c = redis::Client::open(redis.url(1).as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let mut want = State::new();
    let mut p = redis::pipe();
    // Enough objects for several SCAN replies, with one attribute or two.
    for i in 0..25_000u32 {
        let key = format!(
            r#"SAI_OBJECT_TYPE_ROUTE_ENTRY:{{"dest":"10.{}.{}.0/24"}}"#,
            i >> 8,
            i & 255
        );
        let mut attrs = vec![(
            "SAI_ROUTE_ENTRY_ATTR_NEXT_HOP_ID".to_owned(),
            format!("oid:0x{i:x}"),
        )];
        if i % 3 == 0 {
            attrs.push((
                "SAI_ROUTE_ENTRY_ATTR_PACKET_ACTION".into(),
                "SAI_PACKET_ACTION_DROP".into(),
            ));
        }
        p.hset_multiple(format!("ASIC_STATE:{key}"), &attrs)
            .ignore();
        want.insert(key, attrs);
    }
    // No attributes; values a line-based reader would trip on; non-ASCII;
    // long values (lengths over 127 and over 64 KiB).
    p.hset(
        "ASIC_STATE:SAI_OBJECT_TYPE_VLAN:oid:0x26000000000001",
        "NULL",
        "NULL",
    )
    .ignore();
    want.insert("SAI_OBJECT_TYPE_VLAN:oid:0x26000000000001".into(), vec![]);
    let odd = [
        ("A", "a\r\nb"),
        ("B", ""),
        ("C", "\u{e9}t\u{e9} \u{1f600}"),
        ("D", &"x".repeat(200)),
        ("E", &"y".repeat(70_000)),
    ];
    p.hset_multiple("ASIC_STATE:SAI_OBJECT_TYPE_PORT:oid:0x1000000000002", &odd)
        .ignore();
    let mut got_odd: Vec<(String, String)> = odd
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    got_odd.sort();
    // Not part of the state: other keys of the database, another database.
    p.hset("SAIRING_PROGRESS", "seq", "1").ignore();
    p.set("ASIC_STATE_NOT_A_KEY_OF_OURS", "x").ignore();
    p.query::<()>(&mut c).unwrap();
    let _: () = redis::cmd("SELECT").arg(2).query(&mut c).unwrap();
    let _: () = c
        .hset("ASIC_STATE:SAI_OBJECT_TYPE_LAG:oid:0x1", "A", "1")
        .unwrap();

    let (store, n) = snapshot::load(&redis.url(1)).unwrap();
    assert!(n.scans >= 3, "25,000 keys in {} SCANs", n.scans);
    // SCAN may list a key twice (while Redis rehashes), never less.
    assert!(n.listed >= 25_002, "{n:?}");
    let mut got: State = store
        .iter()
        .map(|o| (o.key().to_string(), o.to_attrs()))
        .collect();
    let mut port = got
        .remove("SAI_OBJECT_TYPE_PORT:oid:0x1000000000002")
        .expect("the port");
    port.sort();
    assert_eq!(port, got_odd);
    for a in got.values_mut() {
        a.sort();
    }
    for a in want.values_mut() {
        a.sort();
    }
    assert_eq!(got.len(), want.len());
    assert!(got == want, "the state read differs from the state written");
}

/// Something posing as Redis at a Unix socket: answers the loader's first
/// write (SELECT, DBSIZE and the first SCAN) with `reply`, then reads whatever
/// comes and closes.
fn pretend(dir: &Path, reply: Vec<u8>) -> (String, JoinHandle<()>) {
    let path = dir.join("redis.sock");
    let l = UnixListener::bind(&path).unwrap();
    let h = std::thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        // SELECT, DBSIZE and SCAN: commands of arrays of bulk strings.
        for _ in 0..3 {
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            let n: usize = line[1..].trim().parse().unwrap();
            for _ in 0..n {
                line.clear();
                r.read_line(&mut line).unwrap();
                let len: usize = line[1..].trim().parse().unwrap();
                let mut b = vec![0; len + 2];
                r.read_exact(&mut b).unwrap();
            }
        }
        let mut s = s;
        let _ = s.write_all(&reply);
        let _ = s.shutdown(std::net::Shutdown::Write);
        // Drain what the loader still sends, so that it never blocks writing.
        let _ = std::io::copy(&mut r, &mut std::io::sink());
    });
    (format!("redis+unix://{}?db=1", path.display()), h)
}

const KEY: &str = "ASIC_STATE:SAI_OBJECT_TYPE_PORT:oid:0x1";

fn scan_of(keys: &[&str]) -> String {
    let mut s = format!("*2\r\n$1\r\n0\r\n*{}\r\n", keys.len());
    for k in keys {
        s += &format!("${}\r\n{k}\r\n", k.len());
    }
    s
}

#[test]
fn nonsense_from_redis_is_an_error_naming_it() {
    let hgetall = |body: &str| format!("+OK\r\n:1\r\n{}{body}", scan_of(&[KEY]));
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "an error reply",
            b"-ERR no such db\r\n".to_vec(),
            "no such db",
        ),
        (
            "SELECT answered with a number",
            b":1\r\n".to_vec(),
            "SELECT",
        ),
        (
            "SCAN answered with three items",
            b"+OK\r\n:1\r\n*3\r\n".to_vec(),
            "SCAN",
        ),
        (
            "SCAN listing a key of another table",
            format!("+OK\r\n:1\r\n{}", scan_of(&["VIDTORID"])).into_bytes(),
            "VIDTORID",
        ),
        (
            "a negative length",
            hgetall("*-5\r\n").into_bytes(),
            "length",
        ),
        (
            "an absurd length",
            hgetall("*2\r\n$99999999999\r\n").into_bytes(),
            "length",
        ),
        (
            "an odd number of strings",
            hgetall("*3\r\n").into_bytes(),
            "pairs",
        ),
        (
            "a string that is not UTF-8",
            {
                let mut b = hgetall("*2\r\n$1\r\nA\r\n$2\r\n").into_bytes();
                b.extend_from_slice(b"\xff\xfe\r\n");
                b
            },
            "UTF-8",
        ),
        (
            "a string without its CRLF",
            hgetall("*2\r\n$1\r\nA\r\n$1\r\nBC\r\n").into_bytes(),
            "CRLF",
        ),
        (
            "a line without CR",
            hgetall("*2\n").into_bytes(),
            "reply line",
        ),
        (
            "a reply cut short",
            hgetall("*2\r\n$1\r\nA\r\n").into_bytes(),
            "reading",
        ),
        // Found in review: a key gone between SCAN and HGETALL (a FLUSHDB
        // during the load) was skipped, and the warm start went on with
        // part of the state.
        (
            "a key gone meanwhile",
            hgetall("*0\r\n").into_bytes(),
            "changed while",
        ),
        (
            "a null hash",
            hgetall("*-1\r\n").into_bytes(),
            "changed while",
        ),
        (
            "a null SCAN reply",
            b"+OK\r\n:1\r\n*-1\r\n".to_vec(),
            "SCAN",
        ),
        // An array of 64 Mi strings announced in 13 bytes: an error once the
        // bytes run out, not a reservation of gigabytes up front.
        (
            "a huge array announced",
            b"+OK\r\n:1\r\n*2\r\n$1\r\n0\r\n*67108864\r\n".to_vec(),
            "reading",
        ),
        ("nothing at all", Vec::new(), "reading"),
    ];
    for (what, reply, says) in cases {
        let dir = tempfile::tempdir().unwrap();
        let (url, h) = pretend(dir.path(), reply);
        let err = match snapshot::load(&url) {
            Ok((s, _)) => panic!("{what}: read {} objects", s.len()),
            Err(e) => e.to_string(),
        };
        assert!(err.contains(says), "{what}: {err}");
        h.join().unwrap();
    }
    // And the same framing, well formed, reads.
    let dir = tempfile::tempdir().unwrap();
    let (url, h) = pretend(
        dir.path(),
        format!(
            "+OK\r\n:1\r\n{}*2\r\n$1\r\nA\r\n$1\r\n1\r\n",
            scan_of(&[KEY])
        )
        .into_bytes(),
    );
    let got = read(&url);
    h.join().unwrap();
    assert_eq!(
        got,
        State::from([(
            "SAI_OBJECT_TYPE_PORT:oid:0x1".to_owned(),
            vec![("A".to_owned(), "1".to_owned())]
        )])
    );
}

/// A SCAN that never ends (a cursor that never comes back to 0, with no keys)
/// is an error after a bound, not a loop for ever (found in review): four
/// calls for each 10,000 keys DBSIZE says, and 1,000 more.
#[test]
fn a_scan_that_never_ends_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("redis.sock");
    let l = UnixListener::bind(&path).unwrap();
    let h = std::thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        let mut w = s.try_clone().unwrap();
        let mut r = BufReader::new(s);
        // +OK for SELECT, 100,000 keys for DBSIZE, then "cursor 1, no keys"
        // for every SCAN asked for.
        let mut calls = 0;
        let mut line = String::new();
        loop {
            line.clear();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let n: usize = line[1..].trim().parse().unwrap();
            for _ in 0..n {
                line.clear();
                r.read_line(&mut line).unwrap();
                let len: usize = line[1..].trim().parse().unwrap();
                let mut b = vec![0; len + 2];
                r.read_exact(&mut b).unwrap();
            }
            let reply: &[u8] = match calls {
                0 => b"+OK\r\n",
                1 => b":100000\r\n",
                _ => b"*2\r\n$1\r\n1\r\n*0\r\n",
            };
            calls += 1;
            if w.write_all(reply).is_err() {
                return;
            }
        }
    });
    let url = format!("redis+unix://{}?db=1", path.display());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let r = snapshot::load(&url).map(|(s, _)| s.len());
        let _ = tx.send(r.map_err(|e| e.to_string()));
    });
    let got = rx
        .recv_timeout(std::time::Duration::from_secs(120))
        .expect("the load did not end within 120 s");
    let err = got.expect_err("a SCAN that never ends read a state");
    assert!(
        err.contains("SCAN: 1041 calls over a database of 100000 keys"),
        "{err}"
    );
    h.join().unwrap();
}
