//! The C tests (`tests/c/*.c`), compiled by gcc with
//! `-fsanitize=address,undefined` against the static library and run: a C
//! program must never crash through the API, and ASan/UBSan must stay quiet.

use std::path::PathBuf;
use std::process::Command;

/// The static library, built first in this test's profile (so it is never stale).
fn static_lib() -> PathBuf {
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

/// Compiles `source` (under tests/) with `compiler` and `std`, sanitized,
/// against the static library, and runs it with a scratch directory.
fn compile_and_run(compiler: &str, std: &str, source: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let lib = static_lib();
    let tmp = tempfile::tempdir().expect("a scratch directory");
    let exe = tmp.path().join("test");
    let out = Command::new(compiler)
        .args([std, "-Wall", "-Wextra", "-Werror", "-g", "-pthread"])
        .args([
            "-fsanitize=address,undefined",
            "-fno-sanitize-recover=all",
            "-I",
        ])
        .arg(dir.join("include"))
        .arg(dir.join("tests").join(source))
        .arg(&lib)
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(&exe)
        .output()
        .unwrap_or_else(|e| {
            panic!("{compiler} is needed for these tests (scripts/setup.sh installs it): {e}")
        });
    assert!(
        out.status.success(),
        "{compiler} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = Command::new(&exe)
        .arg(tmp.path())
        // Rust's runtime keeps some allocations for the process's life; leaks
        // are not what these tests are about.
        .env("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=1")
        .env("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        .output()
        .expect("the compiled test runs");
    assert!(
        run.status.success(),
        "{source} failed ({}):\n{}{}",
        run.status,
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
}

#[test]
fn the_c_api_from_c_under_asan_and_ubsan() {
    compile_and_run("gcc", "-std=c11", "c/capi_test.c");
}

#[test]
fn the_review_findings_from_c() {
    compile_and_run("gcc", "-std=c11", "c/review_test.c");
}

#[test]
fn the_review_findings_from_cpp() {
    compile_and_run("g++", "-std=c++17", "cpp/review_test.cpp");
}

#[test]
fn the_cpp_wrapper_from_cpp17_under_asan_and_ubsan() {
    compile_and_run("g++", "-std=c++17", "cpp/shm_test.cpp");
}
