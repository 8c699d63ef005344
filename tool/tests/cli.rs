//! The `sairing` operator tool against live daemons, dead ones, and damaged files.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

const SAIRING: &str = env!("CARGO_BIN_EXE_sairing");
const CHANPEER: &str = env!("CARGO_BIN_EXE_chanpeer");

fn sairing(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(SAIRING)
        .args(args)
        .output()
        .expect("run sairing");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json(args: &[&str]) -> Value {
    let (_, out, err) = sairing(args);
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out} {err}"))
}

fn serve(dir: &str) -> Child {
    let mut c = Command::new(CHANPEER)
        .args(["serve", dir])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut l = String::new();
    BufReader::new(c.stdout.as_mut().unwrap())
        .read_line(&mut l)
        .unwrap();
    assert!(l.starts_with("ready"), "{l}");
    c
}

fn ring(v: &Value, i: usize) -> &Value {
    &v["rings"][i]["ring"]
}

#[test]
fn channel_inspect_dump_live_and_dead() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("asic");
    let d = dir.to_str().unwrap();
    let (ok, out, _) = sairing(&["channel", "create", d, "--capacity", "65536"]);
    assert!(ok, "{out}");
    // A fresh channel: nothing pending, nobody attached.
    let v = json(&["inspect", d, "--json"]);
    assert_eq!(ring(&v, 0)["pending_records"], 0);
    assert_eq!(ring(&v, 0)["producer"]["alive"], false);
    assert_eq!(v["socket_present"], false);

    // Live: a server, and a client that has sent requests.
    let mut server = serve(d);
    let out = Command::new(CHANPEER)
        .args(["client", d, "--count", "10", "--mode", "sync"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v = json(&["inspect", d, "--json"]);
    let req = ring(&v, 0);
    assert_eq!(req["consumer"]["alive"], true, "{v}");
    assert_eq!(req["consumer"]["pid"], server.id());
    assert_eq!(req["seq_at_tail"], 10);
    assert_eq!(req["pending_records"], 0);
    assert_eq!(v["socket_present"], true);
    // Human output names every part.
    let (ok, text, _) = sairing(&["inspect", d]);
    assert!(ok);
    for want in [
        "req.ring",
        "resp.ring",
        "format version 1",
        "consumer: pid",
        "(alive)",
    ] {
        assert!(text.contains(want), "{want} missing from:\n{text}");
    }

    // Dead server: requests sent now stay pending, and dump shows them in
    // sairedis.rec format, in order, decoded.
    server.kill().unwrap();
    server.wait().unwrap();
    let mut c = sairing_transport::Client::open(&dir, &Default::default()).unwrap();
    c.set_mode(sairing_transport::Mode::Async);
    for i in 0..5 {
        c.set(
            &format!("SAI_OBJECT_TYPE_PORT:oid:0x{i:x}"),
            "SAI_PORT_ATTR_MTU",
            "9100",
        )
        .unwrap();
    }
    let v = json(&["inspect", d, "--json"]);
    let req = ring(&v, 0);
    assert_eq!(req["consumer"]["alive"], false);
    assert_eq!(req["producer"]["alive"], true);
    assert_eq!(req["pending_records"], 5);
    assert_eq!(
        (req["seq_at_head"].as_u64(), req["seq_at_tail"].as_u64()),
        (Some(11), Some(15))
    );
    let (ok, dump, _) = sairing(&["dump", d]);
    assert!(ok);
    let lines: Vec<&str> = dump.lines().collect();
    assert_eq!(lines.len(), 5, "{dump}");
    for (i, l) in lines.iter().enumerate() {
        assert!(
            l.ends_with(&format!(
                "|s|SAI_OBJECT_TYPE_PORT:oid:0x{i:x}|SAI_PORT_ATTR_MTU=9100"
            )),
            "{l}"
        );
    }
    let (_, some, _) = sairing(&["dump", d, "--from", "13", "--count", "2"]);
    assert_eq!(some.lines().count(), 2);
    assert!(some.lines().next().unwrap().contains("oid:0x2|"), "{some}");
    // The recording lines parse back as the same requests.
    let parsed = sairing_rec::parse(&dump).unwrap();
    assert_eq!(parsed.requests().count(), 5);
    drop(c);

    // Remove is refused while in use, then works.
    let server = serve(d);
    let (ok, _, err) = sairing(&["channel", "remove", d]);
    assert!(!ok && err.contains("in use"), "{err}");
    let mut server = server;
    server.kill().unwrap();
    server.wait().unwrap();
    let (ok, _, err) = sairing(&["channel", "remove", d]);
    assert!(ok, "{err}");
    assert!(!dir.exists());
}

#[test]
fn tail_follows_live_traffic_without_consuming() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("asic");
    let d = dir.to_str().unwrap().to_owned();
    sairing(&["channel", "create", &d, "--capacity", "1048576"]);
    let mut server = serve(&d);
    let mut tail = Command::new(SAIRING)
        .args(["tail", &d, "--count", "40", "--seconds", "60"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(tail.stdout.take().unwrap());
    // Clients run until tail has its 40 lines: each sends 20 sets and 20 gets,
    // and tail shows each request and each get's G response, while the server
    // consumes all of them. (tail starts at the newest record, so a client that
    // finished before tail attached would simply not be shown.)
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (d2, done2) = (d.clone(), done.clone());
    let client = std::thread::spawn(move || {
        while !done2.load(std::sync::atomic::Ordering::Relaxed) {
            let out = Command::new(CHANPEER)
                .args(["client", &d2, "--count", "40", "--mode", "sync"])
                .output()
                .unwrap();
            assert!(out.status.success());
        }
    });
    let mut lines = Vec::new();
    let mut l = String::new();
    while lines.len() < 40 && out.read_line(&mut l).unwrap() > 0 {
        lines.push(l.trim_end().to_owned());
        l.clear();
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    client.join().unwrap();
    assert!(tail.wait().unwrap().success());
    assert_eq!(lines.len(), 40);
    assert!(
        lines.iter().any(|l| l.contains("|s|SAI_OBJECT_TYPE_PORT:")),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("|g|SAI_OBJECT_TYPE_PORT:")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("|G|SAI_STATUS_SUCCESS|SAI_PORT_ATTR_MTU=")),
        "{lines:?}"
    );
    // Nothing was consumed by tail: the server answered everything.
    let v = json(&["inspect", &d, "--json"]);
    assert_eq!(ring(&v, 0)["pending_records"], 0, "{v}");
    server.kill().unwrap();
    server.wait().unwrap();
}

#[test]
fn replay_through_the_tool() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("asic");
    let d = dir.to_str().unwrap();
    sairing(&["channel", "create", d, "--capacity", "1048576"]);
    let mut server = serve(d);
    let rec = tmp.path().join("mini.rec");
    std::fs::write(
        &rec,
        "2017-06-14.01:55:46.541806|#|recording on: ./sairedis.rec\n\
         2017-06-14.01:55:46.543987|a|INIT_VIEW\n\
         2017-06-14.01:55:46.551164|A|SAI_STATUS_SUCCESS\n\
         2017-06-14.01:55:46.551337|c|SAI_OBJECT_TYPE_SWITCH:oid:0x21000000000000|SAI_SWITCH_ATTR_INIT_SWITCH=true\n\
         2017-06-14.01:55:46.559177|g|SAI_OBJECT_TYPE_SWITCH:oid:0x21000000000000|SAI_SWITCH_ATTR_CPU_PORT=oid:0x0\n\
         2017-06-14.01:55:46.559180|G|SAI_STATUS_SUCCESS|SAI_SWITCH_ATTR_CPU_PORT=oid:0x1000000000001\n",
    )
    .unwrap();
    let v = json(&["replay", rec.to_str().unwrap(), d, "--json"]);
    assert_eq!(
        (
            v["requests"].as_u64(),
            v["answered"].as_u64(),
            v["failures"].as_u64()
        ),
        (Some(3), Some(3), Some(0)),
        "{v}"
    );
    server.kill().unwrap();
    server.wait().unwrap();
}

#[test]
fn inspect_says_what_is_wrong_with_each_damaged_file() {
    let tmp = tempfile::tempdir().unwrap();
    let fresh = |name: &str| {
        let p = tmp.path().join(name);
        sairing_ring::create(&p, &sairing_ring::CreateOptions::with_capacity(4096)).unwrap();
        let mut prod = sairing_ring::Producer::open(&p, &Default::default()).unwrap();
        prod.push(1, b"hello").unwrap();
        p
    };
    let poke = |p: &Path, off: u64, b: &[u8]| {
        std::fs::OpenOptions::new()
            .write(true)
            .open(p)
            .unwrap()
            .write_all_at(b, off)
            .unwrap();
    };
    let fix_crc = |p: &Path| {
        let mut b = [0u8; 56];
        std::fs::File::open(p)
            .unwrap()
            .read_exact_at(&mut b, 0)
            .unwrap();
        poke(p, 56, &crc32c::crc32c(&b).to_le_bytes());
    };
    type Damage<'a> = Box<dyn Fn(&Path) + 'a>;
    let cases: Vec<(&str, Damage, &str)> = vec![
        (
            "magic",
            Box::new(|p: &Path| poke(p, 0, b"GARBAGE!")),
            "not a sairing ring",
        ),
        (
            "version",
            Box::new(|p: &Path| {
                poke(p, 8, &9u32.to_le_bytes());
                fix_crc(p)
            }),
            "format version 9",
        ),
        (
            "crc",
            Box::new(|p: &Path| poke(p, 20, &[0xAA])),
            "header checksum",
        ),
        (
            "truncated",
            Box::new(|p: &Path| {
                std::fs::File::options()
                    .write(true)
                    .open(p)
                    .unwrap()
                    .set_len(5000)
                    .unwrap()
            }),
            "file is 5000 bytes",
        ),
        (
            "cursors",
            Box::new(|p: &Path| poke(p, 256, &(1u64 << 30).to_le_bytes())),
            "cursors",
        ),
        (
            "record",
            Box::new(|p: &Path| poke(p, 4096, &9999u32.to_le_bytes())),
            "record at position 0",
        ),
        (
            "garbage",
            Box::new(|p: &Path| poke(p, 4096, &[0x5A; 64])),
            "record at position 0",
        ),
    ];
    for (name, damage, says) in cases {
        let p = fresh(name);
        damage(&p);
        let (ok, text, err) = sairing(&["inspect", p.to_str().unwrap()]);
        assert!(
            !ok,
            "{name}: inspect called a damaged file healthy:\n{text}"
        );
        assert!(
            text.contains(says),
            "{name}: expected `{says}` in:\n{text}{err}"
        );
        assert!(text.contains("DAMAGED"), "{name}:\n{text}");
        // It still shows what it can.
        let v = json(&["inspect", p.to_str().unwrap(), "--json"]);
        let r = ring(&v, 0);
        assert_eq!(r["ok"], false, "{name}: {v}");
        assert!(
            r.get("header_as_found").is_some() || r.get("capacity").is_some(),
            "{name}: {v}"
        );
    }
}
