//! The trust boundary on the file system (DESIGN.md §3 "Trust boundary").
//!
//! yt-dlp prints text that strangers control (titles, ids, URL parts, feed fields), and a newline
//! in any of it starts a line of their choosing. A [`TaskDir`] is the only way a path reaches a
//! place where the worker reports, archives, reads or deletes a file: a path is admitted only if it
//! resolves, after symbolic links, strictly inside the task's own output directory. Anything else
//! is dropped and logged.
use std::io;
use std::path::{Component, Path, PathBuf};

/// A task's own output directory, resolved once.
#[derive(Debug, Clone)]
pub(crate) struct TaskDir {
    root: PathBuf,
}

impl TaskDir {
    /// `dir` must exist; it is resolved (symbolic links included) now, so later checks compare
    /// against the real directory.
    pub(crate) fn open(dir: &Path) -> io::Result<TaskDir> {
        Ok(TaskDir {
            root: std::fs::canonicalize(dir)?,
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.root
    }

    /// The resolved path of an existing regular file strictly inside the directory, or `None`
    /// (logged) for anything else: outside, through a link leading out, missing, not a file.
    pub(crate) fn admit(&self, path: &Path) -> Option<PathBuf> {
        let resolved = match std::fs::canonicalize(path) {
            Ok(resolved) => resolved,
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "dropped a reported file that cannot be resolved");
                return None;
            }
        };
        if !self.contains(&resolved) {
            tracing::warn!(path = %path.display(), resolved = %resolved.display(), root = %self.root.display(), "dropped a file outside the task directory");
            return None;
        }
        if !resolved.is_file() {
            tracing::warn!(path = %path.display(), "dropped a reported path that is not a regular file");
            return None;
        }
        Some(resolved)
    }

    /// Deletes `path` (a partial download, whether it exists or not) and its companions
    /// (`.part`, `.ytdl`, `.part-Frag*`), only when its directory resolves inside this one. The
    /// entries themselves are never followed: a link is removed, not its target.
    pub(crate) fn remove_partial(&self, path: &Path) {
        let Some((dir, name)) = self.parent_inside(path) else {
            tracing::warn!(path = %path.display(), root = %self.root.display(), "refused to delete outside the task directory");
            return;
        };
        let base = dir.join(&name);
        let with_suffix = |suffix: &str| {
            let mut candidate = base.clone().into_os_string();
            candidate.push(suffix);
            PathBuf::from(candidate)
        };
        // `.part.aria2`: aria2c's control file beside its `.part` (EXTERNAL_DOWNLOADER).
        let mut candidates = vec![
            base.clone(),
            with_suffix(".part"),
            with_suffix(".ytdl"),
            with_suffix(".part.aria2"),
        ];
        let fragment_prefix = format!("{}.part-Frag", name.to_string_lossy());
        if let Ok(entries) = std::fs::read_dir(&dir) {
            candidates.extend(
                entries
                    .filter_map(Result::ok)
                    .filter(|entry| entry.file_name().to_string_lossy().starts_with(&fragment_prefix))
                    .map(|entry| entry.path()),
            );
        }
        for candidate in candidates {
            let Ok(meta) = std::fs::symlink_metadata(&candidate) else {
                continue;
            };
            if meta.is_dir() {
                continue;
            }
            match std::fs::remove_file(&candidate) {
                Ok(()) => tracing::debug!(path = %candidate.display(), "removed partial file"),
                Err(error) => {
                    tracing::warn!(path = %candidate.display(), %error, "cannot remove partial file")
                }
            }
        }
    }

    /// The resolved parent directory and the file name of `path`, when that directory is this
    /// one or lies inside it and the name is one ordinary component.
    fn parent_inside(&self, path: &Path) -> Option<(PathBuf, std::ffi::OsString)> {
        let name = match path.components().next_back()? {
            Component::Normal(name) => name.to_owned(),
            _ => return None,
        };
        let parent = path.parent().filter(|p| !p.as_os_str().is_empty())?;
        let parent = std::fs::canonicalize(parent).ok()?;
        (parent == self.root || self.contains(&parent)).then_some((parent, name))
    }

    fn contains(&self, resolved: &Path) -> bool {
        resolved != self.root && resolved.starts_with(&self.root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn admits_only_regular_files_that_resolve_inside() {
        let base = tempfile::tempdir().unwrap();
        let root = base.path().join("task");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        let victim = base.path().join("victim.txt");
        std::fs::write(&victim, b"secret").unwrap();
        std::fs::write(root.join("a.mp3"), b"x").unwrap();
        std::fs::write(root.join("sub/b.mp3"), b"x").unwrap();
        symlink(&victim, root.join("link.mp3")).unwrap();
        symlink(root.join("a.mp3"), root.join("inner.mp3")).unwrap();
        let dir = TaskDir::open(&root).unwrap();

        assert!(dir.admit(&root.join("a.mp3")).is_some());
        assert!(dir.admit(&root.join("sub/b.mp3")).is_some());
        assert!(dir.admit(&root.join("inner.mp3")).is_some());
        assert_eq!(dir.admit(&victim), None);
        assert_eq!(dir.admit(Path::new("/etc/passwd")), None);
        assert_eq!(dir.admit(&root.join("../victim.txt")), None);
        assert_eq!(dir.admit(&root.join("link.mp3")), None);
        assert_eq!(dir.admit(&root.join("sub")), None);
        assert_eq!(dir.admit(&root), None);
        assert_eq!(dir.admit(&root.join("missing.mp3")), None);
    }

    #[test]
    fn removes_partials_only_inside() {
        let base = tempfile::tempdir().unwrap();
        let root = base.path().join("task");
        std::fs::create_dir_all(&root).unwrap();
        let victim = base.path().join("victim.txt");
        for path in [victim.clone(), base.path().join("victim.txt.part")] {
            std::fs::write(path, b"keep me").unwrap();
        }
        for name in [
            "a.webm",
            "a.webm.part",
            "a.webm.ytdl",
            "a.webm.part-Frag3",
            "other.mp3",
        ] {
            std::fs::write(root.join(name), b"x").unwrap();
        }
        symlink(&victim, root.join("b.webm")).unwrap();
        let dir = TaskDir::open(&root).unwrap();

        dir.remove_partial(&victim);
        dir.remove_partial(&root.join("../victim.txt"));
        dir.remove_partial(Path::new("victim.txt"));
        assert!(victim.exists() && base.path().join("victim.txt.part").exists());

        dir.remove_partial(&root.join("a.webm"));
        dir.remove_partial(&root.join("b.webm"));
        let left: Vec<String> = std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, vec!["other.mp3".to_owned()]);
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep me");
    }
}
