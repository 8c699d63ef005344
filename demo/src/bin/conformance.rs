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
    /// The switch profile syncd runs with (SONiC's vsprofile.ini); without
    /// it, BCM56850 with 32 ports.
    #[arg(long)]
    profile: Option<PathBuf>,
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
    // The switch the recording was made on: the one named, else the one its
    // ports' queue lists say (16 queues: MLNX2700), else BCM56850.
    let chosen = match &a.profile {
        Some(p) => Some(p.clone()),
        None if ports_have_16_queues(&text) => {
            let p = tmp.path().join("vsprofile.ini");
            std::fs::write(&p, "SAI_VS_SWITCH_TYPE=SAI_VS_SWITCH_TYPE_MLNX2700\n")?;
            Some(p)
        }
        None => None,
    };
    let profile_arg = chosen.as_ref().map(|p| p.display().to_string());
    let syncd_args: Vec<&str> = match &profile_arg {
        Some(p) => vec!["--profile", p],
        None => Vec::new(),
    };
    let sd = SyncdProcess::start(syncd, &dir, &url, &syncd_args)?;
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
    let profile = match &chosen {
        Some(p) => sairing_syncd::profile::Profile::load(p)?,
        None => Default::default(),
    };
    if r.answers.equal < r.answers.compared {
        bail!(
            "{} of {} recorded get answers about objects already identified differ here ({}): the recording was made on another switch than {:?} (give --profile)",
            r.answers.compared - r.answers.equal,
            r.answers.compared,
            r.answers.differing_line(),
            profile.switch_type
        );
    }
    if r.ids.conflicts() > 0 {
        bail!(
            "{} recorded ids paired with ids of this switch's that other recorded ids had: the recording was made on another switch than {:?} (give --profile)",
            r.ids.conflicts(),
            profile.switch_type
        );
    }
    let defaults: Vec<String> = profile
        .defaults()
        .objects
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let want = fold::fold_recording_on(&text, &defaults, &r.ids);
    if let Some(d) = fold::diff(&got, &want) {
        bail!("Redis's ASIC_STATE differs from the recording's fold: {d}");
    }
    let counts = fold::per_type(&got);
    if let Some(sonic) = sonic_counts(path).filter(|_| chosen.is_none()) {
        let differ: Vec<String> = sonic
            .iter()
            .filter(|(t, n)| counts.get(*t).copied().unwrap_or(0) != *n)
            .map(|(t, n)| {
                format!(
                    "{t}: {} here, {n} in SONiC's",
                    counts.get(*t).copied().unwrap_or(0)
                )
            })
            .collect();
        if !differ.is_empty() {
            bail!(
                "object counts differ from SONiC's syncd + vslib on this recording: {}",
                differ.join(", ")
            );
        }
    }
    let over: Vec<String> = r
        .passed_over
        .iter()
        .map(|(c, n)| format!("{n} {c}"))
        .collect();
    let types: Vec<String> = counts.iter().map(|(t, n)| format!("{t} {n}")).collect();
    Ok(format!(
        "{:?} switch; {} requests answered as recorded; ASIC_STATE = fold ({} objects; {} ids of the recorded switch's default objects mapped to this one's){}; sleeps {} ({} ms){}; passed over: {}; {:.2} s\n  by type: {}\n  recorded get answers naming objects already identified: {} of {} attributes equal here{}",
        profile.switch_type,
        s.requests,
        got.len(),
        r.ids.len(),
        if sonic_counts(path).is_some() && chosen.is_none() {
            "; counts per type = SONiC's"
        } else {
            ""
        },
        r.sleeps,
        r.slept_ms,
        if r.sleeps_skipped > 0 {
            format!(", {} skipped", r.sleeps_skipped)
        } else {
            String::new()
        },
        if over.is_empty() { "nothing".into() } else { over.join(", ") },
        start.elapsed().as_secs_f64(),
        types.join(", "),
        r.answers.equal,
        r.answers.compared,
        if r.answers.differing.is_empty() {
            String::new()
        } else {
            format!(" (differing: {})", r.answers.differing_line())
        }
    ))
}

/// Whether the recording's first answer to a port's queue list names 16
/// queues (an MLNX2700; a BCM56850's ports have 20).
fn ports_have_16_queues(text: &str) -> bool {
    text.lines()
        .filter(|l| l.contains("|G|"))
        .find_map(|l| {
            l.split_once("SAI_PORT_ATTR_QOS_QUEUE_LIST=")
                .map(|(_, v)| v)
        })
        .is_some_and(|v| v.starts_with("16:"))
}

/// The counts SONiC's own syncd showed for this recording, where they were
/// measured: `full.rec`.
fn sonic_counts(path: &Path) -> Option<&'static [(&'static str, usize)]> {
    const FULL: &[(&str, usize)] = sairing_syncd::profile::SONIC_BCM56850_COUNTS;
    (path.file_name()? == "full.rec").then_some(FULL)
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
