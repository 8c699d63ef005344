//! The examples in `examples/` built out of tree against an installed prefix
//! (`scripts/install.sh`, `pkg-config --cflags --libs sairing`) and run in
//! pairs across processes: the C client against the C server, the C++
//! ShmChannel producer against the C++ ShmSelectableChannel consumer (whose
//! waits on its one descriptor must all be ended by the descriptor).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Installs the library built in this test's profile under `prefix`.
fn install(prefix: &Path) {
    let exe = std::env::current_exe().expect("the test's path");
    let release = exe.components().any(|c| c.as_os_str() == "release");
    let mut build = Command::new(env!("CARGO"));
    build.args(["build", "--quiet", "-p", "sairing-capi", "--lib"]);
    if release {
        build.arg("--release");
    }
    assert!(
        build.status().expect("cargo runs").success(),
        "cargo build failed"
    );
    let mut cmd = Command::new(workspace().join("scripts/install.sh"));
    cmd.arg("--prefix").arg(prefix).arg("--no-build");
    if !release {
        cmd.arg("--debug");
    }
    let target = exe
        .parent()
        .and_then(|d| d.parent())
        .and_then(|d| d.parent())
        .expect("target/<profile>/deps/<test>");
    let out = cmd
        .env("CARGO_TARGET_DIR", target)
        .output()
        .expect("install.sh runs");
    assert!(
        out.status.success(),
        "install.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `server` then `client` on one channel; returns their outputs.
fn pair(prefix: &Path, bin: &Path, server: &[&str], client: &[&str]) -> (String, String) {
    let lib = prefix.join("lib");
    let mut srv = Command::new(bin.join(server[0]))
        .args(&server[1..])
        .env("LD_LIBRARY_PATH", &lib)
        .stdout(Stdio::piped())
        .spawn()
        .expect("the server runs");
    let mut out = BufReader::new(srv.stdout.take().expect("piped"));
    let mut line = String::new();
    out.read_line(&mut line).expect("the server's first line");
    assert_eq!(line.trim(), "ready", "the server did not start");
    let cli = Command::new(bin.join(client[0]))
        .args(&client[1..])
        .env("LD_LIBRARY_PATH", &lib)
        .output()
        .expect("the client runs");
    let status = srv.wait().expect("the server ends");
    let mut rest = String::new();
    for l in out.lines() {
        rest.push_str(&l.expect("UTF-8"));
        rest.push('\n');
    }
    let client_out = String::from_utf8_lossy(&cli.stdout).into_owned();
    assert!(
        cli.status.success() && status.success(),
        "client {}: {client_out}{}; server {status}: {rest}",
        cli.status,
        String::from_utf8_lossy(&cli.stderr)
    );
    (rest, client_out)
}

#[test]
fn the_examples_build_from_the_installed_prefix_and_talk_across_processes() {
    let tmp = tempfile::tempdir().expect("a scratch directory");
    let prefix = tmp.path().join("prefix");
    install(&prefix);
    let bin = tmp.path().join("bin");
    std::fs::create_dir(&bin).expect("mkdir");
    let made = Command::new("make")
        .arg("-s")
        .arg("-C")
        .arg(workspace().join("examples"))
        .arg(format!(
            "PKG_CONFIG_PATH={}",
            prefix.join("lib/pkgconfig").display()
        ))
        .arg(format!("OUT={}", bin.display()))
        .output()
        .expect("make runs (scripts/setup.sh installs it)");
    assert!(
        made.status.success(),
        "make: {}",
        String::from_utf8_lossy(&made.stderr)
    );

    let c = tmp.path().join("c-channel");
    let c = c.to_str().expect("UTF-8 path");
    let (server, client) = pair(
        &prefix,
        &bin,
        &["echo_server", c, "2000"],
        &["route_client", c, "2000"],
    );
    assert_eq!(client.trim(), "routes 2000 answered 2000 failed 0");
    assert_eq!(server.trim(), "served 2000");

    let cpp = tmp.path().join("cpp-channel");
    let cpp = cpp.to_str().expect("UTF-8 path");
    let (server, client) = pair(
        &prefix,
        &bin,
        &["syncd_consumer", cpp, "1001"],
        &["orch_producer", cpp, "1000"],
    );
    assert_eq!(client.trim(), "routes 1000 get SAI_STATUS_SUCCESS");
    assert_eq!(server.lines().last(), Some("served 1001 timeouts 0"));
}
