//! Runs yt-dlp for one task: spawns it through the runner, feeds every line to the progress
//! tracker (emitting `progress` events), collects final files and ERROR lines, retries transient
//! failures, and turns every way it can end into a `WorkerError` or an [`Outcome`].
use super::args::YtdlpEnv;
use super::classify::{classify, first_error_message};
use super::progress::{parse_line, FinalFile, LineEvent, ProgressTracker};
use super::runner::{self, ExitInfo, OutputLine, RunError, RunSpec};
use crate::context::Context;
use crate::dispatch::cancelled;
use crate::error::WorkerError;
use crate::tasks::Task;
use crate::tools::resolve_program;
use hermes_protocol::ProgressData;
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How often a progress update held back by the throttle is re-checked, so the last state before
/// a quiet phase (a long ffmpeg conversion) still reaches the host.
const FLUSH_INTERVAL: Duration = Duration::from_millis(300);

/// What one yt-dlp run printed that the actions need.
#[derive(Debug, Default)]
pub struct Outcome {
    pub exit: Option<ExitInfo>,
    pub final_files: Vec<FinalFile>,
    /// Every `ERROR:` line (without the prefix).
    pub errors: Vec<String>,
    /// Every path yt-dlp started writing (download destinations, conversion and merge targets):
    /// what to clean up when the task fails.
    pub written: Vec<PathBuf>,
    /// Items yt-dlp reported as already downloaded.
    pub already_downloaded: Vec<PathBuf>,
    /// The last stdout line (the JSON document of `--dump-single-json`).
    pub last_stdout: Option<String>,
    /// ffprobe runs started for final files whose duration yt-dlp did not know (see [`Watch`]).
    pub duration_probes: Vec<(PathBuf, tokio::task::JoinHandle<Option<u64>>)>,
    /// A probe of the downloaded source, started when its conversion or merge began; it
    /// becomes the probe of the next final file.
    source_probe: Option<tokio::task::JoinHandle<Option<u64>>>,
    ffprobe_with: Option<PathBuf>,
}

/// What a run watches for besides errors and final files.
#[derive(Clone, Default)]
pub struct Watch {
    /// Fed every line; its `progress` events are sent as they come.
    pub tracker: Option<Arc<Mutex<ProgressTracker>>>,
    /// ffmpeg of this worker, when final files without a duration should be measured with the
    /// ffprobe beside it. A probe costs ~50 ms (a process start), so it is started early: on the
    /// downloaded source as soon as ffmpeg starts converting or merging it (same duration, and
    /// the conversion takes longer than the probe), else when yt-dlp prints the final file.
    pub probe_durations_with: Option<PathBuf>,
}

impl Outcome {
    /// Removes what this run left half-written: partial downloads (`.part`, `.ytdl`, fragments)
    /// and intermediate files. Files that reached their final name stay: they are complete.
    pub fn remove_partial_files(&self) {
        let finals: Vec<&PathBuf> = self.final_files.iter().map(|f| &f.filepath).collect();
        let partial: Vec<PathBuf> = self.written.iter().filter(|p| !finals.contains(p)).cloned().collect();
        remove_partial_files(&partial);
    }

    /// The duration ffprobe measured for `path` (or its source), if a probe was started for it;
    /// when probing the source failed (yt-dlp may delete it first), the final file is probed.
    pub async fn probed_duration(&mut self, path: &std::path::Path) -> Option<u64> {
        let index = self.duration_probes.iter().position(|(probed, _)| probed == path)?;
        let (_, probe) = self.duration_probes.swap_remove(index);
        match probe.await.ok().flatten() {
            Some(secs) => Some(secs),
            None => crate::tools::probe_duration(self.ffprobe_with.as_deref()?, path).await,
        }
    }

    /// Starts duration probes early (see [`Watch::probe_durations_with`]).
    fn probe_early(&mut self, event: &LineEvent) {
        let Some(ffmpeg) = self.ffprobe_with.clone() else { return };
        match event {
            LineEvent::ExtractAudio(_) | LineEvent::Merger(_) if self.source_probe.is_none() => {
                if let Some(source) = self.written.last() {
                    self.source_probe = Some(spawn_duration_probe(&ffmpeg, source));
                }
            }
            LineEvent::FinalFile(file) if file.duration.is_none() => {
                let probe = self.source_probe.take().unwrap_or_else(|| spawn_duration_probe(&ffmpeg, &file.filepath));
                self.duration_probes.push((file.filepath.clone(), probe));
            }
            LineEvent::FinalFile(_) => self.source_probe = None,
            _ => {}
        }
    }

    pub fn succeeded(&self) -> bool {
        self.exit.is_some_and(|e| e.success)
    }

    /// The error for a run that was not good enough, classified from its ERROR lines.
    pub fn failure(&self) -> WorkerError {
        if self.errors.is_empty() {
            let how = match self.exit {
                Some(ExitInfo { success: true, .. }) => "produced no file".to_owned(),
                Some(ExitInfo { signal: Some(sig), .. }) => format!("was killed by signal {sig}"),
                Some(ExitInfo { code: Some(code), .. }) => format!("exited with code {code}"),
                _ => "failed".to_owned(),
            };
            return WorkerError::Ytdlp { kind: super::classify::YtdlpErrorKind::Other, message: format!("yt-dlp {how}") };
        }
        let (kind, message) = super::classify::with_disk_space(classify(&self.errors), first_error_message(&self.errors), &self.written);
        WorkerError::Ytdlp { kind, message }
    }
}

/// The yt-dlp environment of this worker: ffmpeg location and cookies (only when the file exists).
pub fn ytdlp_env(ctx: &Context) -> YtdlpEnv {
    YtdlpEnv {
        ffmpeg_location: resolve_program(&ctx.config.ffmpeg_bin),
        cookie_file: ctx.config.existing_cookie_file(),
    }
}

/// Fails with `FFMPEG_NOT_FOUND` (naming what was tried) when ffmpeg cannot be found.
pub fn require_ffmpeg(ctx: &Context) -> Result<PathBuf, WorkerError> {
    resolve_program(&ctx.config.ffmpeg_bin).ok_or_else(|| WorkerError::FfmpegNotFound(ctx.config.ffmpeg_bin.clone()))
}

/// Runs yt-dlp once with `args`, feeding its lines to `watch.tracker` (when given) and emitting the
/// progress events it produces. An unsuccessful exit is returned as an [`Outcome`] (the caller
/// decides: a playlist tolerates failed items); timeouts, cancellation and a missing binary are
/// errors.
pub async fn run_once(ctx: &Context, task: &Task, args: Vec<OsString>, watch: &Watch) -> Result<Outcome, WorkerError> {
    run_once_within(ctx, task, args, watch, ctx.config.ipc_timeout()).await
}

/// [`run_once`] with the run killed after `time_left`: what remains of the task's `IPC_TIMEOUT`
/// when earlier attempts already used some of it.
async fn run_once_within(
    ctx: &Context,
    task: &Task,
    args: Vec<OsString>,
    watch: &Watch,
    time_left: Duration,
) -> Result<Outcome, WorkerError> {
    let mut spec = RunSpec::new(ctx.config.ytdlp_bin.clone(), args);
    spec.idle_timeout = ctx.config.yt_timeout();
    spec.deadline = time_left;
    let (progress_tx, progress_rx) = mpsc::unbounded_channel();
    let mut outcome = Outcome { ffprobe_with: watch.probe_durations_with.clone(), ..Outcome::default() };
    let result = {
        let outcome = &mut outcome;
        // `move`: the progress sender must be dropped with the callback when the run ends, or
        // the forwarding loop below would wait for it forever.
        let on_line = move |line: OutputLine| {
            let event = parse_line(line.text());
            if let Some(tracker) = &watch.tracker {
                if let Some(update) = lock(tracker).observe(&event, Instant::now()) {
                    let _ = progress_tx.send(update);
                }
            }
            outcome.probe_early(&event);
            record(outcome, line, event);
        };
        let run = runner::run(spec, &task.cancel, on_line);
        let forward = forward_progress(task, progress_rx, watch.tracker.clone());
        tokio::join!(run, forward).0
    };
    let error = match result {
        Ok(exit) => {
            outcome.exit = Some(exit);
            return Ok(outcome);
        }
        Err(error) => error,
    };
    outcome.remove_partial_files();
    Err(match error {
        RunError::NotFound { program } => WorkerError::YtdlpNotFound(program),
        RunError::IdleTimeout(idle) => WorkerError::NetworkTimeout(format!(
            "yt-dlp produced no output for {}s (YT_TIMEOUT); the download was stopped",
            idle.as_secs()
        )),
        RunError::Deadline(_) => deadline_exceeded(ctx),
        RunError::Cancelled => cancelled(ctx),
        error @ (RunError::Spawn(_) | RunError::Io(_)) => WorkerError::Internal(error.to_string()),
    })
}

/// Runs yt-dlp, retrying transient failures (network, HTTP 5xx, 429) `MAX_RETRIES` times with
/// `RETRY_DELAY_SECONDS` between attempts, reported as `progress` with status `retrying`.
/// Returns the first successful outcome, or the last failure.
///
/// `IPC_TIMEOUT` bounds all attempts together (it is the task's deadline, not each run's), and
/// partial files are kept between attempts (yt-dlp resumes a `.part`) but removed once the task
/// gives up, however it gives up.
pub async fn run_with_retries(
    ctx: &Context,
    task: &Task,
    args: Vec<OsString>,
    watch: &Watch,
) -> Result<Outcome, WorkerError> {
    run_until(ctx, task, args, watch, Outcome::succeeded).await
}

/// [`run_with_retries`] with the caller's idea of a good enough run: a playlist, for one, is
/// done when some tracks arrived even though yt-dlp exits 1 for the items that failed.
pub async fn run_until(
    ctx: &Context,
    task: &Task,
    args: Vec<OsString>,
    watch: &Watch,
    enough: impl Fn(&Outcome) -> bool,
) -> Result<Outcome, WorkerError> {
    let deadline = Instant::now() + ctx.config.ipc_timeout();
    let mut attempt = 0;
    loop {
        let time_left = deadline.saturating_duration_since(Instant::now());
        if time_left.is_zero() {
            return Err(deadline_exceeded(ctx));
        }
        let outcome = run_once_within(ctx, task, args.clone(), watch, time_left).await?;
        if enough(&outcome) {
            return Ok(outcome);
        }
        let error = outcome.failure();
        if !error.is_transient() || attempt >= ctx.config.max_retries {
            outcome.remove_partial_files();
            return Err(error);
        }
        attempt += 1;
        tracing::warn!(task_id = %task.id, attempt, %error, "transient yt-dlp failure; retrying");
        if let Some(tracker) = &watch.tracker {
            let update = lock(tracker).retrying(Instant::now());
            if let Some(update) = update {
                task.progress(update).await;
            }
        }
        let stopped = tokio::select! {
            _ = tokio::time::sleep(ctx.config.retry_delay()) => None,
            _ = tokio::time::sleep_until(deadline.into()) => Some(deadline_exceeded(ctx)),
            _ = task.cancel.cancelled() => Some(cancelled(ctx)),
        };
        if let Some(error) = stopped {
            outcome.remove_partial_files();
            return Err(error);
        }
    }
}

/// The task ran into `IPC_TIMEOUT`.
fn deadline_exceeded(ctx: &Context) -> WorkerError {
    WorkerError::Timeout(format!("the task took longer than {}s (IPC_TIMEOUT)", ctx.config.ipc_timeout_secs))
}

/// Runs a metadata query (`--dump-single-json`) and parses its JSON document.
pub async fn run_json(ctx: &Context, task: &Task, args: Vec<OsString>) -> Result<serde_json::Value, WorkerError> {
    let outcome = run_with_retries(ctx, task, args, &Watch::default()).await?;
    let text = outcome.last_stdout.unwrap_or_default();
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(value) if value.is_object() => Ok(value),
        _ => Err(WorkerError::Ytdlp {
            kind: super::classify::YtdlpErrorKind::Other,
            message: "yt-dlp returned output that is not a JSON document".to_owned(),
        }),
    }
}

fn spawn_duration_probe(ffmpeg: &std::path::Path, file: &std::path::Path) -> tokio::task::JoinHandle<Option<u64>> {
    let (ffmpeg, file) = (ffmpeg.to_path_buf(), file.to_path_buf());
    tokio::spawn(async move { crate::tools::probe_duration(&ffmpeg, &file).await })
}

fn record(outcome: &mut Outcome, line: OutputLine, event: LineEvent) {
    match event {
        LineEvent::FinalFile(file) => outcome.final_files.push(file),
        LineEvent::Error(message) => outcome.errors.push(message),
        LineEvent::Destination(path) | LineEvent::ExtractAudio(path) | LineEvent::Merger(path) => outcome.written.push(path),
        LineEvent::AlreadyDownloaded(path) => outcome.already_downloaded.push(path),
        _ => {}
    }
    if let OutputLine::Stdout(text) = line {
        if !text.trim().is_empty() {
            outcome.last_stdout = Some(text);
        }
    }
}

/// Sends each progress update as it comes, and every [`FLUSH_INTERVAL`] whatever the throttle
/// held back, until the run ends (the sender is dropped with the line callback).
async fn forward_progress(
    task: &Task,
    mut updates: mpsc::UnboundedReceiver<ProgressData>,
    tracker: Option<Arc<Mutex<ProgressTracker>>>,
) {
    let mut tick = tokio::time::interval(FLUSH_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            update = updates.recv() => match update {
                Some(update) => task.progress(update).await,
                None => return,
            },
            _ = tick.tick() => {
                let held_back = tracker.as_ref().and_then(|t| lock(t).flush(Instant::now()));
                if let Some(update) = held_back {
                    task.progress(update).await;
                }
            }
        }
    }
}

pub fn lock(tracker: &Mutex<ProgressTracker>) -> std::sync::MutexGuard<'_, ProgressTracker> {
    tracker.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Removes each path and its partial-download companions (`.part`, `.ytdl`, `.part-Frag*`).
fn remove_partial_files(written: &[PathBuf]) {
    for path in written {
        for candidate in partial_candidates(path) {
            if candidate.is_file() {
                match std::fs::remove_file(&candidate) {
                    Ok(()) => tracing::debug!(path = %candidate.display(), "removed partial file"),
                    Err(error) => tracing::warn!(path = %candidate.display(), %error, "cannot remove partial file"),
                }
            }
        }
    }
}

fn partial_candidates(path: &std::path::Path) -> Vec<PathBuf> {
    let with_suffix = |suffix: &str| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    let mut candidates = vec![path.to_path_buf(), with_suffix(".part"), with_suffix(".ytdl")];
    if let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) {
        if let Ok(entries) = std::fs::read_dir(dir) {
            let fragment_prefix = format!("{name}.part-Frag");
            candidates.extend(
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&fragment_prefix))),
            );
        }
    }
    candidates
}
