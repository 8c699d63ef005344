//! The project's recordings are exactly what `orchagent generate-recordings`
//! writes, and replay refuses a line saiplayer would refuse, naming it.

use std::path::Path;
use std::process::Command;

const ORCH: &str = env!("CARGO_BIN_EXE_orchagent");

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn the_committed_recordings_are_what_the_generator_writes_byte_for_byte() {
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/recordings");
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(ORCH)
        .arg("generate-recordings")
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (want, got) = (names(&committed), names(tmp.path()));
    assert_eq!(
        want, got,
        "testdata/recordings holds other files than the generator writes; \
         regenerate with scripts/gen-recordings.sh"
    );
    assert!(got.len() >= 19, "{got:?}");
    for name in &got {
        let a = std::fs::read(committed.join(name)).unwrap();
        let b = std::fs::read(tmp.path().join(name)).unwrap();
        assert!(
            a == b,
            "testdata/recordings/{name} differs from what the generator writes \
             ({} vs {} bytes); regenerate with scripts/gen-recordings.sh",
            a.len(),
            b.len()
        );
    }
}

#[test]
fn an_unknown_op_letter_is_an_error_naming_its_line() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("bad.rec");
    std::fs::write(
        &file,
        "2026-01-01.00:00:00.000000|#|fine\n2026-01-01.00:00:00.000001|Z|SAI_OBJECT_TYPE_PORT:oid:0x1\n",
    )
    .unwrap();
    // The channel does not exist: the file is refused before it is needed.
    let out = Command::new(ORCH)
        .arg("replay")
        .arg(&file)
        .arg("--channel")
        .arg(tmp.path().join("no-channel"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("bad.rec")
            && err.contains("line 2: unknown op letter: 2026-01-01.00:00:00.000001|Z|"),
        "{err}"
    );
}
