//! `chanpeer`: a stand-in client or server for a sairing channel, used by the
//! transport's multi-process tests and handy for poking at a channel by hand.
//!
//! - `chanpeer create DIR [--capacity N]`
//! - `chanpeer serve DIR [--busy] [--notify-every K]`: a stateless echo server.
//!   Every request gets `SAI_STATUS_SUCCESS`; a get gets back each requested
//!   attribute with the value `<key>/<name>`; a bulk call gets one status per
//!   object; every K-th request is followed by a `port_state_change`
//!   notification. Prints `ready PID`, then `served N` every 1000 requests.
//! - `chanpeer client DIR --count N [--mode sync|async|pipelined]`: sends N
//!   sets/gets and checks every response; prints `answered N` as it goes and
//!   `done N stale S notifications K` at the end.
//! - `chanpeer impostor DIR`: binds the socket without the rings and holds every
//!   connection: a process that is not the server (run it as another user).
//! - `chanpeer probe DIR`: connects to the socket only (no rings), prints
//!   `admitted` or `refused`.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;
use clap::{Parser, Subcommand};
use sairing_transport::channel::{self, Probe};
use sairing_transport::{
    Client, ClientOptions, Error, Mode, Op, Outcome, Server, ServerOptions, WaitPolicy,
};

#[derive(Parser)]
#[command(about = "A test client or server for a sairing channel")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Create a channel.
    Create {
        dir: PathBuf,
        #[arg(long, default_value_t = 1 << 16)]
        capacity: u64,
    },
    /// Serve requests with a stateless echo switch.
    Serve {
        dir: PathBuf,
        /// Busy-poll instead of sleeping on the eventfd.
        #[arg(long)]
        busy: bool,
        /// Publish a notification after every K-th request (0: never).
        #[arg(long, default_value_t = 0)]
        notify_every: u64,
    },
    /// Send requests and check the responses.
    Client {
        dir: PathBuf,
        #[arg(long)]
        count: u64,
        #[arg(long, default_value_t = Mode::Sync)]
        mode: Mode,
    },
    /// Connect to the socket only and report whether the server admits us.
    Probe { dir: PathBuf },
    /// Bind the channel's socket without holding its rings and welcome one
    /// client (of any group 0 member or this user): a stand-in
    /// for a process that is not the server. Prints `listening`, then `connected`.
    Impostor { dir: PathBuf },
}

fn line(s: std::fmt::Arguments) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_fmt(s);
    let _ = o.write_all(b"\n");
    let _ = o.flush();
}

fn serve(dir: PathBuf, busy: bool, notify_every: u64) -> anyhow::Result<()> {
    let wait = if busy {
        WaitPolicy::busy_poll()
    } else {
        WaitPolicy::default()
    };
    let mut server = Server::open(
        &dir,
        &ServerOptions {
            wait,
            ..Default::default()
        },
    )?;
    line(format_args!("ready {}", std::process::id()));
    let mut served = 0u64;
    loop {
        let mut req = match server.recv(None) {
            Ok(Some(r)) => r,
            Ok(None) => continue,
            Err(Error::Decode(e)) => {
                eprintln!("chanpeer: skipping {e}");
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let key = req.request.key.to_owned();
        match req.request.op {
            Op::Get => {
                let attrs: Vec<(String, String)> = req
                    .request
                    .attrs
                    .clone()
                    .map(|(n, _)| (n.to_owned(), format!("{key}/{n}")))
                    .collect();
                req.respond::<String, &str>("SAI_STATUS_SUCCESS", &attrs, &[])?;
            }
            op if op.is_bulk() => {
                let n = req.request.objects.len();
                req.respond::<&str, &str>(
                    "SAI_STATUS_SUCCESS",
                    &[],
                    &vec!["SAI_STATUS_SUCCESS"; n],
                )?;
            }
            _ => req.respond_status("SAI_STATUS_SUCCESS")?,
        }
        served += 1;
        if notify_every > 0 && served.is_multiple_of(notify_every) {
            let payload = format!(
                r#"[{{"port_id":"oid:0x{served:x}","port_state":"SAI_PORT_OPER_STATUS_UP"}}]"#
            );
            server.notify("port_state_change", &payload)?;
        }
        if served.is_multiple_of(1000) {
            line(format_args!("served {served}"));
        }
    }
}

fn key_of(i: u64) -> String {
    format!("SAI_OBJECT_TYPE_PORT:oid:0x{:x}", 0x1000000000000 + i)
}

fn client(dir: PathBuf, count: u64, mode: Mode) -> anyhow::Result<()> {
    let mut c = Client::open(
        &dir,
        &ClientOptions {
            mode,
            ..Default::default()
        },
    )?;
    let mut in_flight = std::collections::HashMap::new();
    for i in 0..count {
        let key = key_of(i);
        if i % 2 == 0 {
            match c.set(&key, "SAI_PORT_ATTR_ADMIN_STATE", "true")? {
                Outcome::Done(r) if !r.is_success() => bail!("set {key}: {}", r.status),
                Outcome::Done(_) => {}
                Outcome::Sent(seq) => {
                    in_flight.insert(seq, key.clone());
                }
            }
        } else {
            let r = c.get(&key, &[("SAI_PORT_ATTR_MTU", "0")])?;
            let want = vec![(
                "SAI_PORT_ATTR_MTU".to_owned(),
                format!("{key}/SAI_PORT_ATTR_MTU"),
            )];
            if !r.is_success() || r.attrs != want {
                bail!("get {key}: {} {:?}", r.status, r.attrs);
            }
        }
        if mode == Mode::Pipelined {
            while let Some(r) = c.next_completion(Some(Duration::ZERO))? {
                if in_flight.remove(&r.seq).is_none() || !r.is_success() {
                    bail!("unexpected completion {r:?}");
                }
            }
        }
        if (i + 1) % 1000 == 0 {
            line(format_args!("answered {}", i + 1));
        }
    }
    c.wait_all(None)?;
    while let Some(r) = c.next_completion(Some(Duration::ZERO))? {
        if in_flight.remove(&r.seq).is_none() || !r.is_success() {
            bail!("unexpected completion {r:?}");
        }
    }
    if mode == Mode::Pipelined && !in_flight.is_empty() {
        bail!("{} pipelined requests never completed", in_flight.len());
    }
    let failures = c.take_failures();
    if !failures.is_empty() {
        bail!("{} async failures, first {:?}", failures.len(), failures[0]);
    }
    let notes = c.take_notifications().len();
    let (sent, answered) = c.counts();
    if sent != answered || sent != count {
        bail!("sent {sent}, answered {answered}, expected {count}");
    }
    line(format_args!(
        "done {count} stale {} notifications {notes}",
        c.stale_responses()
    ));
    Ok(())
}

fn probe(dir: PathBuf) -> anyhow::Result<()> {
    match channel::probe(&dir)? {
        Probe::Admitted => line(format_args!("admitted")),
        Probe::NoServer => line(format_args!("no server")),
        Probe::Refused(_) => line(format_args!("refused")),
    }
    Ok(())
}

/// Binds the channel's socket and holds every connection open, saying nothing:
/// a client must refuse it before it sends a byte (its uid is checked first).
fn impostor(dir: PathBuf) -> anyhow::Result<()> {
    let listener = std::os::unix::net::UnixListener::bind(channel::Paths::new(&dir).socket)?;
    line(format_args!("listening"));
    let mut held = Vec::new();
    for conn in listener.incoming() {
        held.push(conn?);
        line(format_args!("connected"));
    }
    Ok(())
}

fn main() {
    let cli = Cli::parse();
    let r = match cli.cmd {
        Cmd::Create { dir, capacity } => channel::create(
            &dir,
            &channel::ChannelOptions {
                capacity,
                ..Default::default()
            },
        )
        .map(drop)
        .map_err(Into::into),
        Cmd::Serve {
            dir,
            busy,
            notify_every,
        } => serve(dir, busy, notify_every),
        Cmd::Client { dir, count, mode } => client(dir, count, mode),
        Cmd::Probe { dir } => probe(dir),
        Cmd::Impostor { dir } => impostor(dir),
    };
    if let Err(e) = r {
        eprintln!("chanpeer: {e:#}");
        std::process::exit(1);
    }
}
