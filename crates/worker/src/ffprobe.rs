//! Media durations from ffprobe (next to the configured ffmpeg), for files yt-dlp reports
//! without one (a direct media link).
use crate::program::{output_within, resolve_program};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// How long a probe may take before the duration is reported as unknown.
const PROBE_TIMEOUT: Duration = Duration::from_secs(15);

/// ffprobe next to the configured ffmpeg (same directory, or on `PATH` for a bare name).
pub(crate) fn ffprobe_for(ffmpeg: &Path) -> PathBuf {
    match ffmpeg.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) => dir.join("ffprobe"),
        None => PathBuf::from("ffprobe"),
    }
}

/// A media file's duration in whole seconds, from ffprobe; `None` when it cannot tell. Used when
/// yt-dlp does not know the duration (a direct media link).
pub async fn probe_duration(ffmpeg: &Path, file: &Path) -> Option<u64> {
    let secs = probe_media(ffmpeg, file).await?.duration?;
    (secs.is_finite() && secs >= 0.0).then(|| secs.round() as u64)
}

/// What ffprobe says about a finished file: its duration (seconds, fractional) and, when it has
/// a real video stream (not a cover picture attached to audio), the frame size.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MediaProbe {
    pub duration: Option<f64>,
    pub width: Option<u32>,
    pub height: Option<u32>,
}

/// [`MediaProbe`] of `file`; `None` when ffprobe cannot be run or cannot read it.
pub async fn probe_media(ffmpeg: &Path, file: &Path) -> Option<MediaProbe> {
    let ffprobe = resolve_program(&ffprobe_for(ffmpeg))?;
    let mut command = tokio::process::Command::new(ffprobe);
    command
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration:stream=codec_type,width,height:stream_disposition=attached_pic",
            "-of",
            "json",
            "--",
        ])
        .arg(file)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let output = output_within(command, PROBE_TIMEOUT).await?;
    if !output.status.success() {
        return None;
    }
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).ok()?;
    Some(media_probe_of(&json))
}

fn media_probe_of(json: &serde_json::Value) -> MediaProbe {
    let duration = json["format"]["duration"]
        .as_str()
        .and_then(|d| d.parse::<f64>().ok())
        .filter(|d| d.is_finite() && *d >= 0.0);
    let video = json["streams"].as_array().and_then(|streams| {
        streams.iter().find(|s| {
            s["codec_type"] == "video" && s["disposition"]["attached_pic"].as_u64().unwrap_or(0) == 0
        })
    });
    let dimension = |key: &str| {
        video
            .and_then(|v| v[key].as_u64())
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| *n > 0)
    };
    MediaProbe {
        duration,
        width: dimension("width"),
        height: dimension("height"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_cover_picture_is_not_a_video() {
        let audio_with_cover = json!({"format": {"duration": "5.02"}, "streams": [
            {"codec_type": "audio"},
            {"codec_type": "video", "width": 320, "height": 320, "disposition": {"attached_pic": 1}}
        ]});
        assert_eq!(
            media_probe_of(&audio_with_cover),
            MediaProbe {
                duration: Some(5.02),
                width: None,
                height: None
            }
        );
        let video = json!({"format": {"duration": "3.0"}, "streams": [
            {"codec_type": "video", "width": 160, "height": 120, "disposition": {"attached_pic": 0}},
            {"codec_type": "audio"}
        ]});
        assert_eq!(
            (media_probe_of(&video).width, media_probe_of(&video).height),
            (Some(160), Some(120))
        );
    }
}
