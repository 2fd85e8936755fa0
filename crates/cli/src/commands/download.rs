//! `hermes download URL [--audio [FORMAT]] [--format SEL]`: one video, or its audio.
use std::path::Path;

use hermes_host::client::new_task_id;
use hermes_host::render::{render_status, StatusView};
use hermes_protocol::{download_request_with, AudioFormat, DownloadDone, DownloadOptions, Event, Request};

use crate::args::DownloadArgs;
use crate::error::CliError;
use crate::output_dir::path_text;
use crate::session::Session;
use crate::ui::Ui;

pub(crate) async fn run(
    session: &mut Session<'_>,
    args: &DownloadArgs,
    out_dir: &Path,
) -> Result<(), CliError> {
    let audio = args.audio.map(AudioFormat::from);
    let request = single_download(&args.url, audio, args.format.as_deref(), out_dir);
    let done: DownloadDone = session.run(&request, "Downloading", true, Event::Done).await?;
    print_download(session.ui(), &done);
    Ok(())
}

/// A `youtube_dl` request: audio extraction in `audio` format when given, an explicit yt-dlp
/// format selector when given.
pub(crate) fn single_download(
    url: &str,
    audio: Option<AudioFormat>,
    format: Option<&str>,
    out_dir: &Path,
) -> Request {
    let options = DownloadOptions {
        audio_format: audio,
        format: format.map(str::to_owned),
        ..Default::default()
    };
    download_request_with(
        &new_task_id("cli"),
        url,
        audio.is_some(),
        &path_text(out_dir),
        &options,
    )
}

/// The files of a finished download; those already printed as they arrived are not repeated.
pub(crate) fn print_download(ui: &mut Ui, done: &DownloadDone) {
    if ui.json() {
        return;
    }
    let title = done.title.as_deref().unwrap_or(&done.filename);
    eprintln!("{} {title}", render_status(&StatusView::Completed));
    if done.files.is_empty() {
        ui.print_path(&done.file_path);
    }
    for file in &done.files {
        ui.print_path(&file.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn download_request_carries_format_and_audio_choice() {
        let request = single_download(
            "http://x/a",
            Some(AudioFormat::Flac),
            Some("bestaudio"),
            Path::new("/d/out"),
        );
        assert_eq!(request.params["extract_audio"], json!(true));
        assert_eq!(request.params["audio_format"], json!("flac"));
        assert_eq!(request.params["format"], json!("bestaudio"));
        assert_eq!(request.params["output_dir"], json!("/d/out"));
        let video = single_download("http://x/a", None, None, Path::new("/d/out"));
        assert_eq!(video.params["extract_audio"], json!(false));
        assert!(!video.params.contains_key("audio_format"));
    }
}
