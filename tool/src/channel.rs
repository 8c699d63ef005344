//! `sairing channel create|remove`: a channel's directory and rings.

use std::path::PathBuf;

use sairing_transport::channel::{self, ChannelOptions};
use serde_json::json;

/// Create or remove a channel.
#[derive(clap::Subcommand)]
pub enum Args {
    /// Create the directory and both rings.
    Create {
        dir: PathBuf,
        /// Bytes per ring (a power of two, at least 4096).
        #[arg(long, default_value_t = sairing_ring::layout::DEFAULT_CAPACITY)]
        capacity: u64,
        /// Let this group use the channel (0770/0660) instead of only the owner.
        #[arg(long)]
        group: Option<u32>,
        #[arg(long)]
        json: bool,
    },
    /// Remove it (refused while a client or server is attached, unless --force).
    Remove {
        dir: PathBuf,
        #[arg(long)]
        force: bool,
        #[arg(long)]
        json: bool,
    },
}

/// Does it.
pub fn run(a: Args) -> anyhow::Result<bool> {
    match a {
        Args::Create {
            dir,
            capacity,
            group,
            json,
        } => {
            channel::create(
                &dir,
                &ChannelOptions {
                    capacity,
                    group,
                    checksums: false,
                },
            )?;
            if json {
                println!(
                    "{}",
                    json!({"created": dir, "capacity": capacity, "group": group})
                );
            } else {
                println!("created {} (two rings of {capacity} bytes)", dir.display());
            }
        }
        Args::Remove { dir, force, json } => {
            channel::remove(&dir, force)?;
            if json {
                println!("{}", json!({"removed": dir}));
            } else {
                println!("removed {}", dir.display());
            }
        }
    }
    Ok(true)
}
