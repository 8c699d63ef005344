//! `sairing inspect`: format, identity, cursors, pending records and peers of
//! a channel's rings (or of one ring file), healthy or damaged, and with
//! `--redis` the mirror's checkpoint beside them.

use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sairing_rec as rec;
use sairing_ring::layout::{StaticHeader, HEADER_LEN, STATIC_HEADER_LEN};
use sairing_ring::{Look, Observer};
use sairing_syncd::asic_db;
use sairing_transport::channel;
use serde_json::{json, Value};

/// Format, identity, cursors, pending records, peers and (with --redis) the mirror's progress.
#[derive(clap::Args)]
pub struct Args {
    /// A channel directory or one ring file.
    path: PathBuf,
    /// Also show the mirror's checkpoint in this Redis.
    #[arg(long)]
    redis: Option<String>,
    #[arg(long)]
    json: bool,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Everything `inspect` can say about one ring file, damaged or not.
fn inspect_ring(path: &Path) -> Value {
    match Observer::open(path) {
        Ok(o) => inspect_healthy(path, &o),
        Err(e) => inspect_damaged(path, &e.to_string()),
    }
}

fn inspect_healthy(path: &Path, o: &Observer) -> Value {
    let h = o.header();
    let c = o.cursors();
    let alive = o.roles_alive().ok();
    // Walk the pending records: count them, find the last sequence number, and
    // report the first problem, if any, instead of stopping the inspection.
    let (mut records, mut last_seq, mut problem) =
        (0u64, None, o.check_cursors().err().map(|e| e.to_string()));
    let mut pos = c.head;
    while problem.is_none() {
        match o.read_at(pos) {
            Ok(Look::Record(r)) => {
                records += 1;
                last_seq = Some(r.seq);
                pos = r.next;
            }
            Ok(Look::End) => break,
            Ok(Look::Lapped { head }) => pos = head, // the consumer moved on meanwhile
            Err(e) => {
                problem = Some(e.to_string());
                break;
            }
        }
    }
    json!({
        "path": path,
        "ok": problem.is_none(),
        "problem": problem,
        "version": h.version,
        "ring_id": hex(&h.ring_id),
        "capacity": h.capacity,
        "checksums": h.flags & 1 != 0,
        "created": rec::timestamp(SystemTime::UNIX_EPOCH + Duration::from_nanos(h.created_unix_ns)),
        "head": c.head,
        "tail": c.tail,
        "pending_bytes": c.tail.saturating_sub(c.head),
        "pending_records": records,
        "seq_at_head": c.head_seq,
        "seq_at_tail": last_seq.map_or(c.head_seq.saturating_sub(1), |s| s),
        "producer": {"pid": c.producer_pid, "epoch": c.producer_epoch, "alive": alive.map(|a| a.0),
                      "waiting_for_space": c.producer_sleep & 1 == 1},
        "consumer": {"pid": c.consumer_pid, "epoch": c.consumer_epoch, "alive": alive.map(|a| a.1),
                     "sleeping": c.consumer_sleep & 1 == 1},
    })
}

/// What can be read from a file that does not open: its size, the header as
/// found, and the cursors if the file is long enough to hold them.
fn inspect_damaged(path: &Path, error: &str) -> Value {
    let mut v = json!({"path": path, "ok": false, "problem": error});
    let Ok(f) = std::fs::File::open(path) else {
        return v;
    };
    let size = f.metadata().map(|m| m.len()).unwrap_or(0);
    v["file_bytes"] = json!(size);
    let mut raw = [0u8; STATIC_HEADER_LEN];
    if f.read_exact_at(&mut raw, 0).is_ok() {
        let h = StaticHeader::decode(&raw);
        v["header_as_found"] = json!({
            "magic": String::from_utf8_lossy(&h.magic).trim_end_matches('\0').to_string(),
            "version": h.version, "header_len": h.header_len, "capacity": h.capacity,
            "flags": h.flags, "ring_id": hex(&h.ring_id),
            "header_crc": format!("{:#010x}", h.header_crc),
            "header_crc_expected": format!("{:#010x}", StaticHeader::expected_crc(&raw)),
            "size_expected": HEADER_LEN as u64 + h.capacity,
        });
    }
    let word = |off: u64| {
        let mut b = [0u8; 8];
        f.read_exact_at(&mut b, off)
            .ok()
            .map(|()| u64::from_le_bytes(b))
    };
    if let (Some(tail), Some(head), Some(head_seq)) = (word(128), word(256), word(264)) {
        v["cursors_as_found"] = json!({"head": head, "tail": tail, "seq_at_head": head_seq});
    }
    v
}

fn print_ring(name: &str, v: &Value) {
    println!("{name}: {}", v["path"].as_str().unwrap_or("?"));
    if v["version"].is_null() {
        println!("  DAMAGED: {}", v["problem"].as_str().unwrap_or("?"));
        if let Some(n) = v["file_bytes"].as_u64() {
            println!("  file is {n} bytes");
        }
        if let Some(h) = v.get("header_as_found") {
            println!("  header as found: {h}");
        }
        if let Some(c) = v.get("cursors_as_found") {
            println!("  cursors as found: {c}");
        }
        return;
    }
    println!(
        "  format version {}, ring {}, capacity {} bytes, checksums {}, created {}",
        v["version"],
        v["ring_id"].as_str().unwrap_or(""),
        v["capacity"],
        if v["checksums"].as_bool() == Some(true) {
            "on"
        } else {
            "off"
        },
        v["created"].as_str().unwrap_or("")
    );
    println!(
        "  head {} (seq {}), tail {} (last seq {}): {} bytes, {} records pending",
        v["head"],
        v["seq_at_head"],
        v["tail"],
        v["seq_at_tail"],
        v["pending_bytes"],
        v["pending_records"]
    );
    let role = |r: &Value, extra: &str, flag: &str| {
        let alive = match r["alive"].as_bool() {
            Some(true) => "alive",
            Some(false) => "dead",
            None => "unknown",
        };
        format!(
            "pid {} ({alive}), epoch {}, {extra}: {}",
            r["pid"],
            r["epoch"],
            if r[flag].as_bool() == Some(true) {
                "yes"
            } else {
                "no"
            }
        )
    };
    println!(
        "  producer: {}",
        role(&v["producer"], "waiting for space", "waiting_for_space")
    );
    println!(
        "  consumer: {}",
        role(&v["consumer"], "sleeping", "sleeping")
    );
    if let Some(p) = v["problem"].as_str() {
        println!("  DAMAGED RECORD: {p}");
    }
}

/// The mirror's checkpoint in the Redis at `url`, read as syncd reads it.
fn mirror_progress(url: &str) -> anyhow::Result<Value> {
    let mut con = asic_db::connect(url)?;
    let p = asic_db::read_progress(&mut con, url)?;
    Ok(json!({
        "url": url,
        "seq": p.as_ref().map(|p| p.seq),
        "ring_id": p.map(|p| p.ring_id),
    }))
}

/// `sairing inspect`: what the tool prints, and whether every ring is healthy.
pub fn run(a: Args) -> anyhow::Result<bool> {
    inspect(&a.path, a.redis.as_deref(), a.json)
}

fn inspect(path: &Path, redis_url: Option<&str>, as_json: bool) -> anyhow::Result<bool> {
    let is_dir = path.is_dir();
    let rings: Vec<(&str, PathBuf)> = if is_dir {
        let p = channel::Paths::new(path);
        vec![
            ("req.ring (orchagent -> syncd)", p.request),
            ("resp.ring (syncd -> orchagent)", p.response),
        ]
    } else {
        vec![("ring", path.to_owned())]
    };
    let mut out = json!({"path": path});
    let mut ok = true;
    let mut list = Vec::new();
    for (name, p) in &rings {
        let v = inspect_ring(p);
        ok &= v["ok"].as_bool() == Some(true);
        list.push((name.to_string(), v));
    }
    out["rings"] = json!(list
        .iter()
        .map(|(n, v)| json!({"name": n, "ring": v}))
        .collect::<Vec<_>>());
    if is_dir {
        out["socket_present"] = json!(channel::Paths::new(path).socket.exists());
    }
    if let Some(url) = redis_url {
        out["mirror"] = match mirror_progress(url) {
            Ok(m) => {
                let ours = list
                    .first()
                    .and_then(|(_, v)| v["ring_id"].as_str().map(str::to_owned));
                let mut m = m;
                m["matches_request_ring"] =
                    json!(ours.is_some() && m["ring_id"].as_str() == ours.as_deref());
                m
            }
            Err(e) => json!({"url": url, "error": e.to_string()}),
        };
    }
    if as_json {
        println!("{out}");
    } else {
        for (n, v) in &list {
            print_ring(n, v);
        }
        if is_dir {
            println!(
                "socket: {}",
                if out["socket_present"] == true {
                    "present"
                } else {
                    "absent (no server has run here)"
                }
            );
        }
        if let Some(m) = out.get("mirror") {
            match m.get("error") {
                Some(e) => println!(
                    "mirror: {}: {}",
                    m["url"].as_str().unwrap_or(""),
                    e.as_str().unwrap_or("")
                ),
                None => println!(
                    "mirror: {} has applied up to request {} for ring {} ({})",
                    m["url"].as_str().unwrap_or(""),
                    m["seq"],
                    m["ring_id"].as_str().unwrap_or("none"),
                    if m["matches_request_ring"] == true {
                        "this channel"
                    } else {
                        "NOT this channel"
                    }
                ),
            }
        }
    }
    Ok(ok)
}
