//! ffmpeg runs the worker starts itself (thumbnails, splitting), as opposed to those yt-dlp
//! starts. They go through the same runner as yt-dlp, so they live in their own process group,
//! die with a cancelled task and never outlive the worker.
use crate::ytdlp::runner::{self, RunError, RunSpec};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Why an ffmpeg run the worker started did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum FfmpegError {
    #[error("ffmpeg not found (tried {})", .0.display())]
    NotFound(PathBuf),
    #[error("cancelled")]
    Cancelled,
    #[error("ffmpeg took longer than {0:?}")]
    Timeout(Duration),
    #[error("ffmpeg failed: {0}")]
    Failed(String),
}

/// `file:` in front of an absolute path, so a name ffmpeg would otherwise read as a protocol
/// (`a:b.mp4`) or an option is always a plain file.
pub(crate) fn file_url(path: &Path) -> OsString {
    let mut url = OsString::from("file:");
    url.push(path.as_os_str());
    url
}

/// Runs `ffmpeg` with `args` (after `-hide_banner -nostdin -y -loglevel error`), at most
/// `deadline`, stopped at once when `cancel` fires. ffmpeg prints nothing at this log level
/// while it works, so the idle limit is the deadline too.
pub(crate) async fn run_ffmpeg(
    ffmpeg: &Path,
    args: Vec<OsString>,
    deadline: Duration,
    cancel: &CancellationToken,
) -> Result<(), FfmpegError> {
    let mut argv: Vec<OsString> = ["-hide_banner", "-nostdin", "-y", "-loglevel", "error"]
        .iter()
        .map(OsString::from)
        .collect();
    argv.extend(args);
    let mut spec = RunSpec::new(ffmpeg, argv);
    spec.deadline = deadline;
    spec.idle_timeout = deadline;
    let mut last_error = String::new();
    let exit = runner::run(spec, cancel, |line| {
        if !line.text().trim().is_empty() {
            last_error = line.text().trim().to_owned();
        }
    })
    .await
    .map_err(|error| match error {
        RunError::NotFound { program } => FfmpegError::NotFound(program),
        RunError::Cancelled => FfmpegError::Cancelled,
        RunError::Deadline(limit) | RunError::IdleTimeout(limit) => FfmpegError::Timeout(limit),
        other @ (RunError::Spawn(_) | RunError::Io(_)) => FfmpegError::Failed(other.to_string()),
    })?;
    if exit.success {
        Ok(())
    } else {
        Err(FfmpegError::Failed(if last_error.is_empty() {
            format!("exit status {:?}", exit.code)
        } else {
            last_error
        }))
    }
}
