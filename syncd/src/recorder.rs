//! Recording: every request syncd applies, its response and the notifications
//! it caused, written to a `sairedis.rec`-format file by a background thread.
//! The apply loop only hands over a copy of the request's bytes and its outcome.
//!
//! - After each request's lines comes a marker comment,
//!   `<ts>|#|sairing seq N ring R`, naming the request ring; a cold start writes
//!   `<ts>|#|sairing start N ring R` (the state after request N is empty).
//!   A recording that last followed another ring records this one's requests
//!   from its first, and a rebuild folds in only this ring's, from its last
//!   start line on.
//!   A syncd that starts on an existing recording truncates it after its last
//!   marker (dropping lines a killed process left half-written) and records only
//!   requests after `N`: across a restart nothing is missing and nothing doubled.
//! - The recorder hands each request over to the Redis mirror only once
//!   it has written that request's lines (to the kernel: they survive a kill of
//!   the process). So Redis never holds a request the recording lacks, and a
//!   warm restart never skips a request that was not recorded.
//! - A request whose text line would not read back exactly (a value with a
//!   `|` or a line break, a bulk call with no objects) is followed by `<ts>|#|sairing raw <hex>`, its
//!   encoded bytes, which a rebuild uses instead; saiplayer skips comments.
//! - When the file passes `max_bytes` it is rotated: `FILE` becomes `FILE.1.gz`
//!   (gzip), older ones shift up, `keep` are kept. The new file starts with the
//!   last marker, so the current file always holds it.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;
use std::time::SystemTime;

use anyhow::Context;
use sairing_rec as rec;
use sairing_transport::codec;

use crate::mirror::MirrorSender;

pub(crate) const MARKER: &str = "|#|sairing seq ";
/// A comment after a request line the text format cannot carry exactly (see
/// [`rec::text_is_exact`]): the request's encoded payload in hex, which a
/// rebuild uses instead of the line.
pub(crate) const RAW: &str = "|#|sairing raw ";

/// A cold start's line, `<ts>|#|sairing start N ring R`: from here on, the
/// state of ring `R` after request `N` is empty (what came before is no longer
/// the switch's).
pub(crate) const START: &str = "|#|sairing start ";

/// A marker or start line, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Marker {
    /// The request it follows.
    pub seq: u64,
    /// The request ring it belongs to (`None` in recordings from before ring
    /// ids were written: taken as this ring's).
    pub ring: Option<String>,
    /// A cold start (`START`) rather than a request's marker.
    pub start: bool,
}

impl Marker {
    /// Whether it belongs to ring `id`.
    pub(crate) fn of_ring(&self, id: &str) -> bool {
        self.ring.as_deref().is_none_or(|r| r == id)
    }
}

/// A marker line, `<ts>|#|sairing seq N ring R`, or a start line, and nothing
/// else. A request line can hold the same text inside a value, but then a `|`
/// comes before it.
pub(crate) fn parse_marker(line: &str) -> Option<Marker> {
    let (i, tag, start) = match (line.find(MARKER), line.find(START)) {
        (Some(i), _) => (i, MARKER, false),
        (None, Some(i)) => (i, START, true),
        (None, None) => return None,
    };
    if line[..i].contains('|') {
        return None;
    }
    let rest = line[i + tag.len()..].trim();
    let (seq, ring) = match rest.split_once(" ring ") {
        Some((s, r)) => (s, Some(r.trim().to_owned())),
        None => (rest, None),
    };
    Some(Marker {
        seq: seq.trim().parse().ok()?,
        ring,
        start,
    })
}

/// What the apply loop hands over for one request.
pub struct Entry {
    /// The request's sequence number.
    pub seq: u64,
    /// The request record's payload (encoded).
    pub request: Vec<u8>,
    /// Its status.
    pub status: &'static str,
    /// Attributes a get returned.
    pub attrs: Vec<(String, String)>,
    /// Each object's status (bulk calls).
    pub statuses: Vec<&'static str>,
    /// Notifications it caused: (name, payload).
    pub notifications: Vec<(String, String)>,
}

impl Entry {
    /// A record that did not decode: no effects; the recording notes it (a
    /// comment naming the problem) with its marker.
    pub fn malformed(seq: u64) -> Entry {
        Entry {
            seq,
            request: Vec::new(),
            status: "",
            attrs: Vec::new(),
            statuses: Vec::new(),
            notifications: Vec::new(),
        }
    }
}

/// Recording settings.
#[derive(Debug, Clone)]
pub struct RecorderConfig {
    /// The recording.
    pub path: PathBuf,
    /// Rotate past this size.
    pub max_bytes: u64,
    /// Rotated files kept.
    pub keep: usize,
}

/// The handle the apply loop holds.
pub struct Recorder {
    tx: Option<Sender<Entry>>,
    #[cfg(test)]
    last_marker: u64,
    handle: Option<JoinHandle<anyhow::Result<()>>>,
}

/// The last marker (or start line) in `path`, the offset just after its line,
/// and the line itself. `None` for a missing or marker-less file.
fn last_marker(path: &Path) -> anyhow::Result<Option<(Marker, u64, String)>> {
    let mut f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("opening {}", path.display())),
    };
    let len = f.metadata()?.len();
    // Markers come after every request: the last one is near the end.
    let mut window = 64 * 1024u64;
    loop {
        let start = len.saturating_sub(window);
        f.seek(SeekFrom::Start(start))?;
        let mut buf = Vec::new();
        Read::by_ref(&mut f)
            .take(len - start)
            .read_to_end(&mut buf)?;
        // Whole lines, the last first: bytes after the last newline may be
        // half-written, and the window may cut the first line (unless it
        // starts the file). Offsets are in bytes of the file.
        let mut end = buf.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
        while end > 0 {
            let line_end = end - 1;
            let line_start = buf[..line_end]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |p| p + 1);
            if line_start == 0 && start > 0 {
                break;
            }
            if let Ok(line) = std::str::from_utf8(&buf[line_start..line_end]) {
                if let Some(m) = parse_marker(line) {
                    return Ok(Some((m, start + end as u64, line.to_owned())));
                }
            }
            end = line_start;
        }
        if start == 0 {
            return Ok(None);
        }
        window *= 4;
    }
}

/// Finds the last marker in `path`, truncates the file just after it (dropping
/// lines a killed process left half-written), and returns it with its line.
/// A file with no marker at all continues the newest archive (a kill between a
/// rotation's new file and its first line): it is started again with that
/// archive's last marker. `None` for a recording that has no marker anywhere.
pub(crate) fn resume_point(path: &Path) -> anyhow::Result<Option<(Marker, String)>> {
    if let Some((m, end, line)) = last_marker(path)? {
        OpenOptions::new().write(true).open(path)?.set_len(end)?;
        return Ok(Some((m, line)));
    }
    let newest = archive(path, 1);
    if !newest.exists() {
        return Ok(None);
    }
    let gz = File::open(&newest).with_context(|| format!("opening {}", newest.display()))?;
    let mut last = None;
    for l in std::io::BufReader::new(flate2::read::GzDecoder::new(gz)).lines() {
        let l = l.with_context(|| format!("reading {}", newest.display()))?;
        if let Some(m) = parse_marker(&l) {
            last = Some((m, l));
        }
    }
    if let Some((_, line)) = &last {
        std::fs::write(path, format!("{line}\n"))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(last)
}

fn rotating(p: &Path) -> PathBuf {
    PathBuf::from(format!("{}.rotating", p.display()))
}

pub(crate) fn archive(p: &Path, i: usize) -> PathBuf {
    PathBuf::from(format!("{}.{i}.gz", p.display()))
}

/// Compresses `FILE.rotating` into `FILE.1.gz` (through a temporary file and a
/// rename), after shifting the older archives up, then removes it. Each step
/// can be interrupted by a kill: the next start runs this again.
fn finish_rotation(cfg: &RecorderConfig) -> anyhow::Result<()> {
    let rot = rotating(&cfg.path);
    let tmp = PathBuf::from(format!("{}.1.gz.tmp", cfg.path.display()));
    let mut input = File::open(&rot).with_context(|| format!("opening {}", rot.display()))?;
    let mut enc = flate2::write::GzEncoder::new(
        BufWriter::new(File::create(&tmp)?),
        flate2::Compression::fast(),
    );
    std::io::copy(&mut input, &mut enc)?;
    enc.finish()?.flush()?;
    let keep = cfg.keep.max(1);
    let _ = std::fs::remove_file(archive(&cfg.path, keep));
    for i in (1..keep).rev() {
        let _ = std::fs::rename(archive(&cfg.path, i), archive(&cfg.path, i + 1));
    }
    std::fs::rename(&tmp, archive(&cfg.path, 1))?;
    std::fs::remove_file(&rot)?;
    Ok(())
}

/// Completes a rotation a killed process left half done, so that the recording
/// is whole before anything new is written.
pub(crate) fn recover(cfg: &RecorderConfig) -> anyhow::Result<()> {
    let rot = rotating(&cfg.path);
    if rot.exists() {
        if !cfg.path.exists() {
            // Killed between the rename and the new file: start it with the
            // marker that ended the old one.
            let mut f = File::create(&cfg.path)?;
            if let Some((_, _, line)) = last_marker(&rot)? {
                writeln!(f, "{line}")?;
            }
        }
        finish_rotation(cfg)?;
    }
    let _ = std::fs::remove_file(format!("{}.1.gz.tmp", cfg.path.display()));
    Ok(())
}

impl Recorder {
    /// Starts recording to `cfg.path` (continuing an existing recording), passing
    /// requests on to `mirror` once written.
    ///
    /// Markers name the request ring (`ring_id`): a recording that last
    /// followed another ring (the channel was recreated) records this ring's
    /// requests from its first. `cold_start_after` is `Some(N)` on a cold
    /// start, when the switch starts empty after request `N`: a start line
    /// says so, and the requests after `N` are recorded again after it.
    pub fn start(
        cfg: RecorderConfig,
        mirror: Option<MirrorSender>,
        ring_id: &str,
        cold_start_after: Option<u64>,
    ) -> anyhow::Result<Recorder> {
        recover(&cfg)?;
        let found = resume_point(&cfg.path)?;
        let last = found
            .as_ref()
            .filter(|(m, _)| m.of_ring(ring_id))
            .map_or(0, |(m, _)| m.seq);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&cfg.path)
            .with_context(|| format!("opening the recording {}", cfg.path.display()))?;
        let mut w = Writer::new(cfg, file, last, mirror, ring_id.to_owned());
        // A rotation before the first new entry starts the new file with it.
        w.last_marker_line = found.map(|(_, line)| line).unwrap_or_default();
        if let Some(at) = cold_start_after {
            let ts = rec::timestamp(SystemTime::now());
            w.last_marker_line = format!("{ts}{START}{at} ring {ring_id}");
            let l = w.last_marker_line.clone();
            w.line(&l)?;
            w.out.flush()?;
            w.last = at;
        }
        #[cfg(test)]
        let resumed = w.last;
        let (tx, rx) = mpsc::channel();
        let handle = std::thread::Builder::new()
            .name("recorder".into())
            .spawn(move || w.run(rx))?;
        Ok(Recorder {
            tx: Some(tx),
            #[cfg(test)]
            last_marker: resumed,
            handle: Some(handle),
        })
    }

    /// The last request the recording held when it was opened (for tests).
    #[cfg(test)]
    fn resumed_after(&self) -> u64 {
        self.last_marker
    }

    /// Hands over one applied request.
    pub fn submit(&self, e: Entry) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(e);
        }
    }

    /// Stops the thread after it has written everything handed over.
    pub fn finish(mut self) -> anyhow::Result<()> {
        self.tx.take();
        match self.handle.take() {
            Some(h) => h
                .join()
                .map_err(|_| anyhow::anyhow!("the recorder thread panicked"))?,
            None => Ok(()),
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

struct Writer {
    cfg: RecorderConfig,
    out: BufWriter<File>,
    size: u64,
    last: u64,
    mirror: Option<MirrorSender>,
    last_marker_line: String,
    ring: String,
}

impl Writer {
    fn new(
        cfg: RecorderConfig,
        file: File,
        last: u64,
        mirror: Option<MirrorSender>,
        ring: String,
    ) -> Writer {
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        Writer {
            cfg,
            out: BufWriter::with_capacity(1 << 16, file),
            size,
            last,
            mirror,
            last_marker_line: String::new(),
            ring,
        }
    }

    fn line(&mut self, l: &str) -> std::io::Result<()> {
        self.out.write_all(l.as_bytes())?;
        self.out.write_all(b"\n")?;
        self.size += l.len() as u64 + 1;
        Ok(())
    }

    fn run(mut self, rx: Receiver<Entry>) -> anyhow::Result<()> {
        // The requests written since the last flush.
        let mut batch: Vec<u64> = Vec::new();
        while let Ok(first) = rx.recv() {
            let mut next = Some(first);
            while let Some(e) = next {
                self.write_entry(e, &mut batch)?;
                next = if batch.len() < 4096 {
                    rx.try_recv().ok()
                } else {
                    None
                };
            }
            // Written through to the kernel before Redis may reflect it.
            self.out
                .flush()
                .with_context(|| format!("writing {}", self.cfg.path.display()))?;
            if let (Some(m), Some(&last)) = (&self.mirror, batch.last()) {
                m.handed(last);
            }
            batch.clear();
            if self.size > self.cfg.max_bytes {
                self.rotate()?;
            }
        }
        self.out.flush()?;
        Ok(())
    }

    fn write_entry(&mut self, e: Entry, batch: &mut Vec<u64>) -> anyhow::Result<()> {
        if e.seq <= self.last {
            // Recorded by the process before a restart: hand it over, but do
            // not write it twice.
            batch.push(e.seq);
            return Ok(());
        }
        let ts = rec::timestamp(SystemTime::now());
        match codec::decode_request(&e.request, e.seq) {
            Ok(req) => {
                let line = rec::request_line(&ts, &req);
                self.line(&line)?;
                if !rec::text_is_exact(&req, &line) {
                    let mut l = format!("{ts}{RAW}");
                    for b in &e.request {
                        l.push_str(&format!("{b:02x}"));
                    }
                    self.line(&l)?;
                }
                let attrs = e.attrs.iter().map(|(n, v)| (n.as_str(), v.as_str()));
                if let Some(l) = rec::response_line(&ts, req.op, e.status, attrs, &e.statuses) {
                    self.line(&l)?;
                }
            }
            Err(err) => self.line(&format!("{ts}|#|{err}"))?,
        }
        for (name, payload) in &e.notifications {
            self.line(&rec::notification_line(&ts, name, payload))?;
        }
        self.last_marker_line = format!("{ts}{MARKER}{} ring {}", e.seq, self.ring);
        let m = self.last_marker_line.clone();
        self.line(&m)?;
        self.last = e.seq;
        batch.push(e.seq);
        Ok(())
    }

    /// `FILE` -> `FILE.1.gz`, older ones shift up; a new `FILE` starts with the
    /// last marker. Crash-safe: `FILE` is renamed (atomically) to
    /// `FILE.rotating` first, and a start that finds it finishes the job.
    fn rotate(&mut self) -> anyhow::Result<()> {
        self.out.flush()?;
        std::fs::rename(&self.cfg.path, rotating(&self.cfg.path))?;
        let fresh = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&self.cfg.path)?;
        self.out = BufWriter::with_capacity(1 << 16, fresh);
        self.size = 0;
        let m = self.last_marker_line.clone();
        if !m.is_empty() {
            self.line(&m)?;
        }
        self.out.flush()?;
        finish_rotation(&self.cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request line whose value ends like a marker, left last by a kill
    /// before its real marker was written, is not taken for a marker: the
    /// recording resumes after the real one (taking it would have skipped
    /// recording every request up to the forged number).
    #[test]
    fn a_value_that_looks_like_a_marker_is_not_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sairedis.rec");
        let real = "t|c|SAI_OBJECT_TYPE_VLAN:oid:0x1\nt|#|sairing seq 1\n";
        let forged = "t|s|SAI_OBJECT_TYPE_VLAN:oid:0x1|A=x|#|sairing seq 99\n";
        std::fs::write(&path, format!("{real}{forged}")).unwrap();
        assert_eq!(resume_point(&path).unwrap().map(|(m, _)| m.seq), Some(1));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), real);
    }

    /// Killed after a rotation created the new file, before it wrote the
    /// marker that starts it (found by the e2e recording test: the next
    /// syncd recorded 13 requests twice): the recording resumes after the
    /// newest archive's last marker, and the new file starts with it.
    #[test]
    fn a_new_file_left_empty_by_a_kill_continues_the_newest_archive() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sairedis.rec");
        let old = "t|c|SAI_OBJECT_TYPE_VLAN:oid:0x1\nt|#|sairing seq 1 ring r\nt|c|SAI_OBJECT_TYPE_VLAN:oid:0x2\nt|#|sairing seq 2 ring r\n";
        let mut enc = flate2::write::GzEncoder::new(
            File::create(archive(&path, 1)).unwrap(),
            flate2::Compression::fast(),
        );
        enc.write_all(old.as_bytes()).unwrap();
        enc.finish().unwrap();
        std::fs::write(&path, b"").unwrap();
        let cfg = RecorderConfig {
            path: path.clone(),
            max_bytes: 1 << 20,
            keep: 3,
        };
        let r = Recorder::start(cfg, None, "r", None).unwrap();
        assert_eq!(r.resumed_after(), 2);
        r.finish().unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "t|#|sairing seq 2 ring r\n"
        );
    }

    #[test]
    fn a_rotation_interrupted_by_a_kill_is_finished_at_the_next_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sairedis.rec");
        let cfg = RecorderConfig {
            path: path.clone(),
            max_bytes: 1 << 20,
            keep: 3,
        };
        // Killed after renaming FILE to FILE.rotating, before the new FILE: the
        // old archive exists, a temporary archive was half written.
        let old = "t|c|SAI_OBJECT_TYPE_VLAN:oid:0x1\nt|#|sairing seq 1\nt|s|SAI_OBJECT_TYPE_VLAN:oid:0x1|A=1\nt|#|sairing seq 2\nt|c|half-writ";
        std::fs::write(rotating(&path), old).unwrap();
        std::fs::write(archive(&path, 1), b"older archive").unwrap();
        std::fs::write(format!("{}.1.gz.tmp", path.display()), b"garbage").unwrap();
        let r = Recorder::start(cfg, None, "r", None).unwrap();
        assert_eq!(r.resumed_after(), 2);
        r.finish().unwrap();
        // The rotation was finished: the old file is the newest archive, whole;
        // the older archive moved up; nothing temporary is left.
        let mut text = String::new();
        flate2::read::GzDecoder::new(File::open(archive(&path, 1)).unwrap())
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, old);
        assert_eq!(std::fs::read(archive(&path, 2)).unwrap(), b"older archive");
        assert!(!rotating(&path).exists());
        assert!(!PathBuf::from(format!("{}.1.gz.tmp", path.display())).exists());
        // The new file starts with the marker that ended the old one.
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "t|#|sairing seq 2\n"
        );
    }
}
