//! Media durations from ffprobe (next to the configured ffmpeg), for files yt-dlp reports
//! without one (a direct media link).
use crate::program::resolve_program;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// How long a probe may take before the duration is reported as unknown.
const PROBE_TIMEOUT: Duration = Duration::from_secs(15);

/// ffprobe next to the configured ffmpeg (same directory, or on `PATH` for a bare name).
pub(crate) fn ffprobe_for(ffmpeg: &Path) -> PathBuf {
    match ffmpeg.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) => dir.join("ffprobe"),
        None => PathBuf::from("ffprobe"),
    }
}

/// A media file's duration in whole seconds, from ffprobe; `None` when it cannot tell. Used when
/// yt-dlp does not know the duration (a direct media link).
pub async fn probe_duration(ffmpeg: &Path, file: &Path) -> Option<u64> {
    let ffprobe = resolve_program(&ffprobe_for(ffmpeg))?;
    let mut command = tokio::process::Command::new(ffprobe);
    command
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "default=noprint_wrappers=1:nokey=1",
            "--",
        ])
        .arg(file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(PROBE_TIMEOUT, command.output())
        .await
        .ok()?
        .ok()?;
    let secs: f64 = String::from_utf8_lossy(&output.stdout).trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| secs.round() as u64)
}
