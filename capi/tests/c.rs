//! The C and C++ tests (`tests/c/*.c`, `tests/cpp/*.cpp`), compiled by gcc and
//! g++ with `-fsanitize=address,undefined` against the static library and run:
//! a program must never crash through the API, and ASan/UBSan must stay quiet.

mod common;

use std::process::Command;

/// Compiles `source` as [`compile`] does and runs it with a scratch directory.
fn compile_and_run(compiler: &str, std: &str, source: &str) {
    let tmp = tempfile::tempdir().expect("a scratch directory");
    let exe = tmp.path().join("test");
    common::compile(compiler, std, source, &exe);
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
    compile_and_run("gcc", "-std=c11", "capi/tests/c/capi_test.c");
}

#[test]
fn the_review_findings_from_c() {
    compile_and_run("gcc", "-std=c11", "capi/tests/c/review_test.c");
}

#[test]
fn the_review_findings_from_cpp() {
    compile_and_run("g++", "-std=c++17", "capi/tests/cpp/review_test.cpp");
}

#[test]
fn the_cpp_wrapper_from_cpp17_under_asan_and_ubsan() {
    compile_and_run("g++", "-std=c++17", "capi/tests/cpp/shm_test.cpp");
}
