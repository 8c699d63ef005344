//! `sairing`: the operator's tool for a sairing channel. It looks into the
//! rings without taking part in them (no role, read-only mappings), so it works
//! on live channels without slowing or blocking either side, on channels whose
//! daemons are dead, and on damaged files.
//!
//! ```text
//! sairing inspect /dev/shm/sairing/asic [--redis redis://127.0.0.1:6379/1]
//! sairing dump /dev/shm/sairing/asic [--from SEQ] [--count N] [--responses]
//! sairing tail /dev/shm/sairing/asic
//! sairing replay testdata/recordings/bringup.rec /dev/shm/sairing/asic
//! sairing channel create /dev/shm/sairing/asic [--capacity BYTES] [--group GID]
//! sairing channel remove /dev/shm/sairing/asic [--force]
//! ```
//!
//! Every subcommand takes `--json` for scripts.

mod channel;
mod dump;
mod inspect;
mod lines;
mod replay;
mod tail;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "Inspect, dump, tail and replay a sairing channel")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    Inspect(inspect::Args),
    Dump(dump::Args),
    Tail(tail::Args),
    Replay(replay::Args),
    Channel {
        #[command(subcommand)]
        cmd: channel::Args,
    },
}

/// `Ok(false)`: the command ran and found something wrong (exit status 2).
fn run(cli: Cli) -> anyhow::Result<bool> {
    match cli.cmd {
        Cmd::Inspect(a) => inspect::run(a),
        Cmd::Dump(a) => dump::run(a),
        Cmd::Tail(a) => tail::run(a),
        Cmd::Replay(a) => replay::run(a),
        Cmd::Channel { cmd } => channel::run(cmd),
    }
}

fn main() {
    match run(Cli::parse()) {
        Ok(true) => {}
        Ok(false) => std::process::exit(2),
        Err(e) => {
            eprintln!("sairing: {e:#}");
            std::process::exit(1);
        }
    }
}
