//! Typed `data` of each event. The guide profile's payloads carry the guide's keys plus
//! compatible extras; the `Python*` payloads are the `python` profile's shapes (DESIGN.md §2.1).
//! Input is lenient (`#[serde(default)]`) so a host can read either worker and either profile:
//! e.g. [`DownloadDone`] reads a `done` that has only `file_path`, [`PlaylistDone`] one whose
//! `files` are the tracks.
use crate::{ErrorCode, FormatMode};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// Where a task is. `Other` keeps hosts tolerant of statuses added later.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProgressStatus {
    #[default]
    Preparing,
    Downloading,
    Processing,
    Converting,
    Retrying,
    DownloadingPlaylist,
    Zipping,
    Completed,
    Searching,
    #[serde(other)]
    Other,
}

/// `progress` data. `percent` is a JSON integer 0–100 that never decreases within a task.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ProgressData {
    #[serde(deserialize_with = "lenient_percent")]
    pub percent: u8,
    /// Human speed such as `"1.2MB/s"`; `""` when unknown.
    pub speed: String,
    /// Seconds left; 0 when unknown.
    #[serde(deserialize_with = "lenient_u64")]
    pub eta: u64,
    pub status: ProgressStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub downloaded: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// A file that is complete and will not change any more (a track, or a playlist's ZIP part),
    /// reported as soon as it is, so a host can deliver it before the task's `done`. Absent from
    /// every other `progress` event; hosts that read only `percent`/`speed`/`status` ignore it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<FileEntry>,
    /// The media's title as soon as yt-dlp knows it (before the download starts), so a host can
    /// show it instead of the URL. `youtube_dl` only: once known it is on every later `progress`
    /// event of the task (the final `completed` one included); absent before that, absent when
    /// yt-dlp reports none, and absent from `playlist` progress. At most 300 characters, one line.
    /// Display text only, never a file name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

/// `error` data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorData {
    pub message: String,
    pub error_code: ErrorCode,
    /// `FILE_TOO_LARGE`: the size of the refused file in bytes, when the server announced it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_size: Option<u64>,
}

/// A produced file. `name` is set for ZIP parts.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct FileEntry {
    pub path: String,
    pub size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `done` data of `youtube_dl`: the guide's `files`, `title`, `duration` plus the Python worker's
/// `file_path`, `file_size`, `filename` describing the main file.
///
/// The keys after `filename` describe how the file should look when sent (issue 17); each is
/// present only when known, so a `done` without them has the shape it always had. When the
/// file was split (`split_over_mb`), `files` are the parts in order, `parts` their count, and
/// `file_path`/`file_size`/`filename` describe the first part.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DownloadDone {
    pub files: Vec<FileEntry>,
    pub title: Option<String>,
    /// Whole seconds; null when the source does not say (e.g. a direct media URL).
    pub duration: Option<u64>,
    pub file_path: String,
    pub file_size: u64,
    pub filename: String,
    /// Absolute path of a JPEG inside the task directory, at most 320 px on its longer side and
    /// under 200 KB (what Telegram accepts as a `thumbnail`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thumbnail: Option<String>,
    /// Video frame size in pixels, from ffprobe of the final file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// The media's own metadata as yt-dlp found it (a music track's name and artist, the
    /// uploader); display text only, never a file name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub track: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artist: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uploader: Option<String>,
    /// How many parts the file was split into; absent when it was not split.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parts: Option<u32>,
}

/// One ZIP part in `playlist` `done` data.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ArchiveEntry {
    pub name: String,
    pub path: String,
    pub size: u64,
    pub size_mb: f64,
}

/// One downloaded track in `playlist` `done` data.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TrackEntry {
    pub path: String,
    pub name: String,
    pub size: u64,
}

/// `done` data of `playlist`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PlaylistDone {
    /// The ZIP part(s), in order, each with `name`.
    pub files: Vec<FileEntry>,
    pub archives: Vec<ArchiveEntry>,
    pub tracks: Vec<TrackEntry>,
    pub playlist_name: String,
    pub total_tracks_downloaded: u32,
    pub failed_tracks: u32,
    pub folder_path: String,
    /// First ZIP part.
    pub file_path: String,
    pub filename: String,
}

/// `done` data of `youtube_dl` in the `python` wire profile (DESIGN.md §2.1): the Python worker's
/// keys only. No `files`: the existing host sends `file_path` and then every `files[]` entry
/// again, so a `files` key would deliver the download twice.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PythonDownloadDone {
    pub file_path: String,
    pub file_size: u64,
    pub filename: String,
    pub title: Option<String>,
    pub duration: Option<u64>,
    /// Only when the file was split (a request's `split_over_mb`, which the existing host never
    /// sends): the parts after the first, which is `file_path`. The existing host sends
    /// `file_path` and then every `files[]` entry, so each part is delivered once.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parts: Option<u32>,
}

/// One track in `playlist` `done` data of the `python` profile.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PythonTrackFile {
    pub path: String,
    pub name: String,
    /// MiB, two decimals.
    pub size_mb: f64,
    /// The file was already in the playlist folder before this run.
    pub cached: bool,
}

/// `done` data of `playlist` in the `python` profile: the tracks themselves (no ZIP), no
/// `file_path`, no `archives`. The existing host sends every `files[]` entry, and reads
/// `archives` only when there is no `files` key.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PythonPlaylistDone {
    pub files: Vec<PythonTrackFile>,
    pub playlist_name: String,
    pub total_tracks_downloaded: u32,
    /// Items skipped because the request's `archive_file` already lists them.
    pub already_cached: u32,
    pub folder_path: String,
}

/// One entry of a `playlist_preview`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PreviewTrack {
    pub index: u32,
    pub title: String,
    pub url: String,
    pub duration: Option<u64>,
}

/// `done` data of `playlist_preview`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PlaylistPreview {
    pub playlist_title: String,
    pub playlist_count: Option<u64>,
    pub tracks: Vec<PreviewTrack>,
}

/// One search hit: the guide's keys plus `videoId`, `artist`, `duration_string`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SearchResult {
    pub video_id: String,
    pub title: String,
    pub url: String,
    /// Whole seconds; null for live streams and premieres.
    pub duration: Option<u64>,
    pub thumbnail: String,
    pub channel: Option<String>,
    pub view_count: Option<u64>,
    #[serde(rename = "videoId")]
    pub video_id_compat: String,
    pub artist: Option<String>,
    pub duration_string: Option<String>,
    /// yt-dlp's `live_status` of the hit: `is_live` (streaming now), `is_upcoming` (a scheduled
    /// stream or premiere), `was_live`, `post_live` (a stream just ended, still processing) or
    /// `not_live`. Absent when yt-dlp does not say (most ordinary videos).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live_status: Option<String>,
}

/// `search_results` data.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SearchResults {
    pub results: Vec<SearchResult>,
    pub query: String,
    pub total_results: usize,
    pub from_cache: bool,
}

/// `video_info` data.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct VideoInfo {
    pub video_id: String,
    pub title: String,
    pub url: String,
    pub duration: Option<u64>,
    pub duration_string: Option<String>,
    pub thumbnail: Option<String>,
    pub channel: Option<String>,
    pub view_count: Option<u64>,
    pub description: Option<String>,
    pub is_age_restricted: bool,
    pub is_private: bool,
    pub from_cache: bool,
    #[serde(rename = "videoId")]
    pub video_id_compat: String,
    pub artist: Option<String>,
}

/// One choice offered by `get_formats`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct FormatOption {
    /// A yt-dlp selector to pass back as `format` (e.g. `"137+bestaudio"`).
    pub format_id: String,
    pub label: String,
    pub ext: String,
    pub filesize_approx: Option<u64>,
    /// `"video"` or `"audio"`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tbr: Option<f64>,
    /// Whether choosing this row means `extract_audio: true` (the existing host reads it from the
    /// row, false when absent). Set on every audio row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extract_audio: Option<bool>,
    /// For audio conversions: the `audio_format` / `audio_quality` to request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio_format: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio_quality: Option<String>,
}

/// `format_list` data.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct FormatList {
    pub title: String,
    pub duration: Option<u64>,
    pub duration_string: Option<String>,
    pub thumbnail: Option<String>,
    pub mode: FormatMode,
    pub formats: Vec<FormatOption>,
}

/// `health_ok` data.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct HealthOk {
    pub status: String,
    pub worker: String,
    pub version: String,
    pub handlers: Vec<String>,
    /// The effective configuration (no secrets).
    pub config: Value,
    pub active_tasks: usize,
    pub uptime_s: f64,
    /// `yt-dlp --version`, or null when it cannot be run.
    pub ytdlp: Option<String>,
    /// First line of `ffmpeg -version`, or null.
    pub ffmpeg: Option<String>,
    /// The JavaScript runtime yt-dlp found (YouTube needs one), or null.
    pub js_runtime: Option<crate::JsRuntime>,
    /// The `yt-dlp-ejs` solver scripts' version, or null.
    pub ejs: Option<String>,
}

/// `cache_stats` data.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CacheStats {
    pub search_entries: u64,
    pub metadata_entries: u64,
    pub cache_enabled: bool,
    pub ttl_hours: u64,
    pub hits: u64,
    pub misses: u64,
}

/// `cache_cleanup_done` data.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CacheCleanupDone {
    pub removed_search: u64,
    pub removed_metadata: u64,
}

/// `done` data of `cancel`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CancelDone {
    pub cancelled: bool,
    pub found: bool,
    pub target_task_id: String,
}

/// Accepts the integer we emit and the float percent some hosts or older workers send.
fn lenient_percent<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u8, D::Error> {
    Ok(lenient_number(deserializer)?.clamp(0.0, 100.0) as u8)
}

fn lenient_u64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    Ok(lenient_number(deserializer)?.max(0.0) as u64)
}

fn lenient_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::Number(n) => n.as_f64().unwrap_or(0.0),
        Value::String(s) => s.trim().trim_end_matches('%').parse().unwrap_or(0.0),
        _ => 0.0,
    })
}
