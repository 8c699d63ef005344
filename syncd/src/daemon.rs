//! syncd's main loop: take requests from the channel, apply them to the virtual
//! switch, answer, hand the changes to the Redis mirror, and free ring space
//! only as far as the mirror has made durable. `docs/WARMBOOT.md` explains why
//! this gives exactly-once effects across crashes.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use sairing_transport::{channel, Error as TError, Server, ServerOptions, WaitPolicy};

use crate::asic_db;
use crate::mirror::{lock, shared, wait_for_room, Mirror, MirrorConfig, SharedSwitch};
use crate::recorder::{Entry, Recorder};
use crate::vs::{Answer, Switch};

/// Most changed objects the mirror may leave untaken before the apply loop
/// waits for it: a bound on the memory a commit takes to build (some 700
/// bytes a key at its peak) when Redis falls far behind, not a throttle. As
/// a throttle it costs throughput: 1,000,000 routes pipelined on 2 cores took
/// 11.2 s with 65,536 (heap 468 B an object), 9.5 s with 262,144 (555 B),
/// 8.4 s without a bound (1,134 B at the end, 607 B once idle), 2026-12-07.
const MAX_PENDING: usize = 1 << 20;
/// How long a commit of a few requests waits after the last commit.
const MIRROR_LINGER: Duration = Duration::from_millis(1);

/// What to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The channel directory.
    pub channel: PathBuf,
    /// `redis://host:port/db`, or `None` to run without a mirror.
    pub redis: Option<String>,
    /// Rebuild the switch from Redis and resume after its checkpoint.
    pub warm: bool,
    /// Create the channel if it does not exist, with rings of this capacity.
    pub create: Option<u64>,
    /// Busy-poll instead of sleeping when idle.
    pub busy: bool,
    /// Print `applied N durable M` every this many requests (0: never).
    pub progress_every: u64,
    /// Write the final switch state here as JSON on a clean stop.
    pub dump: Option<PathBuf>,
    /// Record every request, response and notification here.
    pub record: Option<crate::recorder::RecorderConfig>,
    /// The switch profile: the default objects a switch discovers.
    pub profile: std::sync::Arc<crate::profile::Profile>,
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct RunSummary {
    /// Requests applied by this process.
    pub applied: u64,
    /// Requests found already durable at a warm start, and skipped.
    pub skipped: u64,
    /// Malformed records skipped.
    pub malformed: u64,
    /// The last request sequence number applied (or skipped).
    pub last_seq: u64,
    /// The mirror's durable sequence number at exit.
    pub durable: u64,
    /// Objects in the switch at exit.
    pub objects: usize,
}

/// Where applied requests are handed over, chosen once at start: to the
/// recorder, which hands them on to the mirror once it has written them (so
/// Redis never holds a request the recording lacks), or straight to the
/// mirror (which reads their effects from the shared switch), or nowhere.
struct Sink {
    recorder: Option<Recorder>,
    mirror: Option<Mirror>,
}

impl Sink {
    /// Request `seq` was applied and answered (its notifications published).
    fn applied(&mut self, seq: u64, payload: &[u8], answer: Answer) {
        match (&self.recorder, self.mirror.as_mut()) {
            (Some(r), _) => r.submit(Entry {
                seq,
                request: payload.to_vec(),
                status: answer.status,
                attrs: answer.attrs,
                statuses: answer.statuses,
                notifications: answer.notifications,
            }),
            (None, Some(m)) => m.handed(seq),
            (None, None) => {}
        }
    }

    /// Record `seq` did not decode: it moves the checkpoint like any request
    /// (with no effects), so Redis's position keeps up with the ring's and a
    /// warm start finds the two in step; the recording notes it.
    fn malformed(&mut self, seq: u64) {
        match (&self.recorder, self.mirror.as_mut()) {
            (Some(r), _) => r.submit(Entry::malformed(seq)),
            (None, Some(m)) => m.handed(seq),
            (None, None) => {}
        }
    }

    /// The last request whose effects are durable (`last_seq` without a mirror).
    fn durable(&self, last_seq: u64) -> u64 {
        self.mirror.as_ref().map_or(last_seq, |m| m.durable())
    }

    /// Everything handed over recorded and durable; returns the durable position.
    fn finish(mut self, last_seq: u64) -> anyhow::Result<u64> {
        if let Some(r) = self.recorder.take() {
            r.finish()?;
        }
        if let Some(m) = &self.mirror {
            if !m.flush_to(last_seq, Duration::from_secs(30)) {
                bail!(
                    "stopping: the mirror could not write the last requests to redis within 30 s ({}); they stay in the ring for the next start",
                    m.stats().last_error.unwrap_or_default()
                );
            }
        }
        Ok(self.durable(last_seq))
    }
}

/// What `start` sets up: the channel, the switch, where it resumes, the sink.
struct Started {
    server: Server,
    /// The switch, shared with the mirror (which reads it to rewrite Redis).
    switch: SharedSwitch,
    /// Requests up to this one are already applied (and durable).
    skip_until: u64,
    sink: Sink,
}

/// Runs until `stop` is set; then finishes the request in hand, flushes the
/// mirror, releases the ring and returns.
pub fn run(cfg: &Config, stop: Arc<AtomicBool>) -> anyhow::Result<RunSummary> {
    let mut st = start(cfg)?;
    // Signal handlers are installed (by main) and the channel is open: from here
    // a SIGTERM is a clean stop.
    println!("syncd: ready, resuming after request {}", st.skip_until);
    let mut sum = serve(cfg, &mut st, &stop)?;
    // Graceful stop: everything applied is recorded and durable, then the ring
    // is released.
    let Started {
        mut server,
        switch,
        sink,
        ..
    } = st;
    sum.durable = sink.finish(sum.last_seq)?;
    server.release();
    let applied = lock(&switch);
    sum.objects = applied.switch.len();
    if let Some(path) = &cfg.dump {
        let mut objs: Vec<_> = applied
            .switch
            .objects()
            .iter()
            .map(|o| (o.key().to_string(), o.to_attrs()))
            .collect();
        objs.sort();
        let json = serde_json::to_string(&objs)?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(sum)
}

/// Opens (or creates) the channel, finds the state to resume from (Redis's
/// checkpoint, a rebuild, or empty), and starts the mirror and the recorder.
fn start(cfg: &Config) -> anyhow::Result<Started> {
    if let Some(capacity) = cfg.create {
        if !channel::Paths::new(&cfg.channel).request.exists() {
            channel::create(
                &cfg.channel,
                &channel::ChannelOptions {
                    capacity,
                    ..Default::default()
                },
            )
            .with_context(|| format!("creating channel {}", cfg.channel.display()))?;
        }
    }
    let mut wait = if cfg.busy {
        WaitPolicy::busy_poll()
    } else {
        WaitPolicy::default()
    };
    // How long one wait for room in a full response ring lasts before the loop
    // looks at the stop flag again.
    wait.timeout = Duration::from_secs(1);
    let mut server = Server::open(
        &cfg.channel,
        &ServerOptions {
            wait,
            ..Default::default()
        },
    )
    .with_context(|| format!("opening channel {}", cfg.channel.display()))?;
    server.set_auto_release(false);
    let ring_id = server.ring_id_hex();

    // The starting state, the last request it already contains, and whether
    // Redis must be rewritten from it before anything else.
    let released = server.next_seq().saturating_sub(1);
    let (switch, skip_until, resync_first) = match (&cfg.redis, cfg.warm) {
        (Some(url), true) => warm_state(cfg, url, &ring_id, released)?,
        (None, true) => bail!("--warm needs --redis: the checkpoint lives there"),
        (Some(url), false) => {
            // Fail now, clearly, rather than in the background.
            let mut c = asic_db::connect(url)
                .with_context(|| format!("redis at {url} (use --no-mirror to run without it)"))?;
            asic_db::write_profile(&mut c, url, &cfg.profile.signature())?;
            (Switch::with_profile(cfg.profile.clone()), released, true)
        }
        (None, false) => (Switch::with_profile(cfg.profile.clone()), released, true),
    };
    let switch = shared(switch, skip_until);
    let mirror = cfg.redis.as_ref().map(|url| {
        Mirror::start(MirrorConfig {
            url: url.clone(),
            ring_id: ring_id.clone(),
            switch: switch.clone(),
            profile: Some(cfg.profile.signature()),
            durable: skip_until,
            resync_first,
            linger: MIRROR_LINGER,
        })
    });
    let recorder = match &cfg.record {
        Some(rc) => Some(Recorder::start(
            rc.clone(),
            mirror.as_ref().map(|m| m.sender()),
            &ring_id,
            (!cfg.warm).then_some(released),
        )?),
        None => None,
    };
    Ok(Started {
        server,
        switch,
        skip_until,
        sink: Sink { recorder, mirror },
    })
}

/// The loop: take a request, apply it, answer it and publish what it caused,
/// hand its effects to the sink, and free the ring as far as they are durable.
fn serve(cfg: &Config, st: &mut Started, stop: &AtomicBool) -> anyhow::Result<RunSummary> {
    let Started {
        server,
        switch,
        skip_until,
        sink,
    } = st;
    let skip_until = *skip_until;
    let mut sum = RunSummary {
        last_seq: skip_until,
        ..Default::default()
    };
    // Marks of applied requests not yet released: (seq, position after it).
    let mut marks: VecDeque<(u64, sairing_ring::Mark)> = VecDeque::new();
    let mut printed = 0u64;
    let mirrored = sink.mirror.is_some();
    while !stop.load(Ordering::Relaxed) {
        // Too many changes the mirror has not taken (Redis slower than this
        // loop): wait, so that a commit and the memory it takes stay bounded.
        if mirrored && !wait_for_room(switch, MAX_PENDING, Duration::from_millis(20)) {
            continue;
        }
        // Whether a record was taken off the ring (applied, skipped or malformed).
        let mut consumed = true;
        match server.recv(Some(Duration::from_millis(20))) {
            Ok(Some(mut req)) => {
                let seq = req.record_seq;
                if seq <= skip_until {
                    // Applied and durable before the last crash, and answered:
                    // its response is already in the response ring.
                    sum.skipped += 1;
                } else {
                    let mut out = {
                        // The request's sequence number goes with the state
                        // it makes, before anything is handed to the sink.
                        let mut g = lock(switch);
                        g.seq = seq;
                        g.switch.apply(&req.request)
                    };
                    if !answer(&mut req, &mut out, stop)? {
                        // Stopping while orchagent does not read: the request
                        // stays unreleased and undurable, and is applied again
                        // (to the state from Redis) at the next warm start.
                        bail!(
                            "stopping with request {seq} applied but not answered: the response ring is full (is orchagent reading?); a --warm start applies it again"
                        );
                    }
                    // Published before the effects go to the sink: once a
                    // request is durable a warm start skips it, so anything
                    // it caused must be in the response ring by then.
                    for (name, payload) in &out.notifications {
                        if !unless_full(stop, "notify", || req.notify(name, payload))? {
                            bail!("stopping with a {name} notification of request {seq} not sent: the response ring is full (is orchagent reading?); a --warm start applies the request again");
                        }
                    }
                    sum.applied += 1;
                    sink.applied(seq, req.payload(), out);
                }
                sum.last_seq = seq;
            }
            Ok(None) => consumed = false,
            Err(TError::Decode(e)) => {
                tracing::warn!("skipping a malformed request: {e}");
                sum.malformed += 1;
                let seq = e.record_seq;
                if seq > skip_until {
                    // No change to the state, but the position moves with it.
                    lock(switch).seq = seq;
                    sink.malformed(seq);
                }
                sum.last_seq = seq;
            }
            Err(e) => return Err(e.into()),
        }
        if consumed {
            marks.push_back((sum.last_seq, server.mark()));
        }
        // Free the ring up to what the sink has made durable.
        let durable = sink.durable(sum.last_seq);
        let mut release = None;
        while marks.front().is_some_and(|(s, _)| *s <= durable) {
            release = marks.pop_front().map(|(_, m)| m);
        }
        if let Some(m) = release {
            server.release_to(m);
        }
        if cfg.progress_every > 0 && sum.applied >= printed + cfg.progress_every {
            printed = sum.applied;
            println!(
                "applied {} seq {} durable {durable}",
                sum.applied, sum.last_seq
            );
        }
    }
    Ok(sum)
}

/// Runs `publish` (each try waits for room up to the server's wait timeout)
/// until the response ring is not full: a full ring (orchagent not reading) is
/// backpressure, not an exit. Returns `false` if `stop` was set meanwhile.
fn unless_full(
    stop: &AtomicBool,
    what: &str,
    mut publish: impl FnMut() -> Result<(), TError>,
) -> anyhow::Result<bool> {
    loop {
        match publish() {
            Ok(()) => return Ok(true),
            Err(TError::Full { .. }) if stop.load(Ordering::Relaxed) => return Ok(false),
            Err(TError::Full { .. }) => {
                tracing::warn!("response ring full (orchagent not reading?): waiting to {what}");
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Answers `req` with `out`, as [`unless_full`] says. An answer too large for
/// the response ring becomes `SAI_STATUS_BUFFER_OVERFLOW` (and `out` says so,
/// for the recording).
fn answer(
    req: &mut sairing_transport::Incoming<'_>,
    out: &mut Answer,
    stop: &AtomicBool,
) -> anyhow::Result<bool> {
    unless_full(stop, "answer", || {
        match req.respond(out.status, &out.attrs, &out.statuses) {
            Err(TError::TooLarge { len, max, .. }) => {
                tracing::warn!(
                    seq = req.record_seq,
                    len,
                    max,
                    "answer too large for the response ring: answering {}",
                    crate::vs::BUFFER_OVERFLOW
                );
                *out = crate::vs::Answer {
                    status: crate::vs::BUFFER_OVERFLOW,
                    attrs: Vec::new(),
                    statuses: Vec::new(),
                    notifications: std::mem::take(&mut out.notifications),
                };
                req.respond_status(out.status)
            }
            r => r,
        }
    })
}

/// The last request the ring at `path` holds, walking from its released
/// position (`released` is the request before it), but not past `want`.
fn ring_reaches(path: &std::path::Path, released: u64, want: u64) -> anyhow::Result<u64> {
    let o = sairing_ring::Observer::open(path)?;
    let mut pos = o.check_cursors()?.head;
    let mut last = released;
    while last < want {
        match o.read_at(pos)? {
            sairing_ring::Look::Record(r) => {
                last = r.seq;
                pos = r.next;
            }
            sairing_ring::Look::End | sairing_ring::Look::Lapped { .. } => break,
        }
    }
    Ok(last)
}

/// The state a warm start resumes from: Redis's checkpoint when it reaches
/// what the ring has released (`released`); otherwise, with `--record`, that
/// checkpoint (or nothing) with the recorded requests up to `released` folded
/// in, and Redis rewritten from it; otherwise a refusal naming both positions.
fn warm_state(
    cfg: &Config,
    url: &str,
    ring_id: &str,
    released: u64,
) -> anyhow::Result<(Switch, u64, bool)> {
    let mut c = asic_db::connect(url)?;
    let dir = cfg.channel.display();
    let mine = cfg.profile.signature();
    let recorded = asic_db::read_profile(&mut c, url)?;
    if recorded.is_none() {
        // Not recorded (an older syncd, or a FLUSHDB): this profile from now.
        asic_db::write_profile(&mut c, url, &mine)?;
    }
    if let Some(theirs) = recorded.filter(|p| *p != mine) {
        let short = |s: &str| s.split(' ').take(3).collect::<Vec<_>>().join(" ") + " ...";
        bail!(
            "--warm: redis at {url} holds a switch made with the profile {}, but this syncd has {}: start it with the same --profile, or without --warm to start over",
            short(&theirs),
            short(&mine)
        );
    }
    let base = match asic_db::read_progress(&mut c, url)? {
        Some(p) if p.ring_id != ring_id => bail!(
            "--warm: redis at {url} holds the state of ring {}, but {dir} is ring {ring_id}",
            p.ring_id
        ),
        Some(p) => Some(p.seq),
        None => None,
    };
    if let Some(seq) = base.filter(|s| *s > released) {
        // Requests released+1..=seq must still be in the ring (applied and
        // made durable, not yet released). A checkpoint past what the ring
        // holds belongs to another history: resuming after it would skip,
        // unapplied and unanswered, every request up to it.
        let ring = channel::Paths::new(&cfg.channel).request;
        let last = ring_reaches(&ring, released, seq)
            .with_context(|| format!("--warm: reading {}", ring.display()))?;
        if last < seq {
            bail!(
                "--warm: redis at {url} says requests through request {seq} were applied, but {dir} holds requests only through request {last}: the checkpoint is not this ring's history (written by hand, or the ring was rolled back); start without --warm to start over"
            );
        }
    }
    if base.is_none() && released == 0 {
        // Nothing was ever released: the ring holds every request, and the
        // state before the first is empty.
        return Ok((Switch::with_profile(cfg.profile.clone()), 0, true));
    }
    if let Some(seq) = base.filter(|s| *s >= released) {
        let (objects, n) = crate::snapshot::load(url)?;
        let t = std::time::Instant::now();
        let count = objects.len();
        let switch = Switch::from_objects_with(objects, cfg.profile.clone());
        // The phases of a warm start, for whoever waits on one (on stderr:
        // stdout's first line is "ready", which scripts and tests wait for).
        eprintln!(
            "syncd: warm start from the checkpoint after request {seq}: {count} objects read from redis in {:.2} s ({} SCANs), the switch made in {:.2} s",
            n.elapsed.as_secs_f64(),
            n.scans,
            t.elapsed().as_secs_f64()
        );
        return Ok((switch, seq, false));
    }
    let Some(rc) = &cfg.record else {
        match base {
            None => bail!(
                "--warm: redis at {url} holds no sairing checkpoint ({}), and {dir} has released its ring through request {released}; start with --warm --record FILE (this syncd's recording) to rebuild the state, or without --warm to start over",
                asic_db::PROGRESS_KEY
            ),
            Some(seq) => bail!(
                "--warm: redis at {url} holds the state after request {seq}, but {dir} has released its ring through request {released}: requests {}..={released} are in neither; start with --warm --record FILE (this syncd's recording) to rebuild them, or without --warm to start over",
                seq + 1
            ),
        }
    };
    let (objects, from) = match base {
        Some(seq) => (asic_db::load_state(url)?, seq),
        None => (Default::default(), 0),
    };
    let r = crate::rebuild::rebuild(rc, objects, from, released, ring_id, &cfg.profile)
        .with_context(|| format!("--warm: rebuilding requests {}..={released}", from + 1))?;
    tracing::warn!(
        from,
        through = released,
        requests = r.requests,
        files = r.files.len(),
        "redis was behind the ring: state rebuilt from the recording; rewriting redis"
    );
    Ok((r.switch, released, true))
}
