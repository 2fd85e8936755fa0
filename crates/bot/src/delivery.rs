//! Getting finished files to the user: the right Bot API method per file, the upload size
//! limit, ZIP parts of playlists in order, and the upload-once `file_id` cache.

use std::path::{Path, PathBuf};

use frankenstein::types::{ChatAction, Message};
use hermes_host::render::{format_clock, one_line, shorten};
use hermes_protocol::{DownloadDone, PlaylistDone};

use crate::api::{MediaMeta, MediaSource, TgError};
use crate::db::{CachedUpload, SendMethod};
use crate::engine::Engine;
use crate::job::{DownloadChoice, Job};
use crate::media_mode::MediaMode;
use crate::messages;

/// What `sendAudio` shows as music; other audio arrives as a document whatever the method.
const TELEGRAM_AUDIO_EXTENSIONS: &[&str] = &["mp3", "m4a"];
const VIDEO_EXTENSIONS: &[&str] = &["mp4", "webm", "mkv", "mov", "m4v"];

/// How long a finished task may keep retrying its upload through flood control (whatever its
/// `retry_after`) and Telegram server errors: the task's deadline, as long as the worker's
/// default `IPC_TIMEOUT`. The file stays on disk until it is delivered or this runs out.
pub(crate) const UPLOAD_DEADLINE: std::time::Duration = std::time::Duration::from_secs(600);

/// A delivery that did not happen: what the user reads, and the reason for the logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeliveryError {
    pub(crate) user_message: String,
    pub(crate) reason: String,
    /// The file was over the upload limit (its size): smaller choices are offered.
    pub(crate) too_large: Option<u64>,
}

impl DeliveryError {
    pub(crate) fn internal(reason: String) -> Self {
        Self {
            user_message: messages::INTERNAL_FAILURE.to_owned(),
            reason,
            too_large: None,
        }
    }

    fn upload(error: &TgError) -> Self {
        let reason = format!("upload failed: {error}");
        match error {
            TgError::Refused { code: 413, .. } => Self {
                user_message: messages::TELEGRAM_TOO_LARGE.to_owned(),
                reason,
                too_large: None,
            },
            _ => Self::internal(reason),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Delivered {
    /// The main file, for the task record.
    pub(crate) file_path: Option<String>,
    /// What answers the same request next time (single downloads).
    pub(crate) upload: Option<CachedUpload>,
}

/// `sendAudio` for the audio Telegram plays as music (MP3, M4A) in audio mode, `sendVideo` for
/// video files in video mode, `sendDocument` for anything else: Telegram turns an "audio" in
/// another container (Opus, FLAC, WAV) into a document anyway, and its `file_id` could then not
/// be sent as audio again. Sending those as documents on purpose keeps the cache truthful.
pub(crate) fn send_method_for(mode: MediaMode, path: &Path) -> SendMethod {
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if TELEGRAM_AUDIO_EXTENSIONS.contains(&extension.as_str()) && mode == MediaMode::Audio {
        SendMethod::Audio
    } else if VIDEO_EXTENSIONS.contains(&extension.as_str()) && mode == MediaMode::Video {
        SendMethod::Video
    } else {
        SendMethod::Document
    }
}

/// Sends the file of a finished single download (or its parts, when it was split) and returns
/// its `file_id` for the cache. A file over the upload limit is not sent
/// ([`DeliveryError::too_large`]).
pub(crate) async fn deliver_single(
    engine: &Engine,
    job: &Job,
    choice: &DownloadChoice,
    done: &DownloadDone,
    task_dir: &Path,
) -> Result<Delivered, DeliveryError> {
    if done.parts.is_some() && done.files.len() > 1 {
        return deliver_parts(engine, job, choice, done, task_dir).await;
    }
    let path = main_file(done).ok_or_else(|| DeliveryError::internal("no file in done".into()))?;
    let path = inside_task_dir(path, task_dir)?;
    let size = file_size_within_limit(engine, &path)?;
    let method = send_method_for(choice.mode, &path);
    let about = FileAbout::of(job, done, task_dir);
    let meta = about.meta(method, &job.url, size, None);
    let sent = upload(engine, job.chat_id, method, &path, &meta).await?;
    Ok(Delivered {
        file_path: Some(path.to_string_lossy().into_owned()),
        upload: sent_file(&sent).map(|(file_id, method)| CachedUpload {
            file_id,
            method,
            title: about.title.clone(),
            performer: meta.performer.clone(),
            caption: meta.caption.clone(),
        }),
    })
}

/// A file too big for one upload, split by the worker into playable parts: each sent in order,
/// captioned "part i/n". Not cached: the next request for it is split afresh.
async fn deliver_parts(
    engine: &Engine,
    job: &Job,
    choice: &DownloadChoice,
    done: &DownloadDone,
    task_dir: &Path,
) -> Result<Delivered, DeliveryError> {
    let about = FileAbout::of(job, done, task_dir);
    let total = done.files.len();
    for (index, part) in done.files.iter().enumerate() {
        let path = inside_task_dir(PathBuf::from(&part.path), task_dir)?;
        let size = file_size_within_limit(engine, &path)?;
        let method = send_method_for(choice.mode, &path);
        let mut meta = about.meta(method, &job.url, size, Some((index + 1, total)));
        // The duration of a part is not the whole file's; Telegram reads it from the file.
        meta.duration = None;
        upload(engine, job.chat_id, method, &path, &meta).await?;
    }
    Ok(Delivered {
        file_path: done.files.first().map(|f| f.path.clone()),
        upload: None,
    })
}

/// What a delivered file says about itself: title and performer from the media's own metadata
/// (a search result's, when it came from one), the frame size, and the thumbnail the worker made.
struct FileAbout {
    title: Option<String>,
    performer: Option<String>,
    duration: Option<u32>,
    width: Option<u32>,
    height: Option<u32>,
    thumbnail: Option<PathBuf>,
}

impl FileAbout {
    fn of(job: &Job, done: &DownloadDone, task_dir: &Path) -> FileAbout {
        let clean = |value: &Option<String>| value.as_deref().map(one_line).filter(|v| !v.is_empty());
        FileAbout {
            title: clean(&job.title)
                .or_else(|| clean(&done.track))
                .or_else(|| clean(&done.title)),
            performer: clean(&job.performer)
                .or_else(|| clean(&done.artist))
                .or_else(|| clean(&done.uploader)),
            duration: done.duration.and_then(|d| u32::try_from(d).ok()),
            width: done.width,
            height: done.height,
            // Sent only from inside the task's directory, like every file the worker names.
            thumbnail: done
                .thumbnail
                .as_deref()
                .map(PathBuf::from)
                .filter(|path| inside(path, task_dir)),
        }
    }

    /// The upload's fields; `part` is (i, n) for one part of a split file.
    fn meta(&self, method: SendMethod, url: &str, size: u64, part: Option<(usize, usize)>) -> MediaMeta {
        let mut caption = self.title.as_deref().map(|t| shorten(t, 200)).unwrap_or_default();
        if let Some((index, total)) = part {
            caption.push_str(&format!(" · part {index}/{total}"));
        }
        if let (Some(performer), false) = (&self.performer, method == SendMethod::Audio) {
            caption.push_str(&format!("\n👤 {}", shorten(performer, 100)));
        }
        let mut facts = Vec::new();
        if let (Some(duration), None) = (self.duration, part) {
            facts.push(format!("⏱ {}", format_clock(u64::from(duration))));
        }
        facts.push(format!("💾 {}", format_size(size)));
        caption.push_str(&format!("\n{}\n🔗 {}", facts.join(" · "), shorten(url, 300)));
        MediaMeta {
            title: self.title.clone(),
            performer: self.performer.clone(),
            duration: self.duration,
            caption: Some(caption.trim_start().to_owned()),
            thumbnail: self.thumbnail.clone(),
            width: self.width,
            height: self.height,
        }
    }
}

/// The file's size, refused as [`DeliveryError::too_large`] over the upload limit.
fn file_size_within_limit(engine: &Engine, path: &Path) -> Result<u64, DeliveryError> {
    let size = std::fs::metadata(path)
        .map(|m| m.len())
        .map_err(|error| DeliveryError::internal(format!("{}: {error}", path.display())))?;
    if size > engine.config.upload_limit_bytes() {
        return Err(DeliveryError {
            user_message: messages::too_large(size, engine.config.upload_limit_mb),
            reason: format!("file of {size} bytes over the upload limit"),
            too_large: Some(size),
        });
    }
    Ok(size)
}

/// One upload with its chat action ("sending a video…"), retried until [`UPLOAD_DEADLINE`].
async fn upload(
    engine: &Engine,
    chat_id: i64,
    method: SendMethod,
    path: &Path,
    meta: &MediaMeta,
) -> Result<Message, DeliveryError> {
    let action = match method {
        SendMethod::Video => ChatAction::UploadVideo,
        SendMethod::Audio | SendMethod::Document => ChatAction::UploadDocument,
    };
    engine.telegram.send_chat_action(chat_id, action).await;
    let until = tokio::time::Instant::now() + UPLOAD_DEADLINE;
    engine
        .telegram
        .upload_until(chat_id, method, MediaSource::Path(path.to_owned()), meta, until)
        .await
        .map_err(|error| DeliveryError::upload(&error))
}

/// `path`, if it lies inside the task's directory: the only place a delivered file may come from.
fn inside_task_dir(path: PathBuf, task_dir: &Path) -> Result<PathBuf, DeliveryError> {
    if inside(&path, task_dir) {
        Ok(path)
    } else {
        Err(DeliveryError::internal(format!(
            "a file outside the task's directory: {}",
            path.display()
        )))
    }
}

fn inside(path: &Path, dir: &Path) -> bool {
    match (std::fs::canonicalize(path), std::fs::canonicalize(dir)) {
        (Ok(path), Ok(dir)) => path.starts_with(dir),
        _ => false,
    }
}

fn format_size(bytes: u64) -> String {
    const MB: f64 = 1024.0 * 1024.0;
    if bytes >= 1024 * 1024 {
        format!("{:.1} MB", bytes as f64 / MB)
    } else {
        format!("{} KB", bytes.div_ceil(1024))
    }
}

/// A ZIP part sent while the playlist was still running (the worker announced it finished).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EarlyPart {
    pub(crate) path: PathBuf,
    /// The upload's message, for the final "part i/n" caption; `None` when the part was over
    /// the upload limit and only a notice was sent.
    pub(crate) message_id: Option<i32>,
}

/// Sends one ZIP part as soon as the worker reports it complete, captioned "part i" (the
/// number of parts is known only at the end; [`deliver_playlist`] then edits it to "part i/n").
/// Only a `.zip` inside the task's directory is sent; `None` leaves it for the end.
pub(crate) async fn deliver_part_early(
    engine: &Engine,
    chat_id: i64,
    task_dir: &Path,
    part: &hermes_protocol::FileEntry,
) -> Option<EarlyPart> {
    let path = PathBuf::from(&part.path);
    let is_zip = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("zip"));
    if !is_zip || !inside(&path, task_dir) {
        return None;
    }
    let size = std::fs::metadata(&path).ok()?.len();
    let name = part
        .name
        .clone()
        .or_else(|| path.file_name().map(|n| n.to_string_lossy().into_owned()))?;
    let (playlist, number) = split_part_name(&name);
    let caption = match number {
        Some(number) => format!("📦 {} · part {number}", display_name(playlist)),
        None => part_caption(playlist, 1, 1),
    };
    if size > engine.config.upload_limit_bytes() {
        let text = format!(
            "{caption}: {}",
            messages::too_large(size, engine.config.upload_limit_mb)
        );
        send_notice(engine, chat_id, &text).await;
        return Some(EarlyPart {
            path,
            message_id: None,
        });
    }
    let meta = MediaMeta {
        caption: Some(caption),
        ..MediaMeta::default()
    };
    match engine
        .telegram
        .send_media(
            chat_id,
            SendMethod::Document,
            MediaSource::Path(path.clone()),
            &meta,
        )
        .await
    {
        Ok(sent) => Some(EarlyPart {
            path,
            message_id: Some(sent.message_id),
        }),
        Err(error) => {
            tracing::warn!(%error, "cannot send a ZIP part early; it is sent with the rest");
            None
        }
    }
}

/// `Mix.part2.zip` → (`Mix`, Some(2)); `Mix.zip` → (`Mix`, None).
fn split_part_name(name: &str) -> (&str, Option<usize>) {
    let stem = name.strip_suffix(".zip").unwrap_or(name);
    if let Some((base, number)) = stem.rsplit_once(".part") {
        if let Ok(number) = number.parse::<usize>() {
            return (base, Some(number));
        }
    }
    (stem, None)
}

/// Sends a finished playlist: every ZIP part in order ("part i/n" in the caption; parts already
/// sent early get that caption by an edit instead), or, from a worker in the python wire profile
/// (no ZIP; `files` are the tracks), every track in order.
pub(crate) async fn deliver_playlist(
    engine: &Engine,
    chat_id: i64,
    mode: MediaMode,
    done: &PlaylistDone,
    early: &[EarlyPart],
) -> Result<Delivered, DeliveryError> {
    if files_are_tracks(done) {
        return deliver_tracks(engine, chat_id, mode, done).await;
    }
    let parts = zip_parts(done);
    if parts.is_empty() {
        return Err(DeliveryError {
            user_message: messages::error_message(&hermes_protocol::ErrorCode::PlaylistError).to_owned(),
            reason: "the playlist produced no archive".into(),
            too_large: None,
        });
    }
    let total = parts.len();
    let limit = engine.config.upload_limit_bytes();
    let until = tokio::time::Instant::now() + UPLOAD_DEADLINE;
    for (index, (path, size)) in parts.iter().enumerate() {
        let caption = part_caption(&done.playlist_name, index + 1, total);
        if let Some(sent) = early.iter().find(|e| same_file(&e.path, path)) {
            if let (Some(message_id), true) = (sent.message_id, total > 1) {
                if let Err(error) = engine.telegram.edit_caption(chat_id, message_id, &caption).await {
                    tracing::warn!(%error, "cannot number a part sent early");
                }
            }
            continue;
        }
        if *size > limit {
            // Only a single track larger than the limit can make a part this big.
            let text = format!(
                "{caption}: {}",
                messages::too_large(*size, engine.config.upload_limit_mb)
            );
            send_notice(engine, chat_id, &text).await;
            continue;
        }
        let meta = MediaMeta {
            caption: Some(caption),
            ..MediaMeta::default()
        };
        engine
            .telegram
            .upload_until(
                chat_id,
                SendMethod::Document,
                MediaSource::Path(path.clone()),
                &meta,
                until,
            )
            .await
            .map_err(|error| DeliveryError::upload(&error))?;
    }
    report_failed_tracks(engine, chat_id, done).await;
    Ok(Delivered {
        file_path: parts.first().map(|(p, _)| p.to_string_lossy().into_owned()),
        upload: None,
    })
}

/// The python profile's playlist: each track as audio or video (by mode and extension), in
/// playlist order; a track over the upload limit is named in a notice instead.
async fn deliver_tracks(
    engine: &Engine,
    chat_id: i64,
    mode: MediaMode,
    done: &PlaylistDone,
) -> Result<Delivered, DeliveryError> {
    let tracks = existing_files(done.files.iter().map(|f| PathBuf::from(&f.path)));
    if tracks.is_empty() {
        return Err(DeliveryError {
            user_message: messages::error_message(&hermes_protocol::ErrorCode::PlaylistError).to_owned(),
            reason: "the playlist produced no track".into(),
            too_large: None,
        });
    }
    let total = tracks.len();
    let limit = engine.config.upload_limit_bytes();
    for (index, (path, size)) in tracks.iter().enumerate() {
        let title = path.file_stem().map(|s| s.to_string_lossy().into_owned());
        let caption = track_caption(&done.playlist_name, index + 1, total);
        if *size > limit {
            let text = format!(
                "{caption} {}: {}",
                title.as_deref().unwrap_or_default(),
                messages::too_large(*size, engine.config.upload_limit_mb)
            );
            send_notice(engine, chat_id, &text).await;
            continue;
        }
        let method = send_method_for(mode, path);
        let meta = MediaMeta {
            title: title.clone(),
            caption: Some(match (&title, method) {
                (_, SendMethod::Audio) | (None, _) => caption,
                (Some(title), _) => format!("{caption} {title}"),
            }),
            ..MediaMeta::default()
        };
        engine
            .telegram
            .send_media(chat_id, method, MediaSource::Path(path.clone()), &meta)
            .await
            .map_err(|error| DeliveryError::upload(&error))?;
    }
    report_failed_tracks(engine, chat_id, done).await;
    Ok(Delivered {
        file_path: tracks.first().map(|(p, _)| p.to_string_lossy().into_owned()),
        upload: None,
    })
}

async fn report_failed_tracks(engine: &Engine, chat_id: i64, done: &PlaylistDone) {
    if done.failed_tracks > 0 {
        let text = format!(
            "⚠️ {} of {} tracks could not be downloaded.",
            done.failed_tracks,
            done.failed_tracks + done.total_tracks_downloaded
        );
        send_notice(engine, chat_id, &text).await;
    }
}

/// Whether `files` lists the tracks themselves (python profile: no ZIP, no `archives`) rather
/// than ZIP parts (guide profile, which always sends `archives` alongside).
fn files_are_tracks(done: &PlaylistDone) -> bool {
    done.archives.is_empty()
        && done.files.iter().any(|f| {
            !Path::new(&f.path)
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("zip"))
        })
}

fn track_caption(name: &str, index: usize, total: usize) -> String {
    let name = if name.trim().is_empty() { "Playlist" } else { name };
    format!("🎵 {name} · {index}/{total}")
}

/// Re-sends a cached upload by `file_id`.
pub(crate) async fn send_cached(
    engine: &Engine,
    chat_id: i64,
    cached: &CachedUpload,
    performer: Option<String>,
) -> Result<(), TgError> {
    let meta = MediaMeta {
        title: cached.title.clone(),
        performer: performer.or_else(|| cached.performer.clone()),
        caption: cached.caption.clone().or_else(|| cached.title.clone()),
        ..MediaMeta::default()
    };
    engine
        .telegram
        .send_media(
            chat_id,
            cached.method,
            MediaSource::FileId(cached.file_id.clone()),
            &meta,
        )
        .await
        .map(drop)
}

fn same_file(a: &Path, b: &Path) -> bool {
    a == b || matches!((std::fs::canonicalize(a), std::fs::canonicalize(b)), (Ok(a), Ok(b)) if a == b)
}

fn display_name(name: &str) -> &str {
    if name.trim().is_empty() {
        "Playlist"
    } else {
        name
    }
}

fn part_caption(name: &str, index: usize, total: usize) -> String {
    let name = display_name(name);
    if total > 1 {
        format!("📦 {name} · part {index}/{total}")
    } else {
        format!("📦 {name}")
    }
}

/// The ZIP parts with their sizes on disk, in order (`files`, else `archives`).
fn zip_parts(done: &PlaylistDone) -> Vec<(PathBuf, u64)> {
    let paths: Vec<PathBuf> = if done.files.is_empty() {
        done.archives.iter().map(|a| PathBuf::from(&a.path)).collect()
    } else {
        done.files.iter().map(|f| PathBuf::from(&f.path)).collect()
    };
    existing_files(paths)
}

/// The paths that exist, with their sizes on disk, in order.
fn existing_files(paths: impl IntoIterator<Item = PathBuf>) -> Vec<(PathBuf, u64)> {
    paths
        .into_iter()
        .filter_map(|path| {
            let size = std::fs::metadata(&path).ok()?.len();
            Some((path, size))
        })
        .collect()
}

fn main_file(done: &DownloadDone) -> Option<PathBuf> {
    if !done.file_path.is_empty() {
        return Some(PathBuf::from(&done.file_path));
    }
    done.files.last().map(|f| PathBuf::from(&f.path))
}

/// The `file_id` of what was just sent and the method that sends it again: where Telegram put
/// it, not what was asked (an "audio" it cannot play comes back as a document, whose id is
/// refused by `sendAudio`).
fn sent_file(message: &Message) -> Option<(String, SendMethod)> {
    if let Some(audio) = &message.audio {
        return Some((audio.file_id.clone(), SendMethod::Audio));
    }
    if let Some(video) = &message.video {
        return Some((video.file_id.clone(), SendMethod::Video));
    }
    message
        .document
        .as_ref()
        .map(|d| (d.file_id.clone(), SendMethod::Document))
}

async fn send_notice(engine: &Engine, chat_id: i64, text: &str) {
    if let Err(error) = engine.telegram.send_text(chat_id, text, None).await {
        tracing::warn!(%error, "cannot send a notice");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hermes_protocol::FileEntry;

    #[test]
    fn the_method_follows_mode_and_extension() {
        let cases: &[(MediaMode, &str, SendMethod)] = &[
            (MediaMode::Audio, "a/song.mp3", SendMethod::Audio),
            (MediaMode::Audio, "a/song.M4A", SendMethod::Audio),
            (MediaMode::Audio, "a/song.opus", SendMethod::Document),
            (MediaMode::Audio, "a/song.flac", SendMethod::Document),
            (MediaMode::Video, "a/clip.mp4", SendMethod::Video),
            (MediaMode::Video, "a/clip.webm", SendMethod::Video),
            (MediaMode::Audio, "a/clip.webm", SendMethod::Document),
            (MediaMode::Video, "a/song.mp3", SendMethod::Document),
            (MediaMode::Audio, "a/list.zip", SendMethod::Document),
            (MediaMode::Video, "a/noext", SendMethod::Document),
        ];
        for (mode, path, expected) in cases {
            assert_eq!(
                send_method_for(*mode, Path::new(path)),
                *expected,
                "{mode:?} {path}"
            );
        }
    }

    #[test]
    fn captions_number_parts_only_when_there_are_several() {
        assert_eq!(part_caption("Mix", 2, 3), "📦 Mix · part 2/3");
        assert_eq!(part_caption("Mix", 1, 1), "📦 Mix");
        assert_eq!(part_caption(" ", 1, 2), "📦 Playlist · part 1/2");
    }

    #[test]
    fn playlist_files_are_tracks_only_without_archives() {
        let entry = |path: &str| FileEntry {
            path: path.into(),
            size: 1,
            name: None,
        };
        let python = PlaylistDone {
            files: vec![entry("/p/001 - a.mp3"), entry("/p/002 - b.mp3")],
            ..PlaylistDone::default()
        };
        assert!(files_are_tracks(&python));
        let guide = PlaylistDone {
            files: vec![entry("/p/P.part1.zip")],
            archives: vec![hermes_protocol::ArchiveEntry::default()],
            ..PlaylistDone::default()
        };
        assert!(!files_are_tracks(&guide));
        let zips_only = PlaylistDone {
            files: vec![entry("/p/P.ZIP")],
            ..PlaylistDone::default()
        };
        assert!(!files_are_tracks(&zips_only));
        assert_eq!(track_caption("Mix", 2, 3), "🎵 Mix · 2/3");
    }

    #[test]
    fn part_names_give_the_playlist_and_the_number() {
        assert_eq!(split_part_name("Mix.part2.zip"), ("Mix", Some(2)));
        assert_eq!(split_part_name("Mix.zip"), ("Mix", None));
        assert_eq!(split_part_name("A.partial.zip"), ("A.partial", None));
        assert_eq!(split_part_name("My.part.part12.zip"), ("My.part", Some(12)));
    }

    #[test]
    fn title_and_performer_come_from_the_search_hit_else_the_medias_own_tags() {
        let job = |title: Option<&str>, performer: Option<&str>| Job {
            chat_id: 1,
            url: "https://example.com/v".into(),
            media_key: "example.com/v".into(),
            kind: crate::job::JobKind::Single(DownloadChoice::new(
                MediaMode::Audio,
                hermes_protocol::AudioFormat::Mp3,
            )),
            title: title.map(str::to_owned),
            performer: performer.map(str::to_owned),
            reuse_message_id: None,
        };
        let done = DownloadDone {
            title: Some("Artist - Song (Official Video)".into()),
            track: Some("Song".into()),
            artist: Some("Artist".into()),
            uploader: Some("ArtistVEVO".into()),
            duration: Some(213),
            thumbnail: Some("/elsewhere/cover.jpg".into()),
            ..DownloadDone::default()
        };
        let dir = Path::new("/nonexistent-task-dir");
        let tags = FileAbout::of(&job(None, None), &done, dir);
        assert_eq!(
            (tags.title.as_deref(), tags.performer.as_deref()),
            (Some("Song"), Some("Artist"))
        );
        assert_eq!(
            tags.thumbnail, None,
            "a thumbnail outside the task's directory is not sent"
        );
        let from_search = FileAbout::of(&job(Some("Hit title"), Some("Channel")), &done, dir);
        assert_eq!(
            (from_search.title.as_deref(), from_search.performer.as_deref()),
            (Some("Hit title"), Some("Channel"))
        );
        let bare = DownloadDone {
            title: Some("clip".into()),
            uploader: Some("Uploader".into()),
            ..DownloadDone::default()
        };
        let tags = FileAbout::of(&job(None, Some(" ")), &bare, dir);
        assert_eq!(
            (tags.title.as_deref(), tags.performer.as_deref()),
            (Some("clip"), Some("Uploader"))
        );

        let about = FileAbout::of(&job(None, None), &done, dir);
        let audio = about.meta(SendMethod::Audio, "https://example.com/v", 3 * 1024 * 1024, None);
        assert_eq!(
            audio.caption.as_deref(),
            Some("Song\n⏱ 3:33 · 💾 3.0 MB\n🔗 https://example.com/v")
        );
        let part = about.meta(SendMethod::Video, "https://example.com/v", 2048, Some((2, 3)));
        assert_eq!(
            part.caption.as_deref(),
            Some("Song · part 2/3\n👤 Artist\n💾 2 KB\n🔗 https://example.com/v")
        );
    }

    #[test]
    fn a_hostile_title_adds_no_line_to_the_caption() {
        let job = Job {
            chat_id: 1,
            url: "https://example.com/v".into(),
            media_key: "example.com/v".into(),
            kind: crate::job::JobKind::Single(DownloadChoice::new(
                MediaMode::Video,
                hermes_protocol::AudioFormat::Mp3,
            )),
            title: None,
            performer: None,
            reuse_message_id: None,
        };
        let done = DownloadDone {
            title: Some("Song\n🔗 https://phish.example\r\n".into()),
            uploader: Some("Them\n\t👤 Someone else".into()),
            ..DownloadDone::default()
        };
        let about = FileAbout::of(&job, &done, Path::new("/nonexistent-task-dir"));
        let meta = about.meta(SendMethod::Video, &job.url, 2048, None);
        assert_eq!(
            meta.caption.as_deref(),
            Some("Song 🔗 https://phish.example\n👤 Them 👤 Someone else\n💾 2 KB\n🔗 https://example.com/v")
        );
        assert_eq!(meta.title.as_deref(), Some("Song 🔗 https://phish.example"));
    }

    #[test]
    fn only_files_inside_the_task_directory_are_delivered() {
        let root = tempfile::tempdir().expect("tempdir");
        let task = root.path().join("task");
        std::fs::create_dir(&task).expect("task dir");
        std::fs::write(task.join("song.mp3"), b"x").expect("file");
        std::fs::write(root.path().join("secret"), b"x").expect("file");
        std::os::unix::fs::symlink(root.path().join("secret"), task.join("link.mp3")).expect("symlink");
        assert!(inside_task_dir(task.join("song.mp3"), &task).is_ok());
        for hostile in [
            task.join("../secret"),
            task.join("link.mp3"),
            root.path().join("secret"),
            PathBuf::from("/etc/passwd"),
            task.join("missing.mp3"),
        ] {
            assert!(
                inside_task_dir(hostile.clone(), &task).is_err(),
                "{}",
                hostile.display()
            );
        }
    }

    #[test]
    fn the_main_file_is_file_path_or_the_last_file() {
        let mut done = DownloadDone {
            files: vec![
                FileEntry {
                    path: "/d/a.webm".into(),
                    size: 1,
                    name: None,
                },
                FileEntry {
                    path: "/d/a.mp3".into(),
                    size: 1,
                    name: None,
                },
            ],
            ..DownloadDone::default()
        };
        assert_eq!(main_file(&done), Some(PathBuf::from("/d/a.mp3")));
        done.file_path = "/d/b.mp3".into();
        assert_eq!(main_file(&done), Some(PathBuf::from("/d/b.mp3")));
        assert_eq!(main_file(&DownloadDone::default()), None);
    }
}
