//! `conformance DIR`: replays every `*.rec` in DIR through orchagent → ring →
//! syncd → Redis, each on a fresh channel, syncd and private redis-server, and
//! compares Redis's ASIC_STATE with the recording's independent fold
//! (`sairing_orchagent::fold`). One line per recording, then a summary; exits 1
//! if any recording failed, 2 if DIR is missing or holds no recording.
//!
//! Point it at real recordings: sonic-sairedis's `tests/` folders hold them.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use sairing_orchagent::{drive, fold, replay};
use sairing_rec as rec;
use sairing_testkit::SyncdProcess;
use sairing_transport::{Client, ClientOptions, Mode};

#[derive(Parser)]
#[command(
    about = "Replay every *.rec in DIR through syncd and check Redis against each recording's fold"
)]
struct Args {
    /// A folder of sairedis.rec files.
    dir: PathBuf,
    /// How orchagent sends.
    #[arg(long, default_value_t = Mode::Pipelined)]
    mode: Mode,
    /// Pass over `@` (sleep) lines instead of sleeping.
    #[arg(long)]
    no_sleep: bool,
    /// Bytes per ring.
    #[arg(long, default_value_t = 64 << 20)]
    capacity: u64,
}

/// Replays one recording; the line to print on success.
fn check(path: &Path, a: &Args, syncd: &Path) -> anyhow::Result<String> {
    let start = Instant::now();
    let text = std::fs::read_to_string(path).context("reading it")?;
    let recording = rec::parse(&text)?;
    let redis = sairing_testkit::PrivateRedis::start()?;
    let url = redis.url(1);
    let tmp = tempfile::tempdir_in("/dev/shm").or_else(|_| tempfile::tempdir())?;
    let dir = tmp.path().join("asic");
    sairing_transport::channel::create(
        &dir,
        &sairing_transport::channel::ChannelOptions {
            capacity: a.capacity,
            ..Default::default()
        },
    )?;
    let sd = SyncdProcess::start(syncd, &dir, &url, &[])?;
    let client = Client::open(&dir, &ClientOptions::default())?;
    let driver = drive::Driver::new(client, a.mode, 8192, Duration::from_secs(120));
    let name = path.display().to_string();
    let (r, client) = replay::replay(
        driver,
        &recording,
        &name,
        replay::ReplayOptions {
            no_sleep: a.no_sleep,
        },
        || {},
    )?;
    drop(client);
    sd.stop()?;
    let s = &r.summary;
    if s.failures > 0 || s.answered != s.requests {
        bail!(
            "{} of {} requests answered, {} with another status than recorded: {}",
            s.answered,
            s.requests,
            s.failures,
            s.first_failures.join("; ")
        );
    }
    let mut con = sairing_syncd::asic_db::connect(&url)?;
    let got = fold::redis_state(&mut con)?;
    let want = fold::fold_recording(&text);
    if let Some(d) = fold::diff(&got, &want) {
        bail!("Redis's ASIC_STATE differs from the recording's fold: {d}");
    }
    let over: Vec<String> = r
        .passed_over
        .iter()
        .map(|(c, n)| format!("{n} {c}"))
        .collect();
    Ok(format!(
        "{} requests answered as recorded; ASIC_STATE = fold ({} objects); sleeps {} ({} ms){}; passed over: {}; {:.2} s",
        s.requests,
        got.len(),
        r.sleeps,
        r.slept_ms,
        if r.sleeps_skipped > 0 {
            format!(", {} skipped", r.sleeps_skipped)
        } else {
            String::new()
        },
        if over.is_empty() { "nothing".into() } else { over.join(", ") },
        start.elapsed().as_secs_f64()
    ))
}

fn recordings(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        bail!(
            "{}: no such folder (give a folder of sairedis.rec files, such as sonic-sairedis's tests/BCM56850)",
            dir.display()
        );
    }
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| dir.display().to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "rec") && p.is_file())
        .collect();
    v.sort();
    if v.is_empty() {
        bail!(
            "{}: no *.rec file in it; nothing was checked",
            dir.display()
        );
    }
    Ok(v)
}

fn main() {
    let a = Args::parse();
    let files = recordings(&a.dir).unwrap_or_else(|e| {
        eprintln!("conformance: {e:#}");
        std::process::exit(2)
    });
    let syncd = sairing_testkit::binary_or_die("syncd", "sairing-syncd");
    let (mut passed, mut failed) = (0, 0);
    for f in &files {
        let name = f.file_name().map_or(f.display().to_string(), |n| {
            n.to_string_lossy().into_owned()
        });
        match check(f, &a, &syncd) {
            Ok(line) => {
                passed += 1;
                println!("PASS {name}: {line}");
            }
            Err(e) => {
                failed += 1;
                println!("FAIL {name}: {e:#}");
            }
        }
    }
    println!(
        "conformance: {} recordings in {}: {passed} passed, {failed} failed",
        files.len(),
        a.dir.display()
    );
    if failed > 0 {
        std::process::exit(1);
    }
}
