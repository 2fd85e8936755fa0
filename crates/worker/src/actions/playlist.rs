//! `playlist`: download a playlist's tracks into a folder named after it and deliver them as ZIP
//! part(s) no larger than `archive_max_size_mb` — or, in the python wire profile, as the track
//! files themselves (the Python worker makes no ZIP; DESIGN.md §2.1).
//!
//! Flow (the guide's): flat listing for title and count → `progress` 0 → tracks downloaded with
//! overall progress (status `downloading_playlist`, 0–90 %) → ZIP (status `zipping`, 90–99 %) →
//! `done`. A failing item does not fail the playlist (yt-dlp exits 1 but the rest downloaded);
//! only zero tracks is a `PLAYLIST_ERROR`.
//!
//! Tracks are downloaded and converted `PLAYLIST_CONCURRENCY` at a time (one yt-dlp per lane),
//! each finished track is announced at once (`progress` with `file`), and the ZIP parts are
//! written while later tracks still download, each part announced when it is closed.
use crate::archive::{ArchiveError, ArchiveOptions, ArchivePart, ArchiveStream};
use crate::confine::TaskDir;
use crate::context::Context;
use crate::error::WorkerError;
use crate::sanitize::{resolve_output_dir, sanitize_playlist_name};
use crate::tasks::Task;
use crate::validate::{required_url, validate_audio_quality};
use crate::ytdlp::args::{
    download_argv, info_argv, with_transfer, DownloadSpec, MediaMode, PlaylistSpec, PLAYLIST_OUTPUT_TEMPLATE,
};
use crate::ytdlp::driver::{self, require_ffmpeg, Watch};
use crate::ytdlp::env::ytdlp_env;
use crate::ytdlp::final_files::{FinalFile, FinalFileLog};
use crate::ytdlp::progress::{lock, ProgressTracker};
use hermes_protocol::{
    ArchiveEntry, AudioFormat, ErrorCode, Event, FileEntry, PlaylistDone, PlaylistParams, ProgressStatus,
    PythonPlaylistDone, PythonTrackFile, RawResponse, Request, TrackEntry,
};
use std::collections::{BTreeMap, HashSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Share of the percent range given to downloading; the rest is the ZIP step.
const DOWNLOAD_PERCENT_END: u8 = 90;

pub(crate) struct Playlist {
    url: String,
    params: PlaylistParams,
    /// The container to extract to; `None` for a video playlist (whatever `audio_format` said).
    audio: Option<AudioFormat>,
}

impl Playlist {
    pub(crate) fn parse(request: Request) -> Result<Playlist, WorkerError> {
        let params: PlaylistParams = request.params_as()?;
        if params.playlist_end == Some(0) || params.archive_max_size_mb == Some(0) {
            return Err(WorkerError::InvalidRequest(
                "playlist_end and archive_max_size_mb must be at least 1".to_owned(),
            ));
        }
        if params.extract_audio {
            validate_audio_quality(&params.audio_quality)?;
        }
        let audio = params.audio_target()?;
        Ok(Playlist {
            url: required_url(&request)?,
            params,
            audio,
        })
    }

    pub(crate) async fn apply(self, ctx: &Context, task: &Task) -> Result<RawResponse, WorkerError> {
        let config = &ctx.config;
        let output_dir = resolve_output_dir(
            &config.download_dir,
            self.params.output_dir.as_deref(),
            &task.id,
            config.allow_any_output_dir,
        )?;
        let archive_file = self.archive_file(ctx)?;
        if self.audio.is_some() {
            require_ffmpeg(ctx)?;
        }
        let python = config.wire_profile.is_python();

        let listing = driver::run_json(
            ctx,
            task,
            info_argv(&ytdlp_env(&ctx.config), &self.url, true, self.params.playlist_end),
        )
        .await?;
        let title = listing
            .get("title")
            .and_then(|t| t.as_str())
            .unwrap_or("playlist");
        let expected = expected_items(&listing, self.params.playlist_end);
        if expected == 0 {
            return Err(WorkerError::Playlist("the playlist has no items".to_owned()));
        }
        let name = sanitize_playlist_name(title, config.playlist_name_max_length);
        let folder = output_dir.join(&name);
        let already_cached = archived_entries(archive_file.as_deref(), &listing, self.params.playlist_end);
        if python && already_cached >= expected {
            // What the Python worker answers when every item is in the archive: nothing to do.
            let done = PythonPlaylistDone {
                playlist_name: name,
                already_cached,
                ..PythonPlaylistDone::default()
            };
            return Ok(RawResponse::new(task.id.clone(), Event::Done, &done));
        }
        std::fs::create_dir_all(&folder)?;
        let max_filesize_mb = config.max_filesize_mb_for(self.params.max_filesize_mb);
        let present_before = files_in(&folder);

        // Without a ZIP step (python profile) downloading is the whole task.
        let download_end = if python { 99 } else { DOWNLOAD_PERCENT_END };
        let tracker = Arc::new(Mutex::new(
            ProgressTracker::for_playlist(expected).with_percent_range(0, download_end),
        ));
        task.report_progress(&tracker, |t| {
            t.report(0, ProgressStatus::DownloadingPlaylist, Instant::now())
        })
        .await;

        let items = ItemRun {
            url: &self.url,
            folder: &folder,
            mode: MediaMode::new(self.audio, &self.params.audio_quality),
            format: self.params.format.as_deref(),
            archive_file: archive_file.as_deref(),
            max_filesize_mb,
        };
        // The python profile has no ZIP step.
        let zip = (!python).then(|| ZipPlan {
            dest: output_dir.clone(),
            name: name.clone(),
            options: ArchiveOptions {
                max_part_bytes: self
                    .params
                    .archive_max_size_mb
                    .unwrap_or(config.archive_max_size_mb)
                    .saturating_mul(1024 * 1024),
                compression_level: config.archive_compression_level,
            },
        });
        let round = download_concurrently(ctx, task, &items, expected, &tracker, zip).await?;
        let failed_tracks = round.failed.min(expected);

        if python {
            let finished = lock(&tracker).finish();
            task.progress(finished).await;
            let done = python_playlist_done(&name, &folder, &round.tracks, &present_before, already_cached);
            return Ok(RawResponse::new(task.id.clone(), Event::Done, &done));
        }

        task.report_progress(&tracker, |t| {
            t.report(DOWNLOAD_PERCENT_END, ProgressStatus::Zipping, Instant::now())
        })
        .await;
        let parts = finish_zip(ctx, task, round.zip, &tracker).await?;

        let finished = lock(&tracker).finish();
        task.progress(finished).await;
        let done = playlist_done(&name, &folder, &round.tracks, &parts, failed_tracks);
        Ok(RawResponse::new(task.id.clone(), Event::Done, &done))
    }

    /// yt-dlp's `--download-archive` file, which must lie inside `DOWNLOAD_DIR` like every path
    /// a request names.
    fn archive_file(&self, ctx: &Context) -> Result<Option<PathBuf>, WorkerError> {
        let Some(requested) = self.params.archive_file.as_deref() else {
            return Ok(None);
        };
        let config = &ctx.config;
        let path = resolve_output_dir(
            &config.download_dir,
            Some(requested),
            "archive",
            config.allow_any_output_dir,
        )?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        Ok(Some(path))
    }
}

/// What every item's yt-dlp run shares.
struct ItemRun<'a> {
    url: &'a str,
    folder: &'a Path,
    mode: MediaMode,
    format: Option<&'a str>,
    archive_file: Option<&'a Path>,
    max_filesize_mb: u64,
}

/// What a lane tells the conductor.
enum LaneReport {
    /// A track finished (from the lane's private log, admitted by the playlist folder); the
    /// lane's run goes on.
    Track(FinalFile),
    /// The lane's run ended. Its items without a track failed (its ERROR lines are counted, as
    /// a single run over the playlist counts them) or were skipped (already in the archive).
    Ended {
        first_item: u32,
        result: Result<LaneEnd, WorkerError>,
    },
}

/// How a lane's run ended, when it ran to its end.
struct LaneEnd {
    errors: u32,
    /// The error for the lane's items that produced no track, if any did not.
    failure: Option<WorkerError>,
}

/// What the download of all items produced.
struct Round {
    /// In playlist order.
    tracks: Vec<FinalFile>,
    failed: u32,
    zip: Option<ZipJob>,
}

/// Downloads items `1..=expected` of the playlist in `PLAYLIST_CONCURRENCY` lanes: one yt-dlp
/// per lane over its share of the items, dealt round-robin (`--playlist-items 1,5,…`, `2,6,…`),
/// with the same output template and download archive, so names and archive lines are those of a
/// single run over the playlist. A lane pays one yt-dlp start-up (~1–2 s of CPU: Python, the
/// extractors, the listing) for all its items, and the round-robin makes the first tracks finish
/// first. Each run goes through the driver: its own egress proxy, size cap, private final-file log.
///
/// As tracks finish they are announced at once (`progress` with `file`), and handed in playlist
/// order to the ZIP writer, which writes parts while later tracks still download.
///
/// Like a single run over the playlist, failed items are counted, not fatal; only when no track
/// arrived at all is the round retried (transient failures, `MAX_RETRIES`) or the playlist a
/// `PLAYLIST_ERROR`. Anything that stops a run as a whole (cancel, `IPC_TIMEOUT`, `YT_TIMEOUT`,
/// the size cap, a refused destination) stops every run of the task and fails it.
async fn download_concurrently(
    ctx: &Context,
    task: &Task,
    items: &ItemRun<'_>,
    expected: u32,
    tracker: &Arc<Mutex<ProgressTracker>>,
    zip: Option<ZipPlan>,
) -> Result<Round, WorkerError> {
    let deadline = Instant::now() + ctx.config.ipc_timeout();
    let mut attempt = 0;
    loop {
        let zip_job = zip.as_ref().map(ZipJob::start).transpose()?;
        let (round, first_failure) =
            download_round(ctx, task, items, expected, tracker, zip_job, deadline).await?;
        if !round.tracks.is_empty() {
            if round.failed > 0 {
                tracing::info!(task_id = %task.id, failed = round.failed, "playlist finished with failed items");
            }
            return Ok(round);
        }
        drop(round);
        let error = match first_failure {
            Some(error) if error.is_transient() && attempt < ctx.config.max_retries => {
                attempt += 1;
                tracing::warn!(task_id = %task.id, attempt, %error, "no item could be downloaded (transient); retrying");
                task.report_progress(tracker, |t| t.retrying(Instant::now()))
                    .await;
                tokio::select! {
                    _ = tokio::time::sleep(ctx.config.retry_delay()) => continue,
                    _ = tokio::time::sleep_until(deadline.into()) => return Err(driver::deadline_exceeded(ctx)),
                    _ = task.cancel.cancelled() => return Err(WorkerError::cancelled(&ctx.shutdown)),
                }
            }
            Some(WorkerError::Ytdlp { message, .. }) => {
                WorkerError::Playlist(format!("no track could be downloaded: {message}"))
            }
            Some(other) => other,
            None => WorkerError::Playlist("no track could be downloaded".to_owned()),
        };
        return Err(error);
    }
}

/// The items of each lane: `1..=expected` dealt round-robin over `lanes` lanes.
fn lane_items(expected: u32, lanes: usize) -> Vec<Vec<u32>> {
    let lanes = lanes.clamp(1, expected.max(1) as usize);
    let mut dealt = vec![Vec::new(); lanes];
    for index in 1..=expected {
        dealt[(index as usize - 1) % lanes].push(index);
    }
    dealt
}

/// One pass over every item. Returns the round and the failure of the first lane (in playlist
/// order) whose items did not all produce a track.
async fn download_round(
    ctx: &Context,
    task: &Task,
    items: &ItemRun<'_>,
    expected: u32,
    tracker: &Arc<Mutex<ProgressTracker>>,
    mut zip: Option<ZipJob>,
    deadline: Instant,
) -> Result<(Round, Option<WorkerError>), WorkerError> {
    // The runs of this task stop together: on the task's cancel, and on the first failure
    // that stops a run as a whole.
    let runs = Task::new(task.id.clone(), task.cancel.child_token(), ctx.events.clone());
    let dealt = lane_items(expected, ctx.config.transfer.playlist_concurrency);
    let lane_trackers: Vec<Arc<Mutex<ProgressTracker>>> = dealt
        .iter()
        .map(|lane| {
            Arc::new(Mutex::new(
                ProgressTracker::for_playlist(lane.len() as u32).quiet(),
            ))
        })
        .collect();
    let (report_tx, mut report_rx) = tokio::sync::mpsc::unbounded_channel::<LaneReport>();
    let lanes: Vec<_> = dealt
        .iter()
        .zip(&lane_trackers)
        .map(|(lane, lane_tracker)| {
            let (report_tx, runs) = (report_tx.clone(), &runs);
            async move {
                let result =
                    run_lane(ctx, runs, items, lane, lane_tracker.clone(), &report_tx, deadline).await;
                let _ = report_tx.send(LaneReport::Ended {
                    first_item: lane[0],
                    result,
                });
            }
        })
        .collect();
    drop(report_tx);

    let conduct = async {
        let mut finished: BTreeMap<u32, FinalFile> = BTreeMap::new();
        let mut lanes_ended: Vec<u32> = Vec::new();
        let mut next_to_zip = 1;
        let mut failed = 0u32;
        let mut first_failure: Option<(u32, WorkerError)> = None;
        let mut fatal: Option<WorkerError> = None;
        let mut tick = tokio::time::interval(COMBINED_PROGRESS_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let part = async {
                match zip.as_mut() {
                    Some(job) => job.parts.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                report = report_rx.recv() => {
                    match report {
                        None => break,
                        Some(LaneReport::Track(track)) => {
                            let Some(index) = track.playlist_index.filter(|i| (1..=expected).contains(i)) else {
                                tracing::warn!(path = %track.filepath.display(), "a finished track without its playlist position; left out");
                                continue;
                            };
                            if !track.filepath.is_file() {
                                tracing::warn!(path = %track.filepath.display(), "a finished track is not on disk; left out");
                                continue;
                            }
                            let update = lock(tracker).file_event(track_entry(&track.filepath), Instant::now());
                            task.progress(update).await;
                            finished.insert(index, track);
                        }
                        Some(LaneReport::Ended { first_item, result }) => {
                            lanes_ended.push(first_item);
                            match result {
                                Ok(end) => {
                                    failed += end.errors;
                                    match end.failure {
                                        // A full disk fails every item, not one: the task fails
                                        // as a whole instead of ending with tracks missing.
                                        Some(failure) if failure.code() == ErrorCode::DiskFull => {
                                            if fatal.is_none() {
                                                fatal = Some(failure);
                                            }
                                            runs.cancel.cancel();
                                        }
                                        Some(failure)
                                            if first_failure.as_ref().is_none_or(|(first, _)| first_item < *first) =>
                                        {
                                            first_failure = Some((first_item, failure));
                                        }
                                        _ => {}
                                    }
                                }
                                Err(error) => {
                                    // A run stopped because a sibling failed is not news.
                                    let ours = matches!(error, WorkerError::Cancelled(_)) && runs.is_cancelled() && !task.is_cancelled();
                                    if fatal.is_none() && !ours {
                                        fatal = Some(error);
                                    }
                                    runs.cancel.cancel();
                                }
                            }
                        }
                    }
                    // Items are zipped in playlist order: an item is settled once it has its
                    // track, or once the lane that had it has ended without one.
                    loop {
                        if let Some(track) = finished.get(&next_to_zip) {
                            if let Some(job) = zip.as_mut() {
                                job.push(&track.filepath);
                            }
                        } else if !lanes_ended.contains(&dealt_first(&dealt, next_to_zip)) {
                            break;
                        }
                        next_to_zip += 1;
                        if next_to_zip > expected {
                            break;
                        }
                    }
                    report_combined(task, tracker, &lane_trackers, &dealt, &lanes_ended, finished.len()).await;
                }
                Some(part) = part => {
                    if let Some(job) = zip.as_mut() {
                        job.reported += 1;
                    }
                    let update = lock(tracker).file_event(part_entry(&part), Instant::now());
                    task.progress(update).await;
                }
                _ = tick.tick() => report_combined(task, tracker, &lane_trackers, &dealt, &lanes_ended, finished.len()).await,
            }
        }
        let tracks: Vec<FinalFile> = finished.into_values().collect();
        (tracks, failed, first_failure.map(|(_, f)| f), fatal)
    };
    let ((), (tracks, failed, first_failure, fatal)) = tokio::join!(join_all(lanes), conduct);
    let stopped = match fatal {
        Some(_) if task.is_cancelled() => Some(WorkerError::cancelled(&ctx.shutdown)),
        Some(error) => Some(error),
        None if task.is_cancelled() => Some(WorkerError::cancelled(&ctx.shutdown)),
        None => None,
    };
    if let Some(error) = stopped {
        if let Some(job) = zip {
            job.abandon().await;
        }
        return Err(error);
    }
    Ok((Round { tracks, failed, zip }, first_failure))
}

/// The first item of the lane that has `index` (lanes are named by their first item).
fn dealt_first(dealt: &[Vec<u32>], index: u32) -> u32 {
    dealt
        .iter()
        .find(|lane| lane.contains(&index))
        .map_or(0, |lane| lane[0])
}

/// How often the combined progress of the running lanes is reported (at most; the tracker's
/// throttle applies).
const COMBINED_PROGRESS_INTERVAL: std::time::Duration = std::time::Duration::from_millis(250);

/// Reports how far the playlist is: each lane by its own tracker (an ended lane counts whole),
/// never less than the tracks already finished; the speed is the sum of the running downloads.
async fn report_combined(
    task: &Task,
    tracker: &Arc<Mutex<ProgressTracker>>,
    lane_trackers: &[Arc<Mutex<ProgressTracker>>],
    dealt: &[Vec<u32>],
    lanes_ended: &[u32],
    tracks_finished: usize,
) {
    let (mut done, mut speed, mut eta) = (0.0, 0.0, 0u64);
    let mut total = 0usize;
    for (lane, lane_tracker) in dealt.iter().zip(lane_trackers) {
        total += lane.len();
        if lanes_ended.contains(&lane[0]) {
            done += lane.len() as f64;
            continue;
        }
        let lane_tracker = lock(lane_tracker);
        done += lane_tracker.done_fraction() * lane.len() as f64;
        if let Some(bps) = lane_tracker.speed_bps() {
            speed += bps;
            eta = eta.max(lane_tracker.snapshot().eta);
        }
    }
    let fraction = done.max(tracks_finished as f64) / total.max(1) as f64;
    let percent = (fraction * f64::from(DOWNLOAD_PERCENT_END)).floor() as u8;
    task.report_progress(tracker, |t| {
        t.report_combined(percent, (speed > 0.0).then_some(speed), eta, Instant::now())
    })
    .await;
}

/// One lane: one yt-dlp run with `--playlist-items` of the lane's items, through the driver;
/// each track is reported as it finishes.
async fn run_lane(
    ctx: &Context,
    runs: &Task,
    items: &ItemRun<'_>,
    lane: &[u32],
    tracker: Arc<Mutex<ProgressTracker>>,
    report: &tokio::sync::mpsc::UnboundedSender<LaneReport>,
    deadline: Instant,
) -> Result<LaneEnd, WorkerError> {
    let time_left = deadline.saturating_duration_since(Instant::now());
    if time_left.is_zero() {
        return Err(driver::deadline_exceeded(ctx));
    }
    let log = Arc::new(FinalFileLog::create(TaskDir::open(items.folder)?)?);
    let spec = DownloadSpec {
        url: items.url,
        output_dir: items.folder,
        output_template: PLAYLIST_OUTPUT_TEMPLATE,
        mode: items.mode.clone(),
        format: items.format,
        best_audio_limit_mb: ctx.config.best_audio_limit_mb,
        playlist: Some(PlaylistSpec {
            end: None,
            archive_file: items.archive_file.map(Path::to_path_buf),
            items: lane.to_vec(),
        }),
        final_files_log: log.path(),
        max_filesize_mb: items.max_filesize_mb,
        shape: Default::default(),
    };
    let args = with_transfer(
        download_argv(&ytdlp_env(&ctx.config), &spec),
        &ctx.config.transfer.args(),
    );
    let (tracks_tx, mut tracks_rx) = tokio::sync::mpsc::unbounded_channel();
    let watch = Watch {
        on_final_file: Some(tracks_tx),
        ..Watch::download(tracker, log.clone(), items.max_filesize_mb)
    };
    let forward = async {
        while let Some(track) = tracks_rx.recv().await {
            let _ = report.send(LaneReport::Track(track));
        }
    };
    let run = async {
        let outcome = driver::run_once_within(ctx, runs, args, &watch, time_left).await;
        drop(watch);
        outcome
    };
    let (outcome, ()) = tokio::join!(run, forward);
    let outcome = outcome?;
    if let Some(refusal) = &outcome.refused {
        if outcome.final_files.is_empty() {
            return Err(WorkerError::UrlNotAllowed(refusal.to_string()));
        }
    }
    let complete = outcome.final_files.len() >= lane.len();
    if !complete {
        outcome.remove_partial_files();
    }
    Ok(LaneEnd {
        errors: outcome.errors.len() as u32,
        failure: (!complete).then(|| outcome.failure()),
    })
}

/// Polls every future to completion, concurrently, on the caller's task (the futures borrow the
/// task's context, so they are not spawned).
async fn join_all<F: std::future::Future<Output = ()>>(futures: Vec<F>) {
    let mut futures: Vec<Option<std::pin::Pin<Box<F>>>> =
        futures.into_iter().map(|f| Some(Box::pin(f))).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for slot in futures.iter_mut() {
            if let Some(future) = slot {
                if future.as_mut().poll(cx).is_ready() {
                    *slot = None;
                } else {
                    pending = true;
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// ZIP while downloading (a wire profile without ZIP passes no `ZipPlan`)

/// Where and how the parts are written.
struct ZipPlan {
    dest: PathBuf,
    name: String,
    options: ArchiveOptions,
}

/// An [`ArchiveStream`] on a blocking thread, fed tracks in playlist order.
struct ZipJob {
    tracks: Option<std::sync::mpsc::Sender<ZipCommand>>,
    /// Parts closed while tracks still arrive, to be announced.
    parts: tokio::sync::mpsc::UnboundedReceiver<ArchivePart>,
    /// How many parts have been announced.
    reported: usize,
    writer: Option<tokio::task::JoinHandle<Result<Vec<ArchivePart>, ArchiveError>>>,
}

enum ZipCommand {
    Track(PathBuf),
    /// Close the last part and keep every part. Without it (the sender dropped) the parts are
    /// deleted: the task failed or was cancelled.
    Finish,
}

impl ZipJob {
    fn start(plan: &ZipPlan) -> Result<ZipJob, WorkerError> {
        let mut stream = ArchiveStream::new(&plan.dest, &plan.name, plan.options)?;
        let (tracks_tx, tracks_rx) = std::sync::mpsc::channel::<ZipCommand>();
        let (parts_tx, parts) = tokio::sync::mpsc::unbounded_channel();
        let writer = tokio::task::spawn_blocking(move || {
            for command in tracks_rx {
                match command {
                    ZipCommand::Track(path) => {
                        if let Some(part) = stream.push(&path)? {
                            let _ = parts_tx.send(part);
                        }
                    }
                    ZipCommand::Finish => return stream.finish(),
                }
            }
            Err(ArchiveError::NoTracks)
        });
        Ok(ZipJob {
            tracks: Some(tracks_tx),
            parts,
            reported: 0,
            writer: Some(writer),
        })
    }

    /// Deletes every part written so far, and returns once they are gone.
    async fn abandon(mut self) {
        self.tracks.take();
        if let Some(writer) = self.writer.take() {
            let _ = writer.await;
        }
    }

    fn push(&mut self, track: &Path) {
        if let Some(tracks) = &self.tracks {
            // A writer that stopped on an error reports it when joined.
            let _ = tracks.send(ZipCommand::Track(track.to_path_buf()));
        }
    }
}

impl Drop for ZipJob {
    fn drop(&mut self) {
        // Dropping the sender without `Finish` makes the writer drop its stream, which deletes
        // every part it wrote.
        self.tracks.take();
    }
}

/// Closes the last part, announces the parts not announced yet, and returns them all; a cancel
/// that arrives meanwhile removes them instead.
async fn finish_zip(
    ctx: &Context,
    task: &Task,
    zip: Option<ZipJob>,
    tracker: &Arc<Mutex<ProgressTracker>>,
) -> Result<Vec<ArchivePart>, WorkerError> {
    let Some(mut job) = zip else { return Ok(Vec::new()) };
    if let Some(tracks) = job.tracks.take() {
        let _ = tracks.send(ZipCommand::Finish);
    }
    let writer = job
        .writer
        .take()
        .ok_or_else(|| WorkerError::Internal("ZIP writer already joined".to_owned()))?;
    let parts = writer
        .await
        .map_err(|e| WorkerError::Internal(format!("ZIP writer stopped: {e}")))??;
    if task.is_cancelled() {
        for part in &parts {
            let _ = std::fs::remove_file(&part.path);
        }
        return Err(WorkerError::cancelled(&ctx.shutdown));
    }
    for part in parts.iter().skip(job.reported) {
        let update = lock(tracker).file_event(part_entry(part), Instant::now());
        task.progress(update).await;
    }
    Ok(parts)
}

fn track_entry(path: &Path) -> FileEntry {
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    FileEntry {
        path: path.display().to_string(),
        size,
        name: Some(file_name(path)),
    }
}

fn part_entry(part: &ArchivePart) -> FileEntry {
    FileEntry {
        path: part.path.display().to_string(),
        size: part.size,
        name: Some(part.name.clone()),
    }
}

/// How many items the download should produce: the listing's entries, capped by `playlist_end`.
fn expected_items(listing: &serde_json::Value, playlist_end: Option<u32>) -> u32 {
    let listed = listing
        .get("entries")
        .and_then(|e| e.as_array())
        .map(|e| e.len())
        .unwrap_or(0) as u32;
    playlist_end.map_or(listed, |end| listed.min(end))
}

/// How many of the listed items (up to `playlist_end`) the `--download-archive` file already
/// records, which yt-dlp will skip. Lines are `<extractor> <id>`; as in the Python worker, the
/// id alone is compared.
fn archived_entries(
    archive_file: Option<&Path>,
    listing: &serde_json::Value,
    playlist_end: Option<u32>,
) -> u32 {
    let Some(text) = archive_file.and_then(|path| std::fs::read_to_string(path).ok()) else {
        return 0;
    };
    let archived: HashSet<&str> = text
        .lines()
        .filter_map(|line| line.split_whitespace().nth(1))
        .collect();
    let entries = listing
        .get("entries")
        .and_then(|e| e.as_array())
        .map(Vec::as_slice)
        .unwrap_or_default();
    let end = playlist_end.map_or(entries.len(), |end| (end as usize).min(entries.len()));
    entries[..end]
        .iter()
        .filter(|entry| {
            entry
                .get("id")
                .and_then(|id| id.as_str())
                .is_some_and(|id| archived.contains(id))
        })
        .count() as u32
}

/// The names of the files directly inside `folder` (none when it does not exist). Names, not
/// paths: the tracks' paths are resolved, the folder's may not be.
fn files_in(folder: &Path) -> HashSet<OsString> {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return HashSet::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name())
        .collect()
}

/// The python profile's `done`: the tracks themselves, no ZIP. `cached` marks a track whose file
/// was already in the folder before this run (yt-dlp kept it instead of downloading it again).
fn python_playlist_done(
    name: &str,
    folder: &Path,
    tracks: &[FinalFile],
    present_before: &HashSet<OsString>,
    already_cached: u32,
) -> PythonPlaylistDone {
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
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn playlist_done(
    name: &str,
    folder: &Path,
    tracks: &[FinalFile],
    parts: &[ArchivePart],
    failed_tracks: u32,
) -> PlaylistDone {
    let size_of = |path: &Path| std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let first = parts.first();
    PlaylistDone {
        files: parts
            .iter()
            .map(|p| FileEntry {
                path: p.path.display().to_string(),
                size: p.size,
                name: Some(p.name.clone()),
            })
            .collect(),
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
            .map(|t| TrackEntry {
                path: t.filepath.display().to_string(),
                name: file_name(&t.filepath),
                size: size_of(&t.filepath),
            })
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
    fn items_are_dealt_round_robin_so_the_first_ones_finish_first() {
        assert_eq!(lane_items(8, 4), [vec![1, 5], vec![2, 6], vec![3, 7], vec![4, 8]]);
        assert_eq!(lane_items(3, 4), [vec![1], vec![2], vec![3]]);
        assert_eq!(lane_items(5, 1), [vec![1, 2, 3, 4, 5]]);
        assert_eq!(lane_items(5, 2), [vec![1, 3, 5], vec![2, 4]]);
        assert_eq!(dealt_first(&lane_items(5, 2), 4), 2);
    }

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
        assert_eq!(
            archived_entries(Some(&dir.path().join("missing")), &listing, None),
            0
        );
    }
}
