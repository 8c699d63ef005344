//! The C++ adapters against the Rust daemons, across processes, both ways:
//! the orchagent-like C++ producer (ShmChannel) against the Rust syncd, with
//! Redis holding every route it created; and the Rust orchagent against the
//! syncd-like C++ consumer (ShmSelectableChannel in an epoll loop), which is
//! SIGKILLed mid-stream and started again with nothing lost.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use sairing_testkit::{workspace_binary, PrivateRedis, SyncdProcess};

const ASAN: &str = "detect_leaks=0:abort_on_error=1";

fn example(tmp: &Path, source: &str) -> std::path::PathBuf {
    let exe = tmp.join(Path::new(source).file_stem().expect("a file name"));
    common::compile("g++", "-std=c++17", source, &exe);
    exe
}

fn create_channel(dir: &Path) {
    let d = std::ffi::CString::new(dir.to_str().expect("UTF-8")).expect("no NUL");
    // SAFETY: a NUL-terminated path, valid for the call.
    let rc = unsafe { sairing::ring::sairing_channel_create(d.as_ptr(), 1 << 22) };
    assert_eq!(rc, 0);
}

#[test]
fn the_cpp_producer_programs_the_rust_syncd_and_redis_holds_every_route() {
    let tmp = tempfile::tempdir().expect("a scratch directory");
    let producer = example(tmp.path(), "examples/cpp/orch_producer.cpp");
    let dir = tmp.path().join("asic");
    create_channel(&dir);
    let redis = PrivateRedis::start().expect("a private redis-server");
    let url = redis.url(1);
    let syncd = workspace_binary("syncd", "sairing-syncd", Some(env!("CARGO"))).expect("syncd");
    let sd = SyncdProcess::start(&syncd, &dir, &url, &[]).expect("syncd starts");
    let out = Command::new(&producer)
        .arg(&dir)
        .arg("2000")
        .env("ASAN_OPTIONS", ASAN)
        .output()
        .expect("the producer runs");
    assert!(
        out.status.success(),
        "orch_producer: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "routes 2000 get SAI_STATUS_SUCCESS"
    );
    sd.stop().expect("syncd stops cleanly: its mirror durable");
    let client = redis::Client::open(url.as_str()).expect("a redis URL");
    let mut con = client.get_connection().expect("redis answers");
    let routes: Vec<String> = redis::cmd("KEYS")
        .arg("ASIC_STATE:SAI_OBJECT_TYPE_ROUTE_ENTRY:*")
        .query(&mut con)
        .expect("KEYS");
    assert_eq!(routes.len(), 2000);
    let nh: String = redis::cmd("HGET")
        .arg(&routes[0])
        .arg("SAI_ROUTE_ENTRY_ATTR_NEXT_HOP_ID")
        .query(&mut con)
        .expect("HGET");
    assert_eq!(nh, "oid:0x4000000000001");
}

/// The C++ consumer, started on `dir`; returns it and its output's reader,
/// once it has said it is ready.
fn consumer(exe: &Path, dir: &Path) -> (Child, BufReader<std::process::ChildStdout>) {
    let mut child = Command::new(exe)
        .arg(dir)
        .arg("1000000000")
        .env("ASAN_OPTIONS", ASAN)
        .stdout(Stdio::piped())
        .spawn()
        .expect("the consumer runs");
    let mut out = BufReader::new(child.stdout.take().expect("piped"));
    let mut line = String::new();
    out.read_line(&mut line).expect("the consumer's first line");
    assert_eq!(line.trim(), "ready", "the consumer did not start");
    (child, out)
}

/// Reads the consumer's lines until one is `want` (or its output ends);
/// returns them all.
fn read_until(out: &mut BufReader<std::process::ChildStdout>, want: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    while out.read_line(&mut line).expect("UTF-8") > 0 {
        let l = line.trim().to_string();
        line.clear();
        let done = l == want;
        lines.push(l);
        if done {
            break;
        }
    }
    lines
}

#[test]
fn the_rust_orchagent_drives_the_cpp_consumer_through_a_sigkill_with_nothing_lost() {
    let tmp = tempfile::tempdir().expect("a scratch directory");
    let exe = example(tmp.path(), "examples/cpp/syncd_consumer.cpp");
    let dir = tmp.path().join("asic");
    create_channel(&dir);
    let orchagent =
        workspace_binary("orchagent", "sairing-orchagent", Some(env!("CARGO"))).expect("orchagent");

    let (mut first, mut out) = consumer(&exe, &dir);
    let orch = Command::new(&orchagent)
        .args([
            "routes",
            "--count",
            "3000",
            "--mode",
            "pipelined",
            "--quiet",
        ])
        .args(["--timeout", "60", "--json", "--channel"])
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("orchagent runs");
    // Killed once it has answered 1,000 requests: it has popped more than it
    // answered (a whole readData's worth), and the orchagent is still sending.
    let before = read_until(&mut out, "served 1000");
    assert_eq!(
        before.last().map(String::as_str),
        Some("served 1000"),
        "the first consumer stopped early: {before:?}"
    );
    first.kill().expect("SIGKILL");
    first.wait().expect("reaped");

    let (mut second, mut out2) = consumer(&exe, &dir);
    let done = orch.wait_with_output().expect("orchagent ends");
    second.kill().expect("SIGKILL");
    second.wait().expect("reaped");
    let after = read_until(&mut out2, "");
    let summary = String::from_utf8_lossy(&done.stdout);
    assert!(
        done.status.success(),
        "orchagent {}: {summary}{}",
        done.status,
        String::from_utf8_lossy(&done.stderr)
    );
    let v: serde_json::Value =
        serde_json::from_str(summary.trim()).expect("orchagent's JSON summary");
    let sent = v["requests"].as_u64().expect("requests");
    assert!(sent > 3000, "{v}");
    assert_eq!(v["answered"].as_u64(), Some(sent), "{v}");
    assert_eq!(v["failures"].as_u64(), Some(0), "{v}");
    // Every wait of both consumers was ended by their descriptor.
    for l in before.iter().chain(&after) {
        assert_ne!(
            l, "timeout",
            "a consumer's epoll wait ran out: {before:?} {after:?}"
        );
    }
    // The restarted consumer answered the rest, the requests its predecessor
    // had popped and not answered among them.
    assert!(
        after.iter().any(|l| l.starts_with("served ")),
        "the second consumer answered nothing: {after:?}"
    );
}
