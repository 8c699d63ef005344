//! Shared pieces of sairing's benchmarks.
#![deny(missing_docs)]

use std::path::PathBuf;

/// A directory for benchmark ring files: tmpfs (`/dev/shm`) when there is one,
/// as in production, else the system's temporary directory.
pub fn scratch_dir() -> std::io::Result<tempfile::TempDir> {
    let shm = PathBuf::from("/dev/shm");
    if shm.is_dir() {
        tempfile::tempdir_in(shm)
    } else {
        tempfile::tempdir()
    }
}

/// Creates a ring file of `capacity` bytes in `dir` and opens both sides.
pub fn file_ring(
    dir: &tempfile::TempDir,
    capacity: u64,
) -> Result<(sairing_ring::Producer, sairing_ring::Consumer), sairing_ring::Error> {
    let path = dir.path().join("ring");
    sairing_ring::create(&path, &sairing_ring::CreateOptions::with_capacity(capacity))?;
    let opts = sairing_ring::OpenOptions::default();
    Ok((
        sairing_ring::Producer::open(&path, &opts)?,
        sairing_ring::Consumer::open(&path, &opts)?,
    ))
}
