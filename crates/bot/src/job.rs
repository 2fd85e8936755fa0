//! What a download job is: the user's choice ([`DownloadChoice`] for one link, or a playlist),
//! the chat, the media key of the upload cache, and the worker request it becomes. Data only;
//! `job_runner` runs jobs. A job is kept as JSON in the jobs table and travels as JSON on
//! `hermes:jobs`, so it holds everything a run needs.
use hermes_host::render::{one_line, shorten};
use hermes_protocol::{
    download_request_with, playlist_request_with, AudioFormat, DownloadOptions, MediaOptions,
    PlaylistOptions, Request,
};

use serde::{Deserialize, Serialize};

use crate::db::UploadKey;
use crate::media_mode::MediaMode;

/// How a single link is downloaded: the mode plus an optional quality pick from `get_formats`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DownloadChoice {
    pub(crate) mode: MediaMode,
    pub(crate) audio_format: AudioFormat,
    /// yt-dlp `--audio-quality` (`"0"` best … `"9"`); the worker's default when `None`.
    pub(crate) audio_quality: Option<String>,
    /// An explicit yt-dlp format selector (a quality pick); the worker's default when `None`.
    pub(crate) format: Option<String>,
    /// Nothing fits the upload limit: the file is split into playable parts under it instead
    /// of being stopped at the limit.
    #[serde(default)]
    pub(crate) split: bool,
}

impl DownloadChoice {
    pub(crate) fn new(mode: MediaMode, audio_format: AudioFormat) -> Self {
        Self {
            mode,
            audio_format,
            audio_quality: None,
            format: None,
            split: false,
        }
    }

    /// The `format` column of the upload cache: every parameter that changes the produced file.
    pub(crate) fn cache_format(&self) -> String {
        let label = self.file_format();
        if self.split {
            format!("{label}@split")
        } else {
            label
        }
    }

    fn file_format(&self) -> String {
        match self.mode {
            MediaMode::Audio => {
                let mut label = self.audio_format.as_str().to_owned();
                if let Some(quality) = &self.audio_quality {
                    label.push_str(&format!("@q{quality}"));
                }
                if let Some(format) = &self.format {
                    label.push_str(&format!("@{format}"));
                }
                label
            }
            MediaMode::Video => self.format.clone().unwrap_or_else(|| "best".to_owned()),
        }
    }

    /// The `youtube_dl` request for `url`: a file over `upload_limit_mb` could not be delivered,
    /// so the worker picks a format that fits and stops one that grows past it; a split download
    /// is cut into parts of that size instead (the worker's own size cap still guards it).
    /// Title, artist and cover are embedded in the file.
    fn request(&self, task_id: &str, url: &str, output_dir: &str, upload_limit_mb: Option<u64>) -> Request {
        let audio = self.mode == MediaMode::Audio;
        let options = DownloadOptions {
            audio_format: audio.then_some(self.audio_format),
            audio_quality: self.audio_quality.clone(),
            format: self.format.clone(),
            max_filesize_mb: upload_limit_mb.filter(|_| !self.split),
        };
        let media = MediaOptions {
            embed_metadata: true,
            split_over_mb: upload_limit_mb.filter(|_| self.split),
        };
        download_request_with(task_id, url, audio, output_dir, &options).with_media_options(&media)
    }
}

/// What the user asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum JobKind {
    Single(DownloadChoice),
    Playlist {
        mode: MediaMode,
        audio_format: AudioFormat,
        /// First N items; all when `None`.
        limit: Option<u32>,
    },
}

impl JobKind {
    pub(crate) fn queue_kind(&self) -> &'static str {
        match self {
            JobKind::Single(choice) => choice.mode.as_str(),
            JobKind::Playlist { .. } => "playlist",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Job {
    pub(crate) chat_id: i64,
    pub(crate) url: String,
    /// `links::normalize_key` of the link, the upload cache's media key.
    pub(crate) media_key: String,
    pub(crate) kind: JobKind,
    /// Known up front when the link came from a search result.
    pub(crate) title: Option<String>,
    pub(crate) performer: Option<String>,
    /// A message to turn into the status message (the keyboard that was tapped); a new message
    /// is sent when `None`. Once the job is recorded, its status message.
    pub(crate) reuse_message_id: Option<i32>,
}

impl Job {
    /// Where the upload of this job's file is cached; `None` for a playlist, whose content
    /// changes over time and arrives as several ZIP parts.
    pub(crate) fn upload_key(&self) -> Option<UploadKey> {
        match &self.kind {
            JobKind::Single(choice) => Some(UploadKey {
                media_key: self.media_key.clone(),
                mode: choice.mode,
                format: choice.cache_format(),
            }),
            JobKind::Playlist { .. } => None,
        }
    }

    /// The first line of the job's status message.
    pub(crate) fn header(&self) -> String {
        self.header_for(self.title.as_deref())
    }

    /// The header naming `title` (the link while no title is known).
    pub(crate) fn header_for(&self, title: Option<&str>) -> String {
        let subject = title
            .map(one_line)
            .filter(|t| !t.is_empty())
            .map_or_else(|| shorten(&self.url, 80), |t| shorten(&t, 120));
        match &self.kind {
            JobKind::Single(choice) if choice.mode == MediaMode::Audio => format!("🎵 {subject}"),
            JobKind::Single(_) => format!("🎬 {subject}"),
            JobKind::Playlist { .. } => format!("📃 {subject}"),
        }
    }

    /// The worker request of this job. A file over the upload limit could not be delivered
    /// anyway: the worker stops it early instead of filling the disk with it.
    pub(crate) fn request(&self, task_id: &str, output_dir: &str, upload_limit_mb: u64) -> Request {
        match &self.kind {
            JobKind::Single(choice) => choice.request(task_id, &self.url, output_dir, Some(upload_limit_mb)),
            JobKind::Playlist {
                mode,
                audio_format,
                limit,
            } => {
                let options = PlaylistOptions {
                    audio_format: Some(*audio_format),
                    playlist_end: *limit,
                    // Every ZIP part must fit through Telegram's upload limit.
                    archive_max_size_mb: Some(upload_limit_mb),
                    max_filesize_mb: Some(upload_limit_mb),
                };
                playlist_request_with(
                    task_id,
                    &self.url,
                    *mode == MediaMode::Audio,
                    output_dir,
                    &options,
                )
            }
        }
    }
}

/// Whether `id` has the shape of the task ids this bot makes (`tg-` and a uuid's hex digits).
/// Task ids name directories (`DOWNLOAD_DIR/<chat>/<task_id>`) and come back in callback data and
/// in stream entries, so anything else (`../`, a newline, a slash) is refused where it enters.
pub(crate) fn is_task_id(id: &str) -> bool {
    id.strip_prefix("tg-").is_some_and(|rest| {
        !rest.is_empty() && rest.len() <= 40 && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    })
}

/// The short id users type after `/cancel` (the first 8 hex digits of the task's uuid).
pub(crate) fn short_id(task_id: &str) -> &str {
    let id = task_id.strip_prefix("tg-").unwrap_or(task_id);
    id.get(..8).unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_job_survives_its_json() {
        let mut choice = DownloadChoice::new(MediaMode::Video, AudioFormat::Opus);
        choice.format = Some("137+140".into());
        for kind in [
            JobKind::Single(choice),
            JobKind::Playlist {
                mode: MediaMode::Audio,
                audio_format: AudioFormat::M4a,
                limit: Some(5),
            },
        ] {
            let job = Job {
                chat_id: -100_123,
                url: "https://example.com/a".into(),
                media_key: "example.com/a".into(),
                kind,
                title: Some("Title".into()),
                performer: None,
                reuse_message_id: Some(42),
            };
            let json = serde_json::to_string(&job).expect("json");
            assert_eq!(serde_json::from_str::<Job>(&json).expect("back"), job, "{json}");
        }
    }

    #[test]
    fn cache_format_names_everything_that_changes_the_file() {
        let mut spec = DownloadChoice::new(MediaMode::Audio, AudioFormat::Mp3);
        assert_eq!(spec.cache_format(), "mp3");
        spec.audio_quality = Some("5".into());
        spec.format = Some("bestaudio/best".into());
        assert_eq!(spec.cache_format(), "mp3@q5@bestaudio/best");
        let mut video = DownloadChoice::new(MediaMode::Video, AudioFormat::Mp3);
        assert_eq!(video.cache_format(), "best");
        video.format = Some("137+bestaudio".into());
        assert_eq!(video.cache_format(), "137+bestaudio");
    }

    #[test]
    fn requests_carry_the_spec() {
        let mut spec = DownloadChoice::new(MediaMode::Audio, AudioFormat::Opus);
        spec.audio_quality = Some("5".into());
        let request = spec.request("t1", "http://x/a.webm", "/dl/1/t1", None);
        assert_eq!(request.params["extract_audio"], json!(true));
        assert_eq!(request.params["audio_format"], json!("opus"));
        assert_eq!(request.params["audio_quality"], json!("5"));
        assert_eq!(request.params["output_dir"], json!("/dl/1/t1"));
        assert!(!request.params.contains_key("format"));
        assert_eq!(request.params["embed_metadata"], json!(true));
        let mut whole = DownloadChoice::new(MediaMode::Video, AudioFormat::Mp3);
        let capped = whole.request("t3", "u", "/d", Some(50));
        assert_eq!(capped.params["max_filesize_mb"], json!(50));
        assert!(!capped.params.contains_key("split_over_mb"));
        whole.split = true;
        let split = whole.request("t4", "u", "/d", Some(50));
        assert_eq!(split.params["split_over_mb"], json!(50));
        assert!(
            !split.params.contains_key("max_filesize_mb"),
            "parts, not a stop at the limit"
        );
        assert_eq!(whole.cache_format(), "best@split");
        let video = DownloadChoice::new(MediaMode::Video, AudioFormat::Mp3).request("t2", "u", "/d", None);
        assert_eq!(video.params["extract_audio"], json!(false));
        assert!(!video.params.contains_key("audio_format"));
    }

    #[test]
    fn only_task_ids_of_our_own_shape_are_task_ids() {
        assert!(is_task_id(&hermes_host::client::new_task_id("tg")));
        for hostile in [
            "",
            "tg-",
            "../x",
            "tg-../..",
            "tg-a/b",
            "tg-ab\ncd",
            "tg-a b",
            "x-abc",
        ] {
            assert!(!is_task_id(hostile), "{hostile:?}");
        }
        assert!(!is_task_id(&format!("tg-{}", "a".repeat(41))));
    }

    #[test]
    fn a_header_is_one_line_whatever_the_title() {
        let job = Job {
            chat_id: 1,
            url: "https://example.com/a".into(),
            media_key: "example.com/a".into(),
            kind: JobKind::Single(DownloadChoice::new(MediaMode::Audio, AudioFormat::Mp3)),
            title: Some("Song\n✅ Completed\n".into()),
            performer: None,
            reuse_message_id: None,
        };
        assert_eq!(job.header(), "🎵 Song ✅ Completed");
        assert_eq!(job.header_for(Some(" \n\t ")), "🎵 https://example.com/a");
    }

    #[test]
    fn short_ids_and_shortened_text() {
        assert_eq!(short_id("tg-0123456789abcdef"), "01234567");
        assert_eq!(short_id("abc"), "abc");
    }
}
