//! `orchagent`: programs a switch through a sairing channel.
//!
//! ```text
//! orchagent replay testdata/recordings/bringup.rec --channel /dev/shm/sairing/asic
//! orchagent routes --count 100000 --channel /dev/shm/sairing/asic --mode pipelined --json
//! ```

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sairing_orchagent::drive::{Driver, Summary};
use sairing_orchagent::replay::{self, Progress, ReplayOptions};
use sairing_orchagent::workload::Routes;
use sairing_transport::{Client, ClientOptions, Mode, WaitPolicy};

#[derive(Parser)]
#[command(about = "Program a switch through a sairing channel")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(clap::Args)]
struct Common {
    /// The channel directory.
    #[arg(long)]
    channel: PathBuf,
    /// How requests are sent.
    #[arg(long, default_value_t = Mode::Pipelined)]
    mode: Mode,
    /// Print the summary as one JSON object on stdout.
    #[arg(long)]
    json: bool,
    /// Requests in flight at most (async/pipelined).
    #[arg(long, default_value_t = 8192)]
    window: usize,
    /// Give up on a response after this many seconds.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

#[derive(Subcommand)]
enum Cmd {
    /// Replay a sairedis.rec recording: sends c/r/s/g, C/R/S/B, a and f; checks
    /// E answers; sleeps at @; passes over #, n, q, Q, p and T (counted).
    Replay {
        file: PathBuf,
        /// Pass over `@` (sleep) lines instead of sleeping.
        #[arg(long)]
        no_sleep: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Write the project's own recordings (one per kind of line, and a bring-up
    /// with all of them) into DIR: `testdata/recordings` is this command's output.
    GenerateRecordings {
        /// Where to write them.
        dir: PathBuf,
    },
    /// Create N routes (with their interfaces, neighbours and next hops), then update and withdraw some.
    Routes {
        /// Route entries to create.
        #[arg(long)]
        count: u64,
        /// The same seed gives the same requests.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Skip the requests a previous orchagent already committed to this channel
        /// (for a restart on a channel this workload started on).
        #[arg(long)]
        resume: bool,
        #[command(flatten)]
        common: Common,
    },
}

fn open(c: &Common) -> anyhow::Result<Client> {
    let wait = WaitPolicy {
        timeout: Duration::from_secs(c.timeout),
        ..Default::default()
    };
    let client = Client::open(
        &c.channel,
        &ClientOptions {
            wait,
            ..Default::default()
        },
    )
    .with_context(|| format!("opening channel {}", c.channel.display()))?;
    Ok(client)
}

fn bar(len: u64, quiet: bool) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(
        Some(len),
        if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        },
    );
    pb.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} requests {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    pb
}

fn report(c: &Common, s: &Summary, extra: serde_json::Value) {
    if c.json {
        println!("{}", s.to_json(extra));
    } else {
        println!("{}", s.line());
    }
    report_failures(s);
}

/// The CPU time this process has had, from the kernel's scheduler
/// statistics (`null` in the JSON where the kernel keeps none).
fn own_cpu_seconds() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns as f64 / 1e9)
}

fn report_failures(s: &Summary) {
    for f in &s.first_failures {
        eprintln!("orchagent: failure: {f}");
    }
}

fn run(cli: Cli) -> anyhow::Result<bool> {
    match cli.cmd {
        Cmd::Replay {
            file,
            no_sleep,
            common,
        } => {
            let mode = common.mode;
            let mut pb = None;
            let (r, _) = replay::replay_file(
                &file,
                || open(&common),
                mode,
                common.window,
                Duration::from_secs(common.timeout),
                ReplayOptions { no_sleep },
                |p| match p {
                    Progress::Total(n) => pb = Some(bar(n, common.quiet)),
                    Progress::Sent => pb.iter().for_each(|b| b.inc(1)),
                },
            )?;
            pb.iter().for_each(ProgressBar::finish_and_clear);
            let extra =
                serde_json::json!({"workload": "replay", "file": file, "mode": mode.name()});
            if common.json {
                println!("{}", r.to_json(extra));
            } else {
                println!("{}", r.line());
            }
            report_failures(&r.summary);
            Ok(r.summary.failures == 0)
        }
        Cmd::GenerateRecordings { dir } => {
            let paths = sairing_orchagent::recgen::write_all(&dir)
                .with_context(|| format!("writing recordings into {}", dir.display()))?;
            for p in paths {
                let lines = std::fs::read_to_string(&p)?.lines().count();
                println!("{} ({lines} lines)", p.display());
            }
            Ok(true)
        }
        Cmd::Routes {
            count,
            seed,
            resume,
            common,
        } => {
            let w = Routes::new(count, seed);
            let (client, mode) = (open(&common)?, common.mode);
            let skip = if resume {
                client.next_request_seq() - 1
            } else {
                0
            };
            if skip > w.len() {
                anyhow::bail!(
                    "--resume: the channel has {skip} requests, more than this workload's {}",
                    w.len()
                );
            }
            let mut d = Driver::new(
                client,
                mode,
                common.window,
                Duration::from_secs(common.timeout),
            );
            let pb = bar(w.len() - skip, common.quiet);
            for i in skip..w.len() {
                let op = w.get(i).expect("in range");
                d.submit(
                    op.op,
                    &op.key,
                    &op.attrs,
                    &[],
                    sairing_transport::codec::STATUS_SUCCESS,
                    &[],
                    || format!("request {i}: {} {}", op.op.name(), op.key),
                )?;
                pb.inc(1);
            }
            let (s, _) = d.finish()?;
            pb.finish_and_clear();
            report(
                &common,
                &s,
                serde_json::json!({
                    "workload": "routes", "count": count, "seed": seed, "mode": mode.name(),
                    "skipped": skip, "expected_objects": w.expected_objects(),
                    "cpu_s": own_cpu_seconds(),
                }),
            );
            Ok(s.failures == 0)
        }
    }
}

fn main() {
    match run(Cli::parse()) {
        Ok(true) => {}
        Ok(false) => std::process::exit(2),
        Err(e) => {
            eprintln!("orchagent: {e:#}");
            std::process::exit(1);
        }
    }
}
