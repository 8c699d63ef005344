//! `demo`: the main job. Starts Redis (a private one unless `--redis` is given),
//! creates a channel, starts syncd and orchagent, programs 100,000 routes, kills
//! syncd with SIGKILL in the middle, restarts it warm, finishes, and shows that
//! nothing was lost: requests sent and answered, and Redis's ASIC_STATE equal to
//! what the request stream implies.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use redis::Commands;
use sairing_orchagent::workload::Routes;
use sairing_syncd::asic_db;

#[derive(Parser)]
#[command(
    about = "sairing end to end: routes through a channel, syncd killed and restarted warm, nothing lost"
)]
struct Args {
    /// Routes to program.
    #[arg(long, default_value_t = 100_000)]
    routes: u64,
    /// Use this Redis (e.g. redis://127.0.0.1:6379/1) instead of a private one.
    #[arg(long)]
    redis: Option<String>,
    /// orchagent's mode.
    #[arg(long, default_value = "pipelined")]
    mode: String,
}

/// syncd as a child, its stdout read on a thread of its own (so it never
/// blocks on a full pipe): each line it prints arrives on `lines`.
struct Syncd {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
}

fn spawn_syncd(
    bin: &std::path::Path,
    dir: &std::path::Path,
    url: &str,
    warm: bool,
) -> anyhow::Result<Syncd> {
    let mut c = Command::new(bin);
    c.arg("--channel")
        .arg(dir)
        .args(["--redis", url, "--progress", "1000"]);
    if warm {
        c.arg("--warm");
    }
    c.stdout(Stdio::piped()).stderr(Stdio::inherit());
    let mut child = c
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let out = child.stdout.take().context("syncd's stdout")?;
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in std::io::BufRead::lines(std::io::BufReader::new(out)) {
            let Ok(l) = l else { break };
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    let mut sd = Syncd { child, lines };
    // Ready: its signal handlers are in place and it serves the channel.
    sd.wait_for("to say it is ready", |l| l.starts_with("syncd: ready"))?;
    Ok(sd)
}

impl Syncd {
    /// Waits (up to a minute) for a line `want` accepts, and returns it.
    fn wait_for(&mut self, what: &str, want: impl Fn(&str) -> bool) -> anyhow::Result<String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if want(&l) => return Ok(l),
                Ok(_) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    bail!("syncd did not come {what} within a minute")
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    let s = self.child.wait()?;
                    bail!("syncd exited ({s}) before {what}")
                }
            }
        }
    }
}

fn progress(con: &mut redis::Connection, url: &str) -> u64 {
    asic_db::read_progress(con, url)
        .ok()
        .flatten()
        .map_or(0, |p| p.seq)
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let t0 = Instant::now();
    let syncd = sairing_testkit::binary_or_die("syncd", "sairing-syncd");
    let orchagent = sairing_testkit::binary_or_die("orchagent", "sairing-orchagent");

    // Redis.
    let private;
    let url = match &a.redis {
        Some(u) => u.clone(),
        None => {
            private = sairing_testkit::PrivateRedis::start()?;
            println!(
                "redis: private redis-server on 127.0.0.1:{} (persistence off)",
                private.port()
            );
            private.url(1)
        }
    };
    let mut con = asic_db::connect(&url)?;

    // Channel.
    let tmp = tempfile::tempdir_in("/dev/shm").or_else(|_| tempfile::tempdir())?;
    let dir = tmp.path().join("asic");
    sairing_transport::channel::create(&dir, &Default::default())?;
    println!("channel: {} (two 64 MiB rings)", dir.display());

    let work = Routes::new(a.routes, 1);
    let total = work.len();
    let mut expected = work.expected_state();
    // And the objects the switch discovers when it is created, shown without
    // attributes (the workload touches none of them).
    for (k, _) in sairing_syncd::profile::Profile::default()
        .defaults()
        .objects
    {
        expected.entry(k).or_default();
    }
    println!(
        "workload: {} routes with interfaces, neighbours, next hops and groups, then {} updates and {} withdrawals = {total} requests",
        a.routes,
        a.routes.div_ceil(10),
        a.routes.div_ceil(10)
    );

    // Phase 1: syncd (cold) and orchagent.
    let t1 = Instant::now();
    let mut sd = spawn_syncd(&syncd, &dir, &url, false)?;
    let mut orch = Command::new(&orchagent)
        .args([
            "routes",
            "--count",
            &a.routes.to_string(),
            "--mode",
            &a.mode,
            "--json",
            "--quiet",
            "--channel",
        ])
        .arg(&dir)
        .stdout(Stdio::piped())
        .spawn()
        .context("starting orchagent")?;
    // Let syncd apply about half (it answers a request once applied, so
    // orchagent is still waiting for the other half).
    let half = total / 2;
    let applied =
        |l: &str| -> Option<u64> { l.strip_prefix("applied ")?.split(' ').next()?.parse().ok() };
    let line = sd.wait_for("half way", |l| applied(l).is_some_and(|n| n >= half))?;
    sd.child.kill()?; // SIGKILL
    sd.child.wait()?;
    let at_kill = progress(&mut con, &url);
    let phase1 = t1.elapsed();
    println!(
        "syncd: killed with SIGKILL after {:.2} s, having applied {} of {total} requests; redis checkpoint at request {at_kill}",
        phase1.as_secs_f64(),
        applied(&line).unwrap_or(0)
    );

    // Phase 2: while syncd is down, orchagent keeps writing into the ring.
    std::thread::sleep(Duration::from_millis(300));
    let t2 = Instant::now();
    let mut sd = spawn_syncd(&syncd, &dir, &url, true)?;
    println!("syncd: restarted warm (state loaded from redis, the ring re-applied after request {at_kill})");

    // Phase 3: orchagent finishes.
    let mut out = String::new();
    orch.stdout
        .take()
        .context("orchagent stdout")?
        .read_to_string(&mut out)?;
    let status = orch.wait()?;
    let phase2 = t2.elapsed();
    let summary: serde_json::Value =
        serde_json::from_str(out.trim()).with_context(|| format!("orchagent said: {out}"))?;
    if !status.success() {
        bail!("orchagent failed ({status}): {out}");
    }

    // Phase 4: stop syncd cleanly (the mirror flushes), and check Redis.
    let t3 = Instant::now();
    // SAFETY: kill(2) on our own child's pid, which has not been reaped.
    unsafe { libc::kill(sd.child.id() as i32, libc::SIGTERM) };
    let s = sd.child.wait()?;
    if !s.success() {
        bail!("syncd did not stop cleanly: {s}");
    }
    let keys: Vec<String> = con
        .scan_match::<_, String>(format!("{}*", asic_db::ASIC_STATE))?
        .collect();
    let state = asic_db::load_state(&url)?;
    let mut mismatched = 0;
    for (k, want) in &expected {
        let mut got = state.get(k).map(|o| o.to_attrs()).unwrap_or_default();
        got.sort();
        if !state.contains(k) || &got != want {
            mismatched += 1;
        }
    }
    let phase3 = t3.elapsed();

    let sent = summary["requests"].as_u64().unwrap_or(0);
    let answered = summary["answered"].as_u64().unwrap_or(0);
    let failures = summary["failures"].as_u64().unwrap_or(u64::MAX);
    println!();
    println!("requests sent:      {sent}");
    println!("requests answered:  {answered} (statuses other than expected: {failures})");
    println!("requests lost:      {}", total - answered);
    println!(
        "redis ASIC_STATE:   {} keys, expected {} ({} differ)",
        keys.len(),
        expected.len(),
        mismatched
    );
    println!(
        "orchagent:          {:.0} requests/s, latency p50 {:.0} µs p99 {:.0} µs ({} mode, up to 8192 in flight)",
        summary["requests_per_s"].as_f64().unwrap_or(0.0),
        summary["latency_us"]["p50"].as_f64().unwrap_or(0.0),
        summary["latency_us"]["p99"].as_f64().unwrap_or(0.0),
        a.mode
    );
    println!(
        "phases:             before the kill {:.2} s, restart to finish {:.2} s, stop and check {:.2} s; total {:.2} s",
        phase1.as_secs_f64(),
        phase2.as_secs_f64(),
        phase3.as_secs_f64(),
        t0.elapsed().as_secs_f64()
    );
    if sent != total
        || answered != total
        || failures != 0
        || keys.len() != expected.len()
        || mismatched != 0
    {
        bail!("the run did not end in the expected state");
    }
    println!("nothing lost, nothing applied twice.");
    Ok(())
}
