//! `⚙ Quality…`: the video tiers and audio choices of `get_formats`, one button each, and what
//! a choice means as download parameters.
use hermes_host::client::new_task_id;
use hermes_host::render::shorten;
use hermes_protocol::{get_formats_request_mode, AudioFormat, Event, FormatList, FormatMode, FormatOption};

use super::link::media_key_for;
use super::lookup::ask_worker;
use super::screen::{edit_keyboard, edit_plain, one_choice_per_row, Rows, BUTTON_TEXT_CHARS};
use super::settings::chat_settings;
use crate::app::App;
use crate::callbacks::{Callback, Flow};
use crate::job::{DownloadChoice, Job, JobKind};
use crate::media_mode::MediaMode;
use crate::messages;

/// `⚙ Quality…`: video tiers and audio choices from `get_formats` that fit the upload limit,
/// one button each (after a refusal, only those strictly smaller than the refused file).
pub(super) async fn show_qualities(
    app: &App,
    chat_id: i64,
    message_id: i32,
    url: &str,
    title: Option<String>,
    smaller_than: Option<u64>,
) {
    edit_plain(app, chat_id, message_id, "⏳ Looking up the available qualities…").await;
    let video = get_formats_request_mode(&new_task_id("formats"), url, FormatMode::Video);
    let audio = get_formats_request_mode(&new_task_id("formats"), url, FormatMode::Audio);
    let (video, audio) = tokio::join!(
        ask_worker::<FormatList>(app, &video, Event::FormatList),
        ask_worker::<FormatList>(app, &audio, Event::FormatList),
    );
    let title = title.or_else(|| {
        [&video, &audio]
            .into_iter()
            .find_map(|list| list.as_ref().ok().map(|l| l.title.clone()))
            .filter(|t| !t.is_empty())
    });
    let options: Vec<FormatOption> = [video.as_ref().ok(), audio.as_ref().ok()]
        .into_iter()
        .flatten()
        .flat_map(|list| list.formats.iter().cloned())
        .collect();
    if options.is_empty() {
        let text = video
            .err()
            .or(audio.err())
            .unwrap_or_else(|| messages::INTERNAL_FAILURE.to_owned());
        return edit_plain(app, chat_id, message_id, &text).await;
    }
    let fit = Fit::sort(options, app.config.upload_limit_bytes(), smaller_than);
    let note = fit.note(app.config.upload_limit_mb, smaller_than);
    let options = fit.offered;
    if options.is_empty() {
        // Nothing fits: the file itself, cut into parts that do.
        let text = format!("{}\n{}", note.unwrap_or_default(), messages::SPLIT_INSTEAD);
        let rows = split_rows(app, chat_id, url, title).await;
        return edit_keyboard(app, chat_id, message_id, &text, rows).await;
    }
    let rows: Rows = {
        let labels: Vec<String> = options.iter().map(option_label).collect();
        let key = app.flows.insert(
            chat_id,
            Flow::Formats {
                url: url.to_owned(),
                title: title.clone(),
                options,
            },
        );
        one_choice_per_row(labels, |index| Callback::Format {
            key: key.clone(),
            index,
        })
    };
    let subject = title.unwrap_or_else(|| shorten(url, 80));
    let mut text = format!("⚙ {subject}\nChoose a quality:");
    if let Some(note) = note {
        text.push_str(&format!("\n{note}"));
    }
    edit_keyboard(app, chat_id, message_id, &text, rows).await;
}

/// `[✂️ Video in parts] [✂️ Audio in parts]`: the default download of each mode, to be split
/// into playable parts under the upload limit (see [`Callback::split`]).
async fn split_rows(app: &App, chat_id: i64, url: &str, title: Option<String>) -> Rows {
    let settings = chat_settings(app, chat_id).await;
    let row = [
        (MediaMode::Video, "✂️ Video in parts"),
        (MediaMode::Audio, "✂️ Audio in parts"),
    ]
    .into_iter()
    .map(|(mode, label)| {
        let job = Job {
            chat_id,
            url: url.to_owned(),
            media_key: media_key_for(url),
            kind: JobKind::Single(DownloadChoice::new(mode, settings.audio_format)),
            title: title.clone(),
            performer: None,
            reuse_message_id: None,
        };
        (label.to_owned(), Callback::split(&app.flows, &job).encode())
    })
    .collect();
    vec![row]
}

/// The choices that fit, and the labels of those left out for their size.
#[derive(Debug, Default)]
struct Fit {
    offered: Vec<FormatOption>,
    left_out: Vec<String>,
}

impl Fit {
    /// A choice fits when its size estimate is within `limit` bytes (and, after a refusal,
    /// under the refused size). After a refusal a choice of unknown size is left out too: the
    /// same file could come again.
    fn sort(options: Vec<FormatOption>, limit: u64, smaller_than: Option<u64>) -> Fit {
        let mut fit = Fit::default();
        for option in options {
            let fits = match (option.filesize_approx, smaller_than) {
                (Some(size), Some(refused)) => size <= limit && size < refused,
                (Some(size), None) => size <= limit,
                (None, Some(_)) => false,
                (None, None) => true,
            };
            if fits {
                fit.offered.push(option);
            } else {
                fit.left_out.push(option.label);
            }
        }
        fit
    }

    /// One line saying what was left out and why.
    fn note(&self, limit_mb: u64, smaller_than: Option<u64>) -> Option<String> {
        if self.left_out.is_empty() {
            return None;
        }
        let which = shorten(&self.left_out.join(", "), 200);
        Some(match (smaller_than, self.offered.is_empty()) {
            (Some(_), true) => format!(
                "No smaller choice is known to fit the {limit_mb} MB upload limit (left out: {which})."
            ),
            (Some(_), false) => format!("Only choices smaller than the refused file (left out: {which})."),
            (None, _) => format!("Left out, over the {limit_mb} MB upload limit: {which}."),
        })
    }
}

fn option_label(option: &FormatOption) -> String {
    let icon = if option.kind == "audio" { "🎵" } else { "🎬" };
    shorten(&format!("{icon} {}", option.label), BUTTON_TEXT_CHARS)
}

/// A `get_formats` choice as download parameters: a video tier is a format selector; an MP3
/// choice converts at its quality; the original audio is kept in its own container.
pub(super) fn choice_for_option(option: &FormatOption, default_audio: AudioFormat) -> DownloadChoice {
    if option.kind == "audio" {
        let audio_format = option
            .audio_format
            .as_deref()
            .and_then(AudioFormat::from_name)
            .or_else(|| native_audio_format(&option.ext))
            .unwrap_or(default_audio);
        DownloadChoice {
            mode: MediaMode::Audio,
            audio_format,
            audio_quality: option.audio_quality.clone(),
            format: Some(option.format_id.clone()).filter(|f| !f.is_empty()),
            split: false,
        }
    } else {
        DownloadChoice {
            mode: MediaMode::Video,
            audio_format: default_audio,
            audio_quality: None,
            format: Some(option.format_id.clone()).filter(|f| !f.is_empty()),
            split: false,
        }
    }
}

/// The `audio_format` that keeps a native stream without re-encoding (`webm` audio is Opus).
fn native_audio_format(ext: &str) -> Option<AudioFormat> {
    match ext {
        "webm" | "opus" | "ogg" => Some(AudioFormat::Opus),
        "m4a" | "mp4" => Some(AudioFormat::M4a),
        other => AudioFormat::from_name(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tier(label: &str, size: Option<u64>) -> FormatOption {
        FormatOption {
            format_id: label.to_owned(),
            label: label.to_owned(),
            kind: "video".to_owned(),
            filesize_approx: size,
            ..FormatOption::default()
        }
    }

    #[test]
    fn tiers_over_the_limit_are_left_out_with_one_line_saying_why() {
        const MB: u64 = 1024 * 1024;
        let tiers = || {
            vec![
                tier("2160p", Some(445 * MB)),
                tier("1080p", Some(90 * MB)),
                tier("720p", Some(40 * MB)),
                tier("360p", Some(12 * MB)),
                tier("Best available", None),
            ]
        };
        let labels = |fit: &Fit| fit.offered.iter().map(|o| o.label.clone()).collect::<Vec<_>>();
        let fit = Fit::sort(tiers(), 50 * MB, None);
        assert_eq!(labels(&fit), ["720p", "360p", "Best available"]);
        assert_eq!(
            fit.note(50, None).as_deref(),
            Some("Left out, over the 50 MB upload limit: 2160p, 1080p.")
        );
        // After a 40 MB file was refused: strictly smaller, and nothing of unknown size.
        let fit = Fit::sort(tiers(), 50 * MB, Some(40 * MB));
        assert_eq!(labels(&fit), ["360p"]);
        assert!(fit.note(50, Some(40 * MB)).expect("note").contains("smaller"));
        let fit = Fit::sort(tiers(), 50 * MB, Some(12 * MB));
        assert!(fit.offered.is_empty());
        assert!(fit
            .note(50, Some(12 * MB))
            .expect("note")
            .starts_with("No smaller choice"));
        assert!(Fit::sort(vec![tier("720p", Some(MB))], 50 * MB, None)
            .note(50, None)
            .is_none());
    }

    fn option(
        kind: &str,
        format_id: &str,
        ext: &str,
        audio_format: Option<&str>,
        quality: Option<&str>,
    ) -> FormatOption {
        FormatOption {
            format_id: format_id.into(),
            label: "x".into(),
            ext: ext.into(),
            kind: kind.into(),
            audio_format: audio_format.map(str::to_owned),
            audio_quality: quality.map(str::to_owned),
            ..FormatOption::default()
        }
    }

    #[test]
    fn format_options_become_download_specs() {
        let video = choice_for_option(
            &option("video", "137+bestaudio", "mp4", None, None),
            AudioFormat::Mp3,
        );
        assert_eq!(
            (video.mode, video.format.as_deref()),
            (MediaMode::Video, Some("137+bestaudio"))
        );
        let mp3 = choice_for_option(
            &option("audio", "bestaudio/best", "mp3", Some("mp3"), Some("5")),
            AudioFormat::Opus,
        );
        assert_eq!(mp3.audio_format, AudioFormat::Mp3);
        assert_eq!(mp3.audio_quality.as_deref(), Some("5"));
        let native = choice_for_option(&option("audio", "251", "webm", None, None), AudioFormat::Mp3);
        assert_eq!(
            (native.audio_format, native.format.as_deref()),
            (AudioFormat::Opus, Some("251"))
        );
        let m4a = choice_for_option(&option("audio", "140", "m4a", None, None), AudioFormat::Mp3);
        assert_eq!(m4a.audio_format, AudioFormat::M4a);
    }
}
