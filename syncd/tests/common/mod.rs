//! What syncd's integration tests share: a syncd process that is killed if a
//! test fails before stopping it, and the requests they send.
#![allow(dead_code)] // each test file uses its own part

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};

use sairing_transport::{Client, Outcome};

pub const SYNCD: &str = env!("CARGO_BIN_EXE_syncd");

/// A syncd and its stdout (kept open: syncd prints when it stops). Killed on
/// drop unless it was stopped or waited for.
pub struct Syncd {
    child: Option<Child>,
    out: BufReader<ChildStdout>,
}

impl Drop for Syncd {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `syncd --channel DIR ARGS...`, and the first line it printed.
pub fn spawn(dir: &Path, args: &[&str]) -> (Syncd, String) {
    let mut sd = Command::new(SYNCD)
        .arg("--channel")
        .arg(dir)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(sd.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    (
        Syncd {
            child: Some(sd),
            out,
        },
        line,
    )
}

impl Syncd {
    /// SIGTERM; the exit must be clean. Returns the last line it printed.
    pub fn stop(mut self) -> String {
        let mut sd = self.child.take().unwrap();
        // SAFETY: kill(2) on our own child, not yet reaped.
        unsafe { libc::kill(sd.id() as i32, libc::SIGTERM) };
        let st = sd.wait().unwrap();
        let mut rest = String::new();
        self.out.read_to_string(&mut rest).unwrap();
        let mut err = String::new();
        sd.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        assert!(
            st.success(),
            "syncd did not stop cleanly ({st}): {rest}{err}"
        );
        rest.lines().last().unwrap_or_default().to_owned()
    }

    /// Waits for a syncd that must exit by itself (a refusal): fails the test
    /// if it exits 0; returns its stderr.
    pub fn refusal(mut self) -> String {
        let sd = self.child.take().unwrap();
        let out = sd.wait_with_output().unwrap();
        assert!(!out.status.success(), "syncd exited 0 without starting");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

pub fn vlan(n: u64) -> String {
    format!("SAI_OBJECT_TYPE_VLAN:oid:0x{:x}", 0x26u64 << 48 | n)
}

/// The request must be answered (sync mode) with success.
pub fn done(o: Outcome) {
    match o {
        Outcome::Done(r) => assert_eq!(r.status, "SAI_STATUS_SUCCESS"),
        Outcome::Sent(s) => panic!("sync mode returned Sent({s})"),
    }
}

/// Creates VLAN `n` with VLAN id `100 + n`.
pub fn create(c: &mut Client, n: u64) {
    let id = (100 + n).to_string();
    done(
        c.create(&vlan(n), &[("SAI_VLAN_ATTR_VLAN_ID", id.as_str())])
            .unwrap(),
    );
}
