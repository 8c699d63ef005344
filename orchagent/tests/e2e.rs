//! End to end, with real processes: orchagent and syncd over a channel, syncd
//! mirroring into a private redis-server. Replays of the project's recordings
//! (`testdata/recordings`, one per kind of line),
//! and chaos: syncd killed with SIGKILL at random moments and restarted warm,
//! Redis restarted empty, orchagent killed and resumed. Each ends with every
//! request answered with its expected status (a request applied twice would
//! answer ITEM_ALREADY_EXISTS or ITEM_NOT_FOUND), and with the switch and Redis
//! both equal to the state the request stream implies.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use redis::Commands;
use sairing_orchagent::fold::{self, fold_recording_on, fold_with, Change, State};
use sairing_orchagent::ids::OidMap;
use sairing_orchagent::workload::Routes;
use sairing_testkit::PrivateRedis;
use sairing_testkit::SyncdProcess;

const ORCH: &str = env!("CARGO_BIN_EXE_orchagent");
const T: Duration = Duration::from_secs(180);

/// The syncd binary, rebuilt first if its sources changed (never a stale one).
fn syncd_bin() -> PathBuf {
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        sairing_testkit::workspace_binary("syncd", "sairing-syncd", Some(env!("CARGO")))
            .expect("the syncd binary")
    })
    .clone()
}

fn redis() -> PrivateRedis {
    PrivateRedis::start().unwrap_or_else(|e| {
        panic!("this test needs its own redis-server and could not start one: {e}")
    })
}

fn channel(tmp: &tempfile::TempDir, capacity: u64) -> PathBuf {
    let dir = tmp.path().join("asic");
    sairing_transport::channel::create(
        &dir,
        &sairing_transport::channel::ChannelOptions {
            capacity,
            ..Default::default()
        },
    )
    .unwrap();
    dir
}

type Syncd = SyncdProcess;

fn syncd(dir: &Path, url: &str, warm: bool, dump: Option<&Path>) -> Syncd {
    syncd_with(dir, url, warm, dump, &[])
}

fn syncd_with(dir: &Path, url: &str, warm: bool, dump: Option<&Path>, extra: &[&str]) -> Syncd {
    let mut args = extra.to_vec();
    if warm {
        args.push("--warm");
    }
    if let Some(d) = dump {
        args.extend(["--dump", d.to_str().expect("a UTF-8 temporary path")]);
    }
    SyncdProcess::start(&syncd_bin(), dir, url, &args).unwrap()
}

fn sigterm_and_wait(s: Syncd) {
    s.stop().unwrap();
}

/// Waits until Redis's checkpoint reaches request `seq`, then stops syncd. For
/// a syncd started after orchagent was answered (by an incarnation that was
/// then killed): orchagent may finish before this one has re-applied the
/// backlog, and a clean stop leaves what it has not read in the ring.
fn stop_when_durable(s: Syncd, url: &str, seq: u64) {
    let deadline = Instant::now() + T;
    while progress(url) < seq {
        assert!(
            Instant::now() < deadline,
            "checkpoint stuck at {} of {seq}",
            progress(url)
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    sigterm_and_wait(s);
}

trait Kill9 {
    fn kill9(self);
}

impl Kill9 for Syncd {
    fn kill9(self) {
        SyncdProcess::kill9(self).unwrap();
    }
}

impl Kill9 for Child {
    fn kill9(mut self) {
        self.kill().unwrap();
        self.wait().unwrap();
    }
}

fn kill9(c: impl Kill9) {
    c.kill9();
}

/// Redis's ASIC_STATE, raw (NULL/NULL kept).
fn redis_state(url: &str) -> State {
    let mut con = redis::Client::open(url).unwrap().get_connection().unwrap();
    fold::redis_state(&mut con).unwrap()
}

fn progress(url: &str) -> u64 {
    let Ok(mut con) = redis::Client::open(url).and_then(|c| c.get_connection()) else {
        return 0;
    };
    let v: Option<String> = con.hget("SAIRING_PROGRESS", "seq").unwrap_or(None);
    v.and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// The last request committed to a request ring, followed as it grows.
struct Committed {
    ring: sairing_ring::Observer,
    pos: u64,
    last: u64,
}

impl Committed {
    fn new(path: &Path) -> Committed {
        let ring = sairing_ring::Observer::open(path).unwrap();
        let pos = ring.cursors().head;
        Committed { ring, pos, last: 0 }
    }

    /// The sequence number of the last record committed so far.
    fn last(&mut self) -> u64 {
        loop {
            match self.ring.read_at(self.pos).unwrap() {
                sairing_ring::Look::Record(r) => {
                    self.last = r.seq;
                    self.pos = r.next;
                }
                sairing_ring::Look::Lapped { head } => self.pos = head,
                sairing_ring::Look::End => return self.last,
            }
        }
    }
}

fn expected_routes(w: &Routes) -> State {
    expected_after(w, w.len())
}

/// The state after the workload's first `n` requests.
fn expected_after(w: &Routes, n: u64) -> State {
    let ops = (0..n).map(|i| {
        let o = w.get(i).unwrap();
        let op = match o.op {
            sairing_transport::Op::Create => Change::Create,
            sairing_transport::Op::Set => Change::Set,
            sairing_transport::Op::Remove => Change::Remove,
            other => panic!("the route workload has no {other:?}"),
        };
        (op, o.key, o.attrs)
    });
    fold_with(ops, &defaults())
}

/// The objects syncd's switch discovers when it is created (the default
/// profile), which Redis holds besides what the requests made.
fn defaults() -> Vec<String> {
    sairing_syncd::profile::Profile::default()
        .defaults()
        .objects
        .into_iter()
        .map(|(k, _)| k)
        .collect()
}

/// A recording's fold on syncd's switch (the project's recordings name the
/// default objects by the ids that switch gives them).
fn fold_recording(text: &str) -> State {
    fold_recording_on(text, &defaults(), &OidMap::default())
}

fn orchagent(args: &[&str], dir: &Path) -> Child {
    Command::new(ORCH)
        .args(args)
        .args(["--quiet", "--json", "--channel"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn orchagent")
}

fn finish_orchagent(c: Child) -> serde_json::Value {
    let out = c.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "orchagent failed ({}): {text}",
        out.status
    );
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn assert_states_equal(what: &str, got: &State, want: &State) {
    if let Some(d) = fold::diff(got, want) {
        panic!("{what}: {d}");
    }
}

fn switch_dump(path: &Path) -> State {
    let v: Vec<(String, Vec<(String, String)>)> =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v.into_iter()
        .map(|(k, a)| {
            let mut m: BTreeMap<String, String> = a.into_iter().collect();
            if m.is_empty() {
                m.insert("NULL".into(), "NULL".into());
            }
            (k, m)
        })
        .collect()
}

/// One of the project's recordings (`testdata/recordings`, made by
/// `orchagent generate-recordings`).
fn recording(name: &str) -> (PathBuf, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/recordings")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (path, text)
}

/// Replays a recording through orchagent → ring → syncd → a private Redis
/// and checks that every request got the status the recording says, and that
/// Redis equals the recording's fold. Returns orchagent's JSON summary.
fn replay_and_check(name: &str, extra: &[&str]) -> serde_json::Value {
    replay_and_check_state(name, extra).0
}

/// [`replay_and_check`], also returning Redis's ASIC_STATE.
fn replay_and_check_state(name: &str, extra: &[&str]) -> (serde_json::Value, State) {
    let (path, text) = recording(name);
    let r = redis();
    let tmp = tempfile::tempdir().unwrap();
    let dir = channel(&tmp, 16 << 20);
    let sd = syncd(&dir, &r.url(1), false, None);
    let mut args = vec!["replay", path.to_str().unwrap(), "--mode", "pipelined"];
    args.extend(extra);
    let s = finish_orchagent(orchagent(&args, &dir));
    assert_eq!(s["failures"], 0, "{name}: {s}");
    assert_eq!(s["answered"], s["requests"], "{name}: {s}");
    sigterm_and_wait(sd);
    let state = redis_state(&r.url(1));
    assert_states_equal(name, &state, &fold_recording(&text));
    (s, state)
}

/// A bring-up on the default profile leaves in Redis the objects SONiC's own
/// syncd shows for a BCM56850 with 32 ports (the types the recording does not
/// create or remove itself).
#[test]
fn a_bringup_shows_the_default_objects_sonic_shows() {
    let (_, state) = replay_and_check_state("bringup.rec", &[]);
    let count = fold::per_type(&state);
    // VLAN aside: the bring-up makes VLANs of its own.
    for &(t, n) in sairing_syncd::profile::SONIC_BCM56850_COUNTS {
        if t != "VLAN" {
            assert_eq!(count.get(t).copied().unwrap_or(0), n, "{t}: {count:?}");
        }
    }
    // Shown as SONiC's syncd writes what it discovers (the recording sets
    // no queue).
    let null = BTreeMap::from([("NULL".to_owned(), "NULL".to_owned())]);
    for (k, v) in state
        .iter()
        .filter(|(k, _)| k.starts_with("SAI_OBJECT_TYPE_QUEUE:"))
    {
        assert_eq!(v, &null, "{k}");
    }
}

/// How many lines of the recording have this op letter.
fn lines_with(text: &str, letter: char) -> u64 {
    text.lines()
        .filter(|l| l.split('|').nth(1) == Some(letter.encode_utf8(&mut [0; 4])))
        .count() as u64
}

/// One test per kind of line: the recording holds that kind, the replay
/// accepts it, and Redis ends equal to the fold.
macro_rules! replays {
    ($($test:ident: $file:literal has $($letter:literal)+;)*) => {$(
        #[test]
        fn $test() {
            let (_, text) = recording($file);
            $(assert!(lines_with(&text, $letter) > 0, "{} has no '{}' line", $file, $letter);)+
            let s = replay_and_check($file, &[]);
            // What the replay passed over is exactly the file's lines of those letters.
            for c in sairing_rec::PASSED_OVER {
                assert_eq!(
                    s["passed_over"][c.to_string()].as_u64().unwrap_or(0),
                    lines_with(&text, *c),
                    "{}: '{c}' lines passed over: {s}", $file
                );
            }
        }
    )*};
}

replays! {
    replays_creates: "create.rec" has 'c';
    replays_sets: "set.rec" has 's';
    replays_removes: "remove.rec" has 'r';
    replays_gets_and_their_answers: "get.rec" has 'g' 'G';
    replays_bulk_creates: "bulk_create.rec" has 'C';
    replays_bulk_sets: "bulk_set.rec" has 'S';
    replays_bulk_removes: "bulk_remove.rec" has 'R';
    replays_bulk_gets_and_their_answers: "bulk_get.rec" has 'B' 'G';
    replays_notify_syncd_and_its_answers: "notify.rec" has 'a' 'A';
    replays_flushes_and_their_answers: "flush.rec" has 'f' 'F';
    replays_past_notifications: "notification.rec" has 'n';
    replays_failures_with_their_recorded_statuses: "failure.rec" has 'E';
    replays_past_queries: "query.rec" has 'q' 'Q';
    replays_past_counter_polling: "counter_polling.rec" has 'p';
    replays_past_comments: "comment.rec" has '#';
    replays_past_timeouts: "timeout.rec" has 'T';
    replays_entry_keys_in_json: "entry_keys.rec" has 'c' 's' 'r';
    replays_a_whole_bringup: "bringup.rec" has 'c' 's' 'r' 'g' 'G' 'C' 'S' 'R' 'B' 'a' 'A' 'f' 'F' 'n' 'E' 'q' 'Q' 'p' '#' '@' 'T';
}

#[test]
fn replays_sleeps_or_passes_over_them() {
    let (_, text) = recording("sleep.rec");
    let want_ms: u64 = text
        .lines()
        .filter_map(|l| l.split_once("|@|").map(|x| x.1.parse::<u64>().unwrap()))
        .sum();
    let n = lines_with(&text, '@');
    assert!(
        n >= 2 && want_ms > 0,
        "sleep.rec has {n} sleeps of {want_ms} ms"
    );
    let s = replay_and_check("sleep.rec", &[]);
    assert_eq!(
        (s["sleeps"].as_u64(), s["slept_ms"].as_u64()),
        (Some(n), Some(want_ms)),
        "{s}"
    );
    assert!(
        s["seconds"].as_f64().unwrap() * 1000.0 >= want_ms as f64,
        "{s}"
    );
    let s = replay_and_check("sleep.rec", &["--no-sleep"]);
    assert_eq!(
        (s["sleeps"].as_u64(), s["sleeps_skipped"].as_u64()),
        (Some(0), Some(n)),
        "{s}"
    );
}

#[test]
fn syncd_killed_twenty_times_during_a_route_workload() {
    let r = redis();
    let url = r.url(1);
    let tmp = tempfile::tempdir().unwrap();
    let dir = channel(&tmp, 16 << 20);
    let w = Routes::new(40_000, 3);
    let total = w.len();
    let mut sd = syncd(&dir, &url, false, None);
    let orch = orchagent(
        &[
            "routes",
            "--count",
            "40000",
            "--seed",
            "3",
            "--mode",
            "pipelined",
            "--window",
            "256",
        ],
        &dir,
    );
    let mut rng = 0x5eed_u64;
    let mut kills = 0;
    let deadline = Instant::now() + T;
    while kills < 20 {
        // A random amount of further progress, as Redis's checkpoint shows it.
        rng = rng
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let at = progress(&url);
        let target = (at + 50 + (rng >> 33) % 400).min(total - 1);
        while progress(&url) < target {
            assert!(
                Instant::now() < deadline,
                "no progress: checkpoint at {}",
                progress(&url)
            );
            assert!(sd.try_wait().unwrap().is_none(), "syncd exited on its own");
            std::thread::sleep(Duration::from_millis(1));
        }
        if progress(&url) >= total - 1 {
            break;
        }
        kill9(sd);
        kills += 1;
        sd = syncd(&dir, &url, true, None);
    }
    assert!(kills >= 20, "the workload ended after only {kills} kills");
    let s = finish_orchagent(orch);
    assert_eq!(
        (
            s["requests"].as_u64(),
            s["answered"].as_u64(),
            s["failures"].as_u64()
        ),
        (Some(total), Some(total), Some(0)),
        "{s}"
    );
    // Requests answered again by a restarted syncd were answered the same way:
    // none was applied twice (a second create would say ITEM_ALREADY_EXISTS).
    assert_eq!(s["duplicates_with_other_status"], 0, "{s}");
    let dump = tmp.path().join("switch.json");
    kill9(sd);
    let sd = syncd(&dir, &url, true, Some(&dump));
    stop_when_durable(sd, &url, total);
    let want = expected_routes(&w);
    assert_states_equal("redis after 20 kills", &redis_state(&url), &want);
    assert_states_equal(
        "the virtual switch after 20 kills",
        &switch_dump(&dump),
        &want,
    );
}

#[test]
fn redis_restarted_empty_mid_run_loses_nothing() {
    let mut r = redis();
    let url = r.url(1);
    let tmp = tempfile::tempdir().unwrap();
    let dir = channel(&tmp, 16 << 20);
    let w = Routes::new(20_000, 4);
    let total = w.len();
    let sd = syncd(&dir, &url, false, None);
    // Sync mode paces orchagent to syncd, so the restarts land mid-run.
    let mut orch = orchagent(
        &[
            "routes", "--count", "20000", "--seed", "4", "--mode", "sync",
        ],
        &dir,
    );
    for round in 1..=3u64 {
        while progress(&url) < round * total / 5 {
            std::thread::sleep(Duration::from_millis(1));
        }
        if round == 1 {
            assert!(
                orch.try_wait().unwrap().is_none(),
                "orchagent finished before Redis was restarted"
            );
        }
        // Redis dies and comes back empty (persistence is off).
        r.restart().unwrap();
        // The mirror notices, rewrites everything, and goes on.
        let deadline = Instant::now() + T;
        while progress(&url) == 0 {
            assert!(Instant::now() < deadline, "the mirror never resynced");
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    let s = finish_orchagent(orch);
    assert_eq!(
        (s["answered"].as_u64(), s["failures"].as_u64()),
        (Some(total), Some(0)),
        "{s}"
    );
    // Requests answered again by a restarted syncd were answered the same way:
    // none was applied twice (a second create would say ITEM_ALREADY_EXISTS).
    assert_eq!(s["duplicates_with_other_status"], 0, "{s}");
    let dump = tmp.path().join("switch.json");
    sigterm_and_wait(sd);
    // A warm start from the resynced Redis sees the same state.
    let sd = syncd(&dir, &url, true, Some(&dump));
    sigterm_and_wait(sd);
    let want = expected_routes(&w);
    assert_states_equal("redis after 3 restarts", &redis_state(&url), &want);
    assert_states_equal(
        "the virtual switch after 3 redis restarts",
        &switch_dump(&dump),
        &want,
    );
}

/// FLUSHDB while traffic is steady, then SIGKILL of syncd: whatever checkpoint
/// Redis holds must describe exactly the objects it holds. (Found: the mirror
/// checked Redis only after 100 ms idle and committed unconditionally, so after
/// a flush it went on adding new keys under a checkpoint that claimed them all;
/// a warm start then skipped what the flush had erased.)
#[test]
fn flushdb_mid_run_is_noticed_at_the_next_commit() {
    let r = redis();
    let url = r.url(1);
    let tmp = tempfile::tempdir().unwrap();
    let dir = channel(&tmp, 16 << 20);
    let w = Routes::new(60_000, 8);
    let total = w.len();
    let sd = syncd(&dir, &url, false, None);
    let orch = orchagent(
        &[
            "routes",
            "--count",
            "60000",
            "--seed",
            "8",
            "--mode",
            "pipelined",
        ],
        &dir,
    );
    let mut con = redis::Client::open(url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let deadline = Instant::now() + T;
    while progress(&url) < total / 4 {
        assert!(Instant::now() < deadline, "no progress");
        std::thread::sleep(Duration::from_millis(1));
    }
    let _: () = redis::cmd("FLUSHDB").query(&mut con).unwrap();
    let flushed_at = Instant::now();
    // Let the mirror commit a few more batches after the flush.
    while progress(&url) < total / 2 {
        assert!(Instant::now() < deadline, "no progress after the flush");
        std::thread::sleep(Duration::from_millis(1));
    }
    kill9(sd);
    let at = progress(&url);
    assert!(
        at > 0,
        "no checkpoint {:?} after the flush",
        flushed_at.elapsed()
    );
    assert_states_equal(
        &format!("redis at checkpoint {at} after FLUSHDB and a kill"),
        &redis_state(&url),
        &expected_after(&w, at),
    );
    // And a warm start from it finishes the workload with nothing lost.
    let sd = syncd(&dir, &url, true, None);
    let s = finish_orchagent(orch);
    assert_eq!(
        (s["answered"].as_u64(), s["failures"].as_u64()),
        (Some(total), Some(0)),
        "{s}"
    );
    stop_when_durable(sd, &url, total);
    assert_states_equal("redis at the end", &redis_state(&url), &expected_routes(&w));
}

#[test]
fn orchagent_killed_and_resumed() {
    let r = redis();
    let url = r.url(1);
    let tmp = tempfile::tempdir().unwrap();
    let dir = channel(&tmp, 16 << 20);
    let w = Routes::new(10_000, 5);
    let total = w.len();
    let sd = syncd(&dir, &url, false, None);
    // Sync mode paces orchagent to syncd, so each incarnation dies with work left.
    let args = [
        "routes", "--count", "10000", "--seed", "5", "--mode", "sync", "--resume",
    ];
    // Each is killed once it has committed a quarter more of the requests
    // (read off the request ring: Redis's checkpoint trails what orchagent
    // sent by as much as syncd's mirror lags, and a fast orchagent finished
    // before it reached three quarters).
    let ring = sairing_transport::channel::Paths::new(&dir).request;
    let mut sent = Committed::new(&ring);
    for round in 1..=3u64 {
        let orch = orchagent(&args, &dir);
        while sent.last() < round * total / 4 {
            std::thread::sleep(Duration::from_millis(1));
        }
        kill9(orch);
    }
    // The last incarnation resumes after the last request committed to the
    // ring and finishes; what the dead ones sent is applied once.
    let s = finish_orchagent(orchagent(&args, &dir));
    assert_eq!(s["failures"], 0, "{s}");
    let skipped = s["skipped"].as_u64().unwrap();
    assert!(skipped >= 3 * total / 4 && skipped < total, "{s}");
    assert_eq!(s["answered"].as_u64().unwrap() + skipped, total, "{s}");
    let dump = tmp.path().join("switch.json");
    sigterm_and_wait(sd);
    let sd = syncd(&dir, &url, true, Some(&dump));
    sigterm_and_wait(sd);
    let want = expected_routes(&w);
    assert_states_equal("redis after orchagent restarts", &redis_state(&url), &want);
    assert_states_equal(
        "the virtual switch after orchagent restarts",
        &switch_dump(&dump),
        &want,
    );
}

/// The recording's request lines folded, and its markers: each request is
/// followed by `#|sairing seq N ring R`, N = 1, 2, 3, ... with no gap and no
/// repeat.
fn read_recording(path: &Path) -> (State, Vec<u64>) {
    let text = std::fs::read_to_string(path).unwrap();
    let seqs = text
        .lines()
        .filter_map(|l| {
            l.split_once("|#|sairing seq ").map(|(_, rest)| {
                let (n, _ring) = rest.split_once(" ring ").expect("a marker names its ring");
                n.parse::<u64>().unwrap()
            })
        })
        .collect();
    (fold_recording(&text), seqs)
}

#[test]
fn recording_of_a_replay_folds_like_the_original() {
    let (path, original) = recording("bringup.rec");
    let path = path.to_str().unwrap();
    let r = redis();
    let tmp = tempfile::tempdir().unwrap();
    let dir = channel(&tmp, 64 << 20);
    let recording = tmp.path().join("sairedis.rec");
    let sd = syncd_with(
        &dir,
        &r.url(1),
        false,
        None,
        &["--record", recording.to_str().unwrap()],
    );
    let s = finish_orchagent(orchagent(&["replay", path, "--mode", "pipelined"], &dir));
    assert_eq!(s["failures"], 0, "{s}");
    sigterm_and_wait(sd);
    let (state, seqs) = read_recording(&recording);
    assert_states_equal("the recording", &state, &fold_recording(&original));
    let n = s["requests"].as_u64().unwrap();
    assert_eq!(seqs, (1..=n).collect::<Vec<_>>());
    // Its answers are recorded as sairedis records them: G for each get and
    // bulk get, A for each notify, F for each flush, E for each failure.
    let text = std::fs::read_to_string(&recording).unwrap();
    for (answer, requests) in [('G', "gB"), ('A', "a"), ('F', "f"), ('E', "E")] {
        let want: u64 = requests.chars().map(|c| lines_with(&original, c)).sum();
        assert!(want > 0, "bringup.rec has no {requests} line");
        assert_eq!(lines_with(&text, answer), want, "{answer} lines");
    }
}

#[test]
fn recording_continues_across_syncd_kills_with_nothing_missing_or_doubled() {
    let r = redis();
    let url = r.url(1);
    let tmp = tempfile::tempdir().unwrap();
    let dir = channel(&tmp, 16 << 20);
    let recording = tmp.path().join("sairedis.rec");
    let rec_arg = [
        "--record",
        recording.to_str().unwrap(),
        "--record-max-bytes",
        "400000",
    ];
    let w = Routes::new(10_000, 6);
    let total = w.len();
    let mut sd = syncd_with(&dir, &url, false, None, &rec_arg);
    let orch = orchagent(
        &[
            "routes",
            "--count",
            "10000",
            "--seed",
            "6",
            "--mode",
            "pipelined",
            "--window",
            "256",
        ],
        &dir,
    );
    for k in 1..=5u64 {
        while progress(&url) < k * total / 7 {
            std::thread::sleep(Duration::from_millis(1));
        }
        kill9(sd);
        sd = syncd_with(&dir, &url, true, None, &rec_arg);
    }
    let s = finish_orchagent(orch);
    assert_eq!(
        (s["answered"].as_u64(), s["failures"].as_u64()),
        (Some(total), Some(0)),
        "{s}"
    );
    stop_when_durable(sd, &url, total);
    // Rotated files (gzip) and the current one, oldest first, make one recording.
    let mut rotated: Vec<PathBuf> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".gz"))
        .collect();
    assert!(!rotated.is_empty(), "the recording was never rotated");
    rotated.sort_by_key(|p| {
        std::cmp::Reverse(
            p.to_string_lossy()
                .rsplit('.')
                .nth(1)
                .unwrap()
                .parse::<u32>()
                .unwrap(),
        )
    });
    let mut files: Vec<String> = rotated
        .iter()
        .map(|p| {
            let mut t = String::new();
            let mut d = flate2::read::GzDecoder::new(std::fs::File::open(p).unwrap());
            std::io::Read::read_to_string(&mut d, &mut t).unwrap();
            t
        })
        .collect();
    files.push(std::fs::read_to_string(&recording).unwrap());
    let mut text = String::new();
    let mut seqs: Vec<u64> = Vec::new();
    for f in &files {
        let joined = tmp.path().join("part.rec");
        std::fs::write(&joined, f).unwrap();
        let (_, mut s) = read_recording(&joined);
        // A rotated-in file begins with the marker that ended the one before:
        // that one repeat, and no other, is allowed.
        if !seqs.is_empty() && s.first() == seqs.last() {
            s.remove(0);
        }
        seqs.extend(s);
        text.push_str(f);
    }
    let joined = tmp.path().join("joined.rec");
    std::fs::write(&joined, &text).unwrap();
    let (state, _) = read_recording(&joined);
    assert_eq!(
        seqs,
        (1..=total).collect::<Vec<_>>(),
        "recorded requests are missing or doubled"
    );
    assert_states_equal("the recording after 5 kills", &state, &expected_routes(&w));
}

/// A recording made on a switch that numbered its default objects otherwise
/// (its ports and queues have other ids than this switch gives them): the
/// replay learns from the recorded answers of the gets which of this switch's
/// objects they are, and the requests that name them reach them.
#[test]
fn a_recording_of_another_switchs_ids_reaches_this_switchs_objects() {
    use sairing_orchagent::{drive::Driver, replay};
    let ts = "2026-11-26.10:00:00.000000";
    let sw = "oid:0x21000000000000";
    let ports: Vec<String> = (0..32)
        .map(|i| format!("oid:0x1000000000{:03x}", 0x100 + i))
        .collect();
    let queues: Vec<String> = (0..20)
        .map(|i| format!("oid:0x15000000000{:03x}", 0x900 + i))
        .collect();
    let zeros = |n: usize| vec!["oid:0x0"; n].join(",");
    let text = [
        format!("{ts}|c|SAI_OBJECT_TYPE_SWITCH:{sw}|SAI_SWITCH_ATTR_INIT_SWITCH=true"),
        format!("{ts}|g|SAI_OBJECT_TYPE_SWITCH:{sw}|SAI_SWITCH_ATTR_PORT_LIST=32:{}", zeros(32)),
        format!("{ts}|G|SAI_STATUS_SUCCESS|SAI_SWITCH_ATTR_PORT_LIST=32:{}", ports.join(",")),
        format!("{ts}|g|SAI_OBJECT_TYPE_PORT:{}|SAI_PORT_ATTR_QOS_QUEUE_LIST=20:{}", ports[0], zeros(20)),
        format!("{ts}|G|SAI_STATUS_SUCCESS|SAI_PORT_ATTR_QOS_QUEUE_LIST=20:{}", queues.join(",")),
        format!("{ts}|s|SAI_OBJECT_TYPE_PORT:{}|SAI_PORT_ATTR_MTU=9100", ports[0]),
        format!("{ts}|s|SAI_OBJECT_TYPE_QUEUE:{}|SAI_QUEUE_ATTR_SCHEDULER_PROFILE_ID=oid:0x16000000000001", queues[5]),
        format!("{ts}|c|SAI_OBJECT_TYPE_HOSTIF:oid:0xd000000000001|SAI_HOSTIF_ATTR_OBJ_ID={}", ports[1]),
    ]
    .join("\n")
        + "\n";
    let recording = sairing_rec::parse(&text).unwrap();
    let r = redis();
    let tmp = tempfile::tempdir().unwrap();
    let dir = channel(&tmp, 1 << 20);
    let sd = syncd(&dir, &r.url(1), false, None);
    let client = sairing_transport::Client::open(&dir, &Default::default()).unwrap();
    let driver = Driver::new(
        client,
        sairing_transport::Mode::Pipelined,
        64,
        Duration::from_secs(30),
    );
    let (report, client) =
        replay::replay(driver, &recording, "test", Default::default(), || {}).unwrap();
    drop(client);
    sigterm_and_wait(sd);
    assert_eq!(report.summary.failures, 0);
    assert_eq!(
        report.ids.len(),
        32 + 20,
        "every port and the first port's queues"
    );
    assert_eq!(report.ids.conflicts(), 0);
    let state = redis_state(&r.url(1));
    // This switch's first port and its sixth queue (the CPU port is 0x...1).
    let mtu = &state["SAI_OBJECT_TYPE_PORT:oid:0x1000000000002"];
    assert_eq!(
        mtu.get("SAI_PORT_ATTR_MTU").map(String::as_str),
        Some("9100")
    );
    let hostif = &state["SAI_OBJECT_TYPE_HOSTIF:oid:0xd000000000001"];
    assert_eq!(hostif["SAI_HOSTIF_ATTR_OBJ_ID"], "oid:0x1000000000003");
    assert!(
        !state.contains_key(&format!("SAI_OBJECT_TYPE_PORT:{}", ports[0])),
        "the recorded id reached nothing"
    );
    // The fold through the same map agrees, object for object.
    assert_states_equal(
        "the translated fold",
        &state,
        &fold_recording_on(&text, &defaults(), &report.ids),
    );
    let touched: Vec<&String> = state
        .iter()
        .filter(|(k, v)| {
            k.starts_with("SAI_OBJECT_TYPE_QUEUE:")
                && v.contains_key("SAI_QUEUE_ATTR_SCHEDULER_PROFILE_ID")
        })
        .map(|(k, _)| k)
        .collect();
    assert_eq!(touched.len(), 1, "{touched:?}");
    assert!(
        !touched[0].ends_with(&queues[5][4..]),
        "a queue of this switch's, not the recorded id"
    );
}
