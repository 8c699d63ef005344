//! Workspace binaries found (and built) for tests and the demo, and syncd run
//! as a child process.

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

/// A running `syncd`, started by [`SyncdProcess::start`] and ready: it has
/// printed `syncd: ready`, so its signal handlers are installed.
pub struct SyncdProcess {
    child: std::process::Child,
    _out: std::io::BufReader<std::process::ChildStdout>,
}

impl SyncdProcess {
    /// Starts `bin --channel DIR --redis URL ARGS...` and waits for it to be ready.
    pub fn start(
        bin: &std::path::Path,
        dir: &std::path::Path,
        url: &str,
        args: &[&str],
    ) -> anyhow::Result<SyncdProcess> {
        use std::io::BufRead;
        use std::process::{Command, Stdio};
        let mut child = Command::new(bin)
            .arg("--channel")
            .arg(dir)
            .args(["--redis", url])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| anyhow::anyhow!("starting {}: {e}", bin.display()))?;
        let out = child
            .stdout
            .take()
            .ok_or_else(|| anyhow::anyhow!("syncd's stdout was not captured"))?;
        let mut out = std::io::BufReader::new(out);
        let mut line = String::new();
        out.read_line(&mut line)?;
        if !line.starts_with("syncd: ready") {
            let _ = child.kill();
            let status = child.wait()?;
            anyhow::bail!("syncd did not start ({status}): {:?}", line.trim_end());
        }
        Ok(SyncdProcess { child, _out: out })
    }

    /// Its pid.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Whether it has exited (and how), without waiting.
    pub fn try_wait(&mut self) -> std::io::Result<Option<std::process::ExitStatus>> {
        self.child.try_wait()
    }

    /// SIGTERM, then waits; an error unless it exits 0 (a clean stop: the
    /// mirror durable, the ring released).
    pub fn stop(mut self) -> anyhow::Result<()> {
        // SAFETY: kill(2) on our own child, which is not reaped yet (we hold it),
        // so the pid cannot name another process.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let st = self.child.wait()?;
        anyhow::ensure!(st.success(), "syncd did not stop cleanly: {st}");
        Ok(())
    }

    /// SIGKILL, then waits.
    pub fn kill9(mut self) -> std::io::Result<()> {
        self.child.kill()?;
        self.child.wait().map(drop)
    }
}

/// `chanpeer` (package sairing-tool), the stand-in client or server the
/// transport's tests run: built first, once per test process, so a test never
/// runs a stale one. Panics with the reason when it cannot be built.
pub fn chanpeer() -> &'static std::path::Path {
    static PATH: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        workspace_binary("chanpeer", "sairing-tool", Some(env!("CARGO")))
            .unwrap_or_else(|e| panic!("cannot build chanpeer: {e:#}"))
    })
}
