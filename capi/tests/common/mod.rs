//! Building C and C++ programs against the static library, for the tests.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The static library, built first in this test's profile (so it is never stale).
pub fn static_lib() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps/<test>");
    let release = profile_dir.ends_with("release");
    let mut build = Command::new(env!("CARGO"));
    build.args(["build", "--quiet", "-p", "sairing-capi", "--lib"]);
    if release {
        build.arg("--release");
    }
    let st = build.status().expect("cargo runs");
    assert!(st.success(), "cargo build -p sairing-capi failed");
    let lib = profile_dir.join("libsairing.a");
    assert!(lib.is_file(), "{} was not built", lib.display());
    lib
}

/// Compiles `source` (a path from the workspace's root) with `compiler` and
/// `std`, sanitized, against the static library, into `exe`.
pub fn compile(compiler: &str, std: &str, source: &str, exe: &Path) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let lib = static_lib();
    let out = Command::new(compiler)
        .args([std, "-Wall", "-Wextra", "-Werror", "-g", "-pthread"])
        .args([
            "-fsanitize=address,undefined",
            "-fno-sanitize-recover=all",
            "-I",
        ])
        .arg(dir.join("include"))
        .arg(dir.join("..").join(source))
        .arg(&lib)
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(exe)
        .output()
        .unwrap_or_else(|e| {
            panic!("{compiler} is needed for these tests (scripts/setup.sh installs it): {e}")
        });
    assert!(
        out.status.success(),
        "{compiler} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
