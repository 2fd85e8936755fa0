//! What a host chooses for a `youtube_dl` or `playlist` request, typed. Every choice left at
//! `None` stays off the wire, so the worker's own default applies (and a request says only what
//! its sender decided); the keys are those of [`crate::DownloadParams`] / [`crate::PlaylistParams`].
use serde::Serialize;

use crate::{download_request, playlist_request_opts, AudioFormat, Request};

/// The optional parameters of a `youtube_dl` request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct DownloadOptions {
    /// Sent only with `extract_audio` (the worker ignores it otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio_format: Option<AudioFormat>,
    /// yt-dlp `--audio-quality` (`"0"` best … `"9"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio_quality: Option<String>,
    /// An explicit yt-dlp format selector.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_filesize_mb: Option<u64>,
}

/// How a `youtube_dl` file should be shaped for delivery (issue 17). Kept apart from
/// [`DownloadOptions`] so hosts building that struct by its fields keep compiling; add it to a
/// request with [`Request::with_media_options`]. Defaults stay off the wire.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct MediaOptions {
    /// `embed_metadata`: title/artist/cover written into the file.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub embed_metadata: bool,
    /// `split_over_mb`: split a larger final file into playable parts of at most this size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub split_over_mb: Option<u64>,
}

impl Request {
    /// This request with `options` merged into its params.
    pub fn with_media_options(self, options: &MediaOptions) -> Request {
        self.with_params(to_params(options))
    }
}

/// The optional parameters of a `playlist` request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct PlaylistOptions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio_format: Option<AudioFormat>,
    /// Only the first N items (sent as `playlist_end`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub playlist_end: Option<u32>,
    /// ZIP split size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive_max_size_mb: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_filesize_mb: Option<u64>,
}

/// [`download_request`] with the given options.
pub fn download_request_with(
    task_id: &str,
    url: &str,
    extract_audio: bool,
    out_dir: &str,
    options: &DownloadOptions,
) -> Request {
    download_request(task_id, url, extract_audio, out_dir).with_params(to_params(options))
}

/// [`playlist_request_opts`] with the given options.
pub fn playlist_request_with(
    task_id: &str,
    url: &str,
    extract_audio: bool,
    out_dir: &str,
    options: &PlaylistOptions,
) -> Request {
    playlist_request_opts(task_id, url, out_dir, None, extract_audio).with_params(to_params(options))
}

fn to_params(options: &impl Serialize) -> serde_json::Value {
    // Plain structs of strings, numbers and enums: serialising them cannot fail.
    serde_json::to_value(options).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unset_options_stay_off_the_wire() {
        let video = download_request_with("t", "u", false, "/d", &DownloadOptions::default());
        assert_eq!(
            serde_json::Value::Object(video.params),
            json!({ "extract_audio": false, "output_dir": "/d" })
        );
        let audio = DownloadOptions {
            audio_format: Some(AudioFormat::Opus),
            audio_quality: Some("5".into()),
            format: Some("251".into()),
            max_filesize_mb: Some(50),
        };
        let request = download_request_with("t", "u", true, "/d", &audio);
        let expected = json!({
            "extract_audio": true, "output_dir": "/d", "audio_format": "opus", "audio_quality": "5",
            "format": "251", "max_filesize_mb": 50
        });
        assert_eq!(serde_json::Value::Object(request.params), expected);
        let playlist = PlaylistOptions {
            playlist_end: Some(10),
            archive_max_size_mb: Some(49),
            ..Default::default()
        };
        let request = playlist_request_with("p", "u", true, "/d", &playlist);
        let expected = json!({ "extract_audio": true, "output_dir": "/d", "playlist_end": 10, "archive_max_size_mb": 49 });
        assert_eq!(serde_json::Value::Object(request.params), expected);
    }

    #[test]
    fn media_options_are_merged_and_defaults_stay_off_the_wire() {
        let plain = download_request_with("t", "u", false, "/d", &DownloadOptions::default())
            .with_media_options(&MediaOptions::default());
        assert_eq!(
            serde_json::Value::Object(plain.params),
            json!({ "extract_audio": false, "output_dir": "/d" })
        );
        let shaped = download_request_with("t", "u", false, "/d", &DownloadOptions::default())
            .with_media_options(&MediaOptions {
                embed_metadata: true,
                split_over_mb: Some(49),
            });
        let params: crate::DownloadParams = shaped.params_as().unwrap();
        assert!(params.embed_metadata);
        assert_eq!(params.split_over_mb, Some(49));
    }
}
