//! The worker's own count of bytes on disk, behind yt-dlp's `--max-filesize`.
//!
//! `--max-filesize` only helps when the server announces a size: a stream without
//! `Content-Length` (or a live HLS playlist) is written until the disk is full. So while a
//! download runs, the task's directory is looked at a few times a second, and the run is killed as
//! soon as any file in it grew by more than the cap since the run started (files that were
//! already there count only with what they grew, so a folder of earlier downloads is no problem).
use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How often the directory is measured.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// The files of one directory and the most each may grow.
pub(crate) struct SizeCap {
    dir: PathBuf,
    limit_bytes: u64,
    baseline: HashMap<OsString, u64>,
}

impl SizeCap {
    /// Records the sizes in `dir` now; growth beyond `limit_bytes` from here on is over the cap.
    pub(crate) fn new(dir: &Path, limit_bytes: u64) -> SizeCap {
        let mut cap = SizeCap {
            dir: dir.to_path_buf(),
            limit_bytes,
            baseline: HashMap::new(),
        };
        cap.baseline = cap.sizes().collect();
        cap
    }

    pub(crate) fn limit_bytes(&self) -> u64 {
        self.limit_bytes
    }

    /// The first file that grew past the cap, with its size.
    pub(crate) fn exceeded(&self) -> Option<(PathBuf, u64)> {
        self.sizes().find_map(|(name, size)| {
            let before = self.baseline.get(&name).copied().unwrap_or(0);
            (size.saturating_sub(before) > self.limit_bytes).then(|| (self.dir.join(name), size))
        })
    }

    /// Regular files directly in the directory (yt-dlp writes every stream, fragment and
    /// conversion there), by name. Links are not followed.
    fn sizes(&self) -> impl Iterator<Item = (OsString, u64)> + '_ {
        std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let meta = entry.metadata().ok()?;
                meta.is_file().then(|| (entry.file_name(), meta.len()))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_past_the_cap_is_reported_and_old_files_count_only_with_their_growth() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("old.mp4"), vec![0u8; 5000]).unwrap();
        let cap = SizeCap::new(dir.path(), 1000);
        assert_eq!(cap.exceeded(), None);
        std::fs::write(dir.path().join("new.webm.part"), vec![0u8; 1000]).unwrap();
        assert_eq!(cap.exceeded(), None);
        std::fs::write(dir.path().join("old.mp4"), vec![0u8; 5900]).unwrap();
        assert_eq!(cap.exceeded(), None);
        std::fs::write(dir.path().join("new.webm.part"), vec![0u8; 1001]).unwrap();
        assert_eq!(cap.exceeded(), Some((dir.path().join("new.webm.part"), 1001)));
    }
}
