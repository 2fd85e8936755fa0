//! The temporary directory every figure works in, on the same disk as the build.
use crate::error::{io_err, Result};
use std::path::PathBuf;

/// Scratch space on the same disk as the build, so ZIP and `cp` write to the same file system.
const SCRATCH_ROOT: &str = env!("CARGO_TARGET_TMPDIR");

/// The temporary directory every figure works in (removed at the end).
pub(crate) struct Scratch {
    pub(crate) dir: tempfile::TempDir,
}

impl Scratch {
    pub(crate) fn create() -> Result<Scratch> {
        std::fs::create_dir_all(SCRATCH_ROOT).map_err(io_err("create the scratch root"))?;
        let dir = tempfile::Builder::new()
            .prefix("hermes-bench-")
            .tempdir_in(SCRATCH_ROOT)
            .map_err(io_err("create the scratch directory"))?;
        Ok(Scratch { dir })
    }

    /// A fresh, canonical sub-directory (the worker compares paths lexically).
    pub(crate) fn subdir(&self, name: &str) -> Result<PathBuf> {
        let path = self.dir.path().join(name);
        std::fs::create_dir_all(&path).map_err(io_err(format!("create {}", path.display())))?;
        path.canonicalize()
            .map_err(io_err(format!("canonicalize {}", path.display())))
    }
}
