//! A plain Unix domain socket, each message a length-prefixed frame: the
//! simplest thing two processes could use instead of a shared ring.

use std::io::{BufReader, BufWriter, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use sairing_benches::measure::{self, Measured, Reexec, Stats};

use crate::harness::{message, FLUSH, GET, SET};
use crate::restart::{self, AppliedLog};

fn frame_write(s: &mut impl Write, b: &[u8]) -> std::io::Result<()> {
    s.write_all(&(b.len() as u32).to_le_bytes())?;
    s.write_all(b)
}

/// Reads one frame into `buf`; false at the end of the stream.
fn frame_read(s: &mut impl Read, buf: &mut Vec<u8>) -> std::io::Result<bool> {
    let mut len = [0u8; 4];
    if let Err(e) = s.read_exact(&mut len) {
        return if e.kind() == std::io::ErrorKind::UnexpectedEof {
            Ok(false)
        } else {
            Err(e)
        };
    }
    buf.resize(u32::from_le_bytes(len) as usize, 0);
    s.read_exact(buf)?;
    Ok(true)
}

/// The latency row's server (`serve-uds`): answers everything but sets.
pub fn serve(path: PathBuf) -> anyhow::Result<()> {
    measure::pin(1);
    let _ = std::fs::remove_file(&path);
    let l = UnixListener::bind(&path)?;
    println!("ready");
    let (mut s, _) = l.accept()?;
    let mut r = BufReader::with_capacity(1 << 16, s.try_clone()?);
    let mut buf = Vec::new();
    while frame_read(&mut r, &mut buf)? {
        if buf[0] != SET {
            frame_write(&mut s, b"SAI_STATUS_SUCCESS")?;
        }
    }
    Ok(())
}

/// The latency row's client: round trips on the socket itself, one-way
/// frames through a buffered writer on a clone of it.
struct Client {
    socket: UnixStream,
    writer: BufWriter<UnixStream>,
    get: Vec<u8>,
    set: Vec<u8>,
    flush: Vec<u8>,
    buf: Vec<u8>,
}

impl Measured for Client {
    fn round_trip(&mut self) -> anyhow::Result<()> {
        frame_write(&mut self.socket, &self.get)?;
        frame_read(&mut self.socket, &mut self.buf)?;
        Ok(())
    }

    fn one_way(&mut self, messages: u64) -> anyhow::Result<()> {
        for _ in 0..messages {
            frame_write(&mut self.writer, &self.set)?;
        }
        frame_write(&mut self.writer, &self.flush)?;
        self.writer.flush()?;
        frame_read(&mut self.socket, &mut self.buf)?;
        Ok(())
    }
}

/// The `uds` row.
pub fn measure(samples: u64, messages: u64) -> anyhow::Result<Stats> {
    let tmp = tempfile::tempdir()?;
    let path = tmp.path().join("uds.sock");
    let _server = Reexec::start(&["serve-uds", path.to_str().context("utf-8")?])?;
    let socket = UnixStream::connect(&path)?;
    let writer = BufWriter::with_capacity(1 << 16, socket.try_clone()?);
    let mut client = Client {
        socket,
        writer,
        get: message(GET),
        set: message(SET),
        flush: message(FLUSH),
        buf: Vec::new(),
    };
    measure::run("uds", &mut client, samples, messages)
}

/// The restart matrix's consumer: accepts one producer after another.
pub fn consume(target: &str, mut log: AppliedLog) -> anyhow::Result<()> {
    let _ = std::fs::remove_file(target);
    let l = UnixListener::bind(target)?;
    println!("ready");
    loop {
        let (s, _) = l.accept()?;
        let mut r = BufReader::with_capacity(1 << 16, s);
        let mut buf = Vec::new();
        while frame_read(&mut r, &mut buf)? {
            let n = u64::from_le_bytes(buf[..8].try_into()?);
            log.apply(&[n])?;
        }
    }
}

/// The restart matrix's producer. A write to a dead consumer fails; the
/// producer reconnects to the next one and goes on with the next number.
pub struct Producer {
    path: String,
    socket: Option<UnixStream>,
}

impl Producer {
    /// Connects on the first send.
    pub fn new(path: &str) -> Producer {
        Producer {
            path: path.to_owned(),
            socket: None,
        }
    }
}

impl restart::Producer for Producer {
    fn send(&mut self, n: u64) -> anyhow::Result<()> {
        if self.socket.is_none() {
            let deadline = Instant::now() + Duration::from_secs(10);
            while self.socket.is_none() {
                self.socket = UnixStream::connect(&self.path).ok();
                if self.socket.is_none() {
                    anyhow::ensure!(Instant::now() < deadline, "no consumer to connect to");
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
        if frame_write(self.socket.as_mut().expect("connected"), &n.to_le_bytes()).is_err() {
            self.socket = None; // this one is lost
        }
        Ok(())
    }
}
