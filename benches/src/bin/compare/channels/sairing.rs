//! sairing's restart row: a consumer that does what syncd does after a crash,
//! and a client sending numbered sets. (sairing's latency rows, busy-poll
//! and eventfd, are `measure::sairing_mode` in the library, shared with
//! `chanbench`.)

use std::path::Path;
use std::time::Duration;

use sairing_transport::{channel, Body, Client, Op, Server};

use crate::restart::{self, AppliedLog};

/// Creates the restart run's channel in `dir`; returns its directory.
pub fn restart_target(dir: &Path) -> anyhow::Result<String> {
    let chan = dir.join("chan");
    channel::create(
        &chan,
        &channel::ChannelOptions {
            capacity: 1 << 24,
            ..Default::default()
        },
    )?;
    Ok(chan.to_string_lossy().into_owned())
}

/// The restart matrix's consumer, as syncd: skips what was applied before a
/// crash, and frees ring space only once a batch is applied.
pub fn consume(target: &str, mut log: AppliedLog) -> anyhow::Result<()> {
    let last = log.last_applied();
    let mut server = Server::open(target, &Default::default())?;
    server.set_auto_release(false);
    println!("ready");
    let mut batch = Vec::new();
    loop {
        let got = match server.recv(Some(Duration::from_millis(1)))? {
            Some(req) => {
                let n: u64 = req.request.key.parse().unwrap_or(0);
                if n > last {
                    batch.push(n);
                }
                true
            }
            None => false,
        };
        if !got || batch.len() >= 64 {
            log.apply(&batch)?;
            batch.clear();
            server.release();
        }
    }
}

/// The restart matrix's producer: a set whose key is the number.
pub struct Producer {
    client: Client,
}

impl Producer {
    /// Opens the channel at `target`.
    pub fn open(target: &str) -> anyhow::Result<Producer> {
        Ok(Producer {
            client: Client::open(target, &Default::default())?,
        })
    }
}

impl restart::Producer for Producer {
    fn send(&mut self, n: u64) -> anyhow::Result<()> {
        self.client.send(Op::Set, &n.to_string(), &Body::EMPTY)?;
        Ok(())
    }
}
