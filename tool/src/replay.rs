//! `sairing replay`: a `sairedis.rec` recording replayed into a channel, the
//! same replay as `orchagent replay` (sairing_orchagent::replay).

use std::path::PathBuf;
use std::time::Duration;

use sairing_orchagent::replay::{replay_file, ReplayOptions};
use sairing_transport::{Client, ClientOptions, Mode};
use serde_json::json;

/// Replay a sairedis.rec recording into a channel (as `orchagent replay`).
#[derive(clap::Args)]
pub struct Args {
    file: PathBuf,
    dir: PathBuf,
    #[arg(long, default_value_t = Mode::Pipelined)]
    mode: Mode,
    /// Pass over `@` (sleep) lines instead of sleeping.
    #[arg(long)]
    no_sleep: bool,
    #[arg(long)]
    json: bool,
}

/// Replays it; `false` when a request's answer was not the one recorded.
pub fn run(a: Args) -> anyhow::Result<bool> {
    let (r, _) = replay_file(
        &a.file,
        || Ok(Client::open(&a.dir, &ClientOptions::default())?),
        a.mode,
        8192,
        Duration::from_secs(120),
        ReplayOptions {
            no_sleep: a.no_sleep,
        },
        |_| {},
    )?;
    if a.json {
        println!(
            "{}",
            r.to_json(json!({"file": a.file, "mode": a.mode.name()}))
        );
    } else {
        println!("{}", r.line());
    }
    for f in &r.summary.first_failures {
        eprintln!("sairing: failure: {f}");
    }
    Ok(r.summary.failures == 0)
}
