//! The C++ adapters against the Rust daemons, across processes: the
//! orchagent-like C++ producer (ShmChannel) against the Rust syncd, with Redis
//! holding every route it created. (The Rust orchagent against the C++
//! consumer is not here yet: see docs/EMBEDDING.md, "Not yet".)

mod common;

use std::path::Path;
use std::process::Command;

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
