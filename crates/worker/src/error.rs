//! The worker's one error type and the one place that maps it to protocol error codes.
//!
//! Actions return `Result<RawResponse, WorkerError>`; dispatch turns an `Err` into the task's final
//! `error` event with [`WorkerError::code`] and the first line of the message.
use crate::archive::ArchiveError;
use crate::ffmpeg::FfmpegError;
use crate::sanitize::PathError;
use crate::shutdown::Shutdown;
use crate::split::SplitError;
use crate::ytdlp::classify::YtdlpErrorKind;
use hermes_protocol::{ErrorCode, RequestError};
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("{}", .0.message)]
    Request(#[from] RequestError),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("invalid URL: {0}")]
    InvalidUrl(String),
    #[error("yt-dlp not found (tried {})", .0.display())]
    YtdlpNotFound(PathBuf),
    #[error("ffmpeg not found (tried {})", .0.display())]
    FfmpegNotFound(PathBuf),
    /// yt-dlp failed; `kind` is what its ERROR lines say, `message` the first of them.
    #[error("{message}")]
    Ytdlp { kind: YtdlpErrorKind, message: String },
    #[error("{0}")]
    Path(#[from] PathError),
    #[error("{0}")]
    Archive(#[from] ArchiveError),
    #[error("cancelled: {0}")]
    Cancelled(String),
    #[error("{0}")]
    Timeout(String),
    #[error("{0}")]
    NetworkTimeout(String),
    #[error("output file not found: {0}")]
    FileNotFound(String),
    #[error("{0}")]
    Playlist(String),
    #[error("{0}")]
    RateLimited(String),
    #[error("disk full: {0}")]
    DiskFull(String),
    /// Over the size cap; `size` is the file's whole size when the server announced it.
    #[error("{message}")]
    FileTooLarge { message: String, size: Option<u64> },
    /// The egress policy refused a destination (the request's own URL, a redirect, a fragment).
    #[error("{0}")]
    UrlNotAllowed(String),
    /// An ffmpeg step of the worker's own (a thumbnail) failed in a way that ends the task.
    #[error("{0}")]
    Ffmpeg(#[from] FfmpegError),
    /// `split_over_mb` could not be met.
    #[error("{0}")]
    Split(#[from] SplitError),
    #[error("cache database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("{0}")]
    Internal(String),
}

impl WorkerError {
    /// The error for a task cancelled by `cancel` or by worker termination. A constructor here,
    /// not in dispatch, so that the runs and actions below dispatch can stop with it.
    pub(crate) fn cancelled(shutdown: &Shutdown) -> WorkerError {
        if shutdown.is_terminating() {
            WorkerError::Cancelled("the worker is shutting down".to_owned())
        } else {
            WorkerError::Cancelled("by request".to_owned())
        }
    }

    /// The protocol error code for this error (DESIGN.md §2).
    pub fn code(&self) -> ErrorCode {
        match self {
            WorkerError::Request(e) => e.code.clone(),
            WorkerError::InvalidRequest(_) => ErrorCode::InvalidRequest,
            WorkerError::InvalidUrl(_) => ErrorCode::InvalidUrl,
            WorkerError::YtdlpNotFound(_) => ErrorCode::YtdlpNotFound,
            WorkerError::FfmpegNotFound(_) => ErrorCode::FfmpegNotFound,
            WorkerError::Ytdlp { kind, .. } => ytdlp_code(*kind),
            WorkerError::Path(_) => ErrorCode::InvalidRequest,
            WorkerError::Archive(e) => archive_code(e),
            WorkerError::Cancelled(_) => ErrorCode::Cancelled,
            WorkerError::Timeout(_) => ErrorCode::Timeout,
            WorkerError::NetworkTimeout(_) => ErrorCode::NetworkTimeout,
            WorkerError::FileNotFound(_) => ErrorCode::FileNotFound,
            WorkerError::Playlist(_) => ErrorCode::PlaylistError,
            WorkerError::RateLimited(_) => ErrorCode::RateLimited,
            WorkerError::DiskFull(_) => ErrorCode::DiskFull,
            WorkerError::FileTooLarge { .. } => ErrorCode::FileTooLarge,
            WorkerError::UrlNotAllowed(_) => ErrorCode::UrlNotAllowed,
            WorkerError::Ffmpeg(e) => ffmpeg_code(e),
            WorkerError::Split(SplitError::Impossible { .. }) => ErrorCode::FileTooLarge,
            WorkerError::Split(SplitError::Ffmpeg(e)) => ffmpeg_code(e),
            WorkerError::Split(SplitError::Io(_)) => ErrorCode::Internal,
            WorkerError::Database(_) | WorkerError::Internal(_) => ErrorCode::Internal,
        }
    }

    /// Whether trying again may help (network trouble, HTTP 5xx, 429): the only failures retried.
    pub(crate) fn is_transient(&self) -> bool {
        matches!(self, WorkerError::Ytdlp { kind, .. } if kind.is_transient())
    }

    /// The `error` event's data.
    pub(crate) fn data(&self) -> hermes_protocol::ErrorData {
        let file_size = match self {
            WorkerError::FileTooLarge { size, .. } => *size,
            WorkerError::Split(SplitError::Impossible { size, .. }) => Some(*size),
            _ => None,
        };
        hermes_protocol::ErrorData {
            message: self.message(),
            error_code: self.code(),
            file_size,
        }
    }

    /// The human message for the `error` event: the first line of the cause.
    pub(crate) fn message(&self) -> String {
        let text = self.to_string();
        text.lines().next().unwrap_or_default().trim().to_owned()
    }
}

fn ytdlp_code(kind: YtdlpErrorKind) -> ErrorCode {
    match kind {
        YtdlpErrorKind::Private | YtdlpErrorKind::AgeRestricted => ErrorCode::VideoPrivate,
        YtdlpErrorKind::Removed => ErrorCode::VideoRemoved,
        YtdlpErrorKind::BotDetection => ErrorCode::BotDetection,
        YtdlpErrorKind::NoSuitableFormat | YtdlpErrorKind::NoJsRuntime => ErrorCode::NoSuitableFormat,
        YtdlpErrorKind::RateLimited => ErrorCode::RateLimited,
        YtdlpErrorKind::NetworkTimeout => ErrorCode::NetworkTimeout,
        YtdlpErrorKind::UnsupportedUrl => ErrorCode::InvalidUrl,
        YtdlpErrorKind::DiskFull => ErrorCode::DiskFull,
        YtdlpErrorKind::Other => ErrorCode::YtdlpError,
    }
}

fn ffmpeg_code(error: &FfmpegError) -> ErrorCode {
    match error {
        FfmpegError::NotFound(_) => ErrorCode::FfmpegNotFound,
        FfmpegError::Cancelled => ErrorCode::Cancelled,
        FfmpegError::Timeout(_) => ErrorCode::Timeout,
        FfmpegError::Failed(_) => ErrorCode::Internal,
    }
}

fn archive_code(error: &ArchiveError) -> ErrorCode {
    match error {
        ArchiveError::DiskFull => ErrorCode::DiskFull,
        ArchiveError::MissingTrack(_) | ArchiveError::NotAFile(_) => ErrorCode::FileNotFound,
        ArchiveError::NoTracks | ArchiveError::TrackChanged(_) | ArchiveError::InvalidBaseName(_) => {
            ErrorCode::PlaylistError
        }
        ArchiveError::Io { .. } | ArchiveError::Zip { .. } | ArchiveError::PartOverLimit { .. } => {
            ErrorCode::Internal
        }
    }
}

impl From<hermes_protocol::UnknownAudioFormat> for WorkerError {
    fn from(error: hermes_protocol::UnknownAudioFormat) -> WorkerError {
        WorkerError::InvalidRequest(error.to_string())
    }
}

impl From<std::io::Error> for WorkerError {
    fn from(error: std::io::Error) -> WorkerError {
        if is_disk_full(&error) {
            WorkerError::DiskFull(error.to_string())
        } else {
            WorkerError::Internal(format!("I/O error: {error}"))
        }
    }
}

/// ENOSPC, EDQUOT and EFBIG all mean "no room to write this file".
pub(crate) fn is_disk_full(error: &std::io::Error) -> bool {
    matches!(error.raw_os_error(), Some(28) | Some(122) | Some(27))
        || matches!(
            error.kind(),
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::FileTooLarge
        )
}

/// A failure as the host sees it (code and message), cloneable so that every request that
/// waited on a failed search flight gets the very same `error` event. [`WorkerError`] itself
/// cannot be cloned (it wraps I/O and database errors).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SharedError {
    pub(crate) code: ErrorCode,
    pub(crate) message: String,
}

impl From<&WorkerError> for SharedError {
    fn from(error: &WorkerError) -> SharedError {
        SharedError {
            code: error.code(),
            message: error.message(),
        }
    }
}

impl From<SharedError> for WorkerError {
    /// Rebuilt as a request-level error: it carries the code and message verbatim, which is all
    /// the final event needs.
    fn from(error: SharedError) -> WorkerError {
        WorkerError::Request(RequestError {
            task_id: None,
            code: error.code,
            message: error.message,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ytdlp_causes_map_to_their_codes() {
        let code = |kind| {
            WorkerError::Ytdlp {
                kind,
                message: String::new(),
            }
            .code()
        };
        assert_eq!(code(YtdlpErrorKind::AgeRestricted), ErrorCode::VideoPrivate);
        assert_eq!(code(YtdlpErrorKind::Private), ErrorCode::VideoPrivate);
        assert_eq!(code(YtdlpErrorKind::Removed), ErrorCode::VideoRemoved);
        assert_eq!(code(YtdlpErrorKind::UnsupportedUrl), ErrorCode::InvalidUrl);
        assert_eq!(code(YtdlpErrorKind::Other), ErrorCode::YtdlpError);
        assert_eq!(code(YtdlpErrorKind::RateLimited), ErrorCode::RateLimited);
        assert_eq!(code(YtdlpErrorKind::DiskFull), ErrorCode::DiskFull);
        assert!(WorkerError::Ytdlp {
            kind: YtdlpErrorKind::NetworkTimeout,
            message: String::new()
        }
        .is_transient());
        assert!(!WorkerError::Ytdlp {
            kind: YtdlpErrorKind::Removed,
            message: String::new()
        }
        .is_transient());
    }

    #[test]
    fn messages_are_one_line_and_io_disk_full_is_recognised() {
        let e = WorkerError::Internal("first\nsecond".into());
        assert_eq!(e.message(), "first");
        let full = std::io::Error::from_raw_os_error(28);
        assert_eq!(WorkerError::from(full).code(), ErrorCode::DiskFull);
        assert_eq!(
            WorkerError::from(ArchiveError::NoTracks).code(),
            ErrorCode::PlaylistError
        );
    }

    #[test]
    fn a_shared_error_keeps_code_and_first_line() {
        let original = WorkerError::RateLimited("HTTP Error 429: Too Many Requests\nmore".to_owned());
        let shared = SharedError::from(&original);
        let rebuilt = WorkerError::from(shared.clone());
        assert_eq!(
            (rebuilt.code(), rebuilt.message()),
            (
                ErrorCode::RateLimited,
                "HTTP Error 429: Too Many Requests".to_owned()
            )
        );
        assert_eq!(shared.message, original.message());
    }
}
