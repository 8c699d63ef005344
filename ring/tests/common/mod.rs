//! Helpers for tests that drive `ringstress` processes.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_ringstress");
/// Long enough for a debug build on a loaded 2-core machine; a hang fails, it never passes.
pub const LINE_TIMEOUT: Duration = Duration::from_secs(120);

/// A child process whose stdout lines arrive on a channel.
pub struct Proc {
    pub child: Child,
    lines: Receiver<String>,
    pub seen: Vec<String>,
}

impl Proc {
    pub fn spawn(args: &[&str]) -> Proc {
        Self::spawn_with_stdin(args, Stdio::null())
    }

    pub fn spawn_with_stdin(args: &[&str], stdin: Stdio) -> Proc {
        let mut child = Command::new(BIN)
            .args(args)
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn ringstress");
        let out = child.stdout.take().expect("piped stdout");
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Proc {
            child,
            lines: rx,
            seen: Vec::new(),
        }
    }

    /// The next line, or `None` at end of output. Panics after `LINE_TIMEOUT`.
    pub fn line(&mut self) -> Option<String> {
        match self.lines.recv_timeout(LINE_TIMEOUT) {
            Ok(l) => {
                self.seen.push(l.clone());
                Some(l)
            }
            Err(RecvTimeoutError::Disconnected) => None,
            Err(RecvTimeoutError::Timeout) => panic!(
                "no output from ringstress (pid {}) for {LINE_TIMEOUT:?}; last lines: {:?}",
                self.child.id(),
                self.seen.iter().rev().take(3).collect::<Vec<_>>()
            ),
        }
    }

    /// [`Proc::line`], failing as soon as `other` (the process this one's
    /// progress depends on) has failed: a producer whose consumer died waits
    /// for space for ever, and the test would otherwise wait out
    /// `LINE_TIMEOUT` (and a run of mutants count a timeout, not a catch).
    fn line_watching(&mut self, other: &mut Proc) -> Option<String> {
        let look = Duration::from_millis(100);
        let mut waited = Duration::ZERO;
        loop {
            match self.lines.recv_timeout(look) {
                Ok(l) => {
                    self.seen.push(l.clone());
                    return Some(l);
                }
                Err(RecvTimeoutError::Disconnected) => return None,
                Err(RecvTimeoutError::Timeout) => {}
            }
            if let Some(status) = other.child.try_wait().expect("try_wait") {
                assert!(
                    status.success(),
                    "pid {} failed ({status}) while pid {} waited on it; its last lines: {:?}",
                    other.child.id(),
                    self.child.id(),
                    other.seen.iter().rev().take(3).collect::<Vec<_>>()
                );
            }
            waited += look;
            assert!(
                waited < LINE_TIMEOUT,
                "no output from ringstress (pid {}) for {LINE_TIMEOUT:?}; last lines: {:?}",
                self.child.id(),
                self.seen.iter().rev().take(3).collect::<Vec<_>>()
            );
        }
    }

    /// [`Proc::until`], failing as soon as `other` fails ([`Proc::line_watching`]).
    pub fn until_watching(&mut self, word: &str, at_least: u64, other: &mut Proc) -> u64 {
        self.until_by(word, at_least, |p| p.line_watching(other))
    }

    /// [`Proc::finish`], failing as soon as `other` fails.
    pub fn finish_watching(mut self, other: &mut Proc) -> Vec<String> {
        while self.line_watching(other).is_some() {}
        self.finish()
    }

    /// Reads lines until one `word N` with N >= at least; returns N.
    pub fn until(&mut self, word: &str, at_least: u64) -> u64 {
        self.until_by(word, at_least, Proc::line)
    }

    /// [`Proc::until`] with lines from `next`.
    fn until_by(
        &mut self,
        word: &str,
        at_least: u64,
        mut next: impl FnMut(&mut Proc) -> Option<String>,
    ) -> u64 {
        loop {
            let l = next(self).unwrap_or_else(|| {
                panic!(
                    "ringstress ended before `{word} {at_least}`; saw {:?}",
                    self.seen.last()
                )
            });
            if let Some(n) = value(&l, word) {
                if n >= at_least {
                    return n;
                }
            }
        }
    }

    /// SIGKILL, then reap; returns every line it printed.
    pub fn kill9(mut self) -> Vec<String> {
        // SAFETY: kill(2) on our own child's pid, which we have not reaped yet.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGKILL);
        }
        let status = self.child.wait().expect("wait");
        assert!(
            status.code().is_none(),
            "child exited on its own before SIGKILL: {status}"
        );
        while self.line().is_some() {}
        std::mem::take(&mut self.seen)
    }

    /// Waits for a clean exit and returns every line.
    pub fn finish(mut self) -> Vec<String> {
        while self.line().is_some() {}
        let status = self.child.wait().expect("wait");
        assert!(
            status.success(),
            "ringstress failed: {status}; last lines {:?}",
            self.seen.iter().rev().take(3).collect::<Vec<_>>()
        );
        std::mem::take(&mut self.seen)
    }
}

/// A process a test did not see to its end (the test failed first) is killed:
/// a producer left waiting on a full ring would outlive the test.
impl Drop for Proc {
    fn drop(&mut self) {
        // Nothing is signalled once the child has been reaped.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `N` from a line `word N`.
pub fn value(line: &str, word: &str) -> Option<u64> {
    let rest = line.strip_prefix(word)?.strip_prefix(' ')?;
    rest.trim().parse().ok()
}

/// The last `word N` in `lines`.
pub fn last(lines: &[String], word: &str) -> Option<u64> {
    lines.iter().rev().find_map(|l| value(l, word))
}

pub fn create(path: &Path, capacity: u64) {
    sairing_ring::create(path, &sairing_ring::CreateOptions::with_capacity(capacity))
        .expect("create ring");
}

/// A tiny deterministic generator (splitmix64), so failures can be replayed.
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
