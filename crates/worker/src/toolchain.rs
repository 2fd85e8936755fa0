//! The yt-dlp toolchain: where the managed one lives, and how a task pins the one it started with.
//!
//! `scripts/setup.sh` (and `hermes update-ytdlp`) install yt-dlp with its `default` extra (which
//! brings the `yt-dlp-ejs` solver scripts) and Deno into a virtual environment the project owns,
//! because YouTube needs a JavaScript runtime since yt-dlp 2025.11.12 and a system yt-dlp rarely
//! has one. The lookup of that environment is deliberately simple and fixed:
//!
//! 1. `$HERMES_HOME/venv/bin/<tool>` when `HERMES_HOME` is set,
//! 2. else `./.hermes/venv/bin/<tool>` relative to the current directory,
//! 3. else the bare name, looked up on `PATH` when it is run.
//!
//! Only a file that exists counts, so a machine without the managed environment behaves as before.
use crate::program::resolve_program;
use std::path::{Path, PathBuf};

/// Where the managed toolchain lives when `HERMES_HOME` is not set (relative to the current
/// directory, i.e. the repository for `scripts/hermes` and a bot started from the clone).
pub(crate) const DEFAULT_HOME: &str = ".hermes";

/// The managed environment's `<tool>` (`yt-dlp`, `deno`), when it exists (see the module docs).
pub(crate) fn managed_tool(hermes_home: Option<&str>, tool: &str) -> Option<PathBuf> {
    let home = hermes_home.map_or_else(|| Path::new(".").join(DEFAULT_HOME), PathBuf::from);
    let candidate = home.join("venv").join("bin").join(tool);
    candidate.is_file().then_some(candidate)
}

/// The program a task runs for yt-dlp: `configured`, found now, with the symbolic links of its
/// directory resolved (the managed `venv` is a link that an update switches), so every run of
/// the task uses the same yt-dlp. The file name itself is kept. A program that cannot be found
/// is returned as configured, so running it reports what was tried.
pub(crate) fn pinned_program(configured: &Path) -> PathBuf {
    resolve_program(configured).map_or_else(|| configured.to_path_buf(), |path| pin_directory(&path))
}

/// `path` with the symbolic links of its directory resolved (the file name kept).
pub(crate) fn pin_directory(path: &Path) -> PathBuf {
    match (
        path.parent().and_then(|dir| dir.canonicalize().ok()),
        path.file_name(),
    ) {
        (Some(dir), Some(name)) => dir.join(name),
        _ => path.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn executable(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn the_managed_tool_is_found_under_hermes_home_only_when_it_exists() {
        let home = tempfile::tempdir().unwrap();
        let home_text = home.path().to_str().unwrap();
        assert_eq!(managed_tool(Some(home_text), "yt-dlp"), None);
        executable(&home.path().join("venv/bin/yt-dlp"));
        assert_eq!(
            managed_tool(Some(home_text), "yt-dlp"),
            Some(home.path().join("venv/bin/yt-dlp"))
        );
        assert_eq!(managed_tool(Some(home_text), "deno"), None);
    }

    #[test]
    fn a_task_pins_the_environment_a_link_points_at() {
        let home = tempfile::tempdir().unwrap();
        executable(&home.path().join("envs/a/bin/yt-dlp"));
        std::os::unix::fs::symlink("envs/a", home.path().join("venv")).unwrap();
        let pinned = pinned_program(&home.path().join("venv/bin/yt-dlp"));
        assert_eq!(
            pinned,
            home.path().canonicalize().unwrap().join("envs/a/bin/yt-dlp")
        );
        assert_eq!(
            pinned_program(Path::new("/nonexistent/yt-dlp")),
            PathBuf::from("/nonexistent/yt-dlp")
        );
    }
}
