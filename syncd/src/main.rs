//! `syncd`: serves a sairing channel with a virtual switch and mirrors its state
//! into Redis (ASIC_DB schema, database 1 by default).
//!
//! ```text
//! syncd --channel /dev/shm/sairing/asic --create            # first start
//! syncd --channel /dev/shm/sairing/asic --warm              # after a crash
//! ```

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use clap::Parser;
use sairing_syncd::daemon::{self, Config};

#[derive(Parser)]
#[command(about = "Serve a sairing channel with a virtual switch mirrored into Redis")]
struct Args {
    /// The channel directory.
    #[arg(long)]
    channel: PathBuf,
    /// Redis to mirror into (database in the path).
    #[arg(long, default_value = "redis://127.0.0.1:6379/1")]
    redis: String,
    /// Run without the Redis mirror (no warm restart possible).
    #[arg(long, conflicts_with = "warm")]
    no_mirror: bool,
    /// Rebuild from the Redis checkpoint and resume after it (after a crash). If
    /// Redis is behind what the ring has released, refuse; with --record, fold
    /// the recording over the gap instead.
    #[arg(long)]
    warm: bool,
    /// Create the channel if it does not exist.
    #[arg(long)]
    create: bool,
    /// Ring capacity in bytes when creating.
    #[arg(long, default_value_t = 64 << 20)]
    capacity: u64,
    /// Busy-poll instead of sleeping when idle.
    #[arg(long)]
    busy: bool,
    /// Print `applied N seq S durable D` every N requests.
    #[arg(long, default_value_t = 0)]
    progress: u64,
    /// On a clean stop, write the switch's objects here as JSON.
    #[arg(long)]
    dump: Option<PathBuf>,
    /// Record every request, response and notification to this sairedis.rec file.
    #[arg(long)]
    record: Option<PathBuf>,
    /// Rotate the recording past this many bytes (gzip'ed as FILE.1.gz, ...).
    #[arg(long, default_value_t = 256 << 20)]
    record_max_bytes: u64,
    /// Rotated recordings kept.
    #[arg(long, default_value_t = 10)]
    record_keep: usize,
    /// The switch profile (SONiC's vsprofile.ini: SAI_VS_SWITCH_TYPE and
    /// SAI_VS_INTERFACE_LANE_MAP_FILE); without it, BCM56850 with 32 ports.
    #[arg(long)]
    profile: Option<PathBuf>,
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let a = Args::parse();
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        if let Err(e) = signal_hook::flag::register(sig, Arc::clone(&stop)) {
            eprintln!("syncd: cannot install the signal handler: {e}");
            std::process::exit(1);
        }
    }
    let profile = match &a.profile {
        Some(p) => match sairing_syncd::profile::Profile::load(p) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("syncd: {e:#}");
                std::process::exit(2);
            }
        },
        None => Default::default(),
    };
    let cfg = Config {
        profile: Arc::new(profile),
        channel: a.channel,
        redis: (!a.no_mirror).then_some(a.redis),
        warm: a.warm,
        create: a.create.then_some(a.capacity),
        busy: a.busy,
        progress_every: a.progress,
        dump: a.dump,
        record: a
            .record
            .map(|path| sairing_syncd::recorder::RecorderConfig {
                path,
                max_bytes: a.record_max_bytes,
                keep: a.record_keep,
            }),
    };
    match daemon::run(&cfg, stop) {
        Ok(s) => {
            println!(
                "syncd: stopped; applied {} (skipped {} already durable, {} malformed), last seq {}, durable {}, {} objects",
                s.applied, s.skipped, s.malformed, s.last_seq, s.durable, s.objects
            );
        }
        Err(e) => {
            eprintln!("syncd: {e:#}");
            std::process::exit(1);
        }
    }
}
