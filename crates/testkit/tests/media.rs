//! Each generated media file exists where promised and ffprobe reports the codecs and duration
//! asked for.

mod common;

use common::probe;
use hermes_testkit::media::{big_wav, media_dir, tone_m4a, tone_webm, video_mp4};

fn assert_duration(actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() < 0.15,
        "duration {actual} s, expected about {expected} s"
    );
}

#[test]
fn media_dir_is_absolute_and_exists() {
    let dir = media_dir();
    assert!(dir.is_absolute(), "{} is not absolute", dir.display());
    assert!(dir.is_dir());
}

#[test]
fn tone_webm_is_opus_of_the_requested_length() {
    let path = tone_webm(3, 440);
    assert!(path.is_absolute());
    assert_eq!(
        path.file_name().and_then(|n| n.to_str()),
        Some("tone_3s_440hz.webm")
    );
    assert!(path.starts_with(media_dir()));
    let (codecs, duration) = probe(&path);
    assert_eq!(codecs, ["opus"]);
    assert_duration(duration, 3.0);
}

#[test]
fn tone_m4a_is_aac_of_the_requested_length() {
    let path = tone_m4a(2, 660);
    let (codecs, duration) = probe(&path);
    assert_eq!(codecs, ["aac"]);
    assert_duration(duration, 2.0);
}

#[test]
fn video_mp4_is_h264_with_aac_audio() {
    let path = video_mp4(2);
    let (codecs, duration) = probe(&path);
    assert_eq!(codecs, ["h264", "aac"]);
    assert_duration(duration, 2.0);
    let output = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=width,height",
            "-of",
            "csv=p=0",
        ])
        .arg(&path)
        .output()
        .expect("ffprobe runs");
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "160,120");
}

#[test]
fn big_wav_is_pcm_of_about_the_requested_size() {
    let path = big_wav(2);
    let (codecs, _) = probe(&path);
    assert_eq!(codecs, ["pcm_s16le"]);
    let size = std::fs::metadata(&path).expect("file exists").len();
    let wanted = 2 * 1024 * 1024;
    assert!(
        size >= wanted && size < wanted + 1024,
        "size {size}, wanted about {wanted}"
    );
}

#[test]
fn distinct_parameters_give_distinct_files_and_repeats_reuse_them() {
    let a = tone_webm(1, 440);
    let b = tone_webm(1, 880);
    let c = tone_webm(2, 440);
    assert_ne!(a, b);
    assert_ne!(a, c);
    let modified = std::fs::metadata(&a).and_then(|m| m.modified()).expect("mtime");
    assert_eq!(tone_webm(1, 440), a);
    let again = std::fs::metadata(&a).and_then(|m| m.modified()).expect("mtime");
    assert_eq!(modified, again, "a cached file must not be regenerated");
}
