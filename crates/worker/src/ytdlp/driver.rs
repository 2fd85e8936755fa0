//! Runs yt-dlp for one task: spawns it through the runner behind a fresh egress proxy, feeds
//! every line to the progress tracker (emitting `progress` events), collects final files from
//! the task-private log and ERROR lines, enforces the size cap, retries transient failures, and
//! turns every way it can end into a `WorkerError` or an [`Outcome`].
use super::args::with_proxy;
use super::classify::{classify, first_error_message};
use super::final_files::{FinalFile, FinalFileLog};
use super::line::{parse_line, LineEvent};
use super::progress::{lock, ProgressTracker};
use super::runner::{self, ExitInfo, OutputLine, RunError, RunSpec};
use super::size_cap::{SizeCap, POLL_INTERVAL};
use crate::confine::TaskDir;
use crate::context::Context;
use crate::egress::{EgressProxy, Refusal};
use crate::error::WorkerError;
use crate::program::resolve_program;
use crate::tasks::Task;
use hermes_protocol::ProgressData;
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How often a progress update held back by the throttle is re-checked, so the last state before
/// a quiet phase (a long ffmpeg conversion) still reaches the host.
const FLUSH_INTERVAL: Duration = Duration::from_millis(300);

/// What yt-dlp prints on stdout when `--max-filesize` stops a download whose size is announced.
const MAX_FILESIZE_ABORT: &str = "File is larger than max-filesize";

/// The proxy variables every child of yt-dlp sees, so whatever it starts (ffmpeg, an external
/// downloader) goes through the egress proxy as well.
const PROXY_VARS: [&str; 6] = [
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
];

/// What one yt-dlp run printed that the actions need.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub(crate) exit: Option<ExitInfo>,
    /// Files read from the task-private log, each admitted by the task directory.
    pub(crate) final_files: Vec<FinalFile>,
    /// Every `ERROR:` line (without the prefix).
    pub(crate) errors: Vec<String>,
    /// Every path yt-dlp said it started writing (download destinations, conversion and merge
    /// targets): what to clean up when the task fails. Remote text can forge these lines, so
    /// they are only ever deleted through [`TaskDir::remove_partial`].
    pub(crate) written: Vec<PathBuf>,
    /// The last stdout line (the JSON document of `--dump-single-json`).
    pub(crate) last_stdout: Option<String>,
    /// The first destination the egress proxy refused during this run.
    pub(crate) refused: Option<Refusal>,
    /// Why the run was over the size cap, when it was (and the file's size, when announced).
    pub(crate) too_large: Option<(String, Option<u64>)>,
    /// The file the size cap caught growing past it: removed when the run ends, whatever its
    /// name (an external downloader writes under the final name).
    pub(crate) oversized: Option<PathBuf>,
    /// yt-dlp's own complaint about its arguments (`yt-dlp: error: …`, exit code 2).
    pub(crate) usage_error: Option<String>,
    /// `WARNING:` lines that explain a failure (see [`super::classify::explains_failure`]).
    pub(crate) warnings: Vec<String>,
    /// ffprobe runs started for final files whose duration yt-dlp did not know (see [`Watch`]).
    pub(crate) duration_probes: Vec<(PathBuf, tokio::task::JoinHandle<Option<u64>>)>,
    /// A probe of the downloaded source, started when its conversion or merge began; it
    /// becomes the probe of the next final file.
    source_probe: Option<tokio::task::JoinHandle<Option<u64>>>,
    ffprobe_with: Option<PathBuf>,
    task_dir: Option<TaskDir>,
}

/// What a run watches for besides errors.
#[derive(Clone, Default)]
pub(crate) struct Watch {
    /// Fed every line; its `progress` events are sent as they come.
    pub(crate) tracker: Option<Arc<Mutex<ProgressTracker>>>,
    /// ffmpeg of this worker, when final files without a duration should be measured with the
    /// ffprobe beside it. A probe costs ~50 ms (a process start), so it is started early: on the
    /// downloaded source as soon as ffmpeg starts converting or merging it (same duration, and
    /// the conversion takes longer than the probe), else when the final file is known.
    pub(crate) probe_durations_with: Option<PathBuf>,
    /// Downloads: the task-private log of final files (and, through it, the task directory).
    pub(crate) final_files: Option<Arc<FinalFileLog>>,
    /// Downloads: the most any one file may grow, in bytes (the worker's own count on disk).
    pub(crate) max_file_bytes: Option<u64>,
    /// Told of each final file as soon as it is read from the log, while the run goes on (a
    /// playlist announces and zips tracks as they finish).
    pub(crate) on_final_file: Option<tokio::sync::mpsc::UnboundedSender<FinalFile>>,
}

impl Watch {
    /// A download's watch: progress, final files and the size cap.
    pub(crate) fn download(
        tracker: Arc<Mutex<ProgressTracker>>,
        final_files: Arc<FinalFileLog>,
        max_filesize_mb: u64,
    ) -> Watch {
        Watch {
            tracker: Some(tracker),
            probe_durations_with: None,
            final_files: Some(final_files),
            max_file_bytes: Some(max_filesize_mb.saturating_mul(1024 * 1024)),
            on_final_file: None,
        }
    }
}

impl Outcome {
    /// Removes what this run left half-written: partial downloads (`.part`, `.ytdl`, fragments)
    /// and intermediate files. Files that reached their final name stay: they are complete.
    /// Deletes only inside the task's directory (see [`TaskDir::remove_partial`]).
    pub(crate) fn remove_partial_files(&self) {
        let Some(task_dir) = &self.task_dir else { return };
        let finals: Vec<&PathBuf> = self.final_files.iter().map(|f| &f.filepath).collect();
        for path in &self.written {
            let is_final = std::fs::canonicalize(path).is_ok_and(|resolved| finals.contains(&&resolved));
            if !is_final {
                task_dir.remove_partial(path);
            }
        }
    }

    /// The duration ffprobe measured for `path` (or its source), if a probe was started for it;
    /// when probing the source failed (yt-dlp may delete it first), the final file is probed.
    pub(crate) async fn probed_duration(&mut self, path: &std::path::Path) -> Option<u64> {
        let index = self
            .duration_probes
            .iter()
            .position(|(probed, _)| probed == path)?;
        let (_, probe) = self.duration_probes.swap_remove(index);
        match probe.await.ok().flatten() {
            Some(secs) => Some(secs),
            None => crate::ffprobe::probe_duration(self.ffprobe_with.as_deref()?, path).await,
        }
    }

    /// Starts a duration probe of the source early (see [`Watch::probe_durations_with`]); the
    /// source path comes from output text, so it is probed only if the task directory admits it.
    fn probe_early(&mut self, event: &LineEvent) {
        let Some(ffmpeg) = self.ffprobe_with.clone() else {
            return;
        };
        if matches!(event, LineEvent::ExtractAudio(_) | LineEvent::Merger(_)) && self.source_probe.is_none() {
            let source = self
                .written
                .last()
                .and_then(|path| self.task_dir.as_ref()?.admit(path));
            if let Some(source) = source {
                self.source_probe = Some(spawn_duration_probe(&ffmpeg, &source));
            }
        }
    }

    /// Takes the files yt-dlp finished since the last look from the private log, and starts a
    /// duration probe for those without a duration.
    fn collect_final_files(
        &mut self,
        log: &FinalFileLog,
        tell: Option<&tokio::sync::mpsc::UnboundedSender<FinalFile>>,
    ) {
        for file in log.take_new() {
            if let Some(tell) = tell {
                let _ = tell.send(file.clone());
            }
            match (&self.ffprobe_with, file.duration) {
                (Some(ffmpeg), None) => {
                    let probe = self
                        .source_probe
                        .take()
                        .unwrap_or_else(|| spawn_duration_probe(ffmpeg, &file.filepath));
                    self.duration_probes.push((file.filepath.clone(), probe));
                }
                _ => self.source_probe = None,
            }
            self.final_files.push(file);
        }
    }

    /// A clean exit that was not a refusal by `--max-filesize` (yt-dlp exits 0 then, with no file).
    pub(crate) fn succeeded(&self) -> bool {
        self.exit.is_some_and(|e| e.success) && self.too_large.is_none()
    }

    /// The error for a run that was not good enough, classified from its ERROR lines.
    pub(crate) fn failure(&self) -> WorkerError {
        if let Some(refusal) = &self.refused {
            return WorkerError::UrlNotAllowed(refusal.to_string());
        }
        if let Some((message, size)) = &self.too_large {
            return WorkerError::FileTooLarge {
                message: message.clone(),
                size: *size,
            };
        }
        if let (Some(ExitInfo { code: Some(2), .. }), Some(usage)) = (self.exit, &self.usage_error) {
            return WorkerError::InvalidRequest(usage.clone());
        }
        if self.errors.is_empty() {
            let how = match self.exit {
                Some(ExitInfo { success: true, .. }) => "produced no file".to_owned(),
                Some(ExitInfo {
                    signal: Some(sig), ..
                }) => format!("was killed by signal {sig}"),
                Some(ExitInfo { code: Some(code), .. }) => format!("exited with code {code}"),
                _ => "failed".to_owned(),
            };
            return WorkerError::Ytdlp {
                kind: super::classify::YtdlpErrorKind::Other,
                message: format!("yt-dlp {how}"),
            };
        }
        let (kind, message) = super::classify::with_disk_space(
            classify(&self.errors),
            first_error_message(&self.errors),
            &self.written,
        );
        let kind = super::classify::with_warnings(kind, &self.warnings);
        WorkerError::Ytdlp {
            kind,
            message: super::classify::operator_message(kind, message),
        }
    }
}

/// Fails with `FFMPEG_NOT_FOUND` (naming what was tried) when ffmpeg cannot be found.
pub(crate) fn require_ffmpeg(ctx: &Context) -> Result<PathBuf, WorkerError> {
    resolve_program(&ctx.config.ffmpeg_bin)
        .ok_or_else(|| WorkerError::FfmpegNotFound(ctx.config.ffmpeg_bin.clone()))
}

/// Runs yt-dlp once with `args`, feeding its lines to `watch.tracker` (when given) and emitting
/// the progress events it produces, killed after `time_left` (what remains of the task's
/// `IPC_TIMEOUT` when earlier attempts already used some of it). An unsuccessful exit is returned
/// as an [`Outcome`] (the caller decides: a playlist tolerates failed items); timeouts,
/// cancellation and a missing binary are errors.
pub(crate) async fn run_once_within(
    ctx: &Context,
    task: &Task,
    args: Vec<OsString>,
    watch: &Watch,
    time_left: Duration,
) -> Result<Outcome, WorkerError> {
    let proxy = EgressProxy::start(ctx.config.egress.clone(), watch.max_file_bytes)
        .await
        .map_err(|e| WorkerError::Internal(format!("cannot start the egress proxy: {e}")))?;
    let mut args = args;
    let _cookies = super::cookies::use_private_copy(&mut args);
    let mut spec = RunSpec::new(
        task.ytdlp_program(&ctx.config.ytdlp_bin),
        with_proxy(args, &proxy.url()),
    );
    spec.idle_timeout = ctx.config.yt_timeout();
    spec.deadline = time_left;
    spec.env = PROXY_VARS
        .iter()
        .map(|var| (OsString::from(var), OsString::from(proxy.url())))
        .collect();
    spec.env_remove = vec!["no_proxy".into(), "NO_PROXY".into()];
    let (progress_tx, progress_rx) = mpsc::unbounded_channel();
    let mut outcome = Outcome {
        ffprobe_with: watch.probe_durations_with.clone(),
        task_dir: watch.final_files.as_ref().map(|log| log.task_dir().clone()),
        ..Outcome::default()
    };
    let size_cap = match (&outcome.task_dir, watch.max_file_bytes) {
        (Some(dir), Some(limit)) => Some(SizeCap::new(dir.path(), limit)),
        _ => None,
    };
    // The run's own token: a child of the task's, so that the size cap can stop this run alone.
    let run_cancel = task.cancel.child_token();
    let over_cap: Mutex<Option<OverCap>> = Mutex::new(None);
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
            // A finished item (or a forged line claiming one) is only a cue to read the log.
            if let (LineEvent::FinalFile(_), Some(log)) = (&event, &watch.final_files) {
                outcome.collect_final_files(log, watch.on_final_file.as_ref());
            }
            record(outcome, line, event);
        };
        let run = runner::run(spec, &run_cancel, on_line);
        let forward = forward_progress(task, progress_rx, watch.tracker.clone());
        let cap = watch_size_cap(size_cap.as_ref(), &proxy, &run_cancel, &over_cap);
        let (result, (), ()) = tokio::join!(
            async {
                let result = run.await;
                run_cancel.cancel();
                result
            },
            forward,
            cap
        );
        result
    };
    outcome.refused = proxy.first_refusal();
    if let Some(log) = &watch.final_files {
        outcome.collect_final_files(log, watch.on_final_file.as_ref());
    }
    let over_cap = over_cap
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(over) = over_cap {
        outcome.too_large = Some((over.message, over.size));
        outcome.oversized = over.file;
    }
    let error = match result {
        Ok(exit) => {
            outcome.exit = Some(exit);
            return Ok(outcome);
        }
        Err(error) => error,
    };
    outcome.remove_partial_files();
    if let (Some(file), Some(task_dir)) = (&outcome.oversized, &outcome.task_dir) {
        task_dir.remove_partial(file);
    }
    Err(match error {
        RunError::Cancelled if outcome.too_large.is_some() && !task.is_cancelled() => outcome.failure(),
        RunError::NotFound { program } => WorkerError::YtdlpNotFound(program),
        RunError::IdleTimeout(idle) => WorkerError::NetworkTimeout(format!(
            "yt-dlp produced no output for {}s (YT_TIMEOUT); the download was stopped",
            idle.as_secs()
        )),
        RunError::Deadline(_) => deadline_exceeded(ctx),
        RunError::Cancelled => WorkerError::cancelled(&ctx.shutdown),
        error @ (RunError::Spawn(_) | RunError::Io(_)) => WorkerError::Internal(error.to_string()),
    })
}

/// Why the size cap stopped a run.
struct OverCap {
    message: String,
    /// The whole file's size, when a response announced it.
    size: Option<u64>,
    file: Option<PathBuf>,
}

/// Measures the task directory until the run ends (`stop` is cancelled); a file past the cap
/// records why in `over` and stops the run.
async fn watch_size_cap(
    cap: Option<&SizeCap>,
    proxy: &EgressProxy,
    stop: &tokio_util::sync::CancellationToken,
    over: &Mutex<Option<OverCap>>,
) {
    let Some(cap) = cap else { return };
    let mut tick = tokio::time::interval(POLL_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let on_disk = cap.exceeded();
        if on_disk.is_some() || proxy.over_cap() {
            let limit_mb = cap.limit_bytes() / (1024 * 1024);
            tracing::warn!(file = ?on_disk, cut_by_proxy = proxy.over_cap(), limit_mb, "download over the size cap; stopping it");
            *over.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(OverCap {
                message: format!("the file is larger than the {limit_mb} MB limit; the download was stopped"),
                size: proxy.announced_over_cap(),
                file: on_disk.map(|(path, _)| path),
            });
            stop.cancel();
            return;
        }
    }
}

/// Runs yt-dlp, retrying transient failures (network, HTTP 5xx, 429) `MAX_RETRIES` times with
/// `RETRY_DELAY_SECONDS` between attempts, reported as `progress` with status `retrying`.
/// Returns the first successful outcome, or the last failure.
///
/// `IPC_TIMEOUT` bounds all attempts together (it is the task's deadline, not each run's), and
/// partial files are kept between attempts (yt-dlp resumes a `.part`) but removed once the task
/// gives up, however it gives up.
pub(crate) async fn run_with_retries(
    ctx: &Context,
    task: &Task,
    args: Vec<OsString>,
    watch: &Watch,
) -> Result<Outcome, WorkerError> {
    run_until(ctx, task, args, watch, Outcome::succeeded).await
}

/// [`run_with_retries`] with the caller's idea of a good enough run: a playlist, for one, is
/// done when some tracks arrived even though yt-dlp exits 1 for the items that failed.
pub(crate) async fn run_until(
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
            task.report_progress(tracker, |t| t.retrying(Instant::now()))
                .await;
        }
        let stopped = tokio::select! {
            _ = tokio::time::sleep(ctx.config.retry_delay()) => None,
            _ = tokio::time::sleep_until(deadline.into()) => Some(deadline_exceeded(ctx)),
            _ = task.cancel.cancelled() => Some(WorkerError::cancelled(&ctx.shutdown)),
        };
        if let Some(error) = stopped {
            outcome.remove_partial_files();
            return Err(error);
        }
    }
}

/// The task ran into `IPC_TIMEOUT`.
pub(crate) fn deadline_exceeded(ctx: &Context) -> WorkerError {
    WorkerError::Timeout(format!(
        "the task took longer than {}s (IPC_TIMEOUT)",
        ctx.config.ipc_timeout_secs
    ))
}

/// Runs a metadata query (`--dump-single-json`) and parses its JSON document.
pub(crate) async fn run_json(
    ctx: &Context,
    task: &Task,
    args: Vec<OsString>,
) -> Result<serde_json::Value, WorkerError> {
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

fn spawn_duration_probe(
    ffmpeg: &std::path::Path,
    file: &std::path::Path,
) -> tokio::task::JoinHandle<Option<u64>> {
    let (ffmpeg, file) = (ffmpeg.to_path_buf(), file.to_path_buf());
    tokio::spawn(async move { crate::ffprobe::probe_duration(&ffmpeg, &file).await })
}

fn record(outcome: &mut Outcome, line: OutputLine, event: LineEvent) {
    match event {
        LineEvent::Error(message) => outcome.errors.push(message),
        LineEvent::Warning(message) if super::classify::explains_failure(&message) => {
            outcome.warnings.push(message)
        }
        LineEvent::Destination(path) | LineEvent::ExtractAudio(path) | LineEvent::Merger(path) => {
            outcome.written.push(path)
        }
        _ => {}
    }
    if let Some(at) = line.text().find(MAX_FILESIZE_ABORT) {
        // `File is larger than max-filesize (2097196 bytes > 1048576 bytes). Aborting.`
        let size = line.text()[at..]
            .split_once('(')
            .and_then(|(_, rest)| rest.split_whitespace().next()?.parse::<u64>().ok());
        let message = match size {
            Some(bytes) => format!(
                "the file is {:.1} MB, over the size limit; it was not downloaded",
                bytes as f64 / 1_048_576.0
            ),
            None => "the file is larger than the size limit; it was not downloaded".to_owned(),
        };
        outcome.too_large.get_or_insert((message, size));
    }
    if let OutputLine::Stderr(text) = &line {
        if let Some(usage) = text
            .strip_prefix("yt-dlp: error:")
            .or_else(|| text.strip_prefix("Usage error:"))
        {
            outcome
                .usage_error
                .get_or_insert_with(|| format!("yt-dlp refused its arguments: {}", usage.trim()));
        }
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
                if let Some(tracker) = &tracker {
                    task.report_progress(tracker, |t| t.flush(Instant::now())).await;
                }
            }
        }
    }
}
