//! `hermes playlist URL [--limit N] [--video] [--zip-mb N]`: a playlist into ZIP part(s).
use std::path::Path;

use hermes_host::client::new_task_id;
use hermes_host::render::{render_status, StatusView};
use hermes_protocol::{playlist_request_with, Event, PlaylistDone, PlaylistOptions};

use crate::args::PlaylistArgs;
use crate::error::CliError;
use crate::output_dir::path_text;
use crate::session::Session;

pub(crate) async fn run(
    session: &mut Session<'_>,
    args: &PlaylistArgs,
    out_dir: &Path,
) -> Result<(), CliError> {
    let options = PlaylistOptions {
        playlist_end: args.limit,
        archive_max_size_mb: args.zip_mb,
        ..Default::default()
    };
    let request = playlist_request_with(
        &new_task_id("cli"),
        &args.url,
        !args.video,
        &path_text(out_dir),
        &options,
    );
    let done: PlaylistDone = session.run(&request, "Playlist", true, Event::Done).await?;
    let ui = session.ui();
    if !ui.json() {
        eprintln!(
            "{} {}: {} tracks, {} failed",
            render_status(&StatusView::Completed),
            done.playlist_name,
            done.total_tracks_downloaded,
            done.failed_tracks
        );
        for file in &done.files {
            ui.print_path(&file.path);
        }
    }
    Ok(())
}
