//! `youtube_dl`: download one video, or extract its audio, into the task's output directory.
//!
//! Flow: resolve and create `output_dir` (inside `DOWNLOAD_DIR`) → `progress` preparing → yt-dlp
//! (retrying transient failures) with progress streamed → the final paths yt-dlp printed, sizes
//! from the file system → `progress` 100 completed → `done`. On failure or cancel, partial files
//! are removed and nothing half-written is reported.
use crate::config::profile::WireProfile;
use crate::confine::TaskDir;
use crate::context::Context;
use crate::error::WorkerError;
use crate::sanitize::resolve_output_dir;
use crate::tasks::Task;
use crate::validate::{required_url, validate_audio_quality};
use crate::ytdlp::args::{download_argv, with_transfer, DownloadSpec, MediaMode, SINGLE_OUTPUT_TEMPLATE};
use crate::ytdlp::driver::{self, require_ffmpeg, Outcome, Watch};
use crate::ytdlp::env::ytdlp_env;
use crate::ytdlp::final_files::FinalFileLog;
use crate::ytdlp::progress::{lock, ProgressTracker};
use hermes_protocol::{
    AudioFormat, DownloadDone, DownloadParams, Event, FileEntry, ProgressStatus, PythonDownloadDone,
    RawResponse, Request,
};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub(crate) struct YoutubeDl {
    url: String,
    params: DownloadParams,
    /// The container to extract to; `None` for a video (whatever `audio_format` said).
    audio: Option<AudioFormat>,
}

impl YoutubeDl {
    pub(crate) fn parse(request: Request) -> Result<YoutubeDl, WorkerError> {
        let params: DownloadParams = request.params_as()?;
        if params.extract_audio {
            validate_audio_quality(&params.audio_quality)?;
        }
        let audio = params.audio_target()?;
        Ok(YoutubeDl {
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
        if self.audio.is_some() {
            require_ffmpeg(ctx)?;
        }
        std::fs::create_dir_all(&output_dir)?;
        let final_files = Arc::new(FinalFileLog::create(TaskDir::open(&output_dir)?)?);
        let max_filesize_mb = config.max_filesize_mb_for(self.params.max_filesize_mb);

        let tracker = Arc::new(Mutex::new(ProgressTracker::new()));
        task.report_progress(&tracker, |t| {
            t.report(0, ProgressStatus::Preparing, Instant::now())
        })
        .await;

        let mode = MediaMode::new(self.audio, &self.params.audio_quality);
        let spec = DownloadSpec {
            url: &self.url,
            output_dir: &output_dir,
            output_template: SINGLE_OUTPUT_TEMPLATE,
            mode,
            format: self.params.format.as_deref(),
            best_audio_limit_mb: config.best_audio_limit_mb,
            playlist: None,
            final_files_log: final_files.path(),
            max_filesize_mb,
        };
        let args = with_transfer(
            download_argv(&ytdlp_env(&ctx.config), &spec),
            &config.transfer.args(),
        );
        let watch = Watch {
            probe_durations_with: Some(config.ffmpeg_bin.clone()),
            ..Watch::download(tracker.clone(), final_files.clone(), max_filesize_mb)
        };
        let mut outcome = match driver::run_with_retries(ctx, task, args, &watch).await {
            Ok(outcome) => outcome,
            Err(error) => {
                remove_if_empty(&output_dir);
                return Err(error);
            }
        };

        let done = describe_files(&mut outcome).await?;
        // The finished file, announced the same way a playlist announces each of its tracks.
        let file = FileEntry {
            path: done.file_path.clone(),
            size: done.file_size,
            name: Some(done.filename.clone()),
        };
        let announced = lock(&tracker).file_event(file, Instant::now());
        task.progress(announced).await;
        let finished = lock(&tracker).finish();
        task.progress(finished).await;
        Ok(match config.wire_profile {
            WireProfile::Guide => RawResponse::new(task.id.clone(), Event::Done, &done),
            WireProfile::Python => RawResponse::new(task.id.clone(), Event::Done, &python_done(done)),
        })
    }
}

/// `done` data from the files of the private log (already admitted by the task directory), checked on disk: a file it named but that is not
/// there is `FILE_NOT_FOUND`, never a success.
async fn describe_files(outcome: &mut Outcome) -> Result<DownloadDone, WorkerError> {
    let finals = outcome.final_files.clone();
    let main = finals
        .last()
        .ok_or_else(|| WorkerError::FileNotFound("yt-dlp reported no output file".to_owned()))?;
    let mut files = Vec::new();
    for file in &finals {
        let size = std::fs::metadata(&file.filepath)
            .map_err(|_| WorkerError::FileNotFound(file.filepath.display().to_string()))?
            .len();
        files.push(FileEntry {
            path: file.filepath.display().to_string(),
            size,
            name: None,
        });
    }
    let duration = match main.duration {
        Some(secs) => Some(secs.round() as u64),
        None => outcome.probed_duration(&main.filepath).await,
    };
    let main_entry = files.last().cloned().unwrap_or_default();
    Ok(DownloadDone {
        title: main.title.clone().or_else(|| file_stem(&main.filepath)),
        duration,
        file_path: main_entry.path,
        file_size: main_entry.size,
        filename: main
            .filepath
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        files,
    })
}

/// The python profile's `done`: the main file only. The existing host sends `file_path` and then
/// every `files[]` entry, so listing the file in `files` too would deliver it twice.
fn python_done(done: DownloadDone) -> PythonDownloadDone {
    PythonDownloadDone {
        file_path: done.file_path,
        file_size: done.file_size,
        filename: done.filename,
        title: done.title,
        duration: done.duration,
    }
}

fn file_stem(path: &Path) -> Option<String> {
    path.file_stem().map(|s| s.to_string_lossy().into_owned())
}

/// A failed download leaves no empty directory behind.
fn remove_if_empty(dir: &PathBuf) {
    let _ = std::fs::remove_dir(dir);
}
