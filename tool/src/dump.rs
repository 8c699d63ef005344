//! `sairing dump`: a ring's pending records, decoded, one per line in
//! `sairedis.rec` format, without consuming them.

use std::path::PathBuf;
use std::time::SystemTime;

use sairing_rec as rec;
use sairing_ring::{Look, Observer};
use sairing_transport::channel;
use serde_json::json;

use crate::lines::record_lines;

/// The pending records, decoded, one per line in sairedis.rec format.
#[derive(clap::Args)]
pub struct Args {
    dir: PathBuf,
    /// Start at this sequence number.
    #[arg(long)]
    from: Option<u64>,
    /// At most this many records.
    #[arg(long)]
    count: Option<u64>,
    /// The response ring (responses and notifications) instead of requests.
    #[arg(long)]
    responses: bool,
    #[arg(long)]
    json: bool,
}

/// Prints them.
pub fn run(a: Args) -> anyhow::Result<bool> {
    let Args {
        dir,
        from,
        count,
        responses,
        json: as_json,
    } = a;
    let p = channel::Paths::new(&dir);
    let ring = if responses { p.response } else { p.request };
    let o = Observer::open(&ring)?;
    let mut pos = o.cursors().head;
    let mut n = 0;
    let ts = rec::timestamp(SystemTime::now());
    while count.is_none_or(|c| n < c) {
        match o.read_at(pos)? {
            Look::Record(r) => {
                pos = r.next;
                if from.is_some_and(|f| r.seq < f) {
                    continue;
                }
                n += 1;
                for line in record_lines(r.kind, r.seq, &r.payload, &ts) {
                    if as_json {
                        println!("{}", json!({"seq": r.seq, "line": line}));
                    } else {
                        println!("{line}");
                    }
                }
            }
            Look::End => break,
            Look::Lapped { head } => pos = head,
        }
    }
    Ok(true)
}
