//! `playlist`: download a playlist's tracks into a folder named after it and deliver them as ZIP
//! part(s) no larger than `archive_max_size_mb` — or, in the python wire profile, as the track
//! files themselves (the Python worker makes no ZIP; DESIGN.md §2.1).
//!
//! Flow (the guide's): flat listing for title and count → `progress` 0 → tracks downloaded with
//! overall progress (status `downloading_playlist`, 0–90 %) → ZIP (status `zipping`, 90–99 %) →
//! `done`. A failing item does not fail the playlist (yt-dlp exits 1 but the rest downloaded);
//! only zero tracks is a `PLAYLIST_ERROR`.
use crate::archive::{write_archives, ArchiveOptions, ArchivePart};
use crate::confine::TaskDir;
use crate::context::Context;
use crate::dispatch::cancelled;
use crate::error::WorkerError;
use crate::sanitize::{resolve_output_dir, sanitize_playlist_name};
use crate::tasks::Task;
use crate::ytdlp::args::{download_argv, info_argv, DownloadSpec, MediaMode, PlaylistSpec, PLAYLIST_OUTPUT_TEMPLATE};
use crate::ytdlp::driver::{self, lock, require_ffmpeg, ytdlp_env, Outcome, Watch};
use crate::ytdlp::final_files::FinalFileLog;
use crate::ytdlp::progress::{FinalFile, ProgressTracker};
use hermes_protocol::{
    ArchiveEntry, AudioFormat, Event, FileEntry, PlaylistDone, PlaylistParams, ProgressStatus, PythonPlaylistDone, PythonTrackFile, RawResponse, Request,
    TrackEntry,
};
use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Share of the percent range given to downloading; the rest is the ZIP step.
const DOWNLOAD_PERCENT_END: u8 = 90;

pub struct Playlist {
    url: String,
    params: PlaylistParams,
    /// The container to extract to; `None` for a video playlist (whatever `audio_format` said).
    audio: Option<AudioFormat>,
}

impl Playlist {
    pub fn parse(request: Request) -> Result<Playlist, WorkerError> {
        let params: PlaylistParams = request.params_as()?;
        if params.playlist_end == Some(0) || params.archive_max_size_mb == Some(0) {
            return Err(WorkerError::InvalidRequest("playlist_end and archive_max_size_mb must be at least 1".to_owned()));
        }
        if params.extract_audio {
            super::validate_audio_quality(&params.audio_quality)?;
        }
        let audio = params.audio_target()?;
        Ok(Playlist { url: super::required_url(&request)?, params, audio })
    }

    pub async fn apply(self, ctx: &Context, task: &Task) -> Result<RawResponse, WorkerError> {
        let config = &ctx.config;
        let output_dir = resolve_output_dir(&config.download_dir, self.params.output_dir.as_deref(), &task.id, config.allow_any_output_dir)?;
        let archive_file = self.archive_file(ctx)?;
        if self.audio.is_some() {
            require_ffmpeg(ctx)?;
        }
        let python = config.wire_profile.is_python();

        let listing = driver::run_json(ctx, task, info_argv(&ytdlp_env(ctx), &self.url, true, self.params.playlist_end)).await?;
        let title = listing.get("title").and_then(|t| t.as_str()).unwrap_or("playlist");
        let expected = expected_items(&listing, self.params.playlist_end);
        if expected == 0 {
            return Err(WorkerError::Playlist("the playlist has no items".to_owned()));
        }
        let name = sanitize_playlist_name(title, config.playlist_name_max_length);
        let folder = output_dir.join(&name);
        let already_cached = archived_entries(archive_file.as_deref(), &listing, self.params.playlist_end);
        if python && already_cached >= expected {
            // What the Python worker answers when every item is in the archive: nothing to do.
            let done = PythonPlaylistDone { playlist_name: name, already_cached, ..PythonPlaylistDone::default() };
            return Ok(RawResponse::new(task.id.clone(), Event::Done, &done));
        }
        std::fs::create_dir_all(&folder)?;
        let final_files = Arc::new(FinalFileLog::create(TaskDir::open(&folder)?)?);
        let max_filesize_mb = super::max_filesize_mb(config, self.params.max_filesize_mb);
        let present_before = files_in(&folder);

        // Without a ZIP step (python profile) downloading is the whole task.
        let download_end = if python { 99 } else { DOWNLOAD_PERCENT_END };
        let tracker = Arc::new(Mutex::new(ProgressTracker::for_playlist(expected).with_percent_range(0, download_end)));
        let started = lock(&tracker).report(0, ProgressStatus::DownloadingPlaylist, Instant::now());
        if let Some(update) = started {
            task.progress(update).await;
        }

        let spec = DownloadSpec {
            url: &self.url,
            output_dir: &folder,
            output_template: PLAYLIST_OUTPUT_TEMPLATE,
            mode: self.media_mode(),
            format: self.params.format.as_deref(),
            best_audio_limit_mb: config.best_audio_limit_mb,
            playlist: Some(PlaylistSpec { end: self.params.playlist_end, archive_file }),
            final_files_log: final_files.path(),
            max_filesize_mb,
        };
        let watch = Watch::download(tracker.clone(), final_files.clone(), max_filesize_mb);
        let outcome = download_tracks(ctx, task, download_argv(&ytdlp_env(ctx), &spec), &watch).await?;
        let tracks = existing_tracks(&outcome.final_files)?;
        let failed_tracks = (outcome.errors.len() as u32).min(expected);

        if python {
            let finished = lock(&tracker).finish();
            task.progress(finished).await;
            let done = python_playlist_done(&name, &folder, &tracks, &present_before, already_cached);
            return Ok(RawResponse::new(task.id.clone(), Event::Done, &done));
        }

        let zipping = lock(&tracker).report(DOWNLOAD_PERCENT_END, ProgressStatus::Zipping, Instant::now());
        if let Some(update) = zipping {
            task.progress(update).await;
        }
        let parts = self.zip(ctx, task, &tracks, &output_dir, &name, &tracker).await?;

        let finished = lock(&tracker).finish();
        task.progress(finished).await;
        let done = playlist_done(&name, &folder, &tracks, &parts, failed_tracks);
        Ok(RawResponse::new(task.id.clone(), Event::Done, &done))
    }

    fn media_mode(&self) -> MediaMode {
        match self.audio {
            Some(format) => MediaMode::Audio { format, quality: self.params.audio_quality.clone() },
            None => MediaMode::Video,
        }
    }

    /// yt-dlp's `--download-archive` file, which must lie inside `DOWNLOAD_DIR` like every path
    /// a request names.
    fn archive_file(&self, ctx: &Context) -> Result<Option<PathBuf>, WorkerError> {
        let Some(requested) = self.params.archive_file.as_deref() else { return Ok(None) };
        let config = &ctx.config;
        let path = resolve_output_dir(&config.download_dir, Some(requested), "archive", config.allow_any_output_dir)?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        Ok(Some(path))
    }

    /// Zips the tracks on a blocking thread, streaming its progress; a cancel that arrives
    /// meanwhile removes the finished parts instead of reporting them.
    async fn zip(
        &self,
        ctx: &Context,
        task: &Task,
        tracks: &[FinalFile],
        dest: &Path,
        name: &str,
        tracker: &Arc<Mutex<ProgressTracker>>,
    ) -> Result<Vec<ArchivePart>, WorkerError> {
        let max_mb = self.params.archive_max_size_mb.unwrap_or(ctx.config.archive_max_size_mb);
        let options = ArchiveOptions { max_part_bytes: max_mb.saturating_mul(1024 * 1024), compression_level: ctx.config.archive_compression_level };
        let paths: Vec<PathBuf> = tracks.iter().map(|t| t.filepath.clone()).collect();
        let (dest, name) = (dest.to_path_buf(), name.to_owned());
        let (progress_tx, mut progress_rx) = tokio::sync::mpsc::unbounded_channel();
        let writing = tokio::task::spawn_blocking(move || {
            let mut on_progress = |done: u64, total: u64| {
                let _ = progress_tx.send((done, total));
            };
            write_archives(&paths, &dest, &name, &options, &mut on_progress)
        });
        while let Some((done, total)) = progress_rx.recv().await {
            let span = f64::from(100 - 1 - DOWNLOAD_PERCENT_END);
            let percent = DOWNLOAD_PERCENT_END + (span * done as f64 / total.max(1) as f64) as u8;
            let update = lock(tracker).report(percent, ProgressStatus::Zipping, Instant::now());
            if let Some(update) = update {
                task.progress(update).await;
            }
        }
        let parts = writing.await.map_err(|e| WorkerError::Internal(format!("ZIP writer stopped: {e}")))??;
        if task.is_cancelled() {
            for part in &parts {
                let _ = std::fs::remove_file(&part.path);
            }
            return Err(cancelled(ctx));
        }
        Ok(parts)
    }
}

/// How many items the download should produce: the listing's entries, capped by `playlist_end`.
fn expected_items(listing: &serde_json::Value, playlist_end: Option<u32>) -> u32 {
    let listed = listing.get("entries").and_then(|e| e.as_array()).map(|e| e.len()).unwrap_or(0) as u32;
    playlist_end.map_or(listed, |end| listed.min(end))
}

/// Runs the download; it is done once any track arrived (yt-dlp exits 1 when some items failed,
/// and those are counted, not retried). Only a transient failure that produced no track at all
/// is retried, like any download, within the task's `IPC_TIMEOUT`.
async fn download_tracks(
    ctx: &Context,
    task: &Task,
    args: Vec<std::ffi::OsString>,
    watch: &Watch,
) -> Result<Outcome, WorkerError> {
    let outcome = driver::run_until(ctx, task, args, watch, |outcome| !outcome.final_files.is_empty())
        .await
        .map_err(|error| match error {
            WorkerError::Ytdlp { message, .. } => WorkerError::Playlist(format!("no track could be downloaded: {message}")),
            other => other,
        })?;
    if !outcome.succeeded() {
        tracing::info!(task_id = %task.id, failed = outcome.errors.len(), "playlist finished with failed items");
    }
    Ok(outcome)
}

/// The tracks yt-dlp finished (from the private log, admitted by the playlist folder), in
/// playlist order, each checked on disk.
fn existing_tracks(finals: &[FinalFile]) -> Result<Vec<FinalFile>, WorkerError> {
    let mut tracks: Vec<FinalFile> = finals.to_vec();
    tracks.sort_by_key(|t| t.playlist_index.unwrap_or(u32::MAX));
    tracks.dedup_by(|a, b| a.filepath == b.filepath);
    for track in &tracks {
        if !track.filepath.is_file() {
            return Err(WorkerError::FileNotFound(track.filepath.display().to_string()));
        }
    }
    Ok(tracks)
}

/// How many of the listed items (up to `playlist_end`) the `--download-archive` file already
/// records, which yt-dlp will skip. Lines are `<extractor> <id>`; as in the Python worker, the
/// id alone is compared.
fn archived_entries(archive_file: Option<&Path>, listing: &serde_json::Value, playlist_end: Option<u32>) -> u32 {
    let Some(text) = archive_file.and_then(|path| std::fs::read_to_string(path).ok()) else { return 0 };
    let archived: HashSet<&str> = text.lines().filter_map(|line| line.split_whitespace().nth(1)).collect();
    let entries = listing.get("entries").and_then(|e| e.as_array()).map(Vec::as_slice).unwrap_or_default();
    let end = playlist_end.map_or(entries.len(), |end| (end as usize).min(entries.len()));
    entries[..end].iter().filter(|entry| entry.get("id").and_then(|id| id.as_str()).is_some_and(|id| archived.contains(id))).count() as u32
}

/// The names of the files directly inside `folder` (none when it does not exist). Names, not
/// paths: the tracks' paths are resolved, the folder's may not be.
fn files_in(folder: &Path) -> HashSet<OsString> {
    let Ok(entries) = std::fs::read_dir(folder) else { return HashSet::new() };
    entries.filter_map(Result::ok).filter(|e| e.path().is_file()).map(|e| e.file_name()).collect()
}

/// The python profile's `done`: the tracks themselves, no ZIP. `cached` marks a track whose file
/// was already in the folder before this run (yt-dlp kept it instead of downloading it again).
fn python_playlist_done(name: &str, folder: &Path, tracks: &[FinalFile], present_before: &HashSet<OsString>, already_cached: u32) -> PythonPlaylistDone {
    let size_mb = |path: &Path| {
        let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        (bytes as f64 / 1_048_576.0 * 100.0).round() / 100.0
    };
    PythonPlaylistDone {
        files: tracks
            .iter()
            .map(|t| PythonTrackFile {
                path: t.filepath.display().to_string(),
                name: file_name(&t.filepath),
                size_mb: size_mb(&t.filepath),
                cached: t.filepath.file_name().is_some_and(|n| present_before.contains(n)),
            })
            .collect(),
        playlist_name: name.to_owned(),
        total_tracks_downloaded: tracks.len() as u32,
        already_cached,
        folder_path: folder.display().to_string(),
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

fn playlist_done(name: &str, folder: &Path, tracks: &[FinalFile], parts: &[ArchivePart], failed_tracks: u32) -> PlaylistDone {
    let size_of = |path: &Path| std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let first = parts.first();
    PlaylistDone {
        files: parts.iter().map(|p| FileEntry { path: p.path.display().to_string(), size: p.size, name: Some(p.name.clone()) }).collect(),
        archives: parts
            .iter()
            .map(|p| ArchiveEntry {
                name: p.name.clone(),
                path: p.path.display().to_string(),
                size: p.size,
                size_mb: (p.size as f64 / 1_048_576.0 * 100.0).round() / 100.0,
            })
            .collect(),
        tracks: tracks
            .iter()
            .map(|t| TrackEntry { path: t.filepath.display().to_string(), name: file_name(&t.filepath), size: size_of(&t.filepath) })
            .collect(),
        playlist_name: name.to_owned(),
        total_tracks_downloaded: tracks.len() as u32,
        failed_tracks,
        folder_path: folder.display().to_string(),
        file_path: first.map(|p| p.path.display().to_string()).unwrap_or_default(),
        filename: first.map(|p| p.name.clone()).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn archived_entries_counts_listed_ids_in_the_archive_up_to_playlist_end() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("archive.txt");
        std::fs::write(&archive, "youtube a\ngeneric c\n\nbroken\n").unwrap();
        let listing = json!({"entries": [{"id": "a"}, {"id": "b"}, {"id": "c"}, {"title": "no id"}]});
        assert_eq!(archived_entries(Some(&archive), &listing, None), 2);
        assert_eq!(archived_entries(Some(&archive), &listing, Some(2)), 1);
        assert_eq!(archived_entries(Some(&archive), &listing, Some(99)), 2);
        assert_eq!(archived_entries(None, &listing, None), 0);
        assert_eq!(archived_entries(Some(&dir.path().join("missing")), &listing, None), 0);
    }
}
