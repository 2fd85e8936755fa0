//! A link in a message (or `/download`, `/audio`, `/video <url>`): the mode keyboard
//! `[🎵 Audio] [🎬 Video] [⚙ Quality…]`, "whole playlist or this video?", or straight to the
//! download.
use std::sync::Arc;

use hermes_host::links::{
    extract_links, normalize_key, youtube_playlist_url, youtube_video_url, Link, LinkKind,
};
use hermes_host::render::shorten;

use super::playlist::{fetch_preview, has_several_items, preview_playlist, show_preview};
use super::screen::{edit_keyboard, placeholder, send_keyboard};
use super::settings::chat_settings;
use crate::app::App;
use crate::callbacks::{Callback, Flow};
use crate::intake;
use crate::job::{DownloadChoice, Job, JobKind};
use crate::media_mode::MediaMode;
use crate::messages;
use crate::reply::reply;

/// Starts the flow for one link found in a message.
pub(crate) async fn offer_link(app: &Arc<App>, chat_id: i64, link: &Link) {
    match &link.kind {
        LinkKind::YoutubeVideoInPlaylist { id, list } => {
            let flow = Flow::VideoOrPlaylist {
                video_url: youtube_video_url(id),
                playlist_url: youtube_playlist_url(list),
            };
            let key = app.flows.insert(chat_id, flow);
            let rows = vec![vec![
                (
                    "📃 Whole playlist".to_owned(),
                    Callback::WholePlaylist { key: key.clone() }.encode(),
                ),
                (
                    "🎬 This video only".to_owned(),
                    Callback::OnlyVideo { key }.encode(),
                ),
            ]];
            send_keyboard(app, chat_id, messages::PLAYLIST_OR_VIDEO, rows).await;
        }
        LinkKind::YoutubePlaylist { .. } => {
            preview_playlist(app, chat_id, &link.canonical_url(), None).await;
        }
        LinkKind::YoutubeVideo { .. } => {
            offer_modes(app, chat_id, &link.canonical_url(), None, None, None).await;
        }
        LinkKind::Other => {
            let url = link.canonical_url();
            let edit = if is_media_file(&url) {
                None
            } else {
                // A feed's preview is shown instead of the keyboard.
                let Some(message_id) = unless_feed(app, chat_id, &url).await else {
                    return;
                };
                Some(message_id)
            };
            offer_modes(app, chat_id, &url, None, None, edit).await;
        }
    }
}

/// A link of any other site may be one media or a feed (RSS, a podcast, a channel page): the
/// worker looks first ("🔎 Looking at the link…"), and a link with several items becomes its
/// playlist preview in that message (`None`) instead of a single download, which would fetch
/// every item and keep one. Otherwise the message is returned for what comes next. A direct
/// media file ([`is_media_file`]) is one media and needs no look.
async fn unless_feed(app: &App, chat_id: i64, url: &str) -> Option<i32> {
    let message_id = placeholder(app, chat_id, messages::LOOKING_AT_LINK, None).await?;
    match fetch_preview(app, url).await {
        Ok(preview) if has_several_items(&preview) => {
            show_preview(app, chat_id, message_id, url, &preview).await;
            None
        }
        _ => Some(message_id),
    }
}

/// Whether the URL's path ends in a media file's extension.
fn is_media_file(url: &str) -> bool {
    const MEDIA: &[&str] = &[
        "mp3", "m4a", "aac", "opus", "ogg", "oga", "flac", "wav", "mp4", "m4v", "webm", "mkv", "mov",
    ];
    let path = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .split(['?', '#'])
        .next()
        .unwrap_or_default();
    let Some((_, name)) = path.rsplit_once('/') else {
        return false;
    };
    name.rsplit_once('.')
        .is_some_and(|(_, ext)| MEDIA.contains(&ext.to_ascii_lowercase().as_str()))
}

/// `[🎵 Audio] [🎬 Video] [⚙ Quality…]` for `url`, as a new message or by editing `edit`.
pub(super) async fn offer_modes(
    app: &App,
    chat_id: i64,
    url: &str,
    title: Option<String>,
    performer: Option<String>,
    edit: Option<i32>,
) {
    let subject = title.clone().unwrap_or_else(|| shorten(url, 80));
    let text = format!("🔗 {subject}\n{}", messages::CHOOSE_MODE);
    let flow = Flow::Link {
        url: url.to_owned(),
        title,
        performer,
        smaller_than: None,
    };
    let key = app.flows.insert(chat_id, flow);
    let rows = vec![vec![
        (
            "🎵 Audio".to_owned(),
            Callback::Download {
                key: key.clone(),
                mode: MediaMode::Audio,
            }
            .encode(),
        ),
        (
            "🎬 Video".to_owned(),
            Callback::Download {
                key: key.clone(),
                mode: MediaMode::Video,
            }
            .encode(),
        ),
        ("⚙ Quality…".to_owned(), Callback::Quality { key }.encode()),
    ]];
    match edit {
        Some(message_id) => edit_keyboard(app, chat_id, message_id, &text, rows).await,
        None => send_keyboard(app, chat_id, &text, rows).await,
    }
}

/// `/download`, `/audio`, `/video <url>`: straight to the download, no keyboard.
pub(crate) async fn download_command(app: Arc<App>, chat_id: i64, command: &str, args: &str) {
    let links = extract_links(args);
    if links.is_empty() {
        reply(&app, chat_id, messages::NOT_A_LINK).await;
        return;
    }
    let settings = chat_settings(&app, chat_id).await;
    let mode = match command {
        "audio" => MediaMode::Audio,
        "video" => MediaMode::Video,
        _ => settings.default_mode,
    };
    for link in links {
        let mut reuse_message_id = None;
        let url = match &link.kind {
            LinkKind::YoutubePlaylist { .. } => {
                preview_playlist(&app, chat_id, &link.canonical_url(), None).await;
                continue;
            }
            LinkKind::YoutubeVideoInPlaylist { id, .. } => youtube_video_url(id),
            LinkKind::Other if !is_media_file(&link.canonical_url()) => {
                // A feed asked for as one download: the playlist flow instead; one media gets
                // the looking message as its status message.
                let url = link.canonical_url();
                match unless_feed(&app, chat_id, &url).await {
                    Some(message_id) => reuse_message_id = Some(message_id),
                    None => continue,
                }
                url
            }
            _ => link.canonical_url(),
        };
        let job = Job {
            chat_id,
            media_key: normalize_key(&link),
            url,
            kind: JobKind::Single(DownloadChoice::new(mode, settings.audio_format)),
            title: None,
            performer: None,
            reuse_message_id,
        };
        intake::start(Arc::clone(&app), job).await;
    }
}

/// The upload-cache key of a URL: the same normalisation as links in messages.
pub(super) fn media_key_for(url: &str) -> String {
    extract_links(url)
        .first()
        .map(normalize_key)
        .unwrap_or_else(|| url.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_media_files_are_told_from_pages_and_feeds() {
        for media in [
            "http://127.0.0.1:9/media/a.webm",
            "https://cdn.example.com/x/Song.MP3?sig=1",
            "https://example.com/ep.m4a#t=3",
        ] {
            assert!(is_media_file(media), "{media}");
        }
        for page in [
            "http://127.0.0.1:9/feeds/show.rss",
            "https://example.com/podcast",
            "https://example.com/",
            "https://example.com/watch.mp3/page.html",
            "example.com",
        ] {
            assert!(!is_media_file(page), "{page}");
        }
    }

    #[test]
    fn media_keys_match_message_links() {
        assert_eq!(
            media_key_for("https://www.youtube.com/watch?v=dQw4w9WgXcQ"),
            "yt:dQw4w9WgXcQ"
        );
        assert_eq!(
            media_key_for("http://127.0.0.1:9/media/a.webm?utm_source=x"),
            "http://127.0.0.1:9/media/a.webm"
        );
    }
}
