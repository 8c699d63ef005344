//! The conformance step's own checks (it runs on real recordings in CI only).

use std::process::Command;

#[test]
fn conformance_refuses_a_missing_or_empty_folder_instead_of_passing_on_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    for (dir, says) in [
        (tmp.path().join("absent"), "no such folder"),
        (tmp.path().to_path_buf(), "no *.rec file in it"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_conformance"))
            .arg(&dir)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(says), "{err}");
    }
}
