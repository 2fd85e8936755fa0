//! Typed parameters of each action. Unknown keys are ignored (hosts may send more than we use);
//! both spellings are accepted where the guide and the existing host differ.
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// Audio containers `extract_audio` can produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AudioFormat {
    #[default]
    Mp3,
    M4a,
    Opus,
    Flac,
    Wav,
}

impl AudioFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            AudioFormat::Mp3 => "mp3",
            AudioFormat::M4a => "m4a",
            AudioFormat::Opus => "opus",
            AudioFormat::Flac => "flac",
            AudioFormat::Wav => "wav",
        }
    }

    pub fn from_name(name: &str) -> Option<AudioFormat> {
        [
            AudioFormat::Mp3,
            AudioFormat::M4a,
            AudioFormat::Opus,
            AudioFormat::Flac,
            AudioFormat::Wav,
        ]
        .into_iter()
        .find(|f| f.as_str().eq_ignore_ascii_case(name.trim()))
    }
}

/// An `audio_format` the worker cannot extract to, in a request that asks for extraction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown audio_format {0:?} (expected mp3, m4a, opus, flac or wav)")]
pub struct UnknownAudioFormat(pub String);

/// The container to extract audio to: `None` when `extract_audio` is false, whatever
/// `audio_format` says. The existing host sends `"audio_format": "mp4"` with every video
/// download, so the name only has to be valid when it is used.
fn audio_target(extract_audio: bool, audio_format: &str) -> Result<Option<AudioFormat>, UnknownAudioFormat> {
    if !extract_audio {
        return Ok(None);
    }
    AudioFormat::from_name(audio_format)
        .map(Some)
        .ok_or_else(|| UnknownAudioFormat(audio_format.to_owned()))
}

/// `get_formats` mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FormatMode {
    #[default]
    Video,
    Audio,
}

/// `youtube_dl` params.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DownloadParams {
    pub extract_audio: bool,
    /// Any name on the wire; checked by [`DownloadParams::audio_target`] only when
    /// `extract_audio` is true.
    pub audio_format: String,
    /// yt-dlp `--audio-quality`: `"0"` (best) … `"9"`, or a bitrate like `"192K"`. Numbers are
    /// accepted too (`0`).
    #[serde(deserialize_with = "string_or_number")]
    pub audio_quality: String,
    /// An explicit yt-dlp format selector; wins over the defaults.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_dir: Option<String>,
    /// Sent by the existing host; not used by the worker.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_chat_id: Option<Value>,
    /// Largest file this request accepts, in MB; the worker's `MAX_FILESIZE_MB` still applies.
    /// Without an explicit `format`, the default selector also prefers formats whose announced
    /// size fits under it, so a download is less often stopped by the cap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_filesize_mb: Option<u64>,
    /// Write title/artist (and, where the container can hold one, the cover) into the file
    /// itself (yt-dlp `--embed-metadata --embed-thumbnail`), so it looks right wherever it goes.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub embed_metadata: bool,
    /// A final file larger than this many MB is cut by time, without re-encoding, into playable
    /// parts each at most this size (reported in order in `done.files`, with `parts`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub split_over_mb: Option<u64>,
}

impl Default for DownloadParams {
    fn default() -> Self {
        DownloadParams {
            extract_audio: false,
            audio_format: AudioFormat::Mp3.as_str().to_owned(),
            audio_quality: "0".to_owned(),
            format: None,
            output_dir: None,
            user_chat_id: None,
            max_filesize_mb: None,
            embed_metadata: false,
            split_over_mb: None,
        }
    }
}

impl DownloadParams {
    /// The container to extract audio to; `None` for a video download.
    pub fn audio_target(&self) -> Result<Option<AudioFormat>, UnknownAudioFormat> {
        audio_target(self.extract_audio, &self.audio_format)
    }
}

/// `playlist` params.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PlaylistParams {
    pub extract_audio: bool,
    /// Any name on the wire; checked by [`PlaylistParams::audio_target`] only when
    /// `extract_audio` is true.
    pub audio_format: String,
    #[serde(deserialize_with = "string_or_number")]
    pub audio_quality: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_dir: Option<String>,
    /// Download at most this many items (all when absent).
    #[serde(alias = "max_items", skip_serializing_if = "Option::is_none")]
    pub playlist_end: Option<u32>,
    /// ZIP split size; the worker's `ARCHIVE_MAX_SIZE_MB` when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive_max_size_mb: Option<u64>,
    /// yt-dlp `--download-archive` file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Largest file (track) this request accepts, in MB; the worker's `MAX_FILESIZE_MB` still applies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_filesize_mb: Option<u64>,
}

impl Default for PlaylistParams {
    fn default() -> Self {
        PlaylistParams {
            extract_audio: true,
            audio_format: AudioFormat::Mp3.as_str().to_owned(),
            audio_quality: "0".to_owned(),
            output_dir: None,
            playlist_end: None,
            archive_max_size_mb: None,
            archive_file: None,
            format: None,
            max_filesize_mb: None,
        }
    }
}

impl PlaylistParams {
    /// The container to extract audio to; `None` for a video playlist.
    pub fn audio_target(&self) -> Result<Option<AudioFormat>, UnknownAudioFormat> {
        audio_target(self.extract_audio, &self.audio_format)
    }
}

/// `playlist_preview` params.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PreviewParams {
    pub preview_count: u32,
}

impl Default for PreviewParams {
    fn default() -> Self {
        PreviewParams { preview_count: 5 }
    }
}

/// `youtube_search` params. The count may be spelled `max_results` (guide) or `limit`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SearchParams {
    pub query: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_results: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

impl SearchParams {
    pub const DEFAULT_RESULTS: u32 = 5;
    pub const MAX_RESULTS: u32 = 20;

    /// The number of results asked for: `max_results`, else `limit`, else 5; clamped to 1..=20.
    pub fn result_count(&self) -> u32 {
        self.max_results
            .or(self.limit)
            .unwrap_or(Self::DEFAULT_RESULTS)
            .clamp(1, Self::MAX_RESULTS)
    }
}

/// `get_formats` params.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct FormatsParams {
    pub mode: FormatMode,
}

/// `cancel` params.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CancelParams {
    #[serde(alias = "target")]
    pub target_task_id: String,
}

fn string_or_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!(
            "expected a string or number, got {other}"
        ))),
    }
}
