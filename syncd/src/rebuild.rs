//! Rebuilding the switch from syncd's own recording, for a warm start whose
//! Redis checkpoint is behind what the ring has released (Redis restored from
//! an older snapshot, restarted from an RDB file, flushed). The requests in
//! between are in neither Redis nor the ring, but each was recorded before its
//! effects reached the mirror (`recorder`), so the recording holds them.
//!
//! The recording is read oldest first: `FILE.<keep>.gz` … `FILE.1.gz`, then
//! `FILE`. Each request's lines end with a marker `<ts>|#|sairing seq N`; the
//! request line before marker `N` is request `N`. A file that begins with a
//! marker continues an older file: the recording then only knows the state
//! from that marker on, which is enough if Redis's checkpoint reaches it.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use sairing_rec::{self as rec, Step};
use sairing_transport::codec::{self, Body, BulkObject};

use crate::recorder::{self, RecorderConfig, RAW};
use crate::store::Store;
use crate::vs::Switch;

/// What a rebuild did.
#[derive(Debug, Clone)]
pub struct Rebuilt {
    /// The switch after request `through`.
    pub switch: Switch,
    /// The last request folded in.
    pub through: u64,
    /// Requests taken from the recording.
    pub requests: u64,
    /// The files read, oldest first.
    pub files: Vec<PathBuf>,
}

/// The recording's files, oldest first.
fn files(cfg: &RecorderConfig) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = (1..=cfg.keep.max(1))
        .rev()
        .map(|i| recorder::archive(&cfg.path, i))
        .filter(|p| p.exists())
        .collect();
    if cfg.path.exists() {
        out.push(cfg.path.clone());
    }
    out
}

fn open(p: &Path) -> anyhow::Result<Box<dyn BufRead>> {
    let f = File::open(p).with_context(|| format!("opening {}", p.display()))?;
    let r: Box<dyn Read> = if p.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::GzDecoder::new(f))
    } else {
        Box::new(f)
    };
    Ok(Box::new(BufReader::with_capacity(1 << 16, r)))
}

/// The op letter of a recording line: its second `|`-separated field.
fn letter(line: &str) -> Option<char> {
    let mut it = line.splitn(3, '|');
    it.next()?;
    let f = it.next()?;
    let mut c = f.chars();
    let l = c.next()?;
    c.next().is_none().then_some(l)
}

/// A request as recorded: its text line, and its encoded bytes when the line
/// cannot carry it exactly (`recorder::RAW`).
struct Recorded {
    line: String,
    at: String,
    raw: Option<Vec<u8>>,
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Applies one recorded request to `switch`.
fn apply(switch: &mut Switch, r: &Recorded, buf: &mut Vec<u8>) -> anyhow::Result<()> {
    let (line, at) = (r.line.as_str(), r.at.as_str());
    if let Some(raw) = &r.raw {
        let req = codec::decode_request(raw, 0).with_context(|| format!("{at}: {line}"))?;
        switch.apply(&req);
        return Ok(());
    }
    let parsed = rec::parse(line).with_context(|| format!("{at}: {line}"))?;
    let Some(Step::Request(op)) = parsed.steps.into_iter().next() else {
        bail!("{at}: not a request: {line}");
    };
    let objs: Vec<BulkObject<'_, (String, String)>> = op
        .objects
        .iter()
        .map(|(id, a)| BulkObject {
            id: id.as_str(),
            attrs: a,
        })
        .collect();
    let body = if op.op.is_bulk() {
        Body::Bulk(&objs)
    } else {
        Body::Attrs(&op.attrs)
    };
    buf.clear();
    buf.resize(codec::request_len(&op.key, &body), 0);
    codec::encode_request(buf, op.op, 0, 0, &op.key, &body)?;
    let req = codec::decode_request(buf, 0).with_context(|| format!("{at}: {line}"))?;
    switch.apply(&req);
    Ok(())
}

/// Rebuilds the switch after request `through`, starting from `base` (the
/// state after request `base_seq`, e.g. Redis's checkpoint; empty and 0 when
/// there is none) and folding in the recorded requests `base_seq+1..=through`.
/// Refuses when the recording does not hold all of them.
pub fn rebuild(
    cfg: &RecorderConfig,
    base: Store,
    base_seq: u64,
    through: u64,
    ring_id: &str,
    profile: &std::sync::Arc<crate::profile::Profile>,
) -> anyhow::Result<Rebuilt> {
    recorder::recover(cfg)?;
    let files = files(cfg);
    let name = cfg.path.display();
    if files.is_empty() {
        bail!("the recording {name} does not exist");
    }
    let mut switch = Switch::from_objects_with(base, profile.clone());
    // The last marker seen: the request the recording knows the state after.
    let mut known: Option<u64> = None;
    let mut pending: Option<Recorded> = None;
    let mut requests = 0u64;
    let mut buf = Vec::new();
    'files: for f in &files {
        let mut r = open(f)?;
        let mut line = String::new();
        let mut n = 0usize;
        loop {
            line.clear();
            if r.read_line(&mut line)
                .with_context(|| format!("reading {}", f.display()))?
                == 0
            {
                break;
            }
            n += 1;
            let l = line.trim_end_matches(['\n', '\r']);
            match letter(l) {
                Some('#') => {
                    if let Some(i) = l.find(RAW) {
                        let Some(raw) = unhex(l[i + RAW.len()..].trim()) else {
                            bail!("{}:{n}: a raw request that is not hex", f.display());
                        };
                        match pending.as_mut() {
                            Some(p) => p.raw = Some(raw),
                            None => bail!(
                                "{}:{n}: a raw request with no request line before it",
                                f.display()
                            ),
                        }
                        continue;
                    }
                    let Some(m) = recorder::parse_marker(l) else {
                        continue;
                    };
                    if !m.of_ring(ring_id) {
                        // Another ring's history (the channel was recreated):
                        // none of it is this ring's state.
                        known = None;
                        pending = None;
                        continue;
                    }
                    let seq = m.seq;
                    if m.start {
                        // A cold start: the state after `seq` is empty (unless
                        // the base is later, and already reflects it).
                        pending = None;
                        if seq >= base_seq {
                            switch = Switch::with_profile(profile.clone());
                        }
                        known = Some(seq);
                        if seq >= through {
                            break 'files;
                        }
                        continue;
                    }
                    let req = pending.take();
                    match known {
                        // The first marker. With no request before it, the file
                        // continues one rotated away and knows the state after
                        // `seq`; with one, it knows that request but not the
                        // state before it (recording began mid-stream), unless
                        // it is request 1.
                        None => {
                            let from = if req.is_some() { seq.saturating_sub(1) } else { seq };
                            if from > base_seq {
                                bail!(
                                    "the recording {name} starts after request {from} (older files were rotated away, or recording began then), but the state it must be folded onto is after request {base_seq}: requests {}..={from} are in neither",
                                    base_seq + 1
                                );
                            }
                        }
                        // A new file starts with the marker that ended the last.
                        Some(prev) if seq == prev && req.is_none() => {}
                        Some(prev) if seq != prev + 1 => bail!(
                            "{}:{n}: the recording {name} goes from request {prev} to request {seq}: requests in between were not recorded (a run without --record, or another channel's recording)",
                            f.display()
                        ),
                        Some(_) => {}
                    }
                    if let Some(r) = req {
                        if seq > base_seq && seq <= through {
                            apply(&mut switch, &r, &mut buf)?;
                            requests += 1;
                        }
                    }
                    known = Some(seq);
                    if seq >= through {
                        break 'files;
                    }
                }
                Some('c' | 'r' | 's' | 'g' | 'C' | 'R' | 'S' | 'B' | 'a' | 'f') => {
                    pending = Some(Recorded {
                        line: l.to_owned(),
                        at: format!("{}:{n}", f.display()),
                        raw: None,
                    });
                }
                _ => {}
            }
        }
    }
    let last = known.unwrap_or(0);
    if last < through {
        bail!(
            "the recording {name} ends after request {last}, but the ring was released through request {through}: requests {}..={through} are in neither",
            last + 1
        );
    }
    Ok(Rebuilt {
        switch,
        through,
        requests,
        files,
    })
}
