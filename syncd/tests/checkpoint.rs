//! A warm start never trusts a Redis checkpoint that is behind the ring: the
//! requests between the two are in neither, so resuming would lose them.
//! (Found by restoring Redis to an older snapshot: syncd resumed after request
//! 1 and applied request 4; requests 2 and 3 were gone.)

use std::collections::BTreeMap;
use std::path::Path;

use redis::Commands;
use sairing_testkit::PrivateRedis;
use sairing_transport::{Client, ClientOptions, Op};

mod common;
use common::{create, spawn, vlan, Syncd};

const PROGRESS: &str = "SAIRING_PROGRESS";

/// `syncd --channel DIR --redis URL ARGS...` and its first line.
fn start(dir: &Path, url: &str, args: &[&str]) -> (Syncd, String) {
    let mut a = vec!["--redis", url];
    a.extend(args);
    spawn(dir, &a)
}

/// `start` that must come up: fails the test with its line otherwise.
fn ready(dir: &Path, url: &str, args: &[&str]) -> Syncd {
    let (sd, line) = start(dir, url, args);
    assert!(line.starts_with("syncd: ready"), "{line}");
    sd
}

/// FLUSHDB, then `syncd --warm --record REC`, which must rebuild from the
/// recording and resume after request `through`.
fn flush_and_rebuild(dir: &Path, url: &str, rec: &str, through: u64) -> Syncd {
    let _: () = redis::cmd("FLUSHDB").query(&mut conn(url)).unwrap();
    let (sd, line) = start(dir, url, &["--warm", "--record", rec]);
    assert_eq!(
        line.trim_end(),
        format!("syncd: ready, resuming after request {through}")
    );
    sd
}

/// A private redis-server and a temporary directory with the channel's path.
struct Env {
    _redis: PrivateRedis,
    url: String,
    tmp: tempfile::TempDir,
    dir: std::path::PathBuf,
}

fn env() -> Env {
    let r = PrivateRedis::start()
        .unwrap_or_else(|e| panic!("this test needs its own redis-server: {e}"));
    let tmp = tempfile::tempdir().unwrap();
    Env {
        url: r.url(1),
        dir: tmp.path().join("asic"),
        tmp,
        _redis: r,
    }
}

fn conn(url: &str) -> redis::Connection {
    redis::Client::open(url).unwrap().get_connection().unwrap()
}

/// Starts syncd expecting it to refuse: fails the test if it started instead;
/// returns its stderr.
fn refused(dir: &Path, url: &str, args: &[&str]) -> String {
    let (sd, line) = start(dir, url, args);
    assert!(
        !line.starts_with("syncd: ready"),
        "syncd started where it should have refused: {line}"
    );
    sd.refusal()
}

type Snapshot = Vec<(String, BTreeMap<String, String>)>;

fn snapshot(con: &mut redis::Connection) -> Snapshot {
    let mut keys: Vec<String> = con.keys("*").unwrap();
    keys.sort();
    keys.into_iter()
        .map(|k| {
            let h: BTreeMap<String, String> = con.hgetall(&k).unwrap();
            (k, h)
        })
        .collect()
}

fn restore(con: &mut redis::Connection, snap: &Snapshot) {
    let _: () = redis::cmd("FLUSHDB").query(con).unwrap();
    for (k, h) in snap {
        let pairs: Vec<(&String, &String)> = h.iter().collect();
        let _: () = con.hset_multiple(k, &pairs).unwrap();
    }
}

/// Waits (up to a minute, else the test fails) for the checkpoint to reach `want`.
fn wait_progress(con: &mut redis::Connection, want: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while progress(con).as_deref() != Some(want) {
        assert!(
            std::time::Instant::now() < deadline,
            "the checkpoint stayed at {:?}, never reached {want}",
            progress(con)
        );
        std::thread::yield_now();
    }
}

fn progress(con: &mut redis::Connection) -> Option<String> {
    con.hget(PROGRESS, "seq").unwrap_or(None)
}

/// Three creates, with Redis's state after the first one kept aside; syncd
/// stopped cleanly (so the ring is released through request 3).
fn three_creates_and_the_snapshot_after_one(
    dir: &Path,
    url: &str,
    extra: &[&str],
) -> (Snapshot, Client) {
    let mut args = vec!["--create", "--capacity", "1048576"];
    args.extend(extra);
    let sd = ready(dir, url, &args);
    let mut con = conn(url);
    let mut c = Client::open(dir, &ClientOptions::default()).unwrap();
    create(&mut c, 1);
    // The answer comes before the mirror's commit: wait for the checkpoint.
    wait_progress(&mut con, "1");
    let snap = snapshot(&mut con);
    create(&mut c, 2);
    create(&mut c, 3);
    sd.stop();
    assert_eq!(progress(&mut con).as_deref(), Some("3"));
    (snap, c)
}

#[test]
fn warm_start_refuses_a_checkpoint_behind_the_ring() {
    let Env {
        _redis,
        url,
        tmp: _tmp,
        dir,
    } = env();
    let (snap, _client) = three_creates_and_the_snapshot_after_one(&dir, &url, &[]);
    let mut con = conn(&url);
    // Redis comes back from an older snapshot.
    restore(&mut con, &snap);
    let err = refused(&dir, &url, &["--warm"]);
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.contains("request 1") && last.contains("request 3") && last.contains("--record"),
        "the refusal should name both positions and the way out: {err}"
    );
    // Nothing was written.
    assert_eq!(progress(&mut con).as_deref(), Some("1"));
    assert_eq!(snapshot(&mut con), snap);
}

/// The VLAN keys Redis holds, sorted.
fn vlans(con: &mut redis::Connection) -> Vec<String> {
    let mut k: Vec<String> = con.keys("ASIC_STATE:SAI_OBJECT_TYPE_VLAN:*").unwrap();
    k.sort();
    k
}

fn expected_vlans(n: u64) -> Vec<String> {
    let mut k: Vec<String> = (1..=n).map(|i| format!("ASIC_STATE:{}", vlan(i))).collect();
    k.sort();
    k
}

/// With its recording, the same warm start folds the missing requests back in,
/// rewrites Redis, and goes on: nothing lost, nothing applied twice. The
/// recording is rotated after every request, so the rebuild reads its
/// gzip'ed archives too.
#[test]
fn warm_start_with_its_recording_rebuilds_an_older_snapshot() {
    let Env {
        _redis,
        url,
        tmp,
        dir,
    } = env();
    let rec = tmp.path().join("sairedis.rec");
    let rec_s = rec.to_str().unwrap();
    let rot = ["--record", rec_s, "--record-max-bytes", "1"];
    let (snap, mut client) = three_creates_and_the_snapshot_after_one(&dir, &url, &rot);
    assert!(tmp.path().join("sairedis.rec.2.gz").exists());
    let mut con = conn(&url);
    restore(&mut con, &snap);
    assert_eq!(vlans(&mut con), expected_vlans(1));
    let mut args = vec!["--warm"];
    args.extend(rot);
    let (sd, line) = start(&dir, &url, &args);
    assert_eq!(line.trim_end(), "syncd: ready, resuming after request 3");
    create(&mut client, 4);
    sd.stop();
    assert_eq!(progress(&mut con).as_deref(), Some("4"));
    assert_eq!(vlans(&mut con), expected_vlans(4));
    let h: BTreeMap<String, String> = con.hgetall(format!("ASIC_STATE:{}", vlan(2))).unwrap();
    assert_eq!(
        h.get("SAI_VLAN_ATTR_VLAN_ID").map(String::as_str),
        Some("102")
    );
}

/// FLUSHDB (or a Redis restarted without persistence) leaves no checkpoint at
/// all: without the recording syncd refuses; with it, it rebuilds from request 1.
#[test]
fn warm_start_with_its_recording_rebuilds_a_flushed_redis() {
    let Env {
        _redis,
        url,
        tmp,
        dir,
    } = env();
    let rec = tmp.path().join("sairedis.rec");
    let rec_s = rec.to_str().unwrap();
    let (_snap, mut client) =
        three_creates_and_the_snapshot_after_one(&dir, &url, &["--record", rec_s]);
    let mut con = conn(&url);
    let _: () = redis::cmd("FLUSHDB").query(&mut con).unwrap();
    let err = refused(&dir, &url, &["--warm"]);
    assert!(
        err.contains("no sairing checkpoint") && err.contains("request 3"),
        "{err}"
    );
    let (sd, line) = start(&dir, &url, &["--warm", "--record", rec_s]);
    assert_eq!(line.trim_end(), "syncd: ready, resuming after request 3");
    create(&mut client, 4);
    sd.stop();
    assert_eq!(progress(&mut con).as_deref(), Some("4"));
    assert_eq!(vlans(&mut con), expected_vlans(4));
}

/// A recording whose older files were rotated away cannot fill the gap: the
/// refusal says which requests are missing.
#[test]
fn warm_start_refuses_when_the_recording_was_rotated_away() {
    let Env {
        _redis,
        url,
        tmp,
        dir,
    } = env();
    let rec = tmp.path().join("sairedis.rec");
    let rec_s = rec.to_str().unwrap();
    let rot = ["--record", rec_s, "--record-max-bytes", "1"];
    let (snap, _client) = three_creates_and_the_snapshot_after_one(&dir, &url, &rot);
    // The rotated files are gone (an operator, or a small --record-keep): what
    // is left starts with the marker of request 3 (each batch was rotated).
    let mut removed = 0;
    for e in std::fs::read_dir(tmp.path()).unwrap() {
        let p = e.unwrap().path();
        if p.to_str().unwrap().ends_with(".gz") {
            std::fs::remove_file(p).unwrap();
            removed += 1;
        }
    }
    assert!(removed > 0);
    let mut con = conn(&url);
    restore(&mut con, &snap);
    let mut args = vec!["--warm"];
    args.extend(rot);
    let err = refused(&dir, &url, &args);
    assert!(err.contains("starts after request 3"), "{err}");
    assert_eq!(snapshot(&mut con), snap);
}

/// An outside write (here: another writer's progress record and an object of
/// its own) is noticed at the mirror's next commit, which then rewrites Redis
/// to exactly this syncd's state instead of committing on top of it.
#[test]
fn an_outside_write_is_noticed_at_the_next_commit() {
    let Env {
        _redis,
        url,
        tmp: _tmp,
        dir,
    } = env();
    let sd = ready(&dir, &url, &["--create", "--capacity", "1048576"]);
    let mut con = conn(&url);
    let mut c = Client::open(&dir, &ClientOptions::default()).unwrap();
    create(&mut c, 1);
    wait_progress(&mut con, "1");
    let stray = format!("ASIC_STATE:{}", vlan(99));
    let _: () = con.hset(&stray, "SAI_VLAN_ATTR_VLAN_ID", "199").unwrap();
    let _: () = con.hset(PROGRESS, "seq", "7").unwrap();
    create(&mut c, 2);
    wait_progress(&mut con, "2");
    assert_eq!(vlans(&mut con), expected_vlans(2));
    // A record of the wrong type (found in review: the mirror then failed on
    // every commit and reconnect, forever) is rewritten like any other change.
    let _: () = redis::cmd("SET")
        .arg(PROGRESS)
        .arg("garbage")
        .query(&mut con)
        .unwrap();
    create(&mut c, 3);
    wait_progress(&mut con, "3");
    assert_eq!(vlans(&mut con), expected_vlans(3));
    sd.stop();
}

/// A malformed last request moves the checkpoint like any other, so the warm
/// start after it finds Redis and the ring in step. (Found in review: it was
/// released but never reached Redis, and the position check then refused.)
#[test]
fn a_malformed_last_request_does_not_stop_a_warm_start() {
    let Env {
        _redis,
        url,
        tmp: _tmp,
        dir,
    } = env();
    let sd = ready(&dir, &url, &["--create", "--capacity", "1048576"]);
    let mut c = Client::open(&dir, &ClientOptions::default()).unwrap();
    create(&mut c, 1);
    drop(c);
    let mut p = sairing_ring::Producer::open(
        sairing_transport::channel::Paths::new(&dir).request,
        &sairing_ring::OpenOptions::default(),
    )
    .unwrap();
    p.push(sairing_transport::codec::KIND_REQUEST, b"junk")
        .unwrap();
    drop(p);
    let mut con = conn(&url);
    wait_progress(&mut con, "2");
    sd.stop();
    let (sd, line) = start(&dir, &url, &["--warm"]);
    assert_eq!(line.trim_end(), "syncd: ready, resuming after request 2");
    sd.stop();
}

/// A recording begun mid-stream knows nothing of the requests before it: a
/// rebuild from it refuses instead of starting from an empty state. (Found in
/// review: requests 1..3 were never recorded, and the rebuild kept only 4..6.)
#[test]
fn a_recording_begun_mid_stream_cannot_rebuild_from_nothing() {
    let Env {
        _redis,
        url,
        tmp,
        dir,
    } = env();
    let rec = tmp.path().join("sairedis.rec");
    let rec_s = rec.to_str().unwrap();
    let (_snap, mut c) = three_creates_and_the_snapshot_after_one(&dir, &url, &[]);
    let sd = ready(&dir, &url, &["--warm", "--record", rec_s]);
    for n in 4..=6 {
        create(&mut c, n);
    }
    sd.stop();
    let mut con = conn(&url);
    let _: () = redis::cmd("FLUSHDB").query(&mut con).unwrap();
    let err = refused(&dir, &url, &["--warm", "--record", rec_s]);
    assert!(err.contains("starts after request 3"), "{err}");
    assert_eq!(progress(&mut con), None);
}

/// A private Redis, and an empty switch shared as the apply loop shares it.
fn redis_and_switch() -> (PrivateRedis, sairing_syncd::mirror::SharedSwitch) {
    let redis = PrivateRedis::start()
        .unwrap_or_else(|e| panic!("this test needs its own redis-server: {e}"));
    let sw = sairing_syncd::mirror::shared(sairing_syncd::vs::Switch::new(), 0);
    (redis, sw)
}

/// A mirror of `switch` on the database at `url` (one ring, no profile),
/// durable at `durable`, rewriting Redis first or not.
fn mirror_config(
    url: String,
    switch: sairing_syncd::mirror::SharedSwitch,
    durable: u64,
    resync_first: bool,
) -> sairing_syncd::mirror::MirrorConfig {
    sairing_syncd::mirror::MirrorConfig {
        url,
        ring_id: "00112233445566778899aabbccddeeff".into(),
        switch,
        profile: None,
        durable,
        resync_first,
        linger: std::time::Duration::ZERO,
    }
}

/// A request handed over to an idle mirror wakes it: it is written at once,
/// not at the look the idle thread takes every tenth of a second; and an
/// idle thread sleeps between its looks.
#[test]
fn an_idle_mirror_is_woken_by_a_hand_over_and_sleeps_between_looks() {
    use sairing_syncd::mirror::{lock, Mirror};
    use std::time::{Duration, Instant};
    let (redis, sw) = redis_and_switch();
    let started = Instant::now();
    let mut m = Mirror::start(mirror_config(redis.url(1), sw.clone(), 0, false));
    let rounds = 5;
    for seq in 1..=rounds {
        // Idle: it has looked once since the last commit (so it sleeps, or
        // is about to).
        let looks = m.stats().looks;
        let deadline = Instant::now() + Duration::from_secs(20);
        while m.stats().looks == looks {
            assert!(Instant::now() < deadline, "an idle mirror never looked");
            std::thread::sleep(Duration::from_millis(5));
        }
        {
            let mut g = lock(&sw);
            let key = format!("SAI_OBJECT_TYPE_VLAN:oid:0x26{seq:014x}");
            g.switch.create(&key, std::iter::empty());
            g.seq = seq;
        }
        m.handed(seq);
        assert!(
            m.flush_to(seq, Duration::from_secs(20)),
            "request {seq} written"
        );
    }
    let s = m.stats();
    let elapsed = started.elapsed();
    assert_eq!(
        s.woken, rounds,
        "each hand-over woke the idle mirror: {s:?}"
    );
    // One look a tenth of a second at most (and the one under way).
    let most = elapsed.as_millis() as u64 / 100 + 1;
    assert!(s.looks <= most, "{} looks in {elapsed:?}: {s:?}", s.looks);
}

/// A commit a moment after the last does not linger when many requests wait
/// (found by review: it looked at those taken off the channel so far, one or
/// two, not at those applied).
#[test]
fn a_backlog_of_requests_is_written_without_lingering() {
    use sairing_syncd::mirror::{Mirror, MirrorConfig, LINGER_BELOW};
    use std::time::Duration;
    let (redis, sw) = redis_and_switch();
    let mut m = Mirror::start(MirrorConfig {
        linger: Duration::from_secs(30),
        ..mirror_config(redis.url(1), sw.clone(), 0, false)
    });
    let apply = |from: u64, to: u64| apply_routes(&sw, from, to);
    apply(1, 1);
    m.handed(1);
    assert!(
        m.flush_to(1, Duration::from_secs(20)),
        "the first commit is at once"
    );
    let last = 1 + LINGER_BELOW;
    apply(2, last);
    for seq in 2..=last {
        m.handed(seq);
    }
    // Far less than the linger: a commit that waited it would not be here.
    assert!(
        m.flush_to(last, Duration::from_secs(20)),
        "{LINGER_BELOW} requests waiting, and the commit lingered"
    );
}

/// Requests `from..=to` applied to the switch: each makes route number `seq`.
fn apply_routes(sw: &sairing_syncd::mirror::SharedSwitch, from: u64, to: u64) {
    let mut g = sairing_syncd::mirror::lock(sw);
    for seq in from..=to {
        let route = format!(
            r#"SAI_OBJECT_TYPE_ROUTE_ENTRY:{{"dest":"10.{}.{}.0/24"}}"#,
            seq >> 8,
            seq & 255
        );
        g.switch.create(&route, std::iter::empty());
        g.seq = seq;
    }
}

/// A TCP relay to the Redis at `redis_port`, for any number of clients: it
/// passes everything both ways, but once [`armed`](Relay::armed) it
/// withholds every reply on the connection that sends the next MULTI, from
/// that MULTI on. To the
/// client, a Redis that answered the commands before a transaction (the
/// mirror's WATCH and read of its progress record) and then stopped
/// answering, in the middle of the transaction.
struct Relay {
    port: u16,
    armed: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Relay {
    fn start(redis_port: u16) -> Relay {
        use std::io::{Read, Write};
        use std::net::{Shutdown, TcpListener, TcpStream};
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let armed = Arc::new(AtomicBool::new(false));
        let arm = armed.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let server = TcpStream::connect(("127.0.0.1", redis_port)).unwrap();
                let stalled = Arc::new(AtomicBool::new(false));
                let (mut from, mut to) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let (arm, stall) = (arm.clone(), stalled.clone());
                std::thread::spawn(move || {
                    let mut buf = vec![0u8; 1 << 16];
                    while let Ok(n @ 1..) = from.read(&mut buf) {
                        let multi = buf[..n].windows(7).any(|w| w == b"MULTI\r\n");
                        if multi && arm.swap(false, Ordering::SeqCst) {
                            stall.store(true, Ordering::SeqCst);
                        }
                        if to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = to.shutdown(Shutdown::Write);
                });
                let (mut from, mut to) = (server, client);
                std::thread::spawn(move || {
                    let mut buf = vec![0u8; 1 << 16];
                    while let Ok(n @ 1..) = from.read(&mut buf) {
                        if !stalled.load(Ordering::SeqCst) && to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = to.shutdown(Shutdown::Both);
                });
            }
        });
        Relay { port, armed }
    }

    /// Withholds the replies on the connection that sends the next MULTI.
    fn arm(&self) {
        self.armed.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    fn armed(&self) -> bool {
        self.armed.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// A Redis that stops answering in the middle of a commit fails that commit
/// once, when the first reply is late by the connection's read timeout
/// (10 s), and everything is written once it answers again. (Found by
/// review: redis-rs's `req_packed_commands` waits out the timeout for every
/// one of a transaction's replies, 10 s each, before it reports the first:
/// a commit of 200 keys held the mirror, and the stopping of syncd, for
/// more than half an hour.)
#[test]
fn a_redis_that_stops_answering_mid_commit_fails_it_once_and_loses_nothing() {
    use sairing_syncd::mirror::Mirror;
    use std::time::{Duration, Instant};
    let (redis, sw) = redis_and_switch();
    let relay = Relay::start(redis.port());
    let url = format!("redis://127.0.0.1:{}/1", relay.port);
    let mut m = Mirror::start(mirror_config(url, sw.clone(), 0, false));
    let apply = |from: u64, to: u64| apply_routes(&sw, from, to);
    // Connected, and one commit made.
    apply(1, 1);
    m.handed(1);
    assert!(m.flush_to(1, Duration::from_secs(20)), "{:?}", m.stats());
    // A commit of 199 keys whose transaction is never answered.
    relay.arm();
    let last = 200;
    apply(2, last);
    m.handed(last);
    let deadline = Instant::now() + Duration::from_secs(60);
    while m.stats().failures == 0 {
        assert!(
            Instant::now() < deadline,
            "a commit whose replies stopped never failed: {:?}",
            m.stats()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !relay.armed(),
        "the failure was not the withheld transaction's"
    );
    // The transaction ran in Redis, unanswered: the mirror, connected again,
    // finds a progress record it did not see written, and rewrites it all.
    assert!(
        m.flush_to(last, Duration::from_secs(60)),
        "written once Redis answers: {:?}",
        m.stats()
    );
    let keys: Vec<String> = conn(&redis.url(1))
        .keys("ASIC_STATE:SAI_OBJECT_TYPE_ROUTE_ENTRY:*")
        .unwrap();
    assert_eq!(keys.len() as u64, last, "every route in Redis");
}

/// A key of another type written by hand where syncd then makes an object:
/// the commit's HSET meets WRONGTYPE inside the transaction (the mirror does
/// not clear the hash of a key whose object is new). Redis must end up
/// holding the object, and never a record past a state it lacks.
#[test]
fn a_string_written_by_hand_where_an_object_is_made_is_replaced() {
    use sairing_syncd::mirror::{lock, Mirror};
    use std::time::Duration;
    let (redis, sw) = redis_and_switch();
    let mut m = Mirror::start(mirror_config(redis.url(1), sw.clone(), 0, false));
    let mut con = conn(&redis.url(1));
    let key = "SAI_OBJECT_TYPE_NEXT_HOP:oid:0x42";
    {
        let mut g = lock(&sw);
        g.switch
            .create("SAI_OBJECT_TYPE_NEXT_HOP:oid:0x41", std::iter::empty());
        g.seq = 1;
    }
    m.handed(1);
    assert!(m.flush_to(1, Duration::from_secs(10)));
    let _: () = con.set(format!("ASIC_STATE:{key}"), "garbage").unwrap();
    {
        let mut g = lock(&sw);
        g.switch
            .create(key, [("SAI_NEXT_HOP_ATTR_IP", "10.0.0.1")].into_iter());
        g.seq = 2;
    }
    m.handed(2);
    assert!(m.flush_to(2, Duration::from_secs(10)), "{:?}", m.stats());
    let h: BTreeMap<String, String> = con.hgetall(format!("ASIC_STATE:{key}")).unwrap();
    assert_eq!(
        h,
        BTreeMap::from([("SAI_NEXT_HOP_ATTR_IP".to_owned(), "10.0.0.1".to_owned())])
    );
}

/// After every commit Redis holds exactly what the switch holds, whatever
/// happened to an object in between: made, set, removed, made again with
/// fewer attributes (its old hash must go), made and removed (never
/// written). The mirror skips clearing the hash of a key whose first change
/// made its object; this checks that it is never one Redis holds.
#[test]
fn redis_holds_exactly_the_switch_after_every_commit() {
    use sairing_syncd::mirror::{lock, Mirror};
    use std::time::Duration;
    let (redis, sw) = redis_and_switch();
    let mut m = Mirror::start(mirror_config(redis.url(1), sw.clone(), 0, false));
    let mut con = conn(&redis.url(1));
    let mut rng = sairing_testkit::XorShift::new(0x2545_f491_4f6c_dd1d);
    let mut next = |n: u64| rng.below(n);
    let mut seq = 0;
    for step in 0..300 {
        {
            let mut g = lock(&sw);
            for _ in 0..=next(4) {
                let key = format!("SAI_OBJECT_TYPE_NEXT_HOP:oid:0x{:x}", 0x40 + next(4));
                let attrs: Vec<(String, String)> = (0..next(3))
                    .map(|i| (format!("SAI_NEXT_HOP_ATTR_{i}"), format!("{step}")))
                    .collect();
                let it = attrs.iter().map(|(n, v)| (n.as_str(), v.as_str()));
                match next(3) {
                    0 => g.switch.create(&key, it),
                    1 => g.switch.set(&key, it),
                    _ => g.switch.remove(&key),
                };
                seq += 1;
                g.seq = seq;
            }
        }
        m.handed(seq);
        assert!(m.flush_to(seq, Duration::from_secs(10)), "step {step}");
        let want: Snapshot = {
            let g = lock(&sw);
            let mut v: Snapshot = g
                .switch
                .objects()
                .iter()
                .map(|o| {
                    let mut h: BTreeMap<String, String> = o.to_attrs().into_iter().collect();
                    if h.is_empty() {
                        h.insert("NULL".into(), "NULL".into());
                    }
                    (format!("ASIC_STATE:{}", o.key()), h)
                })
                .collect();
            v.sort();
            v
        };
        let got: Snapshot = snapshot(&mut con)
            .into_iter()
            .filter(|(k, _)| k.starts_with("ASIC_STATE:"))
            .collect();
        assert_eq!(got, want, "step {step}");
    }
    assert!(m.stats().transactions >= 300, "{:?}", m.stats());
}

/// Requests handed over one by one a moment after a commit wait for the
/// linger to pass, and then go in one commit (a synchronous client would
/// otherwise make a commit, and a Redis round trip, of each request); the
/// first request after a quiet spell is written at once.
#[test]
fn requests_arriving_one_by_one_share_a_commit() {
    use sairing_syncd::mirror::{lock, Mirror, MirrorConfig};
    use std::time::Duration;
    let (redis, sw) = redis_and_switch();
    let mut m = Mirror::start(MirrorConfig {
        linger: Duration::from_secs(2),
        ..mirror_config(redis.url(1), sw.clone(), 0, false)
    });
    let apply = |m: &mut Mirror, seq: u64| {
        let mut g = lock(&sw);
        let key = format!(r#"SAI_OBJECT_TYPE_ROUTE_ENTRY:{{"dest":"10.0.{seq}.0/24"}}"#);
        g.switch.create(&key, std::iter::empty());
        g.seq = seq;
        drop(g);
        m.handed(seq);
    };
    apply(&mut m, 1);
    // The first: no commit before it, so no wait (a linger of 2 s would
    // outlast this flush).
    assert!(
        m.flush_to(1, Duration::from_millis(1500)),
        "request 1 lingered"
    );
    for seq in 2..=10 {
        apply(&mut m, seq);
    }
    assert!(
        !m.flush_to(10, Duration::from_millis(300)),
        "request 10 was written a moment after the commit of request 1"
    );
    assert!(m.flush_to(10, Duration::from_secs(10)));
    assert_eq!(m.stats().transactions, 2, "{:?}", m.stats());
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("ASIC_STATE:*")
        .query(&mut conn(&redis.url(1)))
        .unwrap();
    assert_eq!(keys.len(), 10);
}

/// A mirror that must first rewrite Redis (a cold start, or a state rebuilt
/// from a recording) reports nothing durable until that rewrite has landed:
/// syncd frees ring space only up to `durable()`, so reporting the starting
/// position early would free requests Redis does not hold.
#[test]
fn a_mirror_that_must_rewrite_redis_is_not_durable_before_it_has() {
    use sairing_syncd::mirror::Mirror;
    use std::time::Duration;
    let config = |url: String| {
        mirror_config(
            url,
            sairing_syncd::mirror::shared(Default::default(), 7),
            7,
            true,
        )
    };
    let mut redis = PrivateRedis::start()
        .unwrap_or_else(|e| panic!("this test needs its own redis-server: {e}"));
    redis.stop();
    let m = Mirror::start(config(redis.url(1)));
    // Redis is down: the rewrite cannot land. (Asserted once Redis is back,
    // so that a failure does not leave the mirror flushing forever on drop.)
    let early = (m.flush_to(7, Duration::from_millis(300)), m.durable());
    redis.restart().unwrap();
    assert_eq!(early, (false, 0), "durable before Redis holds anything");
    assert!(m.flush_to(7, Duration::from_secs(10)), "the rewrite lands");
    let mut c = conn(&redis.url(1));
    let seq: String = c.hget(PROGRESS, "seq").unwrap();
    assert_eq!(seq, "7");
}

/// The mirror keeps no copy of the state: it reads the switch the apply loop
/// shares with it, whole for a rewrite, the keys changed for a commit. The
/// switch may be ahead of what the mirror has been handed (the recorder hands
/// requests over only once written, and Redis must never hold a request the
/// recording lacks), so neither lands before every request it includes has
/// been handed over, and the progress record names the last of them.
#[test]
fn the_mirror_writes_the_shared_switch_once_its_requests_are_handed_over() {
    use sairing_syncd::mirror::{lock, shared, Mirror};
    use sairing_syncd::vs::Switch;
    use std::time::Duration;
    let redis = PrivateRedis::start()
        .unwrap_or_else(|e| panic!("this test needs its own redis-server: {e}"));
    let route = |i: u64| format!(r#"SAI_OBJECT_TYPE_ROUTE_ENTRY:{{"dest":"10.0.{i}.0/24"}}"#);
    let nh = [("SAI_ROUTE_ENTRY_ATTR_NEXT_HOP_ID", "oid:0x1")];
    let sw = shared(Switch::new(), 2);
    let apply = |seq: u64, f: &dyn Fn(&mut Switch)| {
        let mut g = lock(&sw);
        f(&mut g.switch);
        g.seq = seq;
    };
    // Requests 3 to 5 applied to the switch (before the mirror starts, so
    // that its first rewrite cannot come before them); only 3 handed over.
    for seq in 3..=5 {
        apply(seq, &|s| {
            s.create(&route(seq), nh.into_iter());
        });
    }
    let mut m = Mirror::start(mirror_config(redis.url(1), sw.clone(), 2, true));
    let mut c = conn(&redis.url(1));
    m.handed(3);
    let early = (m.flush_to(3, Duration::from_millis(300)), m.durable());
    m.handed(5);
    assert_eq!(
        early,
        (false, 0),
        "the rewrite landed before request 5 was handed over"
    );
    assert!(m.flush_to(5, Duration::from_secs(10)), "the rewrite lands");
    let seq: String = c.hget(PROGRESS, "seq").unwrap();
    assert_eq!(seq, "5");
    for i in 3..=5 {
        let v: Option<String> = c
            .hget(
                format!("ASIC_STATE:{}", route(i)),
                "SAI_ROUTE_ENTRY_ATTR_NEXT_HOP_ID",
            )
            .unwrap();
        assert_eq!(v.as_deref(), Some("oid:0x1"), "route {i}");
    }
    // Then commits of what changed: request 6 removes route 3, 7 sets route
    // 4; only 6 handed over.
    apply(6, &|s| {
        s.remove(&route(3));
    });
    apply(7, &|s| {
        s.set(
            &route(4),
            [("SAI_ROUTE_ENTRY_ATTR_NEXT_HOP_ID", "oid:0x2")].into_iter(),
        );
    });
    m.handed(6);
    let early = (m.flush_to(6, Duration::from_millis(300)), m.durable());
    m.handed(7);
    assert_eq!(
        early,
        (false, 5),
        "a commit landed before request 7 was handed over"
    );
    assert!(m.flush_to(7, Duration::from_secs(10)));
    assert!(!c
        .exists::<_, bool>(format!("ASIC_STATE:{}", route(3)))
        .unwrap());
    let v: String = c
        .hget(
            format!("ASIC_STATE:{}", route(4)),
            "SAI_ROUTE_ENTRY_ATTR_NEXT_HOP_ID",
        )
        .unwrap();
    assert_eq!(v, "oid:0x2");
    let seq: String = c.hget(PROGRESS, "seq").unwrap();
    assert_eq!(seq, "7");
    let stats = m.stats();
    assert_eq!((stats.resyncs, stats.keys_written), (1, 3 + 2), "{stats:?}");
}

/// The apply loop waits while more changes than a limit are pending that
/// the mirror has not taken (Redis slower than the apply loop), so that a
/// commit, and the memory building it takes, stays bounded; the mirror takes
/// them even while Redis is away, so an outage still turns into backpressure
/// only once the ring is full.
#[test]
fn the_apply_loop_waits_while_too_many_changes_are_pending() {
    use sairing_syncd::mirror::{lock, shared, wait_for_room, Mirror};
    use sairing_syncd::vs::Switch;
    use std::time::Duration;
    let mut redis = PrivateRedis::start()
        .unwrap_or_else(|e| panic!("this test needs its own redis-server: {e}"));
    let sw = shared(Switch::new(), 0);
    lock(&sw).switch.track_changes();
    for seq in 1..=10u64 {
        let mut g = lock(&sw);
        let key = format!(r#"SAI_OBJECT_TYPE_ROUTE_ENTRY:{{"dest":"10.0.{seq}.0/24"}}"#);
        g.switch.create(&key, std::iter::empty());
        g.seq = seq;
    }
    assert!(
        wait_for_room(&sw, 11, Duration::ZERO),
        "10 pending, room for 11"
    );
    assert!(
        !wait_for_room(&sw, 5, Duration::from_millis(200)),
        "nobody took the 10 changes, yet there was room for 5"
    );
    redis.stop();
    let mut m = Mirror::start(mirror_config(redis.url(1), sw.clone(), 0, true));
    m.handed(10);
    // Redis is away: taken anyway.
    let room = wait_for_room(&sw, 5, Duration::from_secs(10));
    redis.restart().unwrap();
    assert!(
        room,
        "the mirror did not take the changes while redis was away"
    );
    assert!(m.flush_to(10, Duration::from_secs(10)));
}

/// A progress record of the wrong type found when the mirror connects (not
/// only at a commit) is a change like any other: Redis is rewritten. (It was
/// an error at every reconnect, for ever, and nothing became durable.)
#[test]
fn a_record_of_the_wrong_type_found_at_connect_is_rewritten() {
    use sairing_syncd::mirror::{lock, shared, Mirror};
    use sairing_syncd::vs::Switch;
    use std::time::Duration;
    let redis = PrivateRedis::start()
        .unwrap_or_else(|e| panic!("this test needs its own redis-server: {e}"));
    let mut c = conn(&redis.url(1));
    let _: () = redis::cmd("SET")
        .arg(PROGRESS)
        .arg("garbage")
        .query(&mut c)
        .unwrap();
    let sw = shared(Switch::new(), 4);
    let mut m = Mirror::start(mirror_config(redis.url(1), sw.clone(), 4, false));
    lock(&sw).seq = 5;
    m.handed(5);
    assert!(
        m.flush_to(5, Duration::from_secs(10)),
        "nothing durable: {:?}",
        m.stats().last_error
    );
    let seq: String = c.hget(PROGRESS, "seq").unwrap();
    assert_eq!(seq, "5");
}

/// A mirror stopped while Redis is away ends (what is not durable stays in
/// the ring for the next start): it went on retrying for ever, so a syncd
/// told to stop with Redis down never exited.
#[test]
fn a_mirror_stopped_while_redis_is_away_ends() {
    use sairing_syncd::mirror::{lock, shared, Mirror};
    use sairing_syncd::vs::Switch;
    use std::time::Duration;
    let mut redis = PrivateRedis::start()
        .unwrap_or_else(|e| panic!("this test needs its own redis-server: {e}"));
    redis.stop();
    let sw = shared(Switch::new(), 0);
    let mut m = Mirror::start(mirror_config(redis.url(1), sw.clone(), 0, true));
    lock(&sw).seq = 1;
    m.handed(1);
    assert!(!m.flush_to(1, Duration::from_millis(200)));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        drop(m);
        let _ = tx.send(());
    });
    assert!(
        rx.recv_timeout(Duration::from_secs(20)).is_ok(),
        "the mirror did not end 20 s after it was told to stop"
    );
}

/// Values that the text recording cannot carry (a `|`, a newline, a name with
/// `=`) still rebuild exactly: what Redis holds after a rebuild from the
/// recording equals what it held before the flush, byte for byte.
#[test]
fn a_rebuild_keeps_values_the_text_format_cannot_carry() {
    let Env {
        _redis,
        url,
        tmp,
        dir,
    } = env();
    let rec = tmp.path().join("sairedis.rec");
    let rec_s = rec.to_str().unwrap();
    let sd = ready(
        &dir,
        &url,
        &["--create", "--capacity", "1048576", "--record", rec_s],
    );
    let mut c = Client::open(&dir, &ClientOptions::default()).unwrap();
    let awkward = [
        ("SAI_VLAN_ATTR_VLAN_ID", "101"),
        ("SAI_VLAN_ATTR_CUSTOM_RANGE_START", "a|b=c\nd|e=|"),
        ("SAI_VLAN_ATTR_CUSTOM=NAME", "x\r\ny"),
        // A line break followed by what looks like a marker: it must not
        // become one in the recording.
        (
            "SAI_VLAN_ATTR_CUSTOM_RANGE_END",
            "\n2026-01-01.00:00:00.000000|#|sairing seq 99\n2026-01-01.00:00:00.000000|c|SAI_OBJECT_TYPE_VLAN:oid:0x9|SAI_VLAN_ATTR_VLAN_ID=9",
        ),
    ];
    common::done(c.create(&vlan(1), &awkward).unwrap());
    common::done(
        c.set(&vlan(1), "SAI_VLAN_ATTR_MEMBER_LIST", "1|2\n3")
            .unwrap(),
    );
    // A bulk call with no objects: its line, `ts|C|TYPE`, does not parse
    // back (found in review: every rebuild across it failed).
    let none: [sairing_transport::BulkObject<'_, (&str, &str)>; 0] = [];
    let _ = c
        .bulk(Op::BulkCreate, "SAI_OBJECT_TYPE_VLAN", &none)
        .unwrap();
    create(&mut c, 2);
    let mut con = conn(&url);
    wait_progress(&mut con, "4");
    let before = snapshot(&mut con);
    sd.stop();
    let sd = flush_and_rebuild(&dir, &url, rec_s, 4);
    wait_progress(&mut con, "4");
    sd.stop();
    assert_eq!(snapshot(&mut con), before);
}

/// A checkpoint ahead of everything the ring ever held (an outside write, a
/// ring on disk rolled back by a power loss) is refused: resuming after it
/// would skip, unapplied and unanswered, every request up to its number.
#[test]
fn warm_start_refuses_a_checkpoint_ahead_of_the_ring() {
    let Env {
        _redis,
        url,
        tmp: _tmp,
        dir,
    } = env();
    let (_snap, client) = three_creates_and_the_snapshot_after_one(&dir, &url, &[]);
    drop(client);
    let mut con = conn(&url);
    let _: () = con.hset(PROGRESS, "seq", "1000").unwrap();
    // Two more requests wait in the ring for the next syncd.
    let mut c = Client::open(
        &dir,
        &ClientOptions {
            mode: sairing_transport::Mode::Async,
            ..Default::default()
        },
    )
    .unwrap();
    for n in 4..=5 {
        let id = (100 + n).to_string();
        c.create(&vlan(n), &[("SAI_VLAN_ATTR_VLAN_ID", id.as_str())])
            .unwrap();
    }
    let err = refused(&dir, &url, &["--warm"]);
    assert!(
        err.contains("request 1000") && err.contains("request 5"),
        "{err}"
    );
}

fn vlan_keys(ns: impl IntoIterator<Item = u64>) -> Vec<String> {
    let mut k: Vec<String> = ns
        .into_iter()
        .map(|i| format!("ASIC_STATE:{}", vlan(i)))
        .collect();
    k.sort();
    k
}

/// One recording across two rings (the channel recreated after a reboot: the
/// recording is on disk, /dev/shm is not). The new ring's requests start at 1
/// again; all of them are recorded, and a rebuild folds in only this ring's.
/// (Found in review: the recorder skipped the new ring's requests 1..3 as
/// already recorded, and the rebuild mixed the two rings' objects.)
#[test]
fn a_recording_shared_by_two_rings_rebuilds_only_this_rings_requests() {
    let Env {
        _redis,
        url,
        tmp,
        dir,
    } = env();
    let rec = tmp.path().join("sairedis.rec");
    let rec_s = rec.to_str().unwrap();
    let (_snap, client) =
        three_creates_and_the_snapshot_after_one(&dir, &url, &["--record", rec_s]);
    drop(client);
    let second = tmp.path().join("asic2");
    let sd = ready(
        &second,
        &url,
        &["--create", "--capacity", "1048576", "--record", rec_s],
    );
    let mut c = Client::open(&second, &ClientOptions::default()).unwrap();
    for n in 10..=13 {
        create(&mut c, n);
    }
    sd.stop();
    let mut con = conn(&url);
    assert_eq!(vlans(&mut con), vlan_keys(10..=13));
    flush_and_rebuild(&second, &url, rec_s, 4).stop();
    assert_eq!(vlans(&mut con), vlan_keys(10..=13));
}

/// A cold start empties the switch; the recording says so, and a later rebuild
/// does not fold the requests before it back in.
#[test]
fn a_rebuild_does_not_fold_requests_from_before_a_cold_start() {
    let Env {
        _redis,
        url,
        tmp,
        dir,
    } = env();
    let rec = tmp.path().join("sairedis.rec");
    let rec_s = rec.to_str().unwrap();
    let (_snap, client) =
        three_creates_and_the_snapshot_after_one(&dir, &url, &["--record", rec_s]);
    drop(client);
    // Cold start on the same ring: requests 1..3 were released, the switch is empty.
    let sd = ready(&dir, &url, &["--record", rec_s]);
    let mut c = Client::open(&dir, &ClientOptions::default()).unwrap();
    create(&mut c, 4);
    sd.stop();
    let mut con = conn(&url);
    assert_eq!(vlans(&mut con), vlan_keys([4]));
    flush_and_rebuild(&dir, &url, rec_s, 4).stop();
    assert_eq!(vlans(&mut con), vlan_keys([4]));
}

/// A warm start with another switch profile than the one the state in Redis
/// was made with is refused, naming both (SONiC's syncd checks its lane map on
/// a warm boot the same way): the switch would otherwise hold, for ids Redis
/// knows, what the other profile makes.
#[test]
fn warm_start_refuses_another_profile() {
    let Env {
        _redis,
        url,
        tmp,
        dir,
    } = env();
    let sd = ready(&dir, &url, &["--create"]);
    let mut c = Client::open(&dir, &ClientOptions::default()).unwrap();
    let a: [(&str, &str); 1] = [("SAI_SWITCH_ATTR_INIT_SWITCH", "true")];
    let r = c
        .create("SAI_OBJECT_TYPE_SWITCH:oid:0x21000000000000", &a)
        .unwrap();
    common::done(r);
    drop(c);
    sd.stop();
    let mlnx = tmp.path().join("vsprofile.ini");
    std::fs::write(&mlnx, "SAI_VS_SWITCH_TYPE=SAI_VS_SWITCH_TYPE_MLNX2700\n").unwrap();
    let err = refused(&dir, &url, &["--warm", "--profile", mlnx.to_str().unwrap()]);
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.contains("Bcm56850") && last.contains("Mlnx2700") && last.contains("--profile"),
        "the refusal should name both profiles and the way out: {err}"
    );
    // The same profile starts.
    ready(&dir, &url, &["--warm"]).stop();
}
