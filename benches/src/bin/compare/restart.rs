//! The restart-loss matrix: for each channel, a consumer that falls behind
//! (each request costs it `--apply-us` of work) is killed with SIGKILL half
//! way through a stream of numbered requests and restarted; the requests in
//! flight at the kill, lost, and applied twice are counted from the numbers
//! the consumers logged.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sairing_benches::measure::Reexec;

use crate::channels::Channel;

/// Where a consumer applies requests: it works `apply_ns` for each, then
/// appends their numbers to a file, in one write, so that they survive a
/// kill of the process once written.
pub struct AppliedLog {
    path: PathBuf,
    file: std::fs::File,
    apply_ns: u64,
}

impl AppliedLog {
    /// Opens (or creates) the log at `path`, to append to; applying a request
    /// will take `apply_ns` nanoseconds.
    pub fn open(path: &Path, apply_ns: u64) -> anyhow::Result<AppliedLog> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(AppliedLog {
            path: path.to_owned(),
            file,
            apply_ns,
        })
    }

    /// Applies the requests numbered `nums`: their work, then their numbers.
    pub fn apply(&mut self, nums: &[u64]) -> anyhow::Result<()> {
        let work = self.apply_ns as u128 * nums.len() as u128;
        let t = Instant::now();
        while t.elapsed().as_nanos() < work {
            std::hint::spin_loop();
        }
        let mut b = Vec::with_capacity(nums.len() * 8);
        for n in nums {
            b.extend_from_slice(&n.to_le_bytes());
        }
        self.file.write_all(&b)?;
        Ok(())
    }

    /// The last number applied (by this consumer or one before it), 0 for none.
    pub fn last_applied(&self) -> u64 {
        read_log(&self.path).last().copied().unwrap_or(0)
    }
}

/// The numbers in the log at `path`, in the order applied.
fn read_log(path: &Path) -> Vec<u64> {
    std::fs::read(path)
        .unwrap_or_default()
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect()
}

/// The producer side of a restart run.
pub trait Producer {
    /// Sends request number `n`. A request lost on the way (the consumer
    /// died) is not an error: counting those is the point.
    fn send(&mut self, n: u64) -> anyhow::Result<()>;

    /// After the last send: waits until what was sent has gone out, calling
    /// `between` meanwhile (it kills and restarts the consumer when due).
    fn finish(&mut self, _between: &mut dyn FnMut() -> anyhow::Result<()>) -> anyhow::Result<()> {
        Ok(())
    }

    /// Whether it stays connected while the consumer drains what is still in
    /// the channel; a producer that does not hangs up after [`finish`](Self::finish).
    fn stays_open(&self) -> bool {
        false
    }
}

/// The consumer process (this binary's `apply` subcommand), killed and
/// restarted once, when half the requests are applied.
struct Consumer {
    args: Vec<String>,
    process: Reexec,
    log: PathBuf,
    total: u64,
    /// Sent but not yet applied when it was killed; None until then.
    in_flight: Option<u64>,
}

impl Consumer {
    fn start(
        channel: Channel,
        target: &str,
        log: &Path,
        apply_us: u64,
        total: u64,
    ) -> anyhow::Result<Consumer> {
        let args = vec![
            "apply".to_owned(),
            channel.name().to_owned(),
            target.to_owned(),
            log.to_str().expect("utf-8 path").to_owned(),
            "--apply-us".to_owned(),
            apply_us.to_string(),
        ];
        let process = Reexec::start(&args)?;
        Ok(Consumer {
            args,
            process,
            log: log.to_owned(),
            total,
            in_flight: None,
        })
    }

    /// How many numbers the consumers have logged.
    fn applied(&self) -> u64 {
        std::fs::metadata(&self.log)
            .map(|m| m.len() / 8)
            .unwrap_or(0)
    }

    /// Kills the consumer once half the numbers are applied, and starts
    /// another.
    fn restart_if_due(&mut self, sent: u64) -> anyhow::Result<()> {
        if self.in_flight.is_none() && self.applied() >= self.total / 2 {
            self.in_flight = Some(sent.saturating_sub(self.applied()));
            self.process.kill()?;
            self.process = Reexec::start(&self.args)?;
        }
        Ok(())
    }
}

/// One channel's row of the restart matrix.
pub struct Restart {
    /// The channel.
    pub channel: Channel,
    /// Requests sent.
    pub sent: u64,
    /// Sent but not yet applied when the consumer was killed.
    pub in_flight: u64,
    /// Sent and never applied.
    pub lost: u64,
    /// Applied more than once.
    pub duplicated: u64,
}

/// One channel's restart run: sends 1..=total, kills the consumer half way,
/// restarts it, and counts what was applied. `redis_url` is the run's
/// redis-server.
pub fn run(
    channel: Channel,
    redis_url: &str,
    total: u64,
    apply_us: u64,
) -> anyhow::Result<Restart> {
    let name = channel.name();
    let tmp = tempfile::tempdir_in("/dev/shm").or_else(|_| tempfile::tempdir())?;
    let log = tmp.path().join("applied.log");
    let target = channel.restart_target(tmp.path(), redis_url)?;
    let mut consumer = Consumer::start(channel, &target, &log, apply_us, total)?;
    let mut producer = channel.producer(&target)?;
    let mut sent = 0;
    for n in 1..=total {
        producer.send(n)?;
        sent += 1;
        consumer.restart_if_due(sent)?;
    }
    producer.finish(&mut || consumer.restart_if_due(sent))?;
    let _still_open = if producer.stays_open() {
        Some(producer)
    } else {
        drop(producer);
        None
    };
    // Let the consumer drain (the kill may come now, in the middle of the
    // stream still waiting in the channel), until the log stops growing.
    let mut last = u64::MAX;
    let mut still = Instant::now();
    loop {
        consumer.restart_if_due(sent)?;
        let now = consumer.applied();
        if now != last {
            last = now;
            still = Instant::now();
        }
        if now >= total && still.elapsed() > Duration::from_millis(200)
            || still.elapsed() > Duration::from_secs(3)
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let in_flight = consumer.in_flight;
    drop(consumer);
    channel.clean_up(&target)?;
    let applied = read_log(&log);
    let distinct: std::collections::HashSet<u64> = applied.iter().copied().collect();
    let lost = (1..=total).filter(|n| !distinct.contains(n)).count() as u64;
    let duplicated = applied.len() as u64 - distinct.len() as u64;
    anyhow::ensure!(
        in_flight.is_some(),
        "{name}: the consumer was never killed: it applied {} of the {} sent, then stopped",
        applied.len(),
        sent
    );
    Ok(Restart {
        channel,
        sent,
        in_flight: in_flight.unwrap_or(0),
        lost,
        duplicated,
    })
}
