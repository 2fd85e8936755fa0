//! Getting finished files to the user: the right Bot API method per file, the upload size
//! limit, ZIP parts of playlists in order, and the upload-once `file_id` cache.

use std::path::{Path, PathBuf};

use frankenstein::types::Message;
use hermes_protocol::{DownloadDone, PlaylistDone};

use crate::api::{MediaMeta, MediaSource, TgError};
use crate::db::{CachedUpload, SendMethod};
use crate::engine::Engine;
use crate::job::{DownloadChoice, Job};
use crate::media_mode::MediaMode;
use crate::messages;

const AUDIO_EXTENSIONS: &[&str] = &["mp3", "m4a", "aac", "opus", "ogg", "oga", "flac", "wav"];
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

/// `sendAudio` for audio files in audio mode, `sendVideo` for video files, `sendDocument` for
/// anything else (Telegram would refuse or mangle other containers as audio/video).
pub(crate) fn send_method_for(mode: MediaMode, path: &Path) -> SendMethod {
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if AUDIO_EXTENSIONS.contains(&extension.as_str()) && mode == MediaMode::Audio {
        SendMethod::Audio
    } else if VIDEO_EXTENSIONS.contains(&extension.as_str()) && mode == MediaMode::Video {
        SendMethod::Video
    } else {
        SendMethod::Document
    }
}

/// Sends the file of a finished single download and returns its `file_id` for the cache. Over
/// the upload limit it is not sent ([`DeliveryError::too_large`]).
pub(crate) async fn deliver_single(
    engine: &Engine,
    job: &Job,
    choice: &DownloadChoice,
    done: &DownloadDone,
) -> Result<Delivered, DeliveryError> {
    let path = main_file(done).ok_or_else(|| DeliveryError::internal("no file in done".into()))?;
    let size = std::fs::metadata(&path)
        .map(|m| m.len())
        .map_err(|error| DeliveryError::internal(format!("{}: {error}", path.display())))?;
    if size > engine.config.upload_limit_bytes() {
        return Err(DeliveryError {
            user_message: messages::too_large(size, engine.config.upload_limit_mb),
            reason: format!("file of {size} bytes over the upload limit"),
            too_large: Some(size),
        });
    }
    let method = send_method_for(choice.mode, &path);
    let title = job.title.clone().or_else(|| done.title.clone());
    let meta = MediaMeta {
        title: title.clone(),
        performer: job.performer.clone(),
        duration: done.duration.and_then(|d| u32::try_from(d).ok()),
        caption: (method != SendMethod::Audio).then(|| title.clone()).flatten(),
    };
    let until = tokio::time::Instant::now() + UPLOAD_DEADLINE;
    let sent = engine
        .telegram
        .upload_until(job.chat_id, method, MediaSource::Path(path.clone()), &meta, until)
        .await
        .map_err(|error| DeliveryError::upload(&error))?;
    Ok(Delivered {
        file_path: Some(path.to_string_lossy().into_owned()),
        upload: sent_file_id(&sent).map(|file_id| CachedUpload {
            file_id,
            method,
            title,
        }),
    })
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
    let inside = match (std::fs::canonicalize(&path), std::fs::canonicalize(task_dir)) {
        (Ok(path), Ok(dir)) => path.starts_with(dir),
        _ => false,
    };
    if !is_zip || !inside {
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
        performer,
        caption: (cached.method != SendMethod::Audio)
            .then(|| cached.title.clone())
            .flatten(),
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

/// The `file_id` of what was just sent, wherever Telegram put it (an "audio" it cannot play
/// comes back as a document).
fn sent_file_id(message: &Message) -> Option<String> {
    if let Some(audio) = &message.audio {
        return Some(audio.file_id.clone());
    }
    if let Some(video) = &message.video {
        return Some(video.file_id.clone());
    }
    message.document.as_ref().map(|d| d.file_id.clone())
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
            (MediaMode::Audio, "a/song.opus", SendMethod::Audio),
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
