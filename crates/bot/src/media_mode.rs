//! [`MediaMode`]: whether a download keeps the audio track only or the video. Chosen on a
//! keyboard, stored in the chat's settings and in the upload cache's key, so it has a module of
//! its own that all of them import.

/// Whether a task downloads the audio track only or the video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum MediaMode {
    Audio,
    Video,
}

impl MediaMode {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            MediaMode::Audio => "audio",
            MediaMode::Video => "video",
        }
    }

    pub(crate) fn from_name(name: &str) -> Option<MediaMode> {
        match name {
            "audio" => Some(MediaMode::Audio),
            "video" => Some(MediaMode::Video),
            _ => None,
        }
    }
}
