//! The one table of error codes an `error` event carries, shared by the worker (which maps its
//! errors to it in one place) and every host.
use serde::{Deserialize, Serialize};
use std::fmt;

/// The one table of error codes carried by `error` events (DESIGN.md §2).
///
/// `WorkerCrashed` is never sent by the worker: the host side synthesises it for tasks that were
/// pending when the worker died. `Other` keeps hosts forward-compatible with codes added later.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    InvalidJson,
    InvalidRequest,
    UnknownAction,
    InvalidUrl,
    YtdlpNotFound,
    FfmpegNotFound,
    YtdlpError,
    BotDetection,
    VideoPrivate,
    VideoRemoved,
    NoSuitableFormat,
    NetworkTimeout,
    Timeout,
    Cancelled,
    FileNotFound,
    PlaylistError,
    RateLimited,
    DiskFull,
    /// The download is, or grew, larger than `MAX_FILESIZE_MB` or the request's `max_filesize_mb`.
    FileTooLarge,
    /// The URL, a redirect or a fragment leads somewhere the worker's egress policy refuses.
    UrlNotAllowed,
    Internal,
    WorkerCrashed,
    #[serde(untagged)]
    Other(String),
}

impl ErrorCode {
    /// The wire spelling, e.g. `"YTDLP_ERROR"`.
    pub fn as_str(&self) -> &str {
        match self {
            ErrorCode::InvalidJson => "INVALID_JSON",
            ErrorCode::InvalidRequest => "INVALID_REQUEST",
            ErrorCode::UnknownAction => "UNKNOWN_ACTION",
            ErrorCode::InvalidUrl => "INVALID_URL",
            ErrorCode::YtdlpNotFound => "YTDLP_NOT_FOUND",
            ErrorCode::FfmpegNotFound => "FFMPEG_NOT_FOUND",
            ErrorCode::YtdlpError => "YTDLP_ERROR",
            ErrorCode::BotDetection => "BOT_DETECTION",
            ErrorCode::VideoPrivate => "VIDEO_PRIVATE",
            ErrorCode::VideoRemoved => "VIDEO_REMOVED",
            ErrorCode::NoSuitableFormat => "NO_SUITABLE_FORMAT",
            ErrorCode::NetworkTimeout => "NETWORK_TIMEOUT",
            ErrorCode::Timeout => "TIMEOUT",
            ErrorCode::Cancelled => "CANCELLED",
            ErrorCode::FileNotFound => "FILE_NOT_FOUND",
            ErrorCode::PlaylistError => "PLAYLIST_ERROR",
            ErrorCode::RateLimited => "RATE_LIMITED",
            ErrorCode::DiskFull => "DISK_FULL",
            ErrorCode::FileTooLarge => "FILE_TOO_LARGE",
            ErrorCode::UrlNotAllowed => "URL_NOT_ALLOWED",
            ErrorCode::Internal => "INTERNAL",
            ErrorCode::WorkerCrashed => "WORKER_CRASHED",
            ErrorCode::Other(code) => code,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
