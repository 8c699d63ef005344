//! Client and server in separate processes: every call mode, bulk calls, gets,
//! notifications interleaved with responses, restarts of either side while the
//! other keeps going, and the credentials check on the rendezvous socket.
//! Every wait has a timeout: a lost wakeup fails the test instead of hanging it.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use sairing_transport::{
    channel::{self as ch, ChannelOptions},
    Body, BulkObject, Client, ClientOptions, Error, Mode, Op, Outcome, Server, ServerOptions,
    WaitPolicy,
};

/// How long a test waits for what takes milliseconds before it fails: a
/// broken side fails the test well within cargo-mutants' half-minute limit
/// (scripts/mutants.sh), rather than hanging past it.
const T: Duration = Duration::from_secs(10);

struct Peer {
    child: Child,
    lines: Receiver<String>,
}

impl Peer {
    fn spawn(args: &[&str]) -> Peer {
        Self::spawn_cmd(Command::new(sairing_testkit::chanpeer()).args(args))
    }

    fn spawn_cmd(cmd: &mut Command) -> Peer {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn chanpeer");
        let out = child.stdout.take().unwrap();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Peer { child, lines: rx }
    }

    /// Waits for a line starting with `prefix`; panics on timeout or exit.
    fn expect(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + T;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l.starts_with(prefix) => return l,
                Ok(_) => continue,
                Err(e) => panic!(
                    "chanpeer (pid {}) gave no `{prefix}` line: {e:?}",
                    self.child.id()
                ),
            }
        }
    }

    fn kill9(mut self) {
        self.child.kill().unwrap(); // SIGKILL
        self.child.wait().unwrap();
    }

    fn finish(mut self) -> Vec<String> {
        let status = self.child.wait().unwrap();
        let mut lines = Vec::new();
        while let Ok(l) = self.lines.recv_timeout(T) {
            lines.push(l);
        }
        assert!(
            status.success(),
            "chanpeer failed ({status}); output {lines:?}"
        );
        lines
    }
}

/// A peer a test did not see to its end (the test failed first) is killed: a
/// server left running would outlive the test.
impl Drop for Peer {
    fn drop(&mut self) {
        // Nothing is signalled once the child has been reaped.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// For the tests that switch uid in a child process: they must run as root.
/// A channel of 64 KiB rings in a temporary directory.
fn root_and_channel() -> (tempfile::TempDir, PathBuf) {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "this test switches uid in a child process and must run as root"
    );
    let tmp = tempfile::tempdir().unwrap();
    let dir = channel_dir(&tmp, 1 << 16);
    (tmp, dir)
}

fn channel_dir(dir: &tempfile::TempDir, capacity: u64) -> PathBuf {
    let d = dir.path().join("chan");
    ch::create(
        &d,
        &ChannelOptions {
            capacity,
            ..Default::default()
        },
    )
    .unwrap();
    d
}

fn serve(dir: &Path, extra: &[&str]) -> Peer {
    let mut args = vec!["serve", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    let mut p = Peer::spawn(&args);
    p.expect("ready");
    p
}

fn client(dir: &Path, mode: Mode, wait: WaitPolicy) -> Client {
    Client::open(dir, &ClientOptions { mode, wait }).unwrap()
}

fn short_spin() -> WaitPolicy {
    WaitPolicy {
        timeout: T,
        ..WaitPolicy::fixed_spin(Duration::from_micros(5))
    }
}

fn key(i: u64) -> String {
    format!("SAI_OBJECT_TYPE_PORT:oid:0x{:x}", 0x1000000000000 + i)
}

#[test]
fn every_mode_with_gets_bulk_and_notifications() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = channel_dir(&tmp, 1 << 20);
    let server = serve(&dir, &["--notify-every", "7"]);
    let mut c = client(&dir, Mode::Sync, short_spin());

    // Sync: each call returns its status; a get returns attributes.
    let r = c
        .create(&key(1), &[("SAI_PORT_ATTR_SPEED", "100000")])
        .unwrap();
    assert!(
        matches!(&r, Outcome::Done(r) if r.is_success() && r.op == Op::Create),
        "{r:?}"
    );
    let g = c
        .get(
            &key(1),
            &[("SAI_PORT_ATTR_SPEED", "0"), ("SAI_PORT_ATTR_MTU", "0")],
        )
        .unwrap();
    assert_eq!(
        g.attrs,
        vec![
            (
                "SAI_PORT_ATTR_SPEED".to_owned(),
                format!("{}/SAI_PORT_ATTR_SPEED", key(1))
            ),
            (
                "SAI_PORT_ATTR_MTU".to_owned(),
                format!("{}/SAI_PORT_ATTR_MTU", key(1))
            ),
        ]
    );
    assert!(
        matches!(c.set(&key(1), "SAI_PORT_ATTR_MTU", "9100").unwrap(), Outcome::Done(r) if r.is_success())
    );
    assert!(matches!(c.remove(&key(1)).unwrap(), Outcome::Done(r) if r.is_success()));
    assert!(c.notify_syncd("INIT_VIEW").unwrap().is_success());

    // Bulk: one status per object.
    let a = [(
        "SAI_ROUTE_ENTRY_ATTR_PACKET_ACTION",
        "SAI_PACKET_ACTION_FORWARD",
    )];
    let ids: Vec<String> = (0..5)
        .map(|i| format!(r#"{{"dest":"10.0.{i}.0/24","switch_id":"oid:0x21000000000000","vr":"oid:0x3000000000022"}}"#))
        .collect();
    let objs: Vec<BulkObject<'_, (&str, &str)>> = ids
        .iter()
        .map(|id| BulkObject {
            id: id.as_str(),
            attrs: &a[..],
        })
        .collect();
    match c
        .bulk(Op::BulkCreate, "SAI_OBJECT_TYPE_ROUTE_ENTRY", &objs)
        .unwrap()
    {
        Outcome::Done(r) => assert_eq!(r.statuses, vec!["SAI_STATUS_SUCCESS"; 5]),
        o => panic!("{o:?}"),
    }

    // Async: create/set/remove return at once; no failures collected.
    c.set_mode(Mode::Async);
    for i in 0..200 {
        assert!(matches!(
            c.set(&key(i), "SAI_PORT_ATTR_ADMIN_STATE", "true").unwrap(),
            Outcome::Sent(_)
        ));
    }
    // ... but a get still waits, and gets its own answer among the others.
    assert_eq!(
        c.get(&key(3), &[("X", "0")]).unwrap().attrs[0].1,
        format!("{}/X", key(3))
    );
    c.wait_all(Some(T)).unwrap();
    assert!(c.take_failures().is_empty());

    // Pipelined: completions matched by sequence number, each exactly once.
    c.set_mode(Mode::Pipelined);
    let mut seqs = std::collections::BTreeSet::new();
    for i in 0..300 {
        match c.set(&key(i), "SAI_PORT_ATTR_MTU", "1500").unwrap() {
            Outcome::Sent(s) => assert!(seqs.insert(s)),
            o => panic!("{o:?}"),
        }
    }
    for _ in 0..300 {
        let r = c
            .next_completion(Some(T))
            .unwrap()
            .expect("completion before the timeout");
        assert!(
            seqs.remove(&r.seq),
            "completion for unknown or repeated seq {}",
            r.seq
        );
        assert_eq!(r.op, Op::Set);
    }
    assert!(seqs.is_empty());

    // Notifications interleaved with all those responses: one after every 7th
    // request the server handled. All of them arrive, in order, none lost.
    let (sent, answered) = c.counts();
    assert_eq!(sent, answered);
    let expected = sent / 7;
    let mut notes = c.take_notifications();
    while (notes.len() as u64) < expected {
        notes.push(
            c.next_notification(T)
                .unwrap()
                .expect("notification before the timeout"),
        );
    }
    assert_eq!(notes.len() as u64, expected);
    for (i, n) in notes.iter().enumerate() {
        assert_eq!(n.name, "port_state_change");
        assert!(
            n.payload
                .contains(&format!("oid:0x{:x}\"", (i as u64 + 1) * 7)),
            "{}",
            n.payload
        );
    }
    server.kill9();
}

#[test]
fn server_killed_client_fills_ring_then_all_answered() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = channel_dir(&tmp, 1 << 16);
    let server = serve(&dir, &[]);
    let mut c = client(&dir, Mode::Async, short_spin());
    for i in 0..500 {
        c.set(&key(i), "SAI_PORT_ATTR_ADMIN_STATE", "true").unwrap();
    }
    c.wait_all(Some(T)).unwrap();
    let before = c.counts().0;

    server.kill9();
    // The client keeps going without its server, up to the ring's capacity.
    c.set_wait_policy(WaitPolicy {
        nonblocking: true,
        ..short_spin()
    });
    let mut queued = 0u64;
    let full = loop {
        match c.set(&key(queued), "SAI_PORT_ATTR_ADMIN_STATE", "false") {
            Ok(_) => queued += 1,
            Err(e) => break e,
        }
        assert!(queued < 100_000, "a 64 KiB ring never filled");
    };
    assert!(matches!(full, Error::Full { .. }), "{full}");
    assert!(
        queued > 100,
        "only {queued} requests fit while the server was down"
    );
    // A blocking send waits for space, and times out while no server frees any.
    c.set_wait_policy(WaitPolicy {
        timeout: Duration::from_millis(200),
        ..short_spin()
    });
    match c.set(&key(0), "SAI_PORT_ATTR_ADMIN_STATE", "false") {
        Err(Error::Full {
            waited: Some(w), ..
        }) => assert!(w >= Duration::from_millis(200)),
        other => panic!("{other:?}"),
    }
    // Nothing answers while the server is down: a wait times out (it does not hang).
    assert!(matches!(
        c.wait_all(Some(Duration::from_millis(100))),
        Err(Error::Timeout { .. })
    ));

    // A new server processes the backlog first; every request is answered.
    let server = serve(&dir, &[]);
    c.set_wait_policy(short_spin());
    c.wait_all(Some(T)).unwrap();
    assert_eq!(c.counts(), (before + queued, before + queued));
    assert!(c.take_failures().is_empty());
    // And the channel keeps working, in sync mode, with both sides sleeping between calls.
    c.set_mode(Mode::Sync);
    for i in 0..50 {
        assert!(matches!(c.set(&key(i), "A", "1").unwrap(), Outcome::Done(r) if r.is_success()));
    }
    server.kill9();
}

#[test]
fn client_killed_and_restarted() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = channel_dir(&tmp, 1 << 16);
    let d = dir.to_str().unwrap();
    let mut server = serve(&dir, &["--notify-every", "50"]);
    for mode in ["async", "pipelined", "sync"] {
        let mut c = Peer::spawn(&["client", d, "--count", "50000", "--mode", mode]);
        c.expect("answered 3000");
        c.kill9();
        // A new client on the same channel: its requests are all answered, and
        // responses meant for its dead predecessor are discarded, not delivered.
        let out = Peer::spawn(&["client", d, "--count", "4000", "--mode", mode]).finish();
        assert!(
            out.iter().any(|l| l.starts_with("done 4000 stale")),
            "{mode}: {out:?}"
        );
    }
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the server died"
    );
    server.kill9();
}

#[test]
fn sleeping_sides_are_woken_across_restarts() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = channel_dir(&tmp, 1 << 16);
    // Both sides spin for only 5 µs, so nearly every call sleeps on an eventfd.
    let mut c = client(&dir, Mode::Sync, short_spin());
    for round in 0..5 {
        let server = serve(&dir, &[]);
        for i in 0..200 {
            assert!(
                matches!(c.set(&key(i), "A", "1").unwrap(), Outcome::Done(r) if r.is_success()),
                "round {round}"
            );
        }
        // The server dies while the client is idle; a request sent now waits
        // in the ring for the next server, and is answered by it.
        server.kill9();
        let seq = c
            .send(Op::Set, &key(9), &Body::Attrs(&[("A", "2")]))
            .unwrap();
        let server = serve(&dir, &[]);
        let r = c.wait_for(seq, Some(T)).unwrap();
        assert!(r.is_success() && r.seq == seq);
        server.kill9();
    }
    // The client restarts too, while a server sleeps: its first call wakes it.
    let server = serve(&dir, &[]);
    drop(c);
    let mut c = client(&dir, Mode::Sync, short_spin());
    assert!(matches!(c.set(&key(1), "A", "3").unwrap(), Outcome::Done(r) if r.is_success()));
    server.kill9();
}

#[test]
fn connection_from_another_uid_is_refused() {
    let (tmp, dir) = root_and_channel();
    let mut server = Server::open(&dir, &ServerOptions::default()).unwrap();
    // Open the path to everyone, so that only the server's own credentials
    // check stands between a foreign process and the channel.
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(dir.join("sock"), std::fs::Permissions::from_mode(0o777)).unwrap();

    let dir_s = dir.to_str().unwrap().to_owned();
    let probe = |uid: Option<u32>, server: &mut Server| -> String {
        let mut cmd = Command::new(sairing_testkit::chanpeer());
        cmd.args(["probe", &dir_s]);
        if let Some(uid) = uid {
            // SAFETY: only async-signal-safe calls (setgroups, setgid, setuid)
            // run in the child between fork and exec.
            unsafe {
                cmd.pre_exec(move || {
                    if libc::setgroups(0, std::ptr::null()) != 0
                        || libc::setgid(uid) != 0
                        || libc::setuid(uid) != 0
                    {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let mut p = Peer::spawn_cmd(&mut cmd);
        let deadline = Instant::now() + T;
        // Serve the socket (recv accepts connections while it waits) until the
        // probe has its answer.
        loop {
            // The probe sends no request; recv just services the socket while it waits.
            assert!(server
                .recv(Some(Duration::from_millis(5)))
                .unwrap()
                .is_none());
            if let Ok(l) = p.lines.try_recv() {
                p.child.wait().unwrap();
                return l;
            }
            assert!(Instant::now() < deadline, "the probe got no answer");
        }
    };
    assert_eq!(probe(Some(65534), &mut server), "refused");
    let stats = server.connection_stats();
    assert_eq!((stats.refused, stats.admitted), (1, 0));
    assert_eq!(
        stats.last_refused.map(|(uid, gid, _)| (uid, gid)),
        Some((65534, 65534))
    );
    assert!(!server.connected());
    // The same probe under our own uid is admitted.
    assert_eq!(probe(None, &mut server), "admitted");
    assert_eq!(server.connection_stats().admitted, 1);
}

#[test]
fn responses_to_a_previous_client_incarnation_are_discarded() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = channel_dir(&tmp, 1 << 16);
    // Client A queues 25 requests while no server runs, then goes away unanswered.
    let mut a = client(&dir, Mode::Async, short_spin());
    for i in 0..25 {
        a.set(&key(i), "A", "1").unwrap();
    }
    let epoch_a = a.epoch();
    drop(a);
    // A server answers them; client B, a new incarnation, must not take them
    // for its own, even though its own sequence numbers continue after A's.
    let server = serve(&dir, &[]);
    let mut b = client(&dir, Mode::Sync, short_spin());
    assert_ne!(b.epoch(), epoch_a);
    let r = b.get(&key(100), &[("X", "0")]).unwrap();
    assert_eq!(r.attrs[0].1, format!("{}/X", key(100)));
    assert_eq!(b.stale_responses(), 25);
    assert_eq!(b.counts(), (1, 1));
    server.kill9();
}

/// A process of another user that binds the channel's socket (here in a
/// directory opened to everyone) and answers like a server is refused by the
/// client: the server must be this user or the channel's owner (SO_PEERCRED).
#[test]
fn an_impostor_of_another_uid_is_not_taken_for_the_server() {
    let (tmp, dir) = root_and_channel();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let mut cmd = Command::new(sairing_testkit::chanpeer());
    cmd.args(["impostor", dir.to_str().unwrap()]);
    // SAFETY: only async-signal-safe calls (setgroups, setgid, setuid) run in
    // the child between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setgroups(0, std::ptr::null()) != 0
                || libc::setgid(65534) != 0
                || libc::setuid(65534) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    // Killed however the test ends, as every Peer is.
    let mut imp = Peer::spawn_cmd(&mut cmd);
    imp.expect("listening");
    let deadline = Instant::now() + T;
    let mut c = Client::open(&dir, &ClientOptions::default());
    let err = loop {
        let r = match &mut c {
            Ok(c) => c.service().map(|()| c.connected()),
            Err(_) => break c.err().unwrap(),
        };
        match r {
            Err(e) => break e,
            Ok(true) => panic!("the client took the impostor for its server"),
            Ok(false) => {
                assert!(Instant::now() < deadline, "the handshake never finished");
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    };
    assert!(
        matches!(&err, Error::Refused { reason, .. } if reason.contains("uid 65534")),
        "{err}"
    );
    imp.kill9();
}

/// `channel remove` racing a process that opens the channel: never do both
/// succeed. Checking the roles and then unlinking left a window in which an
/// opener that had the file open took its role after the check, and was left
/// attached to a ring no peer could ever find again.
#[test]
fn remove_and_open_never_both_succeed() {
    use std::sync::{Arc, Barrier};
    let d = tempfile::tempdir().unwrap();
    let (mut removed, mut opened, mut both) = (0, 0, 0);
    for i in 0..400 {
        let dir = d.path().join(format!("c{i}"));
        ch::create(
            &dir,
            &ChannelOptions {
                capacity: 4096,
                ..Default::default()
            },
        )
        .unwrap();
        let barrier = Arc::new(Barrier::new(2));
        let b = barrier.clone();
        let ring = dir.join(ch::REQUEST_RING);
        let opener = std::thread::spawn(move || {
            b.wait();
            sairing_ring::Consumer::open(&ring, &Default::default())
        });
        barrier.wait();
        let r = ch::remove(&dir, false);
        let o = opener.join().unwrap();
        match (&r, &o) {
            (Ok(()), Ok(_)) => both += 1,
            (Ok(()), Err(_)) => removed += 1,
            (Err(_), Ok(_)) => opened += 1,
            (Err(re), Err(oe)) => panic!("both failed: remove {re}; open {oe}"),
        }
    }
    assert_eq!(
        both, 0,
        "{both} of 400 races: removed and opened (removed only {removed}, opened only {opened})"
    );
}

/// The directory that holds a channel must not let anyone else move the
/// channel away: a symlink, a directory of another user, or one others may
/// write to without the sticky bit is refused at create and at open.
#[test]
fn a_parent_others_control_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let parent = d.path().join("parent");
    std::fs::create_dir(&parent).unwrap();
    let chan = parent.join("chan");
    let opts = ChannelOptions {
        capacity: 4096,
        ..Default::default()
    };
    let set_mode = |m: u32| std::fs::set_permissions(&parent, std::fs::Permissions::from_mode(m));

    set_mode(0o777).unwrap();
    let e = ch::create(&chan, &opts).expect_err("world-writable, not sticky");
    assert!(e.to_string().contains("sticky"), "{e}");
    set_mode(0o1777).unwrap();
    ch::create(&chan, &opts).expect("sticky world-writable, like /dev/shm");
    set_mode(0o775).unwrap();
    let e = Server::open(&chan, &ServerOptions::default())
        .err()
        .expect("group-writable");
    assert!(e.to_string().contains("sticky"), "{e}");
    let e = Client::open(&chan, &ClientOptions::default())
        .err()
        .expect("group-writable");
    assert!(e.to_string().contains("sticky"), "{e}");
    set_mode(0o755).unwrap();

    // Another user's directory (needs root to set up, as the uid tests do).
    let other = d.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::os::unix::fs::chown(&other, Some(4242), None)
        .expect("chown needs root; this suite runs as root like the other uid tests");
    let e = ch::create(other.join("chan"), &opts).expect_err("another user's directory");
    assert!(e.to_string().contains("uid 4242"), "{e}");

    // A symlink in the parent's place.
    let link = d.path().join("link");
    std::os::unix::fs::symlink(&parent, &link).unwrap();
    let e = Server::open(link.join("chan"), &ServerOptions::default())
        .err()
        .expect("symlink");
    assert!(e.to_string().contains("symlink"), "{e}");
    assert!(
        Server::open(&chan, &ServerOptions::default()).is_ok(),
        "the real path still opens"
    );
}
