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

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::asic_db::{
    connect, read_progress, rerr, MirrorError, Progress, ASIC_STATE, PROGRESS_KEY,
};
use crate::store::Object;
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

/// Queues the writing of one object that does not exist in Redis yet.
/// (`key` is the whole Redis key, `ASIC_STATE:` included.)
fn put(p: &mut redis::Pipeline, key: &str, o: Object<'_>) {
    if o.is_bare() {
        p.hset(key, "NULL", "NULL").ignore();
    } else {
        let attrs: Vec<_> = o.attrs().collect();
        p.hset_multiple(key, &attrs).ignore();
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
        for (k, made) in c {
            taken.entry(k).or_insert(made);
        }
    }
    s.taken.notify_all();
}

enum Item {
    /// Requests up to this one are applied and may be made durable.
    Handed(u64),
    Stop,
}

/// Counters of the mirror thread.
#[derive(Debug, Clone, Default)]
pub struct MirrorStats {
    /// MULTI/EXEC transactions committed.
    pub transactions: u64,
    /// Keys written (each changed key once per commit, however often it
    /// changed in between).
    pub keys_written: u64,
    /// Requests handed over.
    pub handed: u64,
    /// Full rewrites after Redis came back different.
    pub resyncs: u64,
    /// Commits refused because the progress record was not what this mirror
    /// last wrote (FLUSHDB, an outside write, a second syncd); each led to a
    /// resync.
    pub stale_commits: u64,
    /// Failed attempts (Redis away).
    pub failures: u64,
    /// The last error, if the last attempt failed.
    pub last_error: Option<String>,
}

/// The handle the apply loop holds.
pub struct Mirror {
    tx: Sender<Item>,
    durable: Arc<AtomicU64>,
    stats: Arc<Mutex<MirrorStats>>,
    handle: Option<JoinHandle<()>>,
}

/// Hands requests over to a mirror from another thread.
#[derive(Clone)]
pub struct MirrorSender {
    tx: Sender<Item>,
}

impl MirrorSender {
    /// Requests up to `seq` are applied (and recorded).
    pub fn handed(&self, seq: u64) {
        let _ = self.tx.send(Item::Handed(seq));
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
    /// Most requests handed over per commit (when Redis keeps up; a commit
    /// takes every change up to the last request applied).
    pub batch_max: usize,
    /// While fewer than [`LINGER_BELOW`] requests wait to be written, a
    /// commit waits until this long after the last one, so that requests
    /// arriving one by one (a synchronous client) do not each make a commit
    /// and a Redis round trip.
    pub linger: Duration,
}

/// Requests waiting to be written at which a commit no longer lingers.
pub const LINGER_BELOW: u64 = 1024;

impl Mirror {
    /// Starts the thread.
    pub fn start(cfg: MirrorConfig) -> Mirror {
        // What changes from now on is written incrementally; the state so far
        // is what Redis holds, or is rewritten first.
        lock(&cfg.switch).switch.track_changes();
        let (tx, rx) = mpsc::channel();
        // A mirror that must rewrite Redis first has made nothing durable
        // until that rewrite lands (Redis may hold another state entirely).
        let start = if cfg.resync_first { 0 } else { cfg.durable };
        let durable = Arc::new(AtomicU64::new(start));
        let stats = Arc::new(Mutex::new(MirrorStats::default()));
        let (d, s) = (Arc::clone(&durable), Arc::clone(&stats));
        let handle = std::thread::Builder::new()
            .name("redis-mirror".into())
            .spawn(move || Worker::new(cfg, rx, d, s).run())
            .expect("spawn the mirror thread");
        Mirror {
            tx,
            durable,
            stats,
            handle: Some(handle),
        }
    }

    /// Requests up to `seq` are applied (sequence numbers increase).
    pub fn handed(&mut self, seq: u64) {
        let _ = self.tx.send(Item::Handed(seq));
    }

    /// A handle another thread can hand requests over through (the
    /// recorder, which does so only once it has written them).
    pub fn sender(&self) -> MirrorSender {
        MirrorSender {
            tx: self.tx.clone(),
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
        let _ = self.tx.send(Item::Stop);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

struct Worker {
    url: String,
    ring_id: String,
    switch: SharedSwitch,
    rx: Receiver<Item>,
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
    batch_max: usize,
    linger: Duration,
    /// When the last commit landed (none yet: the first does not linger).
    last_commit: Option<Instant>,
    /// Keys written since memory freed was last handed back to the system.
    since_trim: u64,
    conn: Option<redis::Connection>,
    durable: Arc<AtomicU64>,
    stats: Arc<Mutex<MirrorStats>>,
}

impl Worker {
    fn new(
        cfg: MirrorConfig,
        rx: Receiver<Item>,
        durable: Arc<AtomicU64>,
        stats: Arc<Mutex<MirrorStats>>,
    ) -> Worker {
        Worker {
            url: cfg.url,
            ring_id: cfg.ring_id,
            switch: cfg.switch,
            rx,
            stopping: false,
            quit: false,
            profile: cfg.profile,
            taken: Changed::default(),
            handed: cfg.durable,
            written: cfg.durable,
            resync: cfg.resync_first,
            owned: !cfg.resync_first,
            batch_max: cfg.batch_max.max(1),
            linger: cfg.linger,
            last_commit: None,
            since_trim: 0,
            conn: None,
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
            if idle {
                match self.rx.recv_timeout(Duration::from_millis(100)) {
                    Ok(item) => self.take(item),
                    Err(RecvTimeoutError::Timeout) => {
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
                    Err(RecvTimeoutError::Disconnected) => self.stopping = true,
                }
            }
            // A few requests to write, and a commit a moment ago: let more
            // gather first. How many wait is the switch's position less what
            // is written (those handed over may still sit in the channel, or
            // be on their way).
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
            let mut n = 0;
            while n < self.batch_max {
                match self.rx.try_recv() {
                    Ok(item) => {
                        self.take(item);
                        n += 1;
                    }
                    Err(mpsc::TryRecvError::Empty) => break,
                    Err(mpsc::TryRecvError::Disconnected) => {
                        self.stopping = true;
                        break;
                    }
                }
            }
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

    /// Takes one item: a request handed over, or a stop.
    fn take(&mut self, item: Item) {
        match item {
            Item::Handed(seq) => {
                if let Ok(mut s) = self.stats.lock() {
                    s.handed += 1;
                }
                self.handed = seq;
            }
            Item::Stop => self.stopping = true,
        }
    }

    /// Takes items until request `seq` has been handed over; `false` when
    /// the apply loop stopped (or went) first.
    fn catch_up(&mut self, seq: u64) -> bool {
        while self.handed < seq {
            if self.stopping {
                return false;
            }
            match self.rx.recv() {
                Ok(item) => self.take(item),
                Err(_) => self.stopping = true,
            }
        }
        true
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
        let mut p = redis::pipe();
        p.atomic();
        // Keys written (not those made and removed in between).
        let mut keys = 0u64;
        // The keys changed, and what the switch holds for each after request
        // `at`, read under its lock (the apply loop waits meanwhile: a
        // commit reads only what changed since the last one).
        let at = {
            let mut g = lock(&self.switch);
            take_changes(&self.switch, &mut g, &mut self.taken);
            let objects = g.switch.objects();
            for (k, &made) in &self.taken {
                let o = objects.get(k);
                if made && o.is_none() {
                    // Made and removed since the last commit: Redis never
                    // held it.
                    continue;
                }
                let key = format!("{ASIC_STATE}{k}");
                if !made {
                    p.del(&key).ignore();
                }
                if let Some(o) = o {
                    put(&mut p, &key, o);
                }
                keys += 1;
            }
            g.seq
        };
        p.hset_multiple(PROGRESS_KEY, &self.progress_fields(at))
            .ignore();
        // Every request handed over was applied first (more may be handed
        // over while this commit catches up).
        debug_assert!(
            at >= self.handed,
            "request {} handed over before it was applied",
            self.handed
        );
        if !self.catch_up(at) {
            self.quit = true;
            return Ok(());
        }
        // Only on the state this mirror last wrote: the record WATCHed, then
        // read; EXEC does nothing if it changes in between.
        let conn = self.conn.as_mut().expect("connected above");
        redis::cmd("WATCH")
            .arg(PROGRESS_KEY)
            .query::<()>(conn)
            .map_err(rerr(&url))?;
        let ours = progress_is(conn, &url, self.written, &self.ring_id)?
            && match p.query::<redis::Value>(conn) {
                Ok(redis::Value::Nil) => false, // changed after WATCH
                Ok(_) => true,
                Err(e) => return Err(rerr(&url)(e)),
            };
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
        self.taken.clear();
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
        let mut p = redis::pipe();
        p.atomic();
        p.cmd("EVAL")
            .arg(CLEAR_SCRIPT)
            .arg(1)
            .arg(PROGRESS_KEY)
            .ignore();
        // The whole state after request `at`, queued under the switch's lock
        // (the apply loop waits meanwhile: a rewrite is rare). Every change
        // up to `at` is in it.
        let (at, n) = {
            let mut g = lock(&self.switch);
            take_changes(&self.switch, &mut g, &mut self.taken);
            for o in g.switch.objects().iter() {
                put(&mut p, &format!("{ASIC_STATE}{}", o.key()), o);
            }
            (g.seq, g.switch.len() as u64)
        };
        self.taken.clear();
        if !self.catch_up(at) {
            self.quit = true;
            return Ok(());
        }
        if let Some(sig) = &self.profile {
            p.hset(
                crate::asic_db::PROFILE_KEY,
                crate::asic_db::PROFILE_FIELD,
                sig,
            )
            .ignore();
        }
        p.hset_multiple(PROGRESS_KEY, &self.progress_fields(at))
            .ignore();
        let conn = self.conn.as_mut().expect("connected");
        p.query::<()>(conn).map_err(rerr(url))?;
        self.resync = false;
        self.owned = true;
        self.committed(at, n, true);
        Ok(())
    }

    /// The progress record for the state after request `at`: {seq, ring_id}.
    fn progress_fields(&self, at: u64) -> [(&'static str, String); 2] {
        [("seq", at.to_string()), ("ring_id", self.ring_id.clone())]
    }

    fn committed(&mut self, at: u64, keys: u64, resync: bool) {
        self.last_commit = Some(Instant::now());
        self.written = at;
        self.durable.store(at, Ordering::Release);
        self.since_trim += keys;
        if let Ok(mut s) = self.stats.lock() {
            s.transactions += 1;
            s.keys_written += keys;
            s.resyncs += resync as u64;
            s.last_error = None;
        }
    }
}
