//! Finding a configured program (yt-dlp, ffmpeg, aria2c, Deno) the way `execvp` would, so a
//! missing one is reported by name before anything is spawned.
use std::path::{Path, PathBuf};

/// Resolves a configured program the way `execvp` would: a value with a `/` is a path, a bare
/// name is looked up in `PATH`. `None` when nothing executable is there.
pub fn resolve_program(program: &Path) -> Option<PathBuf> {
    if program.components().count() > 1 || program.is_absolute() {
        return is_executable(program).then(|| program.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

/// Runs a short probe (`-version`, ffprobe) to completion: its output, or `None` when it cannot
/// be started or takes longer than `limit` (it is killed then). The caller looks at the status.
pub(crate) async fn output_within(
    mut command: tokio::process::Command,
    limit: std::time::Duration,
) -> Option<std::process::Output> {
    command.stdin(std::process::Stdio::null()).kill_on_drop(true);
    tokio::time::timeout(limit, command.output()).await.ok()?.ok()
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_bare_names_through_path_and_rejects_missing() {
        assert!(resolve_program(Path::new("sh")).is_some());
        assert_eq!(
            resolve_program(Path::new("definitely-not-a-program-hermes")),
            None
        );
        assert_eq!(resolve_program(Path::new("/nonexistent/yt-dlp")), None);
    }
}
