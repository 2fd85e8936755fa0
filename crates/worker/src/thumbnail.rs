//! The thumbnail a host sends with a file: a JPEG at most [`MAX_SIDE`] px on its longer side and
//! under [`MAX_BYTES`], as Telegram requires of a `thumbnail` (larger ones are ignored).
//!
//! Made with ffmpeg from the source's own thumbnail (yt-dlp `--write-thumbnail` puts it beside
//! the file as `<stem>.<image ext>`), or, for a video without one, from a frame of the video.
//! Trust boundary: every name here is derived from the final file's admitted path, never read
//! from yt-dlp's output, and the result is admitted by the task directory before it is reported.
use crate::confine::TaskDir;
use crate::ffmpeg::{file_url, run_ffmpeg, FfmpegError};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Telegram: "The thumbnail should be in JPEG format and less than 200 kB in size. A thumbnail's
/// width and height should not exceed 320."
pub(crate) const MAX_SIDE: u32 = 320;
pub(crate) const MAX_BYTES: u64 = 200 * 1000;

/// JPEG qualities tried in turn (ffmpeg `-q:v`, 2 best … 31 worst) until the file is small
/// enough; a 320 px JPEG is far below the limit at the first one in practice.
const QUALITIES: [u32; 3] = [4, 12, 31];

/// Image types yt-dlp writes thumbnails as, with the ffmpeg demuxer that reads each. Naming the
/// demuxer keeps ffmpeg from reading `%d` in a title as an image-sequence pattern.
const SOURCES: [(&str, &str); 4] = [
    ("jpg", "jpeg_pipe"),
    ("jpeg", "jpeg_pipe"),
    ("webp", "webp_pipe"),
    ("png", "png_pipe"),
];

/// One thumbnail conversion never takes longer than this.
const DEADLINE: Duration = Duration::from_secs(60);

/// Where a file's thumbnail comes from.
enum Source {
    /// The source's own picture, written by yt-dlp; removed once converted.
    Image { path: PathBuf, demuxer: &'static str },
    /// A frame of the video itself, `at` seconds in.
    Frame { at: f64 },
}

/// The thumbnail for `media` (an admitted final file), written beside it as `<stem>.thumb.jpg`;
/// `video_duration` is `Some` for a video (a frame can be taken), `None` for audio. `None` when
/// there is nothing to make one from or ffmpeg fails (logged: a missing thumbnail never fails
/// the download).
pub(crate) async fn make_thumbnail(
    ffmpeg: &Path,
    task_dir: &TaskDir,
    media: &Path,
    video_duration: Option<Option<f64>>,
    cancel: &CancellationToken,
) -> Result<Option<PathBuf>, FfmpegError> {
    let (Some(dir), Some(stem)) = (media.parent(), media.file_stem()) else {
        return Ok(None);
    };
    let source = match written_thumbnail(task_dir, dir, stem, media) {
        Some(image) => image,
        None => match video_duration {
            // A second in, past a fade from black, unless the video is shorter than two.
            Some(duration) => Source::Frame {
                at: duration.map_or(0.0, |d| (d / 2.0).min(1.0)),
            },
            None => return Ok(None),
        },
    };
    let mut name = stem.to_owned();
    name.push(".thumb.jpg");
    let target = dir.join(name);
    for quality in QUALITIES {
        let args = convert_args(&source, media, &target, quality);
        match run_ffmpeg(ffmpeg, args, DEADLINE, cancel).await {
            Ok(()) => {}
            Err(FfmpegError::Cancelled) => return Err(FfmpegError::Cancelled),
            Err(error) => {
                tracing::warn!(file = %media.display(), %error, "no thumbnail");
                task_dir.remove_partial(&target);
                return Ok(None);
            }
        }
        let Some(made) = task_dir.admit(&target) else {
            return Ok(None);
        };
        if std::fs::metadata(&made).is_ok_and(|m| m.len() > 0 && m.len() < MAX_BYTES) {
            if let Source::Image { path, .. } = &source {
                task_dir.remove_partial(path);
            }
            return Ok(Some(made));
        }
    }
    tracing::warn!(file = %media.display(), "thumbnail stays over {MAX_BYTES} bytes");
    task_dir.remove_partial(&target);
    Ok(None)
}

/// yt-dlp's thumbnail of `media`: `<stem>.<image ext>` beside it, inside the task directory.
fn written_thumbnail(task_dir: &TaskDir, dir: &Path, stem: &std::ffi::OsStr, media: &Path) -> Option<Source> {
    SOURCES.iter().find_map(|(ext, demuxer)| {
        let mut name = stem.to_owned();
        name.push(".");
        name.push(ext);
        let candidate = dir.join(name);
        if candidate == media || !candidate.is_file() {
            return None;
        }
        Some(Source::Image {
            path: task_dir.admit(&candidate)?,
            demuxer,
        })
    })
}

/// ffmpeg arguments: one frame, scaled to fit [`MAX_SIDE`]×[`MAX_SIDE`] (never enlarged),
/// written as a single JPEG (`-f mjpeg`: the name is taken literally, no pattern).
fn convert_args(source: &Source, media: &Path, target: &Path, quality: u32) -> Vec<OsString> {
    let mut args: Vec<OsString> = Vec::new();
    match source {
        Source::Image { path, demuxer } => {
            args.extend(["-f", demuxer].map(OsString::from));
            args.push("-i".into());
            args.push(file_url(path));
        }
        Source::Frame { at } => {
            args.extend(["-ss".into(), format!("{at:.3}").into(), OsString::from("-i")]);
            args.push(file_url(media));
        }
    }
    let scale =
        format!("scale=w='min({MAX_SIDE},iw)':h='min({MAX_SIDE},ih)':force_original_aspect_ratio=decrease");
    args.extend(
        [
            "-map_metadata",
            "-1",
            "-an",
            "-frames:v",
            "1",
            "-vf",
            &scale,
            "-q:v",
            &quality.to_string(),
            "-c:v",
            "mjpeg",
            "-f",
            "mjpeg",
        ]
        .map(OsString::from),
    );
    args.push(file_url(target));
    args
}
