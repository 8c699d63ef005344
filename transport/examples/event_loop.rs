//! A channel driven from an application's own event loop, the way a daemon
//! built around `poll`/`epoll` (SONiC's `swss::Select`, for one) would embed it:
//! neither side ever blocks inside sairing.
//!
//! ```text
//! cargo run -p sairing-transport --example event_loop
//! ```
//!
//! Each side watches two things: [`AsFd`] (its doorbell, readable when the peer
//! rang) and its sockets (`Server::socket_fds`: the listener and the client's
//! connection; `Client::socket_fd`: the server's connection, or the handshake
//! in flight). Before it waits it calls `prepare_to_wait` (`false`: work is
//! already there, do not wait) and after waking `after_wake`.

use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::time::Duration;

use sairing_transport::{channel, Body, Client, ClientOptions, Mode, Op, Server, ServerOptions};

/// Waits until one of `fds` is readable, or `timeout`. Returns whether one was.
fn poll(fds: &[RawFd], timeout: Duration) -> std::io::Result<bool> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    // SAFETY: `pfds` is a valid array of `pfds.len()` pollfd structures, and
    // the descriptors stay open for the call (their owners outlive it).
    let n = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as _, timeout.as_millis() as _) };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(n > 0)
}

/// The server's loop: answer every request with SUCCESS until `count` are done.
fn serve(dir: &std::path::Path, count: u64) -> Result<(), Box<dyn std::error::Error>> {
    let mut server = Server::open(dir, &ServerOptions::default())?;
    let mut answered = 0;
    while answered < count {
        // Take everything there is, without waiting.
        while let Some(mut req) = server.recv(Some(Duration::ZERO))? {
            req.respond_status("SAI_STATUS_SUCCESS")?;
            answered += 1;
        }
        if answered < count && server.prepare_to_wait()? {
            let mut fds = vec![server.as_fd().as_raw_fd()];
            fds.extend(server.socket_fds());
            if !poll(&fds, Duration::from_secs(1))? {
                eprintln!("server: a wait ended by its timeout ({answered} answered)");
            }
            server.after_wake()?;
        }
    }
    Ok(())
}

pub fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("asic");
    channel::create(&dir, &Default::default())?;
    let count = 1000;
    let server = {
        let dir = dir.clone();
        std::thread::spawn(move || serve(&dir, count).map_err(|e| e.to_string()))
    };

    // The client's loop: requests go out pipelined (no call waits); answers are
    // taken as they come, and the loop sleeps when there is nothing to do.
    let options = ClientOptions {
        mode: Mode::Pipelined,
        ..Default::default()
    };
    let mut client = Client::open(&dir, &options)?;
    let attrs = [("SAI_PORT_ATTR_MTU", "9100")];
    for i in 0..count {
        let key = format!("SAI_OBJECT_TYPE_PORT:oid:0x1000000000{i:03x}");
        client.send(Op::Set, &key, &Body::Attrs(&attrs))?;
    }
    let mut answered = 0;
    while answered < count {
        client.pump()?;
        while let Some(r) = client.next_completion(Some(Duration::ZERO))? {
            assert!(r.is_success(), "{r:?}");
            answered += 1;
        }
        if answered < count && client.prepare_to_wait()? {
            let mut fds = vec![client.as_fd().as_raw_fd()];
            // Not connected and no handshake in flight: nothing would wake the
            // loop when the server appears, so it looks again within 20 ms.
            let timeout = match client.socket_fd() {
                Some(fd) => {
                    fds.push(fd);
                    Duration::from_secs(1)
                }
                None => Duration::from_millis(20),
            };
            if !poll(&fds, timeout)? && timeout > Duration::from_millis(20) {
                eprintln!(
                    "client: a wait ended by its timeout ({answered} answered, connected {})",
                    client.connected()
                );
            }
            client.after_wake()?;
        }
    }
    server.join().expect("the server thread")?;
    println!("{answered} requests answered through two event loops");
    Ok(())
}
