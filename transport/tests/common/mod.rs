//! Set-up shared by the transport's test files (each is its own crate, and
//! includes this with `mod common;`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sairing_transport::{channel, Client, ClientOptions, Server, ServerOptions, WaitPolicy};

/// How long connecting may take before a test fails: well within
/// cargo-mutants' half-minute limit (scripts/mutants.sh).
const CONNECT_WITHIN: Duration = Duration::from_secs(10);

/// How long a client's or server's wait lasts in these tests before it gives
/// up (the default is 30 s): a side broken so that it never wakes fails the
/// test with the library's timeout error, within cargo-mutants' half minute a
/// mutant, rather than hanging it.
pub const WAIT_WITHIN: Duration = Duration::from_secs(10);

/// The default wait policy, with [`WAIT_WITHIN`] as its timeout.
pub fn test_wait() -> WaitPolicy {
    WaitPolicy {
        timeout: WAIT_WITHIN,
        ..WaitPolicy::default()
    }
}

/// The default client options, waiting as [`test_wait`] says.
pub fn client_options() -> ClientOptions {
    ClientOptions {
        wait: test_wait(),
        ..ClientOptions::default()
    }
}

/// The default server options, waiting as [`test_wait`] says.
pub fn server_options() -> ServerOptions {
    ServerOptions {
        wait: test_wait(),
        ..ServerOptions::default()
    }
}

/// A new channel of 64 KiB rings in a temporary directory.
pub fn fresh_channel(checksums: bool) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ch");
    channel::create(
        &dir,
        &channel::ChannelOptions {
            capacity: 1 << 16,
            checksums,
            ..Default::default()
        },
    )
    .unwrap();
    (tmp, dir)
}

/// Services both sides until `client` is admitted (one thread: neither waits).
pub fn connect(server: &mut Server, client: &mut Client) {
    let deadline = Instant::now() + CONNECT_WITHIN;
    while !client.connected() {
        server.service().unwrap();
        client.service().unwrap();
        assert!(Instant::now() < deadline, "never connected");
    }
}

/// A server and a client on `dir`, both waiting as `wait` says, connected.
pub fn connected(dir: &Path, wait: WaitPolicy) -> (Server, Client) {
    let mut server = Server::open(
        dir,
        &ServerOptions {
            wait,
            ..ServerOptions::default()
        },
    )
    .unwrap();
    let mut client = Client::open(
        dir,
        &ClientOptions {
            wait,
            ..ClientOptions::default()
        },
    )
    .unwrap();
    connect(&mut server, &mut client);
    (server, client)
}

/// Runs `f` on a thread of its own and returns what it returns; fails the
/// test if it has not returned within `limit` (a wait whose timeout is broken
/// never returns: that fails here with a message, rather than hanging the
/// test). The thread is left behind: the test is failing anyway.
pub fn within<T: Send + 'static>(
    limit: Duration,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    use std::sync::mpsc::RecvTimeoutError;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(r) => r,
        Err(RecvTimeoutError::Timeout) => panic!("{what} did not return within {limit:?}"),
        Err(RecvTimeoutError::Disconnected) => {
            panic!("{what} failed (its thread panicked: see above)")
        }
    }
}
