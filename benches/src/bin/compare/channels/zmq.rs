//! ZeroMQ as SONiC's ZMQ mode uses it: PUSH/PULL for requests plus a PUSH/PULL
//! reply path, libzmq over ipc://.

use std::path::{Path, PathBuf};

use anyhow::Context;
use sairing_benches::measure::{self, Measured, Reexec, Stats};

use crate::harness::{message, FLUSH, GET, SET};
use crate::restart::{self, AppliedLog};

/// The request and the response endpoints in `dir`.
fn endpoints(dir: &Path) -> (String, String) {
    (
        format!("ipc://{}/req", dir.display()),
        format!("ipc://{}/resp", dir.display()),
    )
}

/// The latency row's server (`serve-zmq`): PULLs requests, PUSHes answers to
/// everything but sets.
pub fn serve(dir: PathBuf) -> anyhow::Result<()> {
    measure::pin(1);
    let ctx = zmq::Context::new();
    let (req, resp) = endpoints(&dir);
    let pull = ctx.socket(zmq::PULL)?;
    pull.bind(&req)?;
    let push = ctx.socket(zmq::PUSH)?;
    push.connect(&resp)?;
    println!("ready");
    loop {
        let m = pull.recv_bytes(0)?;
        if m.first() != Some(&SET) {
            push.send(&b"SAI_STATUS_SUCCESS"[..], 0)?;
        }
    }
}

/// The latency row's client: PUSHes requests, PULLs answers.
struct Client {
    push: zmq::Socket,
    pull: zmq::Socket,
    get: Vec<u8>,
    set: Vec<u8>,
    flush: Vec<u8>,
}

impl Measured for Client {
    fn round_trip(&mut self) -> anyhow::Result<()> {
        self.push.send(&self.get[..], 0)?;
        self.pull.recv_bytes(0)?;
        Ok(())
    }

    fn one_way(&mut self, messages: u64) -> anyhow::Result<()> {
        for _ in 0..messages {
            self.push.send(&self.set[..], 0)?;
        }
        self.push.send(&self.flush[..], 0)?;
        self.pull.recv_bytes(0)?;
        Ok(())
    }
}

/// The `zmq` row.
pub fn measure(samples: u64, messages: u64) -> anyhow::Result<Stats> {
    let tmp = tempfile::tempdir()?;
    let ctx = zmq::Context::new();
    let (req, resp) = endpoints(tmp.path());
    let pull = ctx.socket(zmq::PULL)?;
    pull.bind(&resp)?;
    let _server = Reexec::start(&["serve-zmq", tmp.path().to_str().context("utf-8")?])?;
    let push = ctx.socket(zmq::PUSH)?;
    push.connect(&req)?;
    let mut client = Client {
        push,
        pull,
        get: message(GET),
        set: message(SET),
        flush: message(FLUSH),
    };
    measure::run("zmq", &mut client, samples, messages)
}

/// The restart matrix's consumer: PULLs numbers.
pub fn consume(target: &str, mut log: AppliedLog) -> anyhow::Result<()> {
    let ctx = zmq::Context::new();
    let pull = ctx.socket(zmq::PULL)?;
    pull.bind(&format!("ipc://{target}"))?;
    println!("ready");
    loop {
        let m = pull.recv_bytes(0)?;
        log.apply(&[u64::from_le_bytes(m[..8].try_into()?)])?;
    }
}

/// The restart matrix's producer. PUSH keeps its queue across the consumer's
/// restart; what the dead consumer had received but not applied is gone.
pub struct Producer {
    /// (The socket holds its context.)
    push: zmq::Socket,
}

impl Producer {
    /// Connects to the consumer's endpoint at `target`.
    pub fn open(target: &str) -> anyhow::Result<Producer> {
        let push = zmq::Context::new().socket(zmq::PUSH)?;
        // Dropping it at the end of the run must not wait on a dead consumer.
        push.set_linger(0)?;
        push.connect(&format!("ipc://{target}"))?;
        Ok(Producer { push })
    }
}

impl restart::Producer for Producer {
    fn send(&mut self, n: u64) -> anyhow::Result<()> {
        self.push.send(&n.to_le_bytes()[..], 0)?;
        Ok(())
    }

    /// The socket lives to the end of the run, as a producer's does: closing
    /// it would drop what it still queues.
    fn stays_open(&self) -> bool {
        true
    }
}
