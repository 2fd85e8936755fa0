//! Inline mode: `@bot words` typed in any chat is answered with YouTube search results
//! (`answerInlineQuery`). A result the bot has uploaded before (the `file_id` cache) is that
//! audio or video, sent as is; any other is an article with the video's link and a button that
//! opens the bot with its download started: the deep link `t.me/<bot>?start=dl_<VIDEO_ID>`,
//! which `/start` turns back into a URL with [`deep_link_url`].
use std::sync::Arc;

use frankenstein::inline_mode::{
    InlineQuery, InlineQueryResult, InlineQueryResultArticle, InlineQueryResultCachedAudio,
    InlineQueryResultCachedDocument, InlineQueryResultCachedVideo, InlineQueryResultsButton,
    InputTextMessageContent,
};
use frankenstein::types::{InlineKeyboardButton, InlineKeyboardMarkup};
use hermes_host::client::new_task_id;
use hermes_host::links::youtube_video_url;
use hermes_protocol::{search_request, Event, SearchResult, SearchResults};

use super::link::media_key_for;
use super::lookup::ask_worker;
use super::search::details_of;
use crate::app::App;
use crate::db::{CachedUpload, SendMethod};
use hermes_host::render::one_line;

/// Results asked of the worker per inline query (Telegram takes up to 50).
const INLINE_RESULTS: u32 = 10;
/// How long Telegram may reuse an answer for the same user and words: short, so a download
/// finished meanwhile soon shows up as its file.
const RESULTS_CACHE_SECS: u32 = 60;
/// An empty query or a refusal: cheap to answer again, and what is behind it may change.
const EMPTY_CACHE_SECS: u32 = 5;
/// Shorter queries get no search (see [`results_for`]).
const MIN_QUERY_CHARS: usize = 3;
/// Deep-link `start` parameter of a download: this prefix and an 11-character video id.
const DOWNLOAD_PREFIX: &str = "dl_";
/// The `start` parameter of the button above the results: a plain `/start`.
const OPEN_PARAMETER: &str = "inline";
/// Result ids are at most 64 bytes; the index before the id keeps them unique.
const MAX_ID_BYTES: usize = 64;

const OPEN_BOT: &str = "Open the bot";
const PRIVATE_BOT: &str = "🔒 This bot is private – open it for your id";
const USED_UP: &str = "⏳ Searches used up for this hour – open the bot";
const SEARCH_FAILED: &str = "⚠️ Search failed – open the bot";
const DOWNLOAD_BUTTON: &str = "⬇️ Download in the bot";

/// Answers one inline query, always (the client shows a spinner until it is answered): with
/// results for a user who is let in and has searches left, else with none.
pub(crate) async fn answer_inline_query(app: Arc<App>, query: InlineQuery) {
    let (results, button_text, cache_time) = results_for(&app, &query).await;
    let button = InlineQueryResultsButton::builder()
        .text(button_text)
        .start_parameter(OPEN_PARAMETER)
        .build();
    if let Err(error) = app
        .telegram
        .answer_inline_query(&query.id, results, Some(button), cache_time)
        .await
    {
        tracing::warn!(%error, "cannot answer an inline query");
    }
}

/// The results, the text of the button above them and how long they may be cached.
async fn results_for(app: &App, query: &InlineQuery) -> (Vec<InlineQueryResult>, &'static str, u32) {
    // The user's private chat with the bot has the user's id: the same access rule as there.
    let user_id = i64::try_from(query.from.id).ok();
    let Some(user_id) = user_id.filter(|id| app.config.is_chat_allowed(*id)) else {
        tracing::info!(
            user_id = query.from.id,
            "inline query from a user who is not let in"
        );
        return (Vec::new(), PRIVATE_BOT, EMPTY_CACHE_SECS);
    };
    let words = query.query.trim();
    if words.chars().count() < MIN_QUERY_CHARS {
        // Telegram sends a query at every pause in typing: "n", "ne"… are not worth a search.
        return (Vec::new(), OPEN_BOT, EMPTY_CACHE_SECS);
    }
    if app.searches.try_acquire(user_id).is_err() {
        tracing::info!(user_id, "inline search refused: the hourly share is used up");
        return (Vec::new(), USED_UP, EMPTY_CACHE_SECS);
    }
    let request = search_request(&new_task_id("inline"), words, INLINE_RESULTS);
    let found: SearchResults = match ask_worker(app, &request, Event::SearchResults).await {
        Ok(found) => found,
        Err(_) => return (Vec::new(), SEARCH_FAILED, EMPTY_CACHE_SECS),
    };
    if found.from_cache {
        // Answered from the worker's cache: the same words typed again cost no share.
        app.searches.give_back(user_id);
    }
    let username = bot_username(app).await;
    let mut results = Vec::new();
    let hits = found.results.iter().filter(|hit| !hit.url.is_empty());
    for (index, hit) in hits.enumerate() {
        let id = result_id(index, &hit.video_id);
        let cached = match app.db.newest_upload(&media_key_for(&hit.url)).await {
            Ok(cached) => cached,
            Err(error) => {
                tracing::warn!(%error, "cannot read the upload cache");
                None
            }
        };
        results.push(match cached {
            Some(upload) => cached_result(id, hit, upload),
            None => article(id, hit, username),
        });
    }
    (results, OPEN_BOT, RESULTS_CACHE_SECS)
}

/// The bot's `@username`, asked of `getMe` once (inline results link to it; group messages
/// that mention it are for the bot).
pub(crate) async fn bot_username(app: &App) -> Option<&str> {
    if let Some(name) = app.bot_username.get() {
        return Some(name);
    }
    match app.telegram.get_me().await {
        Ok(me) => me
            .username
            .map(|name| app.bot_username.get_or_init(|| name).as_str()),
        Err(error) => {
            tracing::warn!(%error, "getMe failed; the bot's username is unknown for now");
            None
        }
    }
}

/// `<index>:<video id>`, at most 64 bytes.
fn result_id(index: usize, video_id: &str) -> String {
    let mut id = format!("{index}:");
    let room = MAX_ID_BYTES - id.len();
    id.extend(
        video_id
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
            .take(room),
    );
    id
}

/// A file the bot already uploaded: sent straight into the chat as that audio or video.
fn cached_result(id: String, hit: &SearchResult, upload: CachedUpload) -> InlineQueryResult {
    let title = upload
        .title
        .filter(|title| !title.trim().is_empty())
        .unwrap_or_else(|| title_of(hit));
    let description = details_of(hit);
    match upload.method {
        SendMethod::Audio => InlineQueryResultCachedAudio::builder()
            .id(id)
            .audio_file_id(upload.file_id)
            .maybe_caption(upload.caption)
            .build()
            .into(),
        SendMethod::Video => InlineQueryResultCachedVideo::builder()
            .id(id)
            .video_file_id(upload.file_id)
            .title(title)
            .description(description)
            .maybe_caption(upload.caption)
            .build()
            .into(),
        SendMethod::Document => InlineQueryResultCachedDocument::builder()
            .id(id)
            .title(title)
            .document_file_id(upload.file_id)
            .description(description)
            .maybe_caption(upload.caption)
            .build()
            .into(),
    }
}

/// A result not downloaded yet: sends its link, and its button opens the bot with the
/// download started.
fn article(id: String, hit: &SearchResult, username: Option<&str>) -> InlineQueryResult {
    let content = InputTextMessageContent::builder()
        .message_text(hit.url.clone())
        .build();
    let button = username
        .zip(start_parameter_for(&hit.video_id))
        .map(|(username, parameter)| {
            InlineKeyboardMarkup::builder()
                .inline_keyboard(vec![vec![InlineKeyboardButton::builder()
                    .text(DOWNLOAD_BUTTON)
                    .url(format!("https://t.me/{username}?start={parameter}"))
                    .build()]])
                .build()
        });
    let thumbnail = Some(hit.thumbnail.clone()).filter(|url| url.starts_with("https://"));
    InlineQueryResultArticle::builder()
        .id(id)
        .title(title_of(hit))
        .input_message_content(content)
        .maybe_reply_markup(button)
        .description(details_of(hit))
        .maybe_thumbnail_url(thumbnail)
        .build()
        .into()
}

fn title_of(hit: &SearchResult) -> String {
    let title = one_line(&hit.title);
    if title.is_empty() {
        hit.url.clone()
    } else {
        title
    }
}

/// `dl_<VIDEO_ID>`, or `None` when `video_id` is not a YouTube video id.
fn start_parameter_for(video_id: &str) -> Option<String> {
    is_video_id(video_id).then(|| format!("{DOWNLOAD_PREFIX}{video_id}"))
}

/// The video a `/start` parameter asks to download (`dl_` and exactly 11 characters of
/// `A-Z a-z 0-9 _ -`), as its watch URL; anything else is a plain `/start`.
pub(crate) fn deep_link_url(parameter: &str) -> Option<String> {
    let video_id = parameter.strip_prefix(DOWNLOAD_PREFIX)?;
    is_video_id(video_id).then(|| youtube_video_url(video_id))
}

fn is_video_id(id: &str) -> bool {
    id.len() == 11
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(video_id: &str) -> SearchResult {
        SearchResult {
            video_id: video_id.to_owned(),
            title: "Rick Astley - Never Gonna Give You Up".to_owned(),
            url: format!("https://www.youtube.com/watch?v={video_id}"),
            duration: Some(213),
            thumbnail: "https://i.ytimg.com/vi/x/hq.jpg".to_owned(),
            channel: Some("Rick Astley".to_owned()),
            view_count: Some(1_712_345_678),
            ..SearchResult::default()
        }
    }

    #[test]
    fn deep_links_round_trip_and_anything_else_is_a_plain_start() {
        let parameter = start_parameter_for("dQw4w9WgXcQ").expect("a video id");
        assert_eq!(parameter, "dl_dQw4w9WgXcQ");
        assert_eq!(
            deep_link_url(&parameter).as_deref(),
            Some("https://www.youtube.com/watch?v=dQw4w9WgXcQ")
        );
        for other in [
            "",
            "inline",
            "dl_",
            "dl_../x",
            "dl_dQw4w9WgXc",
            "dl_dQw4w9WgXcQQ",
            "dl_dQw4w9WgX/Q",
            "DL_dQw4w9WgXcQ",
            "dl_dQw4w9WgXcQ x",
        ] {
            assert_eq!(deep_link_url(other), None, "{other:?}");
        }
        assert_eq!(start_parameter_for("not a video id"), None);
    }

    #[test]
    fn result_ids_are_unique_and_short() {
        assert_eq!(result_id(3, "dQw4w9WgXcQ"), "3:dQw4w9WgXcQ");
        let long = result_id(49, &"é/x".repeat(100));
        assert!(long.len() <= MAX_ID_BYTES, "{long}");
        assert!(long.starts_with("49:x"));
        assert_ne!(result_id(0, "a"), result_id(1, "a"));
    }

    #[test]
    fn descriptions_read_like_the_search_list() {
        assert_eq!(details_of(&hit("dQw4w9WgXcQ")), "Rick Astley · 3:33 · 1.7B views");
        let bare = SearchResult {
            channel: None,
            view_count: None,
            ..hit("dQw4w9WgXcQ")
        };
        assert_eq!(details_of(&bare), "3:33");
    }

    #[test]
    fn articles_link_the_bot_and_cached_files_are_sent_as_they_were() {
        let article = serde_json::to_value(article(
            "0:dQw4w9WgXcQ".into(),
            &hit("dQw4w9WgXcQ"),
            Some("hermes_test_bot"),
        ))
        .expect("json");
        assert_eq!(article["type"], "article");
        assert_eq!(
            article["input_message_content"]["message_text"],
            "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
        );
        assert_eq!(
            article["reply_markup"]["inline_keyboard"][0][0]["url"],
            "https://t.me/hermes_test_bot?start=dl_dQw4w9WgXcQ"
        );
        let upload = |method| CachedUpload {
            file_id: "file-1".into(),
            method,
            title: None,
            performer: None,
            caption: None,
        };
        let audio = serde_json::to_value(cached_result(
            "1:a".into(),
            &hit("dQw4w9WgXcQ"),
            upload(SendMethod::Audio),
        ))
        .expect("json");
        assert_eq!(
            (audio["type"].as_str(), audio["audio_file_id"].as_str()),
            (Some("audio"), Some("file-1"))
        );
        let video = serde_json::to_value(cached_result(
            "2:a".into(),
            &hit("dQw4w9WgXcQ"),
            upload(SendMethod::Video),
        ))
        .expect("json");
        assert_eq!(video["type"], "video");
        assert_eq!(video["video_file_id"], "file-1");
        assert_eq!(video["title"], "Rick Astley - Never Gonna Give You Up");
        let document = serde_json::to_value(cached_result(
            "3:a".into(),
            &hit("dQw4w9WgXcQ"),
            upload(SendMethod::Document),
        ))
        .expect("json");
        assert_eq!(document["type"], "document");
        assert_eq!(document["document_file_id"], "file-1");
    }
}
