//! `youtube_dl`: download one video, or extract its audio, into the task's output directory.
//!
//! Flow: resolve and create `output_dir` (inside `DOWNLOAD_DIR`) → `progress` preparing → yt-dlp
//! (retrying transient failures) with progress streamed → the final paths yt-dlp printed, sizes
//! from the file system → (guide profile) what the file looks like when sent: frame size from
//! ffprobe, a Telegram-sized JPEG thumbnail → with `split_over_mb`, a larger file cut into
//! playable parts → `progress` 100 completed → `done`. On failure or cancel, partial files are
//! removed and nothing half-written is reported.
use crate::config::profile::WireProfile;
use crate::confine::TaskDir;
use crate::context::Context;
use crate::error::WorkerError;
use crate::ffprobe::probe_media;
use crate::sanitize::resolve_output_dir;
use crate::split::split_by_time;
use crate::tasks::Task;
use crate::thumbnail::make_thumbnail;
use crate::validate::{required_url, validate_audio_quality};
use crate::ytdlp::args::{
    download_argv, with_transfer, DownloadSpec, FileShape, MediaMode, SINGLE_OUTPUT_TEMPLATE,
};
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
        // Extracting, splitting and thumbnails need ffmpeg; fail before downloading without it.
        let guide = config.wire_profile == WireProfile::Guide;
        let ffmpeg = if self.audio.is_some() || self.params.split_over_mb.is_some() {
            Some(require_ffmpeg(ctx)?)
        } else if guide {
            require_ffmpeg(ctx).ok()
        } else {
            None
        };
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
            shape: FileShape {
                fit_mb: self.params.max_filesize_mb.map(|_| max_filesize_mb),
                embed_metadata: self.params.embed_metadata,
                // The python profile's `done` has no thumbnail, so nothing to fetch one for.
                write_thumbnail: guide && ffmpeg.is_some(),
            },
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

        let mut done = describe_files(&mut outcome).await?;
        if let Some(ffmpeg) = &ffmpeg {
            let finish = Finish {
                ffmpeg,
                task_dir: final_files.task_dir(),
                task,
                video: self.audio.is_none(),
                describe: guide,
                split_over_mb: self.params.split_over_mb,
            };
            finish.apply(&mut done).await?;
        }
        // The finished file (or each part), announced the same way a playlist announces each of
        // its tracks.
        let announced_files = match done.parts {
            Some(_) => done.files.clone(),
            None => vec![FileEntry {
                path: done.file_path.clone(),
                size: done.file_size,
                name: None,
            }],
        };
        for file in &announced_files {
            let name = Path::new(&file.path)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned());
            let file = FileEntry { name, ..file.clone() };
            let announced = lock(&tracker).file_event(file, Instant::now());
            task.progress(announced).await;
        }
        let finished = lock(&tracker).finish();
        task.progress(finished).await;
        Ok(match config.wire_profile {
            WireProfile::Guide => RawResponse::new(task.id.clone(), Event::Done, &done),
            WireProfile::Python => RawResponse::new(task.id.clone(), Event::Done, &python_done(done)),
        })
    }
}

/// What happens to a downloaded file after yt-dlp, with ffmpeg: describing it for delivery (guide
/// profile) and splitting it when asked.
struct Finish<'a> {
    ffmpeg: &'a Path,
    task_dir: &'a TaskDir,
    task: &'a Task,
    video: bool,
    /// Frame size and thumbnail (the guide profile; the python one's `done` has no such keys).
    describe: bool,
    split_over_mb: Option<u64>,
}

impl Finish<'_> {
    async fn apply(&self, done: &mut DownloadDone) -> Result<(), WorkerError> {
        if !self.describe && self.split_over_mb.is_none() {
            return Ok(());
        }
        let main = PathBuf::from(&done.file_path);
        let probe = probe_media(self.ffmpeg, &main).await.unwrap_or_default();
        if self.describe {
            if self.video {
                done.width = probe.width;
                done.height = probe.height;
            }
            let video_duration = self.video.then_some(probe.duration);
            let thumbnail = make_thumbnail(
                self.ffmpeg,
                self.task_dir,
                &main,
                video_duration,
                &self.task.cancel,
            )
            .await?;
            done.thumbnail = thumbnail.map(|t| t.display().to_string());
        }
        let Some(limit_mb) = self.split_over_mb else {
            return Ok(());
        };
        let limit = limit_mb.saturating_mul(1024 * 1024);
        if done.file_size <= limit {
            return Ok(());
        }
        let duration = probe.duration.or(done.duration.map(|d| d as f64));
        let parts = split_by_time(
            self.ffmpeg,
            self.task_dir,
            &main,
            limit,
            duration,
            &self.task.cancel,
        )
        .await?;
        let mut files = Vec::with_capacity(parts.len());
        for part in &parts {
            let size = std::fs::metadata(part)
                .map_err(|_| WorkerError::FileNotFound(part.display().to_string()))?
                .len();
            files.push(FileEntry {
                path: part.display().to_string(),
                size,
                name: None,
            });
        }
        let first = files.first().cloned().unwrap_or_default();
        done.file_path = first.path;
        done.file_size = first.size;
        done.filename = parts
            .first()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        done.parts = u32::try_from(files.len()).ok();
        done.files = files;
        Ok(())
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
        track: main.track.clone(),
        artist: main.artist.clone(),
        uploader: main.uploader.clone(),
        ..DownloadDone::default()
    })
}

/// The python profile's `done`: the main file only. The existing host sends `file_path` and then
/// every `files[]` entry, so listing the file in `files` too would deliver it twice. A split file
/// (only when a request asks, which the existing host never does) is `file_path` = part 1 and
/// `files` = the parts after it, so each part is delivered once.
fn python_done(done: DownloadDone) -> PythonDownloadDone {
    let rest = match done.parts {
        Some(_) => done.files.into_iter().skip(1).collect(),
        None => Vec::new(),
    };
    PythonDownloadDone {
        file_path: done.file_path,
        file_size: done.file_size,
        filename: done.filename,
        title: done.title,
        duration: done.duration,
        files: rest,
        parts: done.parts,
    }
}

fn file_stem(path: &Path) -> Option<String> {
    path.file_stem().map(|s| s.to_string_lossy().into_owned())
}

/// A failed download leaves no empty directory behind.
fn remove_if_empty(dir: &PathBuf) {
    let _ = std::fs::remove_dir(dir);
}
