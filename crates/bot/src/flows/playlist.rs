//! `/playlist <url>` and playlist links: a preview (title, item count, the first items), then
//! how many items, then the mode.
use std::sync::Arc;

use hermes_host::client::new_task_id;
use hermes_host::links::{extract_links, youtube_playlist_url, LinkKind};
use hermes_host::render::{format_clock, one_line, shorten};
use hermes_protocol::{playlist_preview_request, Event, PlaylistPreview};

use super::lookup::ask_worker_with;
use super::screen::{edit_keyboard, edit_plain, placeholder};
use crate::app::App;
use crate::callbacks::{Callback, Flow};
use crate::messages;
use crate::reply::reply;

const PREVIEW_ITEMS: u32 = 5;
const PLAYLIST_LIMITS: [u32; 3] = [10, 25, 50];

/// `/playlist <url>`: the preview of the first link.
pub(crate) async fn playlist_command(app: Arc<App>, chat_id: i64, args: &str) {
    match extract_links(args).first() {
        Some(link) => {
            let url = match &link.kind {
                LinkKind::YoutubeVideoInPlaylist { list, .. } => youtube_playlist_url(list),
                _ => link.canonical_url(),
            };
            preview_playlist(&app, chat_id, &url, None).await;
        }
        None => reply(&app, chat_id, messages::PLAYLIST_USAGE).await,
    }
}

/// Shows title, item count and the first items, then `[10] [25] [50] [All]`.
pub(super) async fn preview_playlist(app: &App, chat_id: i64, url: &str, edit: Option<i32>) {
    let Some(message_id) = placeholder(app, chat_id, "⏳ Reading the playlist…", edit).await else {
        return;
    };
    let preview = match fetch_preview(app, url).await {
        Ok(preview) => preview,
        Err(text) => return edit_plain(app, chat_id, message_id, &text).await,
    };
    show_preview(app, chat_id, message_id, url, &preview).await;
}

/// The worker's `playlist_preview` of `url` (title, count, the first items); the error is the
/// user's message.
pub(super) async fn fetch_preview(app: &App, url: &str) -> Result<PlaylistPreview, String> {
    let request = playlist_preview_request(&new_task_id("preview"), url, PREVIEW_ITEMS);
    ask_worker_with(app, &request, Event::Done, messages::preview_failed).await
}

/// Whether a preview lists several items: a feed or a playlist rather than one media.
pub(super) fn has_several_items(preview: &PlaylistPreview) -> bool {
    preview
        .playlist_count
        .map_or(preview.tracks.len() > 1, |count| count > 1)
}

/// Turns `message_id` into the preview and the `[10] [25] [50] [All]` keyboard.
pub(super) async fn show_preview(
    app: &App,
    chat_id: i64,
    message_id: i32,
    url: &str,
    preview: &PlaylistPreview,
) {
    let title = if preview.playlist_title.trim().is_empty() {
        "Playlist".to_owned()
    } else {
        preview.playlist_title.clone()
    };
    let key = app.flows.insert(
        chat_id,
        Flow::Playlist {
            url: url.to_owned(),
            title: title.clone(),
            limit: None,
        },
    );
    let text = preview_text(&title, preview);
    let mut row: Vec<(String, String)> = PLAYLIST_LIMITS
        .iter()
        .filter(|limit| {
            preview
                .playlist_count
                .is_none_or(|count| u64::from(**limit) < count)
        })
        .map(|limit| {
            let count = u16::try_from(*limit).unwrap_or(u16::MAX);
            (
                limit.to_string(),
                Callback::Limit {
                    key: key.clone(),
                    count,
                }
                .encode(),
            )
        })
        .collect();
    row.push(("All".to_owned(), Callback::Limit { key, count: 0 }.encode()));
    edit_keyboard(app, chat_id, message_id, &text, vec![row]).await;
}

fn preview_text(title: &str, preview: &PlaylistPreview) -> String {
    let mut text = format!("📃 {}", one_line(title));
    if let Some(count) = preview.playlist_count {
        text.push_str(&format!("\n{count} items"));
    }
    for track in &preview.tracks {
        text.push_str(&format!(
            "\n{}. {}",
            track.index,
            shorten(&one_line(&track.title), 60)
        ));
        if let Some(duration) = track.duration {
            text.push_str(&format!(" ({})", format_clock(duration)));
        }
    }
    text.push_str("\n\nHow many items should I download?");
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use hermes_protocol::PreviewTrack;

    #[test]
    fn a_feed_cannot_add_lines_to_its_preview() {
        let preview = PlaylistPreview {
            playlist_title: String::new(),
            playlist_count: Some(2),
            tracks: vec![PreviewTrack {
                index: 1,
                title: "One\n2. Fake item\n\nHow many items should I download?".into(),
                duration: Some(61),
                ..PreviewTrack::default()
            }],
        };
        let text = preview_text("Show\nevil", &preview);
        assert_eq!(
            text,
            "📃 Show evil\n2 items\n1. One 2. Fake item How many items should I download? (1:01)\n\nHow many items should I download?"
        );
    }
}
