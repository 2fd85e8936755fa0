//! Splitting a file too large to send into playable parts, by time and without re-encoding
//! (ffmpeg's segment muxer with `-c copy`), each at most the limit.
//!
//! A stream copy can only cut at key frames, and bitrates vary, so a part's size is known only
//! once it is written: the segment length starts from duration × limit / size with a margin,
//! every part is measured, and when one is still too large all parts are removed and the file is
//! cut again with a shorter length, a bounded number of times. No part over the limit is ever
//! returned. Part names are the file's own (already admitted) name with `.partNNN` before the
//! extension, and every part is admitted by the task directory before it is returned.
use crate::confine::TaskDir;
use crate::ffmpeg::{file_url, run_ffmpeg, FfmpegError};
use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The first segment length aims this far below the limit (bitrate varies along a file).
const MARGIN: f64 = 0.9;
/// How many times the file is cut before giving up.
const MAX_ATTEMPTS: u32 = 4;
/// Parts shorter than this are not worth making (and key frames are rarely closer).
const MIN_SEGMENT_SECS: f64 = 1.0;
/// More parts than this is not a delivery anyone wants.
pub(crate) const MAX_PARTS: usize = 999;
/// One ffmpeg pass over the file never takes longer than this (a stream copy runs at disk speed).
const DEADLINE: Duration = Duration::from_secs(600);

/// Why a file could not be split into parts under the limit.
#[derive(Debug, thiserror::Error)]
pub enum SplitError {
    /// Not possible by cutting at key frames (or the duration is unknown).
    #[error("the file is {size} bytes and cannot be split into parts under {limit} bytes: {reason}")]
    Impossible { size: u64, limit: u64, reason: String },
    #[error(transparent)]
    Ffmpeg(#[from] FfmpegError),
    #[error("splitting failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Cuts `file` (admitted, `size` bytes, `duration` seconds) into parts of at most `limit` bytes,
/// in order, then removes `file`. Call it only for a file larger than `limit`.
pub(crate) async fn split_by_time(
    ffmpeg: &Path,
    task_dir: &TaskDir,
    file: &Path,
    limit: u64,
    duration: Option<f64>,
    cancel: &CancellationToken,
) -> Result<Vec<PathBuf>, SplitError> {
    let size = std::fs::metadata(file)?.len();
    let impossible = |reason: String| SplitError::Impossible { size, limit, reason };
    let duration = duration
        .filter(|d| d.is_finite() && *d > 0.0)
        .ok_or_else(|| impossible("its duration is unknown".to_owned()))?;
    let mut segment = duration * limit as f64 / size as f64 * MARGIN;
    for _ in 0..MAX_ATTEMPTS {
        if segment < MIN_SEGMENT_SECS {
            break;
        }
        if (duration / segment).ceil() as usize > MAX_PARTS {
            return Err(impossible(format!("it would take more than {MAX_PARTS} parts")));
        }
        let parts = cut(ffmpeg, task_dir, file, segment, cancel).await?;
        let largest = parts
            .iter()
            .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(u64::MAX))
            .max()
            .unwrap_or(u64::MAX);
        if largest <= limit && parts.len() > 1 {
            task_dir.remove_partial(file);
            return Ok(parts);
        }
        remove_all(task_dir, &parts);
        tracing::debug!(
            segment,
            largest,
            limit,
            "a part is over the limit: cutting shorter"
        );
        segment *= (limit as f64 / largest.max(1) as f64).min(1.0) * MARGIN;
    }
    Err(impossible(
        "parts cut at its key frames stay over the limit".to_owned(),
    ))
}

/// One pass of the segment muxer at `segment` seconds; the parts written, in order.
async fn cut(
    ffmpeg: &Path,
    task_dir: &TaskDir,
    file: &Path,
    segment: f64,
    cancel: &CancellationToken,
) -> Result<Vec<PathBuf>, SplitError> {
    let (dir, stem, ext) = name_parts(file)?;
    let mut args: Vec<OsString> = vec!["-i".into(), file_url(file)];
    args.extend(
        [
            "-map",
            "0",
            "-c",
            "copy",
            "-f",
            "segment",
            "-segment_time",
            &format!("{segment:.3}"),
            "-reset_timestamps",
            "1",
            "-segment_start_number",
            "1",
        ]
        .map(OsString::from),
    );
    if matches!(ext.as_bytes(), b"mp4" | b"m4a" | b"mov") {
        // The index in front, so each part starts playing while it is still arriving.
        args.extend(["-segment_format_options", "movflags=+faststart"].map(OsString::from));
    }
    args.push(file_url(&dir.join(part_pattern(&stem, &ext))));
    let result = run_ffmpeg(ffmpeg, args, DEADLINE, cancel).await;
    let parts = written_parts(task_dir, &dir, &stem, &ext);
    if let Err(error) = result {
        remove_all(task_dir, &parts);
        return Err(error.into());
    }
    Ok(parts)
}

/// The directory, stem and extension of an admitted file.
fn name_parts(file: &Path) -> Result<(PathBuf, OsString, OsString), std::io::Error> {
    let invalid = || std::io::Error::other(format!("{}: not a file name to split", file.display()));
    let dir = file.parent().ok_or_else(invalid)?.to_path_buf();
    let stem = file.file_stem().ok_or_else(invalid)?.to_owned();
    let ext = file.extension().ok_or_else(invalid)?.to_owned();
    Ok((dir, stem, ext))
}

/// `<stem>.part%03d.<ext>` for the segment muxer, the stem's own `%` doubled so they are
/// literal.
fn part_pattern(stem: &std::ffi::OsStr, ext: &std::ffi::OsStr) -> OsString {
    let mut bytes = Vec::with_capacity(stem.len() + ext.len() + 12);
    for &byte in stem.as_bytes() {
        if byte == b'%' {
            bytes.push(b'%');
        }
        bytes.push(byte);
    }
    bytes.extend_from_slice(b".part%03d.");
    bytes.extend_from_slice(ext.as_bytes());
    OsString::from_vec(bytes)
}

/// `<stem>.partNNN.<ext>`, the name ffmpeg gives part `n`.
pub(crate) fn part_name(stem: &std::ffi::OsStr, ext: &std::ffi::OsStr, n: usize) -> OsString {
    let mut name = stem.to_owned();
    name.push(format!(".part{n:03}."));
    name.push(ext);
    name
}

/// The parts on disk, from part 1 up to the first missing one, each admitted.
fn written_parts(
    task_dir: &TaskDir,
    dir: &Path,
    stem: &std::ffi::OsStr,
    ext: &std::ffi::OsStr,
) -> Vec<PathBuf> {
    (1..=MAX_PARTS)
        .map(|n| dir.join(part_name(stem, ext, n)))
        .take_while(|p| p.is_file())
        .filter_map(|p| task_dir.admit(&p))
        .collect()
}

fn remove_all(task_dir: &TaskDir, parts: &[PathBuf]) {
    for part in parts {
        task_dir.remove_partial(part);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn part_names_keep_the_stem_literal() {
        assert_eq!(
            part_pattern(OsStr::new("100% fun %d"), OsStr::new("mp4")),
            OsString::from("100%% fun %%d.part%03d.mp4")
        );
        assert_eq!(
            part_name(OsStr::new("100% fun %d"), OsStr::new("mp4"), 2),
            OsString::from("100% fun %d.part002.mp4")
        );
    }
}
