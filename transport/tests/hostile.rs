//! A hostile peer: a second process (here, a second mapping of the same file)
//! that writes into the rings. What the server hands out cannot change under
//! it, and nothing it does crashes or hangs the other side.

use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::Duration;

mod common;
use common::{
    client_options, connect, connected, fresh_channel, server_options, test_wait, within,
};

use sairing_transport::{
    channel, Body, Client, ClientOptions, Op, Server, ServerOptions, WaitPolicy,
};

/// How long a test waits for what takes milliseconds before it fails: a
/// broken side fails the test well within cargo-mutants' half-minute limit
/// (scripts/mutants.sh), rather than hanging past it.
const T: Duration = Duration::from_secs(10);

/// Every offset of `needle` in the file.
fn find_all(path: &Path, needle: &[u8]) -> Vec<u64> {
    let bytes = std::fs::read(path).unwrap();
    bytes
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i as u64)
        .collect()
}

/// Decode a request, then rewrite its key through a second mapping with bytes
/// that are not UTF-8: the decoded key stays the same valid string. (Found:
/// the key was a `&str` into the ring; iterating its chars after the rewrite
/// read past the end and syncd died with SIGSEGV.)
#[test]
fn a_decoded_request_is_not_changed_by_a_later_rewrite() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ch");
    channel::create(&dir, &channel::ChannelOptions::default()).unwrap();
    let mut server = Server::open(&dir, &server_options()).unwrap();
    let key = "SAI_OBJECT_TYPE_VLAN:oid:0x26000000000aaa";
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let d2 = dir.clone();
    let client = std::thread::spawn(move || {
        let mut c = Client::open(&d2, &client_options()).unwrap();
        let attrs = [("SAI_VLAN_ATTR_VLAN_ID", "2730")];
        c.send(Op::Create, key, &Body::Attrs(&attrs)).unwrap();
        // Stay attached until the server is done looking.
        let _ = done_rx.recv_timeout(T);
    });
    let ring = channel::Paths::new(&dir).request;
    let req = server.recv(Some(T)).unwrap().expect("the request");
    assert_eq!(req.request.key, key);
    let at = find_all(&ring, key.as_bytes());
    assert_eq!(at.len(), 1, "the key is in the ring file once");
    let f = std::fs::OpenOptions::new().write(true).open(&ring).unwrap();
    f.write_all_at(&[0xFF; 20], at[0] + 10).unwrap();
    assert!(
        find_all(&ring, key.as_bytes()).is_empty(),
        "the rewrite took"
    );
    assert_eq!(req.request.key.chars().count(), key.len());
    assert_eq!(req.request.key, key);
    assert_eq!(
        req.request.attrs.clone().collect::<Vec<_>>(),
        vec![("SAI_VLAN_ATTR_VLAN_ID", "2730")]
    );
    done_tx.send(()).unwrap();
    client.join().unwrap();
}

/// Connects to the channel's socket as a client would and says hello with `fd`
/// attached; returns the connection (kept open by the caller) and what the
/// send said (EPERM where the kernel refuses descriptors for the server).
fn hello_with(
    dir: &Path,
    fd: std::os::fd::BorrowedFd<'_>,
) -> (std::os::unix::net::UnixStream, nix::Result<usize>) {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    use std::os::fd::AsRawFd;
    let s = std::os::unix::net::UnixStream::connect(channel::Paths::new(dir).socket).unwrap();
    let fds = [fd.as_raw_fd()];
    let r = sendmsg::<()>(
        s.as_raw_fd(),
        &[std::io::IoSlice::new(b"SAIRING-HELLO-2\0")],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    );
    (s, r)
}

/// A real client (on another thread) sends INIT_VIEW and the server receives
/// it; returns the client's thread, which ends with the client.
fn a_real_client_is_served(server: &mut Server, dir: &Path) -> std::thread::JoinHandle<Client> {
    let d2 = dir.to_owned();
    let client = std::thread::spawn(move || {
        let mut c = Client::open(&d2, &client_options()).unwrap();
        c.send(Op::Notify, "INIT_VIEW", &Body::EMPTY).unwrap();
        c
    });
    let key = server
        .recv(Some(T))
        .unwrap()
        .map(|r| r.request.key.to_owned());
    assert_eq!(
        key.as_deref(),
        Some("INIT_VIEW"),
        "a request from the real client"
    );
    client
}

fn server_and_dir() -> (tempfile::TempDir, std::path::PathBuf, Server) {
    let (tmp, dir) = fresh_channel(false);
    let server = Server::open(&dir, &server_options()).unwrap();
    (tmp, dir, server)
}

/// Whether this kernel knows SO_PASSRIGHTS (Linux 6.16 and later).
fn kernel_refuses_descriptors() -> bool {
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    let zero: libc::c_int = 0;
    // SAFETY: setsockopt reads a live c_int.
    unsafe {
        libc::setsockopt(
            std::os::fd::AsRawFd::as_raw_fd(&a),
            libc::SOL_SOCKET,
            83,
            (&zero as *const libc::c_int).cast(),
            4,
        ) == 0
    }
}

/// A client that attaches a descriptor to its hello: the descriptor never
/// reaches the server (the kernel refuses it where it can, else it is closed
/// apart), and the server goes on serving a real client.
#[test]
fn a_descriptor_sent_with_a_hello_never_reaches_the_server() {
    let (_tmp, dir, server) = server_and_dir();
    let (r, _w) = nix::unistd::pipe().unwrap();
    let (_conn, sent) = hello_with(&dir, std::os::fd::AsFd::as_fd(&r));
    if kernel_refuses_descriptors() {
        assert_eq!(
            sent,
            Err(nix::errno::Errno::EPERM),
            "the kernel must refuse it"
        );
    } else {
        assert_eq!(sent, Ok(16));
    }
    let server = within(Duration::from_secs(20), "the server's recv", move || {
        let mut server = server;
        let got = server
            .recv(Some(Duration::from_millis(100)))
            .unwrap()
            .is_some();
        assert!(!got);
        server
    });
    let mut server = server;
    let client = a_real_client_is_served(&mut server, &dir);
    drop(client.join().unwrap());
}

/// A symlink planted where a channel is to be created is refused, and what it
/// points at is left alone. (The old code followed it: it chmod'ed the target
/// to 0700 and created the rings inside it.)
#[test]
fn a_symlink_at_the_channel_path_is_refused_not_followed() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let target = tmp.path().join("elsewhere");
    std::fs::create_dir(&target).unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755)).unwrap();
    let dir = tmp.path().join("ch");
    std::os::unix::fs::symlink(&target, &dir).unwrap();
    let err = channel::create(&dir, &channel::ChannelOptions::default()).unwrap_err();
    assert!(err.to_string().contains("symlink"), "{err}");
    let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o755, "the target's mode was changed");
    assert_eq!(
        std::fs::read_dir(&target).unwrap().count(),
        0,
        "files appeared in the target"
    );
}

/// Connections that never say hello do not stall the server, and do not keep
/// a real client out. (Found: `recv(1 ms)` took 4 s with two silent
/// connections: the handshake waited up to 2 s for each hello.)
#[test]
fn silent_connections_never_stall_the_server() {
    let (_tmp, dir, server) = server_and_dir();
    let sock = channel::Paths::new(&dir).socket;
    // More silent connections than the server keeps waiting.
    let silent: Vec<_> = (0..channel::MAX_PENDING + 2)
        .map(|_| std::os::unix::net::UnixStream::connect(&sock).unwrap())
        .collect();
    // At 2 s each, the old handshake would take 20 s here.
    let server = within(
        Duration::from_secs(10),
        "recv with silent connections",
        move || {
            let mut server = server;
            for _ in 0..3 {
                assert!(server
                    .recv(Some(Duration::from_millis(1)))
                    .unwrap()
                    .is_none());
            }
            server
        },
    );
    let mut server = server;
    let client = a_real_client_is_served(&mut server, &dir);
    // Its request can be read from the ring before its hello is: the
    // admission may come a wake later (CI saw 0 here once).
    let deadline = std::time::Instant::now() + T;
    while server.connection_stats().admitted == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the real client was served but never admitted: {:?}",
            server.connection_stats()
        );
        assert!(server
            .recv(Some(Duration::from_millis(10)))
            .unwrap()
            .is_none());
    }
    drop(client.join().unwrap());
    drop(silent);
}

/// Once another client is admitted, a former one can no longer wake the
/// server: nothing but its own connection ever carried its rings, and that is
/// no longer watched.
#[test]
fn a_former_client_cannot_ring_the_server() {
    use std::io::{Read, Write};
    use std::os::fd::AsFd;
    let (_tmp, dir, mut server) = server_and_dir();
    // A first client, by hand: hello, welcome.
    let mut conn =
        std::os::unix::net::UnixStream::connect(channel::Paths::new(&dir).socket).unwrap();
    conn.write_all(b"SAIRING-HELLO-2\0").unwrap();
    assert!(server
        .recv(Some(Duration::from_millis(50)))
        .unwrap()
        .is_none());
    let mut welcome = [0u8; 16];
    conn.read_exact(&mut welcome).unwrap();
    assert_eq!(&welcome, b"SAIRING-WELCOME\0");
    assert_eq!(server.connection_stats().admitted, 1);
    // A second client is admitted.
    let client = a_real_client_is_served(&mut server, &dir);
    server.after_wake().unwrap();
    // The former client rings on its connection.
    let _ = conn.write(b"!!!!");
    let mut pfd = libc::pollfd {
        fd: server.as_fd().as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, and the count says one.
    assert!(unsafe { libc::poll(&mut pfd, 1, 0) } >= 0);
    assert_eq!(
        pfd.revents & libc::POLLIN,
        0,
        "the former client rang the server"
    );
    drop(client.join().unwrap());
    drop(conn);
}

/// A server that listens but never accepts (hung, or stopped by SIGSTOP) with
/// its backlog full: connecting must not block the client, which carries on
/// (its requests queue in the ring) and tries again later.
#[test]
fn a_server_that_never_accepts_does_not_block_the_client() {
    use nix::sys::socket::{
        bind, connect, listen, socket, AddressFamily, Backlog, SockFlag, SockType, UnixAddr,
    };
    let (_tmp, dir) = fresh_channel(false);
    let paths = channel::Paths::new(&dir);
    let addr = UnixAddr::new(&paths.socket).unwrap();
    let listener = socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::empty(),
        None,
    )
    .unwrap();
    bind(std::os::fd::AsRawFd::as_raw_fd(&listener), &addr).unwrap();
    listen(&listener, Backlog::new(0).unwrap()).unwrap();
    // Fill the backlog: connect until the kernel says it would block.
    let mut queued = Vec::new();
    loop {
        let s = socket(
            AddressFamily::Unix,
            SockType::Stream,
            SockFlag::SOCK_NONBLOCK,
            None,
        )
        .unwrap();
        match connect(std::os::fd::AsRawFd::as_raw_fd(&s), &addr) {
            Ok(()) => queued.push(s),
            Err(nix::errno::Errno::EAGAIN) => break,
            Err(e) => panic!("filling the backlog: {e}"),
        }
        assert!(queued.len() < 1000, "the backlog never filled");
    }
    let d2 = dir.clone();
    let sent = within(
        Duration::from_secs(10),
        "Client::open and send",
        move || {
            let mut c = Client::open(
                &d2,
                &ClientOptions {
                    mode: sairing_transport::Mode::Async,
                    ..Default::default()
                },
            )
            .unwrap();
            c.send(Op::Notify, "INIT_VIEW", &Body::EMPTY).unwrap();
            c.connected()
        },
    );
    assert!(
        !sent,
        "nobody accepted, yet the client says it is connected"
    );
    drop((listener, queued));
}

/// A chanpeer process whose output lines arrive on a channel.
struct Peer {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    stderr: Option<std::thread::JoinHandle<String>>,
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

fn chanpeer(args: &[&str]) -> Peer {
    use std::io::{BufRead, Read};
    let mut child = std::process::Command::new(sairing_testkit::chanpeer())
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut err = child.stderr.take().unwrap();
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in out.lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let stderr = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    Peer {
        child,
        lines,
        stderr: Some(stderr),
    }
}

impl Peer {
    /// Exited by itself: must be a clear error (status 1, a `chanpeer:`
    /// message), never a signal or a panic. Returns its stderr.
    fn exited_cleanly(mut self, who: &str, status: std::process::ExitStatus) -> String {
        use std::os::unix::process::ExitStatusExt;
        let err = self.stderr.take().unwrap().join().unwrap();
        assert!(
            status.signal().is_none(),
            "{who} died of signal {:?}: {err}",
            status.signal()
        );
        assert!(!err.contains("panicked"), "{who} panicked: {err}");
        assert!(
            status.success() || err.contains("chanpeer: "),
            "{who} exited {status} without saying why: {err}"
        );
        err
    }

    /// The last `answered N` it printed, reading what has arrived.
    fn answered(&self, last: &mut u64) -> u64 {
        while let Ok(l) = self.lines.try_recv() {
            if let Some(n) = l.strip_prefix("answered ") {
                *last = n.parse().unwrap_or(*last);
            }
        }
        *last
    }
}

/// Writes random bytes at random places of both rings, from a third process'
/// point of view (plain writes to the files, seen by both mappings), while a
/// server and a pipelined client run in their own processes; then truncates
/// both files under them. Neither side may die of a signal, panic or hang:
/// each either goes on answering, waits for a peer that has gone, or exits
/// with an error that says what is wrong.
#[test]
fn random_bytes_in_both_rings_while_both_sides_run() {
    let mut rng = sairing_testkit::XorShift::new(0x9E37_79B9_7F4A_7C15);
    let mut rand = move || rng.next_u64();
    for round in 0..4 {
        let (_tmp, dir) = fresh_channel(round % 2 == 1);
        let d = dir.to_str().unwrap();
        let server = chanpeer(&["serve", d, "--notify-every", "7"]);
        let client = chanpeer(&["client", d, "--count", "100000000", "--mode", "pipelined"]);
        let mut seen = 0;
        let deadline = std::time::Instant::now() + T;
        while client.answered(&mut seen) < 2000 {
            assert!(
                std::time::Instant::now() < deadline,
                "no traffic before the flips"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        let paths = channel::Paths::new(&dir);
        let files: Vec<std::fs::File> = [&paths.request, &paths.response]
            .iter()
            .map(|p| std::fs::OpenOptions::new().write(true).open(p).unwrap())
            .collect();
        let len = 4096 + (1u64 << 16);
        for _ in 0..300 {
            let f = &files[(rand() % 2) as usize];
            // Rounds 0 and 1 only in the records; rounds 2 and 3 half in the
            // control page (cursors, sleep words, roles).
            let off = if round >= 2 && rand() % 2 == 0 {
                128 + rand() % 896
            } else {
                4096 + rand() % (len - 4096)
            };
            f.write_all_at(&[rand() as u8], off).unwrap();
            std::thread::sleep(Duration::from_micros(2000));
        }
        if round == 3 {
            for f in &files {
                f.set_len(4096 + 4096).unwrap();
            }
        }
        // Ten seconds to settle, then judge each side.
        std::thread::sleep(Duration::from_secs(2));
        let mut peers = vec![("server", server), ("client", client)];
        let mut alive = Vec::new();
        for (who, mut p) in peers.drain(..) {
            match p.child.try_wait().unwrap() {
                Some(st) => {
                    let err = p.exited_cleanly(who, st);
                    eprintln!("round {round}: {who} exited {st}: {}", err.trim());
                }
                None => {
                    eprintln!("round {round}: {who} still running");
                    alive.push((who, p))
                }
            }
        }
        if alive.len() == 2 {
            // Both still up: the client must go on being answered, or give up
            // with a clear error within its wait timeout (an answer a flip
            // destroyed is waited for that long, 30 s by default).
            let before = alive[1].1.answered(&mut seen);
            let until = std::time::Instant::now() + Duration::from_secs(45);
            loop {
                if alive[1].1.answered(&mut seen) > before + 1000 {
                    break;
                }
                if let Some(st) = alive[1].1.child.try_wait().unwrap() {
                    let (who, p) = alive.pop().unwrap();
                    let err = p.exited_cleanly(who, st);
                    eprintln!("round {round}: {who} exited {st}: {}", err.trim());
                    break;
                }
                assert!(
                    std::time::Instant::now() < until,
                    "round {round}: both sides up but the client is stuck at {before}"
                );
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        // Whoever is left is answering or waiting for a peer that has gone.
        for (_, mut p) in alive {
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
    }
}

/// A request whose bytes were damaged in the ring (here its op byte) is
/// answered with SAI_STATUS_FAILURE, so the client waiting for it gets an
/// error at once instead of waiting out its timeout (30 s by default) for an answer that
/// would never come. (Found by the random-bytes test: a pipelined client sat
/// on a get whose request a flip had destroyed.)
#[test]
fn an_undecodable_request_is_answered_with_a_failure() {
    let (_tmp, dir) = fresh_channel(false);
    let ring = channel::Paths::new(&dir).request;
    let key = "SAI_OBJECT_TYPE_PORT:oid:0x1234";
    let d2 = dir.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut c = Client::open(&d2, &client_options()).unwrap();
        let _ = tx.send(c.get(key, &[("SAI_PORT_ATTR_MTU", "0")]).map(|r| r.status));
    });
    // The request is the ring's first record: its payload starts after the
    // 4096-byte header and the 16-byte record header; byte 1 is the op.
    let deadline = std::time::Instant::now() + T;
    while find_all(&ring, key.as_bytes()).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the request never reached the ring"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    let f = std::fs::OpenOptions::new().write(true).open(&ring).unwrap();
    f.write_all_at(&[0xEE], 4096 + 16 + 1).unwrap();
    let mut server = Server::open(&dir, &server_options()).unwrap();
    match server.recv(Some(T)) {
        Err(sairing_transport::Error::Decode(e)) => assert_eq!(e.record_seq, 1),
        other => panic!(
            "expected a decode error, got {:?}",
            other.map(|o| o.is_some())
        ),
    }
    let status = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the client is still waiting for an answer to the damaged request");
    assert_eq!(status.unwrap(), "SAI_STATUS_FAILURE");
}

/// Whether `fd` becomes readable within `ms` milliseconds.
fn readable_within(fd: std::os::fd::BorrowedFd<'_>, ms: i32) -> bool {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, and the count says one.
    let n = unsafe { libc::poll(&mut pfd, 1, ms) };
    assert!(n >= 0, "poll: {}", std::io::Error::last_os_error());
    pfd.revents & libc::POLLIN != 0
}

/// A loop that watches only the server's doorbell (swss::Select takes one
/// descriptor per channel) hears a client connect, and hears its hello when
/// the hello comes after the connection was accepted: until then the server
/// cannot admit it, and nothing else would wake the loop.
#[test]
fn connecting_and_a_late_hello_ring_the_servers_doorbell() {
    use std::io::Write;
    use std::os::fd::AsFd;
    let (_tmp, dir, mut server) = server_and_dir();
    let mut conn =
        std::os::unix::net::UnixStream::connect(channel::Paths::new(&dir).socket).unwrap();
    assert!(
        readable_within(server.as_fd(), 10_000),
        "a connecting client did not ring the doorbell"
    );
    server.after_wake().unwrap(); // accepted; no hello yet
    assert!(
        !readable_within(server.as_fd(), 0),
        "the doorbell rings with nothing to do"
    );
    assert_eq!(server.connection_stats().admitted, 0);
    conn.write_all(b"SAIRING-HELLO-2\0").unwrap();
    assert!(
        readable_within(server.as_fd(), 10_000),
        "the hello did not ring the doorbell"
    );
    server.after_wake().unwrap();
    assert_eq!(server.connection_stats().admitted, 1);
}

/// A batch that stops part-way (a non-blocking client meeting a full ring)
/// still rings a sleeping server for the requests it did publish: they are in
/// the ring, and nothing else may come to wake it.
#[test]
fn a_batch_cut_short_by_a_full_ring_still_rings_for_what_it_sent() {
    use std::os::fd::AsFd;
    let (_tmp, dir, mut server) = server_and_dir();
    let mut client = Client::open(
        &dir,
        &ClientOptions {
            wait: WaitPolicy {
                nonblocking: true,
                ..test_wait()
            },
            ..client_options()
        },
    )
    .unwrap();
    connect(&mut server, &mut client);
    // The server sleeps (its loop waits on the doorbell), rung by nobody yet.
    assert!(server.prepare_to_wait().unwrap());
    let before = server.next_seq();
    let value = "x".repeat(1000);
    let attrs = [("SAI_PORT_ATTR_MTU", value.as_str())];
    // More than the 64 KiB ring holds.
    let r = client.send_batch((0..200).map(|_| {
        (
            Op::Set,
            "SAI_OBJECT_TYPE_PORT:oid:0x1",
            Body::Attrs(&attrs[..]),
        )
    }));
    assert!(
        matches!(r, Err(sairing_transport::Error::Full { .. })),
        "the ring did not fill: {:?}",
        r.map(|_| ())
    );
    assert!(
        readable_within(server.as_fd(), 0),
        "requests were published and the sleeping server was not rung"
    );
    server.after_wake().unwrap();
    let got = server
        .recv(Some(Duration::ZERO))
        .unwrap()
        .expect("a request");
    assert_eq!(got.record_seq, before);
}

/// A batch larger than the ring, sent to a server asleep on its doorbell: the
/// client must ring it before it waits for space, or each waits for the other
/// (found measuring the C API's batches: they ran at the pace of the
/// server's timeouts).
#[test]
fn a_batch_larger_than_the_ring_wakes_a_sleeping_server_before_waiting() {
    use std::os::fd::AsFd;
    let (_tmp, dir, mut server) = server_and_dir();
    let mut client = Client::open(&dir, &client_options()).unwrap();
    connect(&mut server, &mut client);
    // The server's loop sleeps on its doorbell; only a ring wakes it.
    assert!(server.prepare_to_wait().unwrap());
    let n = 200u64;
    let sender = std::thread::spawn(move || {
        let value = "x".repeat(1000);
        let attrs = [("SAI_PORT_ATTR_MTU", value.as_str())];
        client.set_wait_policy(WaitPolicy {
            timeout: Duration::from_secs(10),
            ..test_wait()
        });
        let r = client.send_batch((0..n).map(|_| {
            (
                Op::Set,
                "SAI_OBJECT_TYPE_PORT:oid:0x1",
                Body::Attrs(&attrs[..]),
            )
        }));
        r.map(|_| ()).map_err(|e| e.to_string())
    });
    let mut got = 0;
    while got < n {
        assert!(
            readable_within(server.as_fd(), 30_000),
            "the client waits for space and never rang the sleeping server ({got} of {n} read)"
        );
        server.after_wake().unwrap();
        // As an event loop does: read until the sleep can be announced.
        loop {
            while server.recv(Some(Duration::ZERO)).unwrap().is_some() {
                got += 1;
            }
            if server.prepare_to_wait().unwrap() {
                break;
            }
        }
    }
    assert_eq!(sender.join().unwrap(), Ok(()));
}

/// Every sleep on a healthy channel ends because the peer rang: none runs out
/// its deadline with work waiting (a lost wake-up would), and none is the short
/// poll a side takes only while no peer is connected. Both sides sleep at once
/// (no spin), so a round trip is, mostly, two sleeps and two rings.
#[test]
fn a_healthy_channels_sleeps_all_end_with_a_ring() {
    let (_tmp, dir) = fresh_channel(false);
    let no_spin = WaitPolicy {
        spin: Duration::ZERO,
        ..test_wait()
    };
    let (mut server, mut client) = connected(&dir, no_spin);
    // Round trips go on until the server has slept (and been rung) 50 times:
    // on a loaded machine it can find a request already waiting, without a
    // sleep, many times in a row. Bounded: 20,000 round trips without 50
    // sleeps fail.
    let server_rung = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let seen = server_rung.clone();
    let srv = std::thread::spawn(move || {
        loop {
            let mut req = server
                .recv(Some(Duration::from_secs(2)))
                .unwrap()
                .expect("a request before the deadline");
            let stop = req.request.key == "stop";
            req.respond_status("SAI_STATUS_SUCCESS").unwrap();
            let w = server.wait_stats();
            seen.store(w.rung, std::sync::atomic::Ordering::Relaxed);
            assert_eq!(
                w.timed_out, 0,
                "a sleep ran out with a request waiting: {w:?}"
            );
            if stop {
                break;
            }
        }
        // Kept open: its hang-up would be the client's last wake.
        server
    });
    client.set_wait_policy(WaitPolicy {
        timeout: Duration::from_secs(5),
        ..no_spin
    });
    let mut trips = 0;
    while server_rung.load(std::sync::atomic::Ordering::Relaxed) < 50 && trips < 20_000 {
        let r = client.get(
            "SAI_OBJECT_TYPE_PORT:oid:0x1000000000002",
            &[("SAI_PORT_ATTR_MTU", "0")],
        );
        assert_eq!(r.unwrap().status, "SAI_STATUS_SUCCESS");
        trips += 1;
    }
    let stop = client.get("stop", &[("SAI_PORT_ATTR_MTU", "0")]);
    assert_eq!(stop.unwrap().status, "SAI_STATUS_SUCCESS");
    let server = srv.join().unwrap();
    let (s, c) = (server.wait_stats(), client.wait_stats());
    assert!(
        s.rung >= 50,
        "the server slept {} times in {trips} round trips",
        s.rung
    );
    for (side, w) in [("server", s), ("client", c)] {
        assert!(w.rung > 0, "{side} never slept: {w:?}");
        assert_eq!(
            (w.timed_out, w.polled, w.hung_up),
            (0, 0, 0),
            "{side}: {w:?}"
        );
    }
}

/// A client whose answers each come a millisecond after its request sleeps
/// for the first few, and spins longer each time, until its spin outlasts
/// the wait: then it stops sleeping. With a spin that does not adapt, it
/// sleeps for every one. Once nothing comes, it sleeps again.
#[test]
fn a_client_whose_answers_come_soon_stops_sleeping_for_them() {
    let trips = 60u64;
    let sleeps = |policy: WaitPolicy| {
        let (_tmp, dir) = fresh_channel(false);
        let (mut server, mut client) = connected(&dir, policy);
        let srv = std::thread::spawn(move || {
            for _ in 0..trips {
                let mut req = server
                    .recv(Some(Duration::from_secs(5)))
                    .unwrap()
                    .expect("a request before the deadline");
                // The stimulus, not a synchronisation: the answer comes
                // at least this long after the request.
                std::thread::sleep(Duration::from_millis(1));
                req.respond_status("SAI_STATUS_SUCCESS").unwrap();
            }
            server
        });
        for _ in 0..trips {
            let r = client.get(
                "SAI_OBJECT_TYPE_PORT:oid:0x1000000000002",
                &[("SAI_PORT_ATTR_MTU", "0")],
            );
            assert_eq!(r.unwrap().status, "SAI_STATUS_SUCCESS");
        }
        let _server = srv.join().unwrap();
        let sleeps =
            |w: sairing_transport::WaitStats| w.rung + w.timed_out + w.other + w.polled + w.hung_up;
        let trips_slept = sleeps(client.wait_stats());
        // Then nothing comes: each of 20 looks of 1 ms, but the first (which
        // spins what the traffic grew the spin to, to its deadline), sleeps.
        for _ in 0..20 {
            let n = client.next_notification(Duration::from_millis(1)).unwrap();
            assert!(n.is_none());
        }
        (trips_slept, sleeps(client.wait_stats()) - trips_slept)
    };
    let base = WaitPolicy {
        timeout: Duration::from_secs(5),
        ..WaitPolicy::fixed_spin(Duration::from_micros(5))
    };
    let (fixed, idle) = sleeps(base);
    assert!(
        fixed >= trips,
        "a fixed 5 us spin slept {fixed} times in {trips} waits of 1 ms"
    );
    assert!(
        idle >= 20,
        "a fixed 5 us spin slept {idle} times in 20 idle looks"
    );
    // From 5 us, doubling reaches 10 s in 21 sleeps: after that, no wait of
    // this test is long enough to sleep.
    let (adaptive, idle) = sleeps(WaitPolicy {
        spin_max: Duration::from_secs(10),
        ..base
    });
    assert!(
        adaptive <= 21,
        "an adaptive spin slept {adaptive} times in {trips} waits of 1 ms"
    );
    // Once the traffic stops, looks with timeouts shorter than the grown
    // spin do not keep spinning it (found by review: they spun a core).
    assert!(
        idle >= 19,
        "an adaptive spin slept {idle} times in 20 idle looks of 1 ms"
    );
}

/// A policy set on a connected client is the one it reports (and waits
/// with: `set_wait_policy` also starts the adaptive spin again from it).
#[test]
fn a_wait_policy_set_on_a_client_is_in_force() {
    let (_tmp, dir) = fresh_channel(false);
    let (_server, mut client) = connected(&dir, test_wait());
    let p = WaitPolicy {
        nonblocking: true,
        timeout: Duration::from_secs(3),
        ..WaitPolicy::fixed_spin(Duration::from_micros(7))
    };
    client.set_wait_policy(p);
    let got = client.wait_policy();
    assert_eq!(
        (got.spin, got.spin_max, got.timeout, got.nonblocking),
        (p.spin, p.spin_max, p.timeout, p.nonblocking)
    );
}

/// A client waiting while no server is connected looks every 20 ms, and
/// says so; its deadline then ends the wait.
#[test]
fn a_client_without_a_server_polls_and_says_so() {
    let (_tmp, dir) = fresh_channel(false);
    let mut client = Client::open(&dir, &client_options()).unwrap();
    let seq = client
        .send(
            Op::Get,
            "SAI_OBJECT_TYPE_PORT:oid:0x1",
            &Body::Attrs(&[("SAI_PORT_ATTR_MTU", "0")]),
        )
        .unwrap();
    assert!(client
        .wait_for(seq, Some(Duration::from_millis(100)))
        .is_err());
    let w = client.wait_stats();
    assert!(w.polled >= 1, "{w:?}");
    assert_eq!((w.rung, w.timed_out), (0, 0), "{w:?}");
}

/// A request is sent once it is in the ring: a handshake that fails while
/// `send` rings for it does not turn the send into an error (found in review:
/// `send` returned the handshake's error after publishing, so a caller that
/// retried sent the request twice). The failure is kept and reported by the
/// next call, before that call sends anything.
#[test]
fn a_failed_handshake_after_publishing_does_not_fail_the_send() {
    use std::io::Write;
    let (_tmp, dir) = fresh_channel(false);
    let paths = channel::Paths::new(&dir);
    // Not a server: it accepts and answers every hello with nonsense.
    let fake = std::os::unix::net::UnixListener::bind(&paths.socket).unwrap();
    let answer_nonsense = || {
        let (mut conn, _) = fake.accept().unwrap();
        conn.write_all(b"not a welcome!!!").unwrap();
        conn
    };
    // Opening connects (the kernel queues it) and leaves the handshake pending.
    let mut client = Client::open(&dir, &client_options()).unwrap();
    let _first = answer_nonsense();
    let sent = client.send(Op::Remove, "SAI_OBJECT_TYPE_PORT:oid:0x1", &Body::EMPTY);
    assert_eq!(sent.ok(), Some(1), "the request is in the ring");
    assert_eq!(client.next_seq(), 2);
    assert!(!client.connected());
    let err = client
        .send(Op::Remove, "SAI_OBJECT_TYPE_PORT:oid:0x2", &Body::EMPTY)
        .expect_err("the kept failure");
    assert!(err.to_string().contains("not a welcome"), "{err}");
    assert_eq!(
        client.next_seq(),
        2,
        "the send that reported it sent nothing"
    );
    // Reported once: the next look tries again.
    client.service().expect("a new attempt, pending");
}

/// A request larger than the ring can ever hold is refused at once, even by a
/// blocking client whose ring is too full for it to fit (found in review: it
/// waited for space first, up to its whole timeout, and only then said it was
/// too large).
#[test]
fn a_request_too_large_for_any_ring_is_refused_without_waiting() {
    let (_tmp, dir) = fresh_channel(false);
    let mut client = Client::open(
        &dir,
        &ClientOptions {
            mode: sairing_transport::Mode::Pipelined,
            wait: WaitPolicy {
                timeout: Duration::from_millis(300),
                ..Default::default()
            },
        },
    )
    .unwrap();
    // No server: more than half the 64 KiB ring stays full.
    let kib = "x".repeat(1024);
    for i in 0..40 {
        let key = format!("SAI_OBJECT_TYPE_PORT:oid:{i:#x}");
        client
            .send(
                Op::Set,
                &key,
                &Body::Attrs(&[("SAI_PORT_ATTR_MTU", kib.as_str())]),
            )
            .unwrap();
    }
    let before = client.wait_stats();
    let huge = "x".repeat(70_000);
    let r = client.send(
        Op::Set,
        "SAI_OBJECT_TYPE_PORT:oid:0x1",
        &Body::Attrs(&[("SAI_PORT_ATTR_MTU", huge.as_str())]),
    );
    assert!(
        matches!(r, Err(sairing_transport::Error::TooLarge { .. })),
        "{r:?}"
    );
    assert_eq!(client.wait_stats(), before, "it waited before refusing");
    assert_eq!(client.next_seq(), 41);
}

/// Busy-polling sides never sleep, however long the other keeps them
/// waiting: after a round trip in which each waited about 20 ms for the
/// other, neither has a sleep to count. (The pauses only make the waits long;
/// the assertions hold whatever the timing. A side that spun 50 µs and then
/// slept would count a ring.)
#[test]
fn busy_polling_sides_never_sleep() {
    let (_tmp, dir) = fresh_channel(false);
    let (mut server, mut client) = connected(&dir, WaitPolicy::busy_poll());
    let (server_waits, client_waits) = (server.wait_stats(), client.wait_stats());
    let srv = std::thread::spawn(move || {
        let mut req = server.recv(Some(T)).unwrap().expect("a request");
        std::thread::sleep(Duration::from_millis(20));
        req.respond_status("SAI_STATUS_SUCCESS").unwrap();
        server
    });
    std::thread::sleep(Duration::from_millis(20));
    let r = client.get(
        "SAI_OBJECT_TYPE_PORT:oid:0x1000000000002",
        &[("SAI_PORT_ATTR_MTU", "0")],
    );
    assert_eq!(r.unwrap().status, "SAI_STATUS_SUCCESS");
    let server = srv.join().unwrap();
    assert_eq!(client.wait_stats(), client_waits, "the client slept");
    assert_eq!(server.wait_stats(), server_waits, "the server slept");
}

/// `Client::socket_fd` is what an external loop watches for the server going
/// away: none while there is no server to connect to, then the server's
/// connection (which also carries the server's rings), quiet once they are
/// taken, and readable when the server has gone.
#[test]
fn the_client_socket_fd_is_the_servers_connection() {
    let (_tmp, dir) = fresh_channel(false);
    let mut client = Client::open(&dir, &client_options()).unwrap();
    assert_eq!(client.socket_fd(), None, "no server, no handshake");
    let mut server = Server::open(&dir, &server_options()).unwrap();
    // The server has not accepted yet: the client's hello waits in its
    // backlog, and socket_fd is that handshake's connection (where the
    // welcome will come). (Attempts are rate-limited: the first may wait.)
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let hs = loop {
        client.service().unwrap();
        if let Some(fd) = client.socket_fd() {
            break fd;
        }
        assert!(std::time::Instant::now() < deadline, "no handshake began");
        std::thread::yield_now();
    };
    assert!(!client.connected());
    assert_eq!(
        peer_path(hs),
        channel::Paths::new(&dir).socket,
        "socket_fd is not the handshake's connection"
    );
    connect(&mut server, &mut client);
    let fd = client.socket_fd().expect("connected");
    // SAFETY: `fd` is the client's, open while `client` lives (below).
    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    let what = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap();
    assert!(
        what.to_string_lossy().starts_with("socket:"),
        "not a socket: {what:?}"
    );
    // A ring (a byte on the connection) read, it is quiet.
    client.after_wake().unwrap();
    assert!(!readable_within(fd, 0), "readable with nothing to say");
    drop(server);
    assert!(
        readable_within(fd, 10_000),
        "the server's hang-up is not seen on socket_fd"
    );
    drop(client);
}

/// The path of the socket that `fd`'s connection reaches (its peer's address).
fn peer_path(fd: std::os::fd::RawFd) -> std::path::PathBuf {
    use nix::sys::socket::{getpeername, UnixAddr};
    let addr = getpeername::<UnixAddr>(fd)
        .unwrap_or_else(|e| panic!("descriptor {fd} is not a connected socket: {e}"));
    addr.path()
        .unwrap_or_else(|| panic!("descriptor {fd}'s peer has no path"))
        .to_owned()
}

/// A server notices a client that hung up, and forgets it: it is no longer
/// connected, and counts nothing wrong (a hang-up is how a client says it
/// died).
#[test]
fn a_client_that_hangs_up_is_forgotten() {
    let (_tmp, dir) = fresh_channel(false);
    let (mut server, client) = connected(&dir, test_wait());
    assert!(server.connected());
    drop(client);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while server.connected() {
        assert!(
            std::time::Instant::now() < deadline,
            "the server still holds a client that hung up"
        );
        server.service().unwrap();
    }
    let stats = server.connection_stats();
    assert_eq!((stats.admitted, stats.failed), (1, 0), "{stats:?}");
}

/// The variable that marks a child run by [`in_child`].
const CHILD: &str = "SAIRING_TEST_CHILD";

/// For a test that changes what its whole process holds (a signal's
/// disposition, a resource limit): in the test's own process, runs the test
/// `name` again in a child process of this test binary, checks that it
/// passed, and returns `false`; in that child, returns `true`, and the test
/// goes on to its body.
fn in_child(name: &str) -> bool {
    if std::env::var_os(CHILD).is_some() {
        return true;
    }
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A child that hangs fails the test (well within cargo-mutants' limit).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "the child did not finish within 20 s:\n{}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "the child ({:?}) did not pass:\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    false
}

/// A client that says hello and closes its connection before the welcome:
/// the server's welcome meets a closed connection. The handshake fails, with
/// the kernel's reason (a broken pipe), and the server lives on, even in a
/// process that keeps SIGPIPE's default action (a C or C++ program embedding
/// the server: Rust's runtime ignores SIGPIPE, so the test runs itself again
/// in a child that does not).
#[test]
fn a_client_gone_before_its_welcome_raises_no_sigpipe() {
    if !in_child("a_client_gone_before_its_welcome_raises_no_sigpipe") {
        return;
    }
    // SAFETY: setting a signal's disposition to its default has no
    // preconditions; this process runs only this test.
    let before = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    assert_ne!(before, libc::SIG_ERR);
    use std::io::Write;
    let (_tmp, dir, mut server) = server_and_dir();
    let mut conn =
        std::os::unix::net::UnixStream::connect(channel::Paths::new(&dir).socket).unwrap();
    conn.write_all(b"SAIRING-HELLO-2\0").unwrap();
    drop(conn);
    server.service().unwrap();
    let stats = server.connection_stats();
    assert_eq!((stats.admitted, stats.failed), (0, 1), "{stats:?}");
    let why = stats.last_failed.unwrap_or_default();
    assert!(
        why.contains("send welcome") && why.contains("Broken pipe"),
        "{why}"
    );
}

/// Accepts the one connection `listener` (non-blocking) is to get, servicing
/// `client` meanwhile (its attempts are rate-limited).
fn accept_from(
    listener: &std::os::unix::net::UnixListener,
    client: &mut Client,
) -> std::os::unix::net::UnixStream {
    listener.set_nonblocking(true).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match listener.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                return s;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the client never connected"
                );
                client.service().unwrap();
                std::thread::yield_now();
            }
            Err(e) => panic!("accept: {e}"),
        }
    }
}

/// Something of this uid listening in the server's place that answers the
/// hello with 16 bytes that are not the welcome: the client does not take
/// it for its server, and says what it got.
#[test]
fn a_reply_that_is_not_the_welcome_is_refused() {
    use std::io::{Read, Write};
    let (_tmp, dir) = fresh_channel(false);
    let listener =
        std::os::unix::net::UnixListener::bind(channel::Paths::new(&dir).socket).unwrap();
    let mut client = Client::open(&dir, &client_options()).unwrap();
    let mut conn = accept_from(&listener, &mut client);
    let mut hello = [0u8; 16];
    conn.read_exact(&mut hello).unwrap();
    assert_eq!(&hello, b"SAIRING-HELLO-2\0");
    conn.write_all(b"SAIRING-GOODBYE\0").unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let err = loop {
        match client.service() {
            Err(e) => break e,
            Ok(()) => {
                assert!(
                    !client.connected(),
                    "the client took a goodbye for a welcome"
                );
                assert!(
                    std::time::Instant::now() < deadline,
                    "the reply was never read"
                );
                std::thread::yield_now();
            }
        }
    };
    assert!(
        matches!(&err, sairing_transport::Error::Handshake { what, .. } if what.contains("SAIRING-GOODBYE")),
        "{err}"
    );
}

/// A hello of another protocol version is a failed handshake: counted, with
/// its reason, and the connection closed without a welcome.
#[test]
fn a_hello_of_another_version_is_not_welcomed() {
    use std::io::{Read, Write};
    let (_tmp, dir, mut server) = server_and_dir();
    let mut conn =
        std::os::unix::net::UnixStream::connect(channel::Paths::new(&dir).socket).unwrap();
    conn.write_all(b"SAIRING-HELLO-1\0").unwrap();
    server.service().unwrap();
    let stats = server.connection_stats();
    assert_eq!((stats.admitted, stats.failed), (0, 1), "{stats:?}");
    let why = stats.last_failed.unwrap_or_default();
    assert!(why.contains("unexpected hello"), "{why}");
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut reply = Vec::new();
    conn.read_to_end(&mut reply).unwrap();
    assert!(reply.is_empty(), "a reply to a wrong hello: {reply:?}");
}

/// The socket is born with the channel's mode: open to the group when the
/// channel is (a directory of mode 0770), to its owner alone otherwise.
#[test]
fn the_socket_is_open_to_whom_the_channel_is() {
    use std::os::unix::fs::PermissionsExt;
    // SAFETY: getegid has no preconditions and cannot fail.
    let gid = unsafe { libc::getegid() };
    for (group, want) in [(None, 0o600), (Some(gid), 0o660)] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("ch");
        let opts = channel::ChannelOptions {
            capacity: 1 << 16,
            group,
            ..Default::default()
        };
        channel::create(&dir, &opts).unwrap();
        let _server = Server::open(&dir, &server_options()).unwrap();
        let meta = std::fs::metadata(channel::Paths::new(&dir).socket).unwrap();
        assert_eq!(
            meta.permissions().mode() & 0o777,
            want,
            "socket of a channel with group {group:?}"
        );
    }
}

/// A directory where the socket goes cannot be removed as a stale socket:
/// the server says so, rather than failing later to bind.
#[test]
fn a_directory_in_the_sockets_place_is_reported() {
    let (_tmp, dir) = fresh_channel(false);
    std::fs::create_dir(channel::Paths::new(&dir).socket).unwrap();
    let err = Server::open(&dir, &server_options())
        .err()
        .expect("a server over a directory in the socket's place");
    assert!(err.to_string().contains("remove stale socket"), "{err}");
}

/// A connection that never says hello is dropped once the handshake's time
/// (2 s) has passed, and not before: at the look that accepted it, it is
/// merely waiting.
#[test]
fn a_silent_connection_is_dropped_after_the_handshake_time() {
    let (_tmp, dir, mut server) = server_and_dir();
    let _silent =
        std::os::unix::net::UnixStream::connect(channel::Paths::new(&dir).socket).unwrap();
    server.service().unwrap();
    assert_eq!(
        server.socket_fds().len(),
        2,
        "the listener and the silent one"
    );
    assert_eq!(server.connection_stats().failed, 0, "dropped at once");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while server.connection_stats().failed == 0 {
        assert!(std::time::Instant::now() < deadline, "never dropped");
        // Waits on the doorbell; nothing rings, so this paces the loop.
        assert!(server
            .recv(Some(Duration::from_millis(100)))
            .unwrap()
            .is_none());
    }
    let why = server.connection_stats().last_failed.unwrap_or_default();
    assert!(why.contains("no hello within"), "{why}");
    assert_eq!(server.socket_fds().len(), 1, "only the listener is left");
}

/// A server out of descriptors cannot accept: the connection waits in the
/// kernel's backlog, the server counts a failed handshake and goes on, and
/// admits the client once a descriptor is free. (In a child process: the
/// limit on descriptors is the process's.)
#[test]
fn a_server_out_of_descriptors_leaves_the_client_waiting() {
    use std::io::{Read, Write};
    if !in_child("a_server_out_of_descriptors_leaves_the_client_waiting") {
        return;
    }
    let (_tmp, dir, mut server) = server_and_dir();
    let mut conn =
        std::os::unix::net::UnixStream::connect(channel::Paths::new(&dir).socket).unwrap();
    conn.write_all(b"SAIRING-HELLO-2\0").unwrap();
    // The lowest free descriptor becomes the limit: the accept's is refused.
    // SAFETY: dup of a descriptor this process holds; the copy is closed next.
    let free = unsafe { libc::dup(conn.as_raw_fd()) };
    assert!(free >= 0);
    // SAFETY: closes the copy made above, owned by nobody else.
    unsafe { libc::close(free) };
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into a live value.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
    let was = lim.rlim_cur;
    lim.rlim_cur = free as libc::rlim_t;
    // SAFETY: setrlimit reads a live rlimit.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
    let r = server.service();
    lim.rlim_cur = was;
    // SAFETY: as above.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
    r.expect("a server out of descriptors stopped");
    let stats = server.connection_stats();
    assert_eq!((stats.admitted, stats.failed), (0, 1), "{stats:?}");
    let why = stats.last_failed.unwrap_or_default();
    assert!(why.contains("accept"), "{why}");
    server.service().unwrap();
    assert_eq!(server.connection_stats().admitted, 1);
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut welcome = [0u8; 16];
    conn.read_exact(&mut welcome).unwrap();
    assert_eq!(&welcome, b"SAIRING-WELCOME\0");
}

/// The server keeps up to `MAX_PENDING` connections waiting for their hello,
/// and drops the oldest only when one more comes.
#[test]
fn the_server_keeps_max_pending_connections_waiting_and_no_more() {
    let (_tmp, dir, mut server) = server_and_dir();
    let sock = channel::Paths::new(&dir).socket;
    let mut silent: Vec<_> = (0..channel::MAX_PENDING)
        .map(|_| std::os::unix::net::UnixStream::connect(&sock).unwrap())
        .collect();
    server.service().unwrap();
    assert_eq!(server.connection_stats().failed, 0);
    assert_eq!(server.socket_fds().len(), 1 + channel::MAX_PENDING);
    silent.push(std::os::unix::net::UnixStream::connect(&sock).unwrap());
    server.service().unwrap();
    let stats = server.connection_stats();
    assert_eq!(stats.failed, 1, "{stats:?}");
    let why = stats.last_failed.unwrap_or_default();
    assert!(why.contains("the oldest was dropped"), "{why}");
    assert_eq!(server.socket_fds().len(), 1 + channel::MAX_PENDING);
}

/// A busy-polling server, spinning inside `recv`, still looks at its socket
/// now and then: a client that connects meanwhile is admitted without
/// waiting for the spin to end (it never ends before a request comes).
#[test]
fn a_busy_polling_server_admits_a_client_while_it_spins() {
    let (_tmp, dir) = fresh_channel(false);
    let opts = ServerOptions {
        wait: WaitPolicy::busy_poll(),
        ..server_options()
    };
    let mut server = Server::open(&dir, &opts).unwrap();
    let srv = std::thread::spawn(move || {
        let key = server
            .recv(Some(T))
            .unwrap()
            .map(|r| r.request.key.to_owned());
        (server, key)
    });
    let mut client = Client::open(&dir, &client_options()).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !client.connected() {
        assert!(
            std::time::Instant::now() < deadline,
            "a spinning server did not admit the client"
        );
        client.service().unwrap();
        std::thread::yield_now();
    }
    client.send(Op::Notify, "INIT_VIEW", &Body::EMPTY).unwrap();
    let (server, key) = srv.join().unwrap();
    assert_eq!(key.as_deref(), Some("INIT_VIEW"));
    assert_eq!(server.connection_stats().admitted, 1);
}

/// Waits until `tx`'s reader has announced that it sleeps (it is asleep, or
/// about to: anything that happens now ends its sleep).
fn until_asleep(tx: &mut sairing_ring::Producer) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !tx.take_consumer_wakeup() {
        assert!(
            std::time::Instant::now() < deadline,
            "the reader never slept"
        );
        std::thread::yield_now();
    }
}

/// A server with no client: its sleeps end by the short poll, and nothing
/// else; one woken by a client connecting counts the wake as `other`.
#[test]
fn a_server_without_a_client_polls_and_a_connection_wakes_it() {
    let (_tmp, dir, mut server) = server_and_dir();
    assert!(server
        .recv(Some(Duration::from_millis(100)))
        .unwrap()
        .is_none());
    let w = server.wait_stats();
    assert!(w.polled >= 1, "{w:?}");
    assert_eq!(
        (w.rung, w.timed_out, w.other, w.hung_up),
        (0, 0, 0, 0),
        "{w:?}"
    );
    // This test writes the request ring (the client's role), to see the
    // server announce its sleep.
    let paths = channel::Paths::new(&dir);
    let mut tx = sairing_ring::Producer::open(&paths.request, &Default::default()).unwrap();
    let mut conns = Vec::new();
    // A connection made after the announcement ends the server's sleep (of
    // at most 20 ms: no client); tried again if this thread was held up
    // past that sleep.
    for _ in 0..5 {
        let before = server.wait_stats().other;
        let srv = std::thread::spawn(move || {
            let got = server.recv(Some(Duration::from_millis(200))).unwrap();
            assert!(got.is_none(), "a request from nowhere");
            server
        });
        until_asleep(&mut tx);
        conns.push(std::os::unix::net::UnixStream::connect(&paths.socket).unwrap());
        server = srv.join().unwrap();
        if server.wait_stats().other > before {
            return;
        }
    }
    panic!(
        "no wake counted for five connections: {:?}",
        server.wait_stats()
    );
}

/// A client asleep waiting for its server sees the server hang up: the
/// sleep ends, and is counted as `hung_up`. (The server here is played by
/// hand: the socket, the handshake and the response ring.)
#[test]
fn a_sleeping_client_counts_its_servers_hang_up() {
    use std::io::{Read, Write};
    let (_tmp, dir) = fresh_channel(false);
    let paths = channel::Paths::new(&dir);
    let listener = std::os::unix::net::UnixListener::bind(&paths.socket).unwrap();
    let mut client = Client::open(&dir, &client_options()).unwrap();
    let mut conn = accept_from(&listener, &mut client);
    let mut hello = [0u8; 16];
    conn.read_exact(&mut hello).unwrap();
    conn.write_all(b"SAIRING-WELCOME\0").unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !client.connected() {
        assert!(std::time::Instant::now() < deadline, "never welcomed");
        client.service().unwrap();
        std::thread::yield_now();
    }
    let mut tx = sairing_ring::Producer::open(&paths.response, &Default::default()).unwrap();
    let before = client.wait_stats();
    let cl = std::thread::spawn(move || {
        let got = client
            .next_completion(Some(Duration::from_secs(1)))
            .unwrap();
        assert!(got.is_none(), "an answer from nowhere");
        client
    });
    until_asleep(&mut tx);
    drop(conn);
    let client = cl.join().unwrap();
    let w = client.wait_stats();
    assert_eq!(w.hung_up, before.hung_up + 1, "{w:?}");
    assert_eq!(w.rung, before.rung, "a hang-up taken for a ring: {w:?}");
}

/// An external event loop that announced a wait and is awake again
/// (`after_wake`) is not rung for what comes next: the peer rings only a
/// side that may be asleep.
#[test]
fn an_event_loop_awake_again_is_not_rung() {
    use std::os::fd::AsFd;
    let (_tmp, dir) = fresh_channel(false);
    let (mut server, mut client) = connected(&dir, test_wait());
    client.after_wake().unwrap(); // takes the ring of the connection
    assert!(client.prepare_to_wait().unwrap(), "nothing to read yet");
    assert!(
        !readable_within(client.as_fd(), 0),
        "rung with nothing sent"
    );
    client.after_wake().unwrap();
    server.notify("port_state_change", "[]").unwrap();
    assert!(
        !readable_within(client.as_fd(), 0),
        "a client awake again was rung"
    );
    assert_eq!(client.pump().unwrap(), 1);
    // Announced again, it is rung for the next one; with one there already,
    // it is told not to wait.
    assert!(client.prepare_to_wait().unwrap());
    server.notify("port_state_change", "[]").unwrap();
    assert!(
        readable_within(client.as_fd(), 10_000),
        "a client about to wait was not rung"
    );
    client.after_wake().unwrap();
    assert!(
        !client.prepare_to_wait().unwrap(),
        "told to wait with a notification there"
    );
}

/// A client keeps one handshake in flight, however often it is serviced
/// while the server does not answer: it does not connect again (which would
/// leave the server a trail of abandoned connections).
#[test]
fn a_client_keeps_one_handshake_in_flight() {
    let (_tmp, dir) = fresh_channel(false);
    let mut server = Server::open(&dir, &server_options()).unwrap();
    let mut client = Client::open(&dir, &client_options()).unwrap();
    // Longer than a few of the 20 ms between attempts.
    let until = std::time::Instant::now() + Duration::from_millis(100);
    while std::time::Instant::now() < until {
        client.service().unwrap();
        std::thread::yield_now();
    }
    let deadline = std::time::Instant::now() + T;
    while !client.connected() {
        server.service().unwrap();
        client.service().unwrap();
        assert!(std::time::Instant::now() < deadline, "never connected");
    }
    let stats = server.connection_stats();
    assert_eq!((stats.admitted, stats.failed), (1, 0), "{stats:?}");
}

/// An unconnected client tries to connect at most once every 20 ms, however
/// often it is serviced: here something of this uid listens in the server's
/// place and hangs up on every connection, and in 200 ms the client makes
/// at most 200 / 20 + 1 attempts.
#[test]
fn connection_attempts_are_rate_limited() {
    let (_tmp, dir) = fresh_channel(false);
    let listener =
        std::os::unix::net::UnixListener::bind(channel::Paths::new(&dir).socket).unwrap();
    listener.set_nonblocking(true).unwrap();
    let start = std::time::Instant::now();
    let mut client = Client::open(&dir, &client_options()).unwrap();
    let mut attempts = 0u32;
    while start.elapsed() < Duration::from_millis(200) {
        let _ = client.service();
        while let Ok((conn, _)) = listener.accept() {
            attempts += 1;
            drop(conn);
        }
    }
    let _ = client.service();
    while let Ok((conn, _)) = listener.accept() {
        attempts += 1;
        drop(conn);
    }
    let most = (start.elapsed().as_millis() / 20) as u32 + 1;
    assert!(attempts >= 1, "the client never tried");
    assert!(
        attempts <= most,
        "{attempts} attempts, at most {most} allowed"
    );
}
