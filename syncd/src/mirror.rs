//! The Redis mirror: a background thread that keeps ASIC_DB (SONiC's schema)
//! equal to the virtual switch, without the apply loop ever waiting on Redis.
//!
//! - The mirror keeps no copy of the state and is handed no copies of
//!   changes. The apply loop shares the switch with it ([`SharedSwitch`]),
//!   which notes the keys it changes; after each request the loop hands over
//!   only its sequence number ([`Mirror::handed`]).
//! - To commit, the thread takes the changed keys and reads what the switch
//!   holds for each, under the switch's lock, at the last request applied,
//!   `seq`. It writes them in one MULTI/EXEC transaction: `DEL
//!   ASIC_STATE:<key>` then `HSET` of its attributes (`NULL`/`NULL` for none),
//!   or just the DEL for a key the switch no longer holds, and last the
//!   progress record `SAIRING_PROGRESS` {seq, ring_id}. A key whose first
//!   change since the last commit made its object has no hash in Redis (which
//!   holds the state of that commit): it is not DELeted, and one made and
//!   removed in between is not written at all. The transaction runs
//!   only if the progress record is still exactly what this mirror last
//!   wrote: the thread WATCHes the record, reads it, and EXEC does nothing if
//!   anyone changed it since (a FLUSHDB included). So Redis always holds
//!   exactly the state after request `seq`, and a FLUSHDB, an outside write to
//!   the record, a restored snapshot or a second syncd is noticed at the next
//!   commit, not later. (A Lua script did this check and the writes until
//!   2026-12-07; Redis ran the same writes twice as fast without it.)
//! - A commit lands only once request `seq` has been handed over: with
//!   `--record`, the recorder hands a request over only once it is written,
//!   and Redis must never hold a request the recording lacks.
//! - `durable()` is that `seq`: the apply loop frees ring space only up to it,
//!   so a crash of syncd can always be recovered from Redis plus the ring.
//! - When a commit finds the record changed, or Redis comes back after an
//!   outage with anything but what the mirror last wrote, the thread rewrites
//!   the whole state, read from the switch, in one MULTI/EXEC
//!   ([`CLEAR_SCRIPT`], every object, the record last): at every instant Redis
//!   holds either the old state with its old record or the new state with the
//!   new one. An idle mirror checks the record once a second, so a Redis that
//!   restarts while nothing happens is repaired too.
//! - If Redis goes away, the thread keeps the keys it took and retries.
//!   Meanwhile `durable()` stands still, which turns into backpressure on the
//!   client once the ring is full: no state is lost.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::{JoinHandle, Thread};
use std::time::{Duration, Instant};

use crate::asic_db::{
    connect, read_progress, rerr, MirrorError, Progress, ASIC_STATE, PROGRESS_KEY,
};
use crate::store::Object;
use crate::text::Text;
use crate::vs::{Changed, Switch};

/// Deletes every `ASIC_STATE:*` key and the progress record (`KEYS[1]`): the
/// first step of a resync, inside the same MULTI/EXEC as the rewrite.
pub const CLEAR_SCRIPT: &str = r#"
local ks = redis.call('KEYS', 'ASIC_STATE:*')
for i = 1, #ks, 1000 do
  redis.call('UNLINK', unpack(ks, i, math.min(i + 999, #ks)))
end
redis.call('DEL', KEYS[1])
return #ks
"#;

/// The commands of one MULTI/EXEC, written as RESP into a buffer kept from
/// commit to commit. (redis-rs's pipeline made a command, a list of
/// arguments and a string of each key for every object: most of what the
/// mirror thread spent.)
#[derive(Default)]
struct Commands {
    buf: Vec<u8>,
    /// Commands queued between MULTI and EXEC.
    n: usize,
    /// A string of the store written out, to know its length.
    arg: Vec<u8>,
}

impl Commands {
    /// Starts a transaction: what was written before is dropped.
    fn begin(&mut self) {
        self.buf.clear();
        self.cmd(&[b"MULTI"]);
        // MULTI is not one of the commands queued.
        self.n = 0;
    }

    fn array(&mut self, len: usize) {
        self.buf.push(b'*');
        self.buf
            .extend_from_slice(itoa::Buffer::new().format(len).as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    fn bulk(&mut self, b: &[u8]) {
        self.bulk_of(&[b]);
    }

    /// One argument made of `parts`, one after the other.
    fn bulk_of(&mut self, parts: &[&[u8]]) {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        self.buf.push(b'$');
        self.buf
            .extend_from_slice(itoa::Buffer::new().format(len).as_bytes());
        self.buf.extend_from_slice(b"\r\n");
        for p in parts {
            self.buf.extend_from_slice(p);
        }
        self.buf.extend_from_slice(b"\r\n");
    }

    /// An argument: `prefix` then the store's string `t` (written out first:
    /// its length is not known before).
    fn text(&mut self, prefix: &[u8], t: Text<'_>) {
        let mut arg = std::mem::take(&mut self.arg);
        arg.clear();
        t.write_to(&mut arg);
        self.bulk_of(&[prefix, &arg]);
        self.arg = arg;
    }

    /// A command of plain arguments.
    fn cmd(&mut self, args: &[&[u8]]) {
        self.array(args.len());
        for a in args {
            self.bulk(a);
        }
        self.n += 1;
    }

    /// `DEL ASIC_STATE:<key>`
    fn del(&mut self, key: &str) {
        self.array(2);
        self.bulk(b"DEL");
        self.bulk_key(key);
        self.n += 1;
    }

    fn bulk_key(&mut self, key: &str) {
        self.bulk_of(&[ASIC_STATE.as_bytes(), key.as_bytes()]);
    }

    /// The writing of object `o` (at `key`, or its own key) where Redis holds
    /// no hash of it: `HSET ASIC_STATE:<key>` of its attributes, `NULL` `NULL`
    /// for none.
    fn put(&mut self, key: Option<&str>, o: Object<'_>) {
        let n = o.attrs().count();
        self.array(2 + 2 * n.max(1));
        self.bulk(b"HSET");
        match key {
            Some(k) => self.bulk_key(k),
            None => self.text(ASIC_STATE.as_bytes(), o.key()),
        }
        if n == 0 {
            self.bulk(b"NULL");
            self.bulk(b"NULL");
        }
        for (name, value) in o.attrs() {
            self.text(b"", name);
            self.text(b"", value);
        }
        self.n += 1;
    }

    /// Sends the transaction (EXEC added) and reads its replies: `false` if
    /// EXEC did nothing (a WATCHed key changed), an error if any command
    /// failed.
    ///
    /// The replies are read here, one by one, and the first that cannot be
    /// read (the connection's 10 s read timeout: a Redis that stopped
    /// answering) ends the reading. redis-rs's own `req_packed_commands` goes
    /// on to wait for every remaining reply, 10 s each: a stalled Redis held
    /// a commit of a thousand commands, and the stopping of syncd, for hours.
    /// After an error the connection is dropped (`Worker::lost`).
    fn exec(&mut self, conn: &mut redis::Connection) -> redis::RedisResult<bool> {
        let queued = self.n;
        self.cmd(&[b"EXEC"]);
        conn.send_packed_command(&self.buf)?;
        // MULTI's OK and a QUEUED for each command, then EXEC's array. A
        // command refused while queueing makes EXEC refuse the transaction;
        // the first refusal is the error reported.
        let mut refused = None;
        for _ in 0..=queued {
            if let redis::Value::ServerError(e) = conn.recv_response()? {
                refused.get_or_insert(e);
            }
        }
        let reply = conn.recv_response()?;
        if let Some(e) = refused {
            return Err(e.into());
        }
        match reply {
            redis::Value::Nil => Ok(false),
            v @ redis::Value::Array(_) => v.extract_error().map(|_| true),
            other => Err(redis::RedisError::from((
                redis::ErrorKind::ResponseError,
                "not an answer to EXEC",
                format!("{other:?}"),
            ))),
        }
    }
}

/// Whether the progress record is `{seq, ring_id}`. A record of another
/// shape, or a key of another type, is not (that is `false`, not an error);
/// an error is Redis not answering.
fn progress_is(
    conn: &mut redis::Connection,
    url: &str,
    seq: u64,
    ring_id: &str,
) -> Result<bool, MirrorError> {
    match read_progress(conn, url) {
        Ok(p) => Ok(p.is_some_and(|p| p.seq == seq && p.ring_id == ring_id)),
        Err(MirrorError::Bad { .. }) => Ok(false),
        // Redis answered with an error (WRONGTYPE: the record is a string).
        Err(MirrorError::Redis { source, .. })
            if !(source.is_io_error() || source.is_connection_dropped() || source.is_timeout()) =>
        {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// The switch as the apply loop leaves it after each request, and that
/// request's sequence number.
#[derive(Debug, Default)]
pub struct Applied {
    /// The switch (a mirror started on it makes it track its changes).
    pub switch: Switch,
    /// The last request applied to it (or, before any, the position the
    /// state was loaded at). Set before the request is handed over.
    pub seq: u64,
}

/// The switch shared by the apply loop (which locks it for each request) and
/// the mirror (which locks it to read what changed, or the whole state when
/// it rewrites Redis), so that one copy of the state exists, not two.
pub type SharedSwitch = Arc<SwitchCell>;

/// The shared switch's lock, and the signal that the mirror took its changes.
#[derive(Debug, Default)]
pub struct SwitchCell {
    applied: Mutex<Applied>,
    taken: Condvar,
}

/// `switch`, at request `seq`, ready to share.
pub fn shared(switch: Switch, seq: u64) -> SharedSwitch {
    Arc::new(SwitchCell {
        applied: Mutex::new(Applied { switch, seq }),
        taken: Condvar::new(),
    })
}

/// Locks the shared switch. A thread that panicked while holding it was the
/// mirror reading it (the apply loop's panic ends the process), so what it
/// guards is whole.
pub fn lock(s: &SharedSwitch) -> MutexGuard<'_, Applied> {
    s.applied.lock().unwrap_or_else(|e| e.into_inner())
}

/// Waits, up to `timeout`, until fewer than `limit` changes are pending that
/// the mirror has not taken; whether there is room. The apply loop calls it
/// before each request, so that a commit (and the memory its commands take)
/// stays bounded when Redis is slower than the apply loop.
pub fn wait_for_room(s: &SharedSwitch, limit: usize, timeout: Duration) -> bool {
    let g = lock(s);
    let (g, _) = s
        .taken
        .wait_timeout_while(g, timeout, |a| a.switch.changes_pending() >= limit)
        .unwrap_or_else(|e| e.into_inner());
    g.switch.changes_pending() < limit
}

/// Takes the switch's changes into `taken`, and tells an apply loop waiting
/// for room.
fn take_changes(s: &SharedSwitch, g: &mut Applied, taken: &mut Changed) {
    let c = g.switch.take_changes();
    if taken.is_empty() {
        *taken = c;
    } else {
        // Keys taken before (a commit that failed) keep what their first
        // change was: Redis still holds the state of the last commit.
        taken.merge(&c);
    }
    s.taken.notify_all();
}

/// Where requests are handed over to the mirror thread: the last one, and
/// whether to stop. Handing one over is an atomic store and an unpark of the
/// thread (an atomic swap, and a system call only when it sleeps), not a
/// message through a channel: the apply loop hands over every request.
#[derive(Default)]
struct Handoff {
    /// Requests up to this one are applied and may be made durable.
    handed: AtomicU64,
    /// Stop once everything handed over is written.
    stop: AtomicBool,
    /// The mirror thread, to wake (set before anything is handed over).
    thread: OnceLock<Thread>,
}

impl Handoff {
    fn hand(&self, seq: u64) {
        self.handed.fetch_max(seq, Ordering::Release);
        self.wake();
    }

    fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        self.wake();
    }

    fn wake(&self) {
        if let Some(t) = self.thread.get() {
            t.unpark();
        }
    }
}

/// Counters of the mirror thread.
#[derive(Debug, Clone, Default)]
pub struct MirrorStats {
    /// MULTI/EXEC transactions committed.
    pub transactions: u64,
    /// Keys written (each changed key once per commit, however often it
    /// changed in between).
    pub keys_written: u64,
    /// The last request handed over.
    pub handed: u64,
    /// Full rewrites after Redis came back different.
    pub resyncs: u64,
    /// Commits refused because the progress record was not what this mirror
    /// last wrote (FLUSHDB, an outside write, a second syncd); each led to a
    /// resync.
    pub stale_commits: u64,
    /// Failed attempts (Redis away).
    pub failures: u64,
    /// Waits of the idle thread that ended early, woken by a hand-over
    /// or a stop that it then found.
    pub woken: u64,
    /// Waits of the idle thread that lasted their tenth of a second (the
    /// look it takes anyway: a hand-over found only then was not woken for).
    pub looks: u64,
    /// The last error, if the last attempt failed.
    pub last_error: Option<String>,
}

/// The handle the apply loop holds.
pub struct Mirror {
    handoff: Arc<Handoff>,
    durable: Arc<AtomicU64>,
    stats: Arc<Mutex<MirrorStats>>,
    handle: Option<JoinHandle<()>>,
}

/// Hands requests over to a mirror from another thread.
#[derive(Clone)]
pub struct MirrorSender {
    handoff: Arc<Handoff>,
}

impl MirrorSender {
    /// Requests up to `seq` are applied (and recorded).
    pub fn handed(&self, seq: u64) {
        self.handoff.hand(seq);
    }
}

/// How to start the mirror.
pub struct MirrorConfig {
    /// `redis://host:port/db`
    pub url: String,
    /// The request ring's identity, hex.
    pub ring_id: String,
    /// The switch, shared with the apply loop. Its state is what Redis holds
    /// (or must be made to hold) at `durable`.
    pub switch: SharedSwitch,
    /// The switch profile's signature, written again with every rewrite (a
    /// FLUSHDB takes it with the rest; see `asic_db::PROFILE_KEY`).
    pub profile: Option<String>,
    /// The sequence number that state corresponds to.
    pub durable: u64,
    /// Rewrite Redis from the switch before anything else (a cold start).
    pub resync_first: bool,
    /// While fewer than [`LINGER_BELOW`] requests wait to be written, a
    /// commit waits until this long after the last one, so that requests
    /// arriving one by one (a synchronous client) do not each make a commit
    /// and a Redis round trip.
    pub linger: Duration,
}

/// The most memory the commit buffer keeps from one commit to the next.
const KEEP_COMMANDS: usize = 8 << 20;

/// Requests waiting to be written at which a commit no longer lingers.
pub const LINGER_BELOW: u64 = 1024;

impl Mirror {
    /// Starts the thread.
    pub fn start(cfg: MirrorConfig) -> Mirror {
        // What changes from now on is written incrementally; the state so far
        // is what Redis holds, or is rewritten first.
        lock(&cfg.switch).switch.track_changes();
        let handoff = Arc::new(Handoff::default());
        handoff.handed.store(cfg.durable, Ordering::Relaxed);
        // A mirror that must rewrite Redis first has made nothing durable
        // until that rewrite lands (Redis may hold another state entirely).
        let start = if cfg.resync_first { 0 } else { cfg.durable };
        let durable = Arc::new(AtomicU64::new(start));
        let stats = Arc::new(Mutex::new(MirrorStats::default()));
        let (d, s, h) = (
            Arc::clone(&durable),
            Arc::clone(&stats),
            Arc::clone(&handoff),
        );
        let handle = std::thread::Builder::new()
            .name("redis-mirror".into())
            .spawn(move || Worker::new(cfg, h, d, s).run())
            .expect("spawn the mirror thread");
        let _ = handoff.thread.set(handle.thread().clone());
        Mirror {
            handoff,
            durable,
            stats,
            handle: Some(handle),
        }
    }

    /// Requests up to `seq` are applied (sequence numbers increase).
    pub fn handed(&mut self, seq: u64) {
        self.handoff.hand(seq);
    }

    /// A handle another thread can hand requests over through (the
    /// recorder, which does so only once it has written them).
    pub fn sender(&self) -> MirrorSender {
        MirrorSender {
            handoff: Arc::clone(&self.handoff),
        }
    }

    /// Waits until request `seq` is durable, or `timeout` passes.
    pub fn flush_to(&self, seq: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.durable() < seq {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        true
    }

    /// The last request whose effects are committed in Redis.
    pub fn durable(&self) -> u64 {
        self.durable.load(Ordering::Acquire)
    }

    /// A copy of the counters.
    pub fn stats(&self) -> MirrorStats {
        self.stats.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        self.handoff.stop();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

struct Worker {
    url: String,
    ring_id: String,
    switch: SharedSwitch,
    handoff: Arc<Handoff>,
    /// Stop asked for (then the thread ends once everything is written).
    stopping: bool,
    /// Stop asked for before a commit could land: end now, leaving Redis as
    /// it is (what is not durable stays in the ring for the next start).
    quit: bool,
    profile: Option<String>,
    /// Keys taken from the switch and not yet committed (Redis was away).
    taken: Changed,
    /// The last request handed over.
    handed: u64,
    /// The last request whose state Redis holds (the progress record).
    written: u64,
    resync: bool,
    /// Whether Redis holds this mirror's state (written by it, or the warm
    /// start's checkpoint of this ring): from then on it never overwrites
    /// another ring's.
    owned: bool,
    linger: Duration,
    /// When the last commit landed (none yet: the first does not linger).
    last_commit: Option<Instant>,
    /// Keys written since memory freed was last handed back to the system.
    since_trim: u64,
    conn: Option<redis::Connection>,
    /// The buffer commits are written into, kept between them.
    commands: Commands,
    durable: Arc<AtomicU64>,
    stats: Arc<Mutex<MirrorStats>>,
}

impl Worker {
    fn new(
        cfg: MirrorConfig,
        handoff: Arc<Handoff>,
        durable: Arc<AtomicU64>,
        stats: Arc<Mutex<MirrorStats>>,
    ) -> Worker {
        Worker {
            url: cfg.url,
            ring_id: cfg.ring_id,
            switch: cfg.switch,
            handoff,
            stopping: false,
            quit: false,
            profile: cfg.profile,
            taken: Changed::default(),
            handed: cfg.durable,
            written: cfg.durable,
            resync: cfg.resync_first,
            owned: !cfg.resync_first,
            linger: cfg.linger,
            last_commit: None,
            since_trim: 0,
            conn: None,
            commands: Commands::default(),
            durable,
            stats,
        }
    }

    fn run(mut self) {
        let mut backoff = Duration::from_millis(10);
        let mut last_check = Instant::now();
        loop {
            // Gather: block for the first item only when there is nothing to write.
            let idle = self.handed == self.written && !self.resync;
            if self.quit || (idle && self.stopping) {
                return;
            }
            if idle && !self.wait_for_work(Duration::from_millis(100)) {
                self.trim();
                // Idle: still make sure Redis holds what we last wrote
                // (it may have restarted empty); if not, resync now.
                if last_check.elapsed() >= Duration::from_secs(1) {
                    last_check = Instant::now();
                    self.check();
                }
                if !self.resync {
                    continue;
                }
            }
            // A few requests to write, and a commit a moment ago: let more
            // gather first. How many wait is the switch's position less what
            // is written (requests applied may not be handed over yet).
            if !self.stopping
                && !self.resync
                && !self.linger.is_zero()
                && lock(&self.switch).seq.saturating_sub(self.written) < LINGER_BELOW
            {
                if let Some(left) = self
                    .last_commit
                    .and_then(|t| self.linger.checked_sub(t.elapsed()))
                {
                    std::thread::sleep(left);
                }
            }
            self.take();
            match self.write() {
                Ok(()) => backoff = Duration::from_millis(10),
                Err(e) => {
                    self.lost(e);
                    if self.stopping {
                        // Stopping (the apply loop has waited for what it
                        // could): what is not durable stays in the ring for
                        // the next start. Trying for ever would keep the
                        // process from ending.
                        return;
                    }
                    // Redis is away: keep everything, and try again shortly.
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_millis(500));
                }
            }
        }
    }

    /// Verifies that Redis still holds exactly what this thread last committed;
    /// marks a resync when it does not, drops the connection when it is gone.
    fn check(&mut self) {
        let expect = Progress {
            seq: self.written,
            ring_id: self.ring_id.clone(),
        };
        let url = self.url.clone();
        let seen = match self.conn.as_mut() {
            Some(c) => progress_is(c, &url, expect.seq, &expect.ring_id),
            None => match self.conn() {
                Ok(_) => return, // connecting checked the progress already
                Err(e) => Err(e),
            },
        };
        match seen {
            Ok(true) => {}
            Ok(false) => self.resync = true,
            Err(e) => self.lost(e),
        }
    }

    /// Idle for a tenth of a second after writing many keys: hands the memory
    /// freed meanwhile back to the system. A burst of changes leaves large
    /// freed blocks behind (the commands of big commits, the sets of changed
    /// keys, the apply loop's buffers) that the allocator would otherwise keep
    /// as resident memory; 1,000,000 routes left syncd about 300 bytes an
    /// object above what its objects take.
    fn trim(&mut self) {
        if self.since_trim < 100_000 {
            return;
        }
        self.since_trim = 0;
        // The commit buffer too: a burst's last commit may have been large.
        self.commands = Commands::default();
        #[cfg(target_env = "gnu")]
        // SAFETY: malloc_trim only releases free memory of the allocator's
        // arenas; it takes the arenas' locks itself and touches no memory a
        // caller holds.
        unsafe {
            libc::malloc_trim(0);
        }
    }

    /// The connection failed: drop it (the next attempt reconnects) and count it.
    fn lost(&mut self, e: MirrorError) {
        self.conn = None;
        if let Ok(mut s) = self.stats.lock() {
            s.failures += 1;
            s.last_error = Some(e.to_string());
        }
    }

    /// Takes what was handed over: the last request, and a stop. (The stop
    /// is read first: whoever stops the mirror has handed over everything
    /// before, which the handed request read after it then includes.)
    fn take(&mut self) {
        if self.handoff.stop.load(Ordering::Acquire) {
            self.stopping = true;
        }
        self.handed = self.handed.max(self.handoff.handed.load(Ordering::Acquire));
    }

    /// Sleeps until a request is handed over or a stop asked for, up to
    /// `timeout`; whether either came.
    fn wait_for_work(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let ended = |w: &Worker, work: bool| {
            let woken = work && Instant::now() < deadline;
            if let Ok(mut s) = w.stats.lock() {
                s.woken += woken as u64;
                s.looks += !woken as u64;
            }
            work
        };
        loop {
            let before = (self.handed, self.stopping);
            self.take();
            if (self.handed, self.stopping) != before {
                return ended(self, true);
            }
            let now = Instant::now();
            if now >= deadline {
                return ended(self, false);
            }
            // Woken by a hand-over or a stop, or early for nothing (an
            // unpark left from while this thread was busy): looked at again.
            std::thread::park_timeout(deadline - now);
        }
    }

    /// Waits until request `seq` has been handed over; `false` when the
    /// apply loop stopped first.
    fn catch_up(&mut self, seq: u64) -> bool {
        loop {
            self.take();
            if self.handed >= seq {
                return true;
            }
            if self.stopping {
                return false;
            }
            std::thread::park_timeout(Duration::from_millis(100));
        }
    }

    fn conn(&mut self) -> Result<&mut redis::Connection, MirrorError> {
        if self.conn.is_none() {
            let mut c = connect(&self.url)?;
            // Is Redis still exactly as we left it? Anything else, a record
            // that is not ours in shape or type included, is rewritten.
            if !progress_is(&mut c, &self.url, self.written, &self.ring_id)? {
                self.resync = true;
            }
            self.conn = Some(c);
        }
        Ok(self.conn.as_mut().expect("just connected"))
    }

    fn write(&mut self) -> Result<(), MirrorError> {
        if self.handed == self.written && !self.resync {
            return Ok(());
        }
        // Taken whether Redis is there or not: the apply loop waits once too
        // many are pending (`wait_for_room`), and an outage must turn into
        // backpressure only once the ring is full.
        take_changes(&self.switch, &mut lock(&self.switch), &mut self.taken);
        let url = self.url.clone();
        self.conn()?;
        if self.resync {
            return self.resync_all(&url);
        }
        let mut p = std::mem::take(&mut self.commands);
        p.begin();
        // Keys written (not those made and removed in between).
        let mut keys = 0u64;
        // The keys changed, and what the switch holds for each after request
        // `at`, read under its lock (the apply loop waits meanwhile: a
        // commit reads only what changed since the last one).
        let at = {
            let mut g = lock(&self.switch);
            take_changes(&self.switch, &mut g, &mut self.taken);
            let objects = g.switch.objects();
            for (k, made) in self.taken.iter() {
                let o = objects.get(k);
                if made && o.is_none() {
                    // Made and removed since the last commit: Redis never
                    // held it.
                    continue;
                }
                if !made {
                    p.del(k);
                }
                if let Some(o) = o {
                    p.put(Some(k), o);
                }
                keys += 1;
            }
            g.seq
        };
        self.progress(&mut p, at);
        // Every request handed over was applied first (more may be handed
        // over while this commit catches up).
        debug_assert!(
            at >= self.handed,
            "request {} handed over before it was applied",
            self.handed
        );
        if !self.catch_up(at) {
            self.quit = true;
            self.commands = p;
            return Ok(());
        }
        // Only on the state this mirror last wrote: the record WATCHed, then
        // read; EXEC does nothing if it changes in between.
        let conn = self.conn.as_mut().expect("connected above");
        redis::cmd("WATCH")
            .arg(PROGRESS_KEY)
            .query::<()>(conn)
            .map_err(rerr(&url))?;
        // (EXEC does nothing when the record changed after WATCH.)
        let ours = progress_is(conn, &url, self.written, &self.ring_id)?
            && p.exec(conn).map_err(rerr(&url))?;
        self.commands = p;
        if !ours {
            // Someone else changed the record: what Redis holds is not what
            // this mirror wrote. Rewrite it all.
            tracing::warn!("redis at {url} changed under the mirror; rewriting the whole state");
            if let Ok(mut s) = self.stats.lock() {
                s.stale_commits += 1;
            }
            let _ = redis::cmd("UNWATCH").query::<()>(conn);
            self.resync = true;
            return self.resync_all(&url);
        }
        self.taken = Changed::default();
        self.committed(at, keys, false);
        Ok(())
    }

    /// Rewrites Redis from the shared switch in one MULTI/EXEC:
    /// every ASIC_STATE key and the progress record go, every object is
    /// written, and the progress record last. Redis runs a transaction without
    /// interleaving, and a connection lost before EXEC discards it: at every
    /// instant Redis holds the old state or the new one.
    fn resync_all(&mut self, url: &str) -> Result<(), MirrorError> {
        if self.owned {
            // Once this mirror has written, another ring's record is another
            // syncd's state: never overwrite it (two syncds would erase each
            // other in turn). Wait, loudly, with everything kept; `durable`
            // stands still, which is backpressure on orchagent.
            let conn = self.conn.as_mut().expect("connected");
            if let Ok(Some(p)) = read_progress(conn, url) {
                if p.ring_id != self.ring_id {
                    return Err(MirrorError::Bad {
                        url: url.to_owned(),
                        what: format!(
                            "{PROGRESS_KEY} belongs to ring {}, not this syncd's ring {}: another syncd writes here; not overwriting it",
                            p.ring_id, self.ring_id
                        ),
                    });
                }
            }
        }
        let mut p = std::mem::take(&mut self.commands);
        p.begin();
        p.cmd(&[
            b"EVAL",
            CLEAR_SCRIPT.as_bytes(),
            b"1",
            PROGRESS_KEY.as_bytes(),
        ]);
        // The whole state after request `at`, queued under the switch's lock
        // (the apply loop waits meanwhile: a rewrite is rare). Every change
        // up to `at` is in it.
        let (at, n) = {
            let mut g = lock(&self.switch);
            take_changes(&self.switch, &mut g, &mut self.taken);
            for o in g.switch.objects().iter() {
                p.put(None, o);
            }
            (g.seq, g.switch.len() as u64)
        };
        self.taken = Changed::default();
        if !self.catch_up(at) {
            self.quit = true;
            self.commands = p;
            return Ok(());
        }
        if let Some(sig) = &self.profile {
            p.cmd(&[
                b"HSET",
                crate::asic_db::PROFILE_KEY.as_bytes(),
                crate::asic_db::PROFILE_FIELD.as_bytes(),
                sig.as_bytes(),
            ]);
        }
        self.progress(&mut p, at);
        let conn = self.conn.as_mut().expect("connected");
        let done = p.exec(conn);
        self.commands = p;
        // Nothing is WATCHed here: EXEC runs.
        done.map_err(rerr(url))?;
        self.resync = false;
        self.owned = true;
        self.committed(at, n, true);
        Ok(())
    }

    /// Queues the progress record for the state after request `at`:
    /// {seq, ring_id}.
    fn progress(&self, p: &mut Commands, at: u64) {
        p.cmd(&[
            b"HSET",
            PROGRESS_KEY.as_bytes(),
            b"seq",
            itoa::Buffer::new().format(at).as_bytes(),
            b"ring_id",
            self.ring_id.as_bytes(),
        ]);
    }

    fn committed(&mut self, at: u64, keys: u64, resync: bool) {
        // A large commit's buffer goes back to the system at once (malloc
        // maps blocks this large on their own): the next commit of a burst
        // grows it again, and syncd does not hold hundreds of megabytes
        // between bursts, or at the end of one.
        if self.commands.buf.capacity() > KEEP_COMMANDS {
            self.commands = Commands::default();
        }
        self.last_commit = Some(Instant::now());
        self.written = at;
        self.durable.store(at, Ordering::Release);
        self.since_trim += keys;
        if let Ok(mut s) = self.stats.lock() {
            s.handed = self.handed;
            s.transactions += 1;
            s.keys_written += keys;
            s.resyncs += resync as u64;
            s.last_error = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    /// The commit's bytes are what redis-rs writes for the same
    /// transaction: an object without attributes, attributes whose values
    /// hold CRLF, non-ASCII text, numbers and object ids, a value past 127
    /// and past 65,535 bytes (two and three-byte lengths in the store), a
    /// removal, the progress record.
    #[test]
    fn a_commit_is_written_as_redis_rs_writes_it() {
        let long = "x".repeat(70_000);
        let objects: Vec<(&str, Vec<(&str, &str)>)> = vec![
            ("SAI_OBJECT_TYPE_VLAN:oid:0x26000000000001", vec![]),
            (
                r#"SAI_OBJECT_TYPE_ROUTE_ENTRY:{"dest":"10.0.0.0/24","vr":"oid:0x3000000000022"}"#,
                vec![
                    ("SAI_ROUTE_ENTRY_ATTR_NEXT_HOP_ID", "oid:0x40000000000a1"),
                    (
                        "SAI_ROUTE_ENTRY_ATTR_PACKET_ACTION",
                        "SAI_PACKET_ACTION_FORWARD",
                    ),
                ],
            ),
            (
                "SAI_OBJECT_TYPE_HOSTIF:oid:0xd000000000002",
                vec![
                    ("SAI_HOSTIF_ATTR_NAME", "Ethernet0\r\nnaïve ☃"),
                    ("SAI_HOSTIF_ATTR_OPER_STATUS", &long[..200]),
                    ("SAI_HOSTIF_ATTR_GENETLINK_MCGRP_NAME", &long),
                ],
            ),
        ];
        let store: Store = objects
            .iter()
            .map(|(k, a)| {
                let a: Vec<(String, String)> = a
                    .iter()
                    .map(|(n, v)| (n.to_string(), v.to_string()))
                    .collect();
                (*k, a)
            })
            .collect();
        let gone = "SAI_OBJECT_TYPE_NEXT_HOP:oid:0x40000000000a2";

        let mut ours = Commands::default();
        // A buffer used before: begin drops what it held.
        ours.cmd(&[b"PING"]);
        ours.begin();
        ours.del(gone);
        let mut theirs = redis::pipe();
        theirs.atomic();
        theirs.del(format!("{ASIC_STATE}{gone}")).ignore();
        for (i, (k, attrs)) in objects.iter().enumerate() {
            let o = store.get(k).expect("stored");
            // Both ways of naming the key: given, and read from the object.
            ours.put((i % 2 == 0).then_some(*k), o);
            let key = format!("{ASIC_STATE}{k}");
            if attrs.is_empty() {
                theirs.hset(&key, "NULL", "NULL").ignore();
            } else {
                // (HSET of many fields: redis-rs's hset_multiple writes HMSET.)
                theirs.cmd("HSET").arg(&key).arg(attrs).ignore();
            }
        }
        let worker_ring = "00112233445566778899aabbccddeeff";
        ours.cmd(&[
            b"HSET",
            PROGRESS_KEY.as_bytes(),
            b"seq",
            b"18446744073709551615",
            b"ring_id",
            worker_ring.as_bytes(),
        ]);
        theirs
            .cmd("HSET")
            .arg(PROGRESS_KEY)
            .arg(&[
                ("seq", u64::MAX.to_string()),
                ("ring_id", worker_ring.into()),
            ])
            .ignore();
        assert_eq!(ours.n, 5, "commands counted between MULTI and EXEC");
        ours.cmd(&[b"EXEC"]);
        let theirs = theirs.get_packed_pipeline();
        assert!(
            ours.buf == theirs,
            "ours:\n{}\ntheirs:\n{}",
            String::from_utf8_lossy(&ours.buf[..ours.buf.len().min(600)]),
            String::from_utf8_lossy(&theirs[..theirs.len().min(600)])
        );
    }
}
