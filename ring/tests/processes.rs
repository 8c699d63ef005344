//! Two real processes over one ring file: a producer writing 1,000,000 records
//! of varying size and known contents, a consumer checking every byte and every
//! sequence number; then the same while one side is SIGKILLed and restarted.

mod common;
use common::*;

const N: u64 = 1_000_000;
const CAPACITY: u64 = 1 << 16;
const BATCH: u64 = 64;

fn ring(dir: &tempfile::TempDir) -> String {
    let p = dir.path().join("ring");
    create(&p, CAPACITY);
    p.to_str().expect("utf-8 temp path").to_owned()
}

#[test]
fn million_records_cross_process() {
    let dir = tempfile::tempdir().unwrap();
    let path = ring(&dir);
    let n = N.to_string();
    let mut producer = Proc::spawn(&["produce", &path, "--count", &n, "--every", "100000"]);
    let consumer = Proc::spawn(&["consume", &path, "--count", &n, "--batch", "64"]);
    let c = consumer.finish_watching(&mut producer);
    let p = producer.finish();
    assert_eq!(value(&c[0], "resume"), Some(1));
    assert_eq!(last(&c, "done"), Some(N));
    assert_eq!(last(&p, "done"), Some(N));
    // Releases are reported in strictly increasing order and end at N.
    let released: Vec<u64> = c.iter().filter_map(|l| value(l, "released")).collect();
    assert!(
        released.windows(2).all(|w| w[0] < w[1]),
        "releases out of order"
    );
    assert_eq!(released.last(), Some(&N));
}

#[test]
fn consumer_killed_and_restarted() {
    let dir = tempfile::tempdir().unwrap();
    let path = ring(&dir);
    let n = N.to_string();
    let mut producer = Proc::spawn(&["produce", &path, "--count", &n, "--every", "100000"]);
    let mut rng = Rng(0xC0FFEE);
    let mut last_logged_release = 0u64;
    let kills = 6;
    for k in 1..=kills {
        let mut c = Proc::spawn(&[
            "consume",
            &path,
            "--count",
            &n,
            "--batch",
            &BATCH.to_string(),
        ]);
        let start = c.until("resume", 0);
        // Resumes after everything it was told was released, and at most one
        // unreported batch later: nothing lost, repeats only of unreleased records.
        assert!(
            start > last_logged_release && start <= last_logged_release + 1 + BATCH,
            "incarnation {k} resumed at {start}, last release logged {last_logged_release}"
        );
        let target = k * N / (kills + 1) + rng.below(N / 20);
        c.until_watching("released", target, &mut producer);
        let lines = c.kill9();
        last_logged_release = last(&lines, "released").expect("released something");
    }
    let c = Proc::spawn(&[
        "consume",
        &path,
        "--count",
        &n,
        "--batch",
        &BATCH.to_string(),
    ]);
    let lines = c.finish_watching(&mut producer);
    let start = value(&lines[0], "resume").unwrap();
    assert!(start > last_logged_release && start <= last_logged_release + 1 + BATCH);
    assert_eq!(last(&lines, "done"), Some(N));
    assert_eq!(last(&producer.finish(), "done"), Some(N));
}

#[test]
fn producer_killed_and_restarted() {
    let dir = tempfile::tempdir().unwrap();
    let path = ring(&dir);
    let n = N.to_string();
    // One consumer sees the whole stream: every record, in order, intact,
    // across producer crashes (it exits 2 on the first bad one).
    let mut consumer = Proc::spawn(&["consume", &path, "--count", &n, "--batch", "32"]);
    let mut rng = Rng(0xBADC0DE);
    let mut last_progress = 0u64;
    let kills = 6;
    for k in 1..=kills {
        let mut p = Proc::spawn(&["produce", &path, "--count", &n, "--every", "1000"]);
        let resume = p.until("resume", 0);
        // Continues after the last committed record: at least past what it
        // reported, and never beyond what it could have written since.
        assert!(
            resume > last_progress,
            "producer {k} resumed at {resume}, had reported {last_progress}"
        );
        assert!(
            resume <= last_progress + 1000 + 1,
            "producer {k} resumed at {resume}, after {last_progress}"
        );
        let target = k * N / (kills + 1) + rng.below(N / 20);
        // A consumer that found a bad record has exited, and the producer
        // then waits for space for ever: watched, so the test fails at once.
        p.until_watching("progress", target, &mut consumer);
        last_progress = last(&p.kill9(), "progress").unwrap();
    }
    let p = Proc::spawn(&["produce", &path, "--count", &n, "--every", "1000"]);
    let lines = p.finish_watching(&mut consumer);
    assert!(value(&lines[0], "resume").unwrap() > last_progress);
    assert_eq!(last(&lines, "done"), Some(N));
    assert_eq!(last(&consumer.finish(), "done"), Some(N));
}

#[test]
fn role_refused_with_holder_pid_until_holder_dies() {
    let dir = tempfile::tempdir().unwrap();
    let path = ring(&dir);
    for (role, open) in [
        (
            "producer",
            (|p: &str| sairing_ring::Producer::open(p, &Default::default()).map(drop))
                as fn(&str) -> _,
        ),
        ("consumer", |p: &str| {
            sairing_ring::Consumer::open(p, &Default::default()).map(drop)
        }),
    ] {
        let mut holder = Proc::spawn_with_stdin(
            &["hold", &path, "--role", role],
            std::process::Stdio::piped(),
        );
        let pid = holder.until("held", 0);
        assert_eq!(pid, holder.child.id() as u64);
        match open(&path) {
            Err(sairing_ring::Error::RoleHeld {
                pid: p, role: r, ..
            }) => {
                assert_eq!(p as u64, pid);
                assert_eq!(r.to_string(), role);
                let msg = open(&path).unwrap_err().to_string();
                assert!(
                    msg.contains(&format!("{role} role is held by pid {pid}")),
                    "{msg}"
                );
            }
            other => panic!("second {role} was not refused: {:?}", other.err()),
        }
        // Liveness is visible through the lock.
        let alive = sairing_ring::roles_alive(std::path::Path::new(&path)).unwrap();
        assert_eq!(alive, (role == "producer", role == "consumer"));
        holder.kill9();
        open(&path).unwrap_or_else(|e| panic!("{role} refused after its holder died: {e}"));
        assert_eq!(
            sairing_ring::roles_alive(std::path::Path::new(&path)).unwrap(),
            (false, false)
        );
    }
}
