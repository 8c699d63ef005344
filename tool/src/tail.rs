//! `sairing tail`: requests and responses as they pass, in `sairedis.rec`
//! format, read beside the daemons without consuming anything.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use sairing_rec as rec;
use sairing_ring::{Look, Observer};
use sairing_transport::channel;
use serde_json::json;

use crate::lines::record_lines;

/// Follow requests and responses live, in sairedis.rec format, without consuming them.
#[derive(clap::Args)]
pub struct Args {
    dir: PathBuf,
    /// Start at the oldest pending record instead of the newest.
    #[arg(long)]
    from_head: bool,
    /// Stop after this many lines.
    #[arg(long)]
    count: Option<u64>,
    /// Stop after this many seconds.
    #[arg(long)]
    seconds: Option<f64>,
    #[arg(long)]
    json: bool,
}

/// Follows the channel until `--count` lines or `--seconds` (or for ever).
pub fn run(a: Args) -> anyhow::Result<bool> {
    let Args {
        dir,
        from_head,
        count,
        seconds,
        json: as_json,
    } = a;
    let p = channel::Paths::new(&dir);
    let rings = [Observer::open(&p.request)?, Observer::open(&p.response)?];
    let mut pos: Vec<u64> = rings
        .iter()
        .map(|o| {
            if from_head {
                o.cursors().head
            } else {
                o.cursors().tail
            }
        })
        .collect();
    let mut expect: Vec<Option<u64>> = vec![None, None];
    let start = Instant::now();
    let mut lines = 0u64;
    let emit = |line: String, seq: u64, ring: &str| {
        if as_json {
            println!("{}", json!({"ring": ring, "seq": seq, "line": line}));
        } else {
            println!("{line}");
        }
    };
    loop {
        let mut idle = true;
        for (i, o) in rings.iter().enumerate() {
            let name = if i == 0 { "req" } else { "resp" };
            match o.read_at(pos[i])? {
                Look::Record(r) => {
                    idle = false;
                    if let Some(e) = expect[i] {
                        if r.seq > e {
                            emit(
                                format!(
                                    "{}|#|sairing tail: {} {name} records skipped",
                                    rec::timestamp(SystemTime::now()),
                                    r.seq - e
                                ),
                                r.seq,
                                name,
                            );
                        }
                    }
                    expect[i] = Some(r.seq + 1);
                    pos[i] = r.next;
                    for line in record_lines(
                        r.kind,
                        r.seq,
                        &r.payload,
                        &rec::timestamp(SystemTime::now()),
                    ) {
                        emit(line, r.seq, name);
                        lines += 1;
                    }
                }
                Look::End => {}
                Look::Lapped { head } => {
                    // Fell behind: the consumer released (and the producer may have
                    // reused) what we had not read yet. Go on from its position.
                    pos[i] = head;
                    idle = false;
                }
            }
        }
        if count.is_some_and(|c| lines >= c)
            || seconds.is_some_and(|s| start.elapsed().as_secs_f64() >= s)
        {
            return Ok(true);
        }
        if idle {
            // An observer cannot be rung without joining the channel; a short
            // poll costs the daemons nothing.
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}
