//! A private `redis-server` on a free loopback port, with persistence off, for
//! tests, benchmarks and the demo. It is stopped when dropped.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running private Redis.
pub struct PrivateRedis {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

/// Why a private Redis could not be started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// `redis-server` is not installed.
    #[error("redis-server is not installed (Debian: apt-get install -y redis-server; or run scripts/setup.sh): {0}")]
    Missing(std::io::Error),
    /// It started but never answered.
    #[error("redis-server on port {port} did not answer within {waited:?}")]
    NoAnswer {
        /// Its port.
        port: u16,
        /// How long we waited.
        waited: Duration,
    },
    /// Anything else.
    #[error("starting redis-server: {0}")]
    Io(#[from] std::io::Error),
}

impl PrivateRedis {
    /// Starts one. Fails with a clear message when redis-server is missing.
    pub fn start() -> Result<PrivateRedis, StartError> {
        let mut last = None;
        // The port is free when the kernel hands it out, but another process
        // could take it before Redis binds it: then Redis exits, and we try
        // another port.
        for _ in 0..5 {
            let dir = tempfile::tempdir()?;
            let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
            let child = spawn(port, dir.path())?;
            let mut r = PrivateRedis { child, port, dir };
            match r.wait_ready(Duration::from_secs(10)) {
                Ok(()) => return Ok(r),
                Err(e) => last = Some(e), // dropping `r` stops that attempt
            }
        }
        Err(last.expect("at least one attempt was made"))
    }

    fn wait_ready(&mut self, limit: Duration) -> Result<(), StartError> {
        let start = Instant::now();
        loop {
            if let Ok(Some(_)) = self.child.try_wait() {
                return Err(StartError::NoAnswer {
                    port: self.port,
                    waited: start.elapsed(),
                });
            }
            if self.answers_ping() {
                return Ok(());
            }
            if start.elapsed() > limit {
                return Err(StartError::NoAnswer {
                    port: self.port,
                    waited: limit,
                });
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn answers_ping(&self) -> bool {
        let Ok(client) = redis::Client::open(self.url(0)) else {
            return false;
        };
        let Ok(mut c) = client.get_connection_with_timeout(Duration::from_secs(1)) else {
            return false;
        };
        redis::cmd("PING").query::<String>(&mut c).is_ok()
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:PORT/DB`
    pub fn url(&self, db: u32) -> String {
        format!("redis://127.0.0.1:{}/{db}", self.port)
    }

    /// Kills it (SIGKILL); [`restart`](Self::restart) starts it again on the
    /// same port.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Kills it (SIGKILL) and starts a new, empty one on the same port: a Redis
    /// restart without persistence.
    pub fn restart(&mut self) -> Result<(), StartError> {
        self.stop();
        self.child = spawn(self.port, self.dir.path())?;
        self.wait_ready(Duration::from_secs(10))
    }
}

fn spawn(port: u16, dir: &std::path::Path) -> Result<Child, StartError> {
    Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .arg("--dir")
        .arg(dir)
        .args(["--daemonize", "no", "--loglevel", "warning"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(StartError::Missing)
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
