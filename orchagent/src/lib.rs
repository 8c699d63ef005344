//! # sairing-orchagent
//!
//! The producer side of sairing: replays `sairedis.rec` recordings ([`rec`]) and
//! runs a deterministic route workload ([`workload`]) through a channel client in
//! sync, async or pipelined mode ([`drive`]), checking every status and
//! measuring every request's latency.
#![deny(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod workload;

pub use sairing_transport::{drive, rec};

/// Finds a workspace binary (`syncd`, `orchagent`) beside the running one (or
/// its parent directory, for test binaries in `deps/`). With `cargo` given (tests
/// pass `env!("CARGO")`) it is always built first, in the same profile, so a
/// test never runs a stale binary; without, it is built only when missing.
pub fn workspace_binary(
    name: &str,
    package: &str,
    cargo: Option<&str>,
) -> anyhow::Result<std::path::PathBuf> {
    let exe = std::env::current_exe()?;
    let mut dirs = Vec::new();
    if let Some(d) = exe.parent() {
        dirs.push(d.to_path_buf());
        if let Some(p) = d.parent() {
            dirs.push(p.to_path_buf());
        }
    }
    let find = || dirs.iter().map(|d| d.join(name)).find(|p| p.is_file());
    if cargo.is_none() {
        if let Some(p) = find() {
            return Ok(p);
        }
    }
    let release = exe.components().any(|c| c.as_os_str() == "release");
    let mut cmd = std::process::Command::new(cargo.unwrap_or("cargo"));
    cmd.args(["build", "--quiet", "-p", package, "--bin", name]);
    if release {
        cmd.arg("--release");
    }
    let status = cmd
        .status()
        .map_err(|e| anyhow::anyhow!("cannot run cargo to build {name}: {e}"))?;
    anyhow::ensure!(status.success(), "cargo build of {name} failed");
    find().ok_or_else(|| {
        anyhow::anyhow!(
            "{name} not found next to {} even after building it",
            exe.display()
        )
    })
}

/// [`workspace_binary`], exiting with one clear line when it cannot be found.
pub fn binary_or_die(name: &str, package: &str) -> std::path::PathBuf {
    workspace_binary(name, package, None).unwrap_or_else(|e| {
        eprintln!("{e:#}");
        std::process::exit(1)
    })
}
