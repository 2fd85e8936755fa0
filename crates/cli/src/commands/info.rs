//! `hermes info URL`: title, channel, duration and more.
use hermes_host::client::new_task_id;
use hermes_protocol::{video_info_request, Event, VideoInfo};

use crate::columns::clock;
use crate::error::CliError;
use crate::session::Session;
use crate::ui::println_stdout;

pub(crate) async fn run(session: &mut Session<'_>, url: &str) -> Result<(), CliError> {
    let request = video_info_request(&new_task_id("cli"), url);
    let info: VideoInfo = session
        .run(&request, "Looking up", false, Event::VideoInfo)
        .await?;
    if !session.ui().json() {
        println_stdout(&info_text(&info));
    }
    Ok(())
}

fn info_text(info: &VideoInfo) -> String {
    let mut lines = vec![format!("Title:     {}", info.title)];
    if let Some(channel) = info.channel.as_deref().or(info.artist.as_deref()) {
        lines.push(format!("Channel:   {channel}"));
    }
    lines.push(format!(
        "Duration:  {}",
        clock(info.duration_string.as_deref(), info.duration)
    ));
    if let Some(views) = info.view_count {
        lines.push(format!("Views:     {views}"));
    }
    lines.push(format!("URL:       {}", info.url));
    if info.is_private || info.is_age_restricted {
        lines.push(format!(
            "Private: {} · Age-restricted: {}",
            info.is_private, info.is_age_restricted
        ));
    }
    lines.join("\n")
}
