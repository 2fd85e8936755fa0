//! The conversations behind the inline keyboards: link → mode (or quality), search → pick →
//! mode, playlist → preview → how many → mode, and `/settings`. Every keyboard's state lives in
//! the [`super::callbacks::FlowStore`]; buttons carry only its key.

use std::sync::Arc;
use std::time::Duration;

use frankenstein::types::InlineKeyboardMarkup;
use hermes_protocol::{
    get_formats_request_mode, playlist_preview_request, search_request, AudioFormat, Event,
    FormatList, FormatMode, FormatOption, PlaylistPreview, Request, SearchResults,
};

use crate::client::{expect_event, new_task_id, ClientError};
use crate::links::{extract_links, normalize_key, Link, LinkKind};

use super::api::keyboard;
use super::app::App;
use super::callbacks::{Callback, Flow, FlowMiss, Mode, SearchChoice};
use super::db::ChatSettings;
use super::handlers::{answer, reply};
use super::jobs::{self, shorten, DownloadSpec, Job, JobKind};
use super::messages;

/// Look-ups (search, preview, formats) are quick unless YouTube is slow; past this the user is
/// told to retry rather than left waiting.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(90);
const SEARCH_RESULTS: u32 = 5;
const PREVIEW_ITEMS: u32 = 5;
/// Longest button label; Telegram cuts long labels with an ellipsis in the middle otherwise.
const BUTTON_TEXT_CHARS: usize = 48;
const PLAYLIST_LIMITS: [u32; 3] = [10, 25, 50];

type Rows = Vec<Vec<(String, String)>>;

/// Starts the flow for one link found in a message.
pub async fn offer_link(app: &Arc<App>, chat_id: i64, link: &Link) {
    match &link.kind {
        LinkKind::YoutubeVideoInPlaylist { id, list } => {
            let flow = Flow::VideoOrPlaylist {
                video_url: video_url(id),
                playlist_url: playlist_url(list),
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
        LinkKind::YoutubeVideo { .. } | LinkKind::Other => {
            offer_modes(app, chat_id, &link.canonical_url(), None, None, None).await;
        }
    }
}

/// `[🎵 Audio] [🎬 Video] [⚙ Quality…]` for `url`, as a new message or by editing `edit`.
async fn offer_modes(
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
    };
    let key = app.flows.insert(chat_id, flow);
    let rows = vec![vec![
        (
            "🎵 Audio".to_owned(),
            Callback::Download {
                key: key.clone(),
                mode: Mode::Audio,
            }
            .encode(),
        ),
        (
            "🎬 Video".to_owned(),
            Callback::Download {
                key: key.clone(),
                mode: Mode::Video,
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
pub async fn download_command(app: Arc<App>, chat_id: i64, command: &str, args: &str) {
    let links = extract_links(args);
    if links.is_empty() {
        reply(&app, chat_id, messages::NOT_A_LINK).await;
        return;
    }
    let settings = chat_settings(&app, chat_id).await;
    let mode = match command {
        "audio" => Mode::Audio,
        "video" => Mode::Video,
        _ => settings.default_mode,
    };
    for link in links {
        let url = match &link.kind {
            LinkKind::YoutubePlaylist { .. } => {
                preview_playlist(&app, chat_id, &link.canonical_url(), None).await;
                continue;
            }
            LinkKind::YoutubeVideoInPlaylist { id, .. } => video_url(id),
            _ => link.canonical_url(),
        };
        let job = Job {
            chat_id,
            media_key: normalize_key(&link),
            url,
            kind: JobKind::Single(DownloadSpec::new(mode, settings.audio_format)),
            title: None,
            performer: None,
            reuse_message_id: None,
        };
        jobs::start(Arc::clone(&app), job).await;
    }
}

/// `/playlist <url>`: the preview of the first link.
pub async fn playlist_command(app: Arc<App>, chat_id: i64, args: &str) {
    match extract_links(args).first() {
        Some(link) => {
            let url = match &link.kind {
                LinkKind::YoutubeVideoInPlaylist { list, .. } => playlist_url(list),
                _ => link.canonical_url(),
            };
            preview_playlist(&app, chat_id, &url, None).await;
        }
        None => reply(&app, chat_id, messages::NOT_A_LINK).await,
    }
}

/// Shows title, item count and the first items, then `[10] [25] [50] [All]`.
async fn preview_playlist(app: &App, chat_id: i64, url: &str, edit: Option<i32>) {
    let Some(message_id) = placeholder(app, chat_id, "⏳ Reading the playlist…", edit).await
    else {
        return;
    };
    let request = playlist_preview_request(&new_task_id("preview"), url, PREVIEW_ITEMS);
    let preview: PlaylistPreview = match ask_worker(app, &request, Event::Done).await {
        Ok(preview) => preview,
        Err(text) => return edit_plain(app, chat_id, message_id, &text).await,
    };
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
    let text = preview_text(&title, &preview);
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
    let mut text = format!("📃 {title}");
    if let Some(count) = preview.playlist_count {
        text.push_str(&format!("\n{count} items"));
    }
    for track in &preview.tracks {
        text.push_str(&format!("\n{}. {}", track.index, shorten(&track.title, 60)));
        if let Some(duration) = track.duration {
            text.push_str(&format!(" ({})", clock(duration)));
        }
    }
    text.push_str("\n\nHow many items should I download?");
    text
}

/// `/search <words>`: one button per result.
pub async fn search(app: Arc<App>, chat_id: i64, query: &str) {
    let query = query.trim();
    if query.is_empty() {
        reply(&app, chat_id, messages::SEARCH_USAGE).await;
        return;
    }
    if let Err(retry_in) = app.searches.try_acquire(chat_id) {
        let limit = app.config.searches_per_chat_per_hour;
        tracing::info!(chat_id, limit, "search refused: the chat's hourly share is used up");
        reply(&app, chat_id, &messages::searches_used_up(limit, retry_in)).await;
        return;
    }
    let waiting = format!("🔎 Searching for “{}”…", shorten(query, 60));
    let Some(message_id) = placeholder(&app, chat_id, &waiting, None).await else {
        return;
    };
    let request = search_request(&new_task_id("search"), query, SEARCH_RESULTS);
    let results: SearchResults = match ask_worker(&app, &request, Event::SearchResults).await {
        Ok(results) => results,
        Err(text) => return edit_plain(&app, chat_id, message_id, &text).await,
    };
    let choices: Vec<SearchChoice> = results
        .results
        .iter()
        .filter(|r| !r.url.is_empty())
        .map(|r| SearchChoice {
            url: r.url.clone(),
            title: r.title.clone(),
            channel: r.channel.clone().or_else(|| r.artist.clone()),
        })
        .collect();
    if choices.is_empty() {
        return edit_plain(&app, chat_id, message_id, messages::SEARCH_EMPTY).await;
    }
    let labels: Vec<String> = results
        .results
        .iter()
        .filter(|r| !r.url.is_empty())
        .map(|r| result_label(&r.title, r.duration))
        .collect();
    let key = app.flows.insert(chat_id, Flow::SearchResults { choices });
    let rows = one_choice_per_row(labels, |index| Callback::Pick { key: key.clone(), index });
    let text = format!("🔎 Results for “{}”:", shorten(query, 60));
    edit_keyboard(&app, chat_id, message_id, &text, rows).await;
}

/// A keyboard with one button per row, the button at position `index` carrying
/// `callback(index)`: the shape of every "pick one of these" list (search hits, quality tiers).
fn one_choice_per_row(labels: Vec<String>, callback: impl Fn(u16) -> Callback) -> Vec<Vec<(String, String)>> {
    labels
        .into_iter()
        .enumerate()
        .map(|(index, label)| vec![(label, callback(u16::try_from(index).unwrap_or(u16::MAX)).encode())])
        .collect()
}

fn result_label(title: &str, duration: Option<u64>) -> String {
    match duration {
        Some(secs) => {
            let clock = clock(secs);
            let room = BUTTON_TEXT_CHARS.saturating_sub(clock.chars().count() + 3);
            format!("{} · {clock}", shorten(title, room))
        }
        None => shorten(title, BUTTON_TEXT_CHARS),
    }
}

/// `3:45`, `1:02:03`.
fn clock(secs: u64) -> String {
    if secs >= 3600 {
        format!("{}:{:02}:{:02}", secs / 3600, (secs % 3600) / 60, secs % 60)
    } else {
        format!("{}:{:02}", secs / 60, secs % 60)
    }
}

/// `/settings`, or the settings message refreshed after a tap (`edit`).
pub async fn show_settings(app: &App, chat_id: i64, edit: Option<i32>) {
    let settings = chat_settings(app, chat_id).await;
    let text = format!(
        "⚙ Settings\nDefault mode: {}\nAudio format: {}",
        settings.default_mode.as_str(),
        settings.audio_format.as_str()
    );
    let mark = |on: bool, label: &str| {
        if on {
            format!("✅ {label}")
        } else {
            label.to_owned()
        }
    };
    let modes = vec![
        (
            mark(settings.default_mode == Mode::Audio, "🎵 Audio"),
            Callback::SetMode(Mode::Audio).encode(),
        ),
        (
            mark(settings.default_mode == Mode::Video, "🎬 Video"),
            Callback::SetMode(Mode::Video).encode(),
        ),
    ];
    let formats = [AudioFormat::Mp3, AudioFormat::M4a, AudioFormat::Opus]
        .into_iter()
        .map(|format| {
            (
                mark(settings.audio_format == format, format.as_str()),
                Callback::SetAudioFormat(format).encode(),
            )
        })
        .collect();
    let rows = vec![modes, formats];
    match edit {
        Some(message_id) => edit_keyboard(app, chat_id, message_id, &text, rows).await,
        None => send_keyboard(app, chat_id, &text, rows).await,
    }
}

/// A button tap. Always answers the callback query (Telegram shows a spinner until then).
pub async fn handle_callback(
    app: Arc<App>,
    query_id: &str,
    chat_id: i64,
    message_id: i32,
    data: &str,
) {
    let Some(callback) = Callback::decode(data) else {
        answer(&app, query_id, Some(messages::FLOW_EXPIRED)).await;
        return;
    };
    let result = match callback {
        Callback::SetMode(mode) => {
            update_settings(&app, chat_id, |s| s.default_mode = mode).await;
            answer(&app, query_id, Some("Saved")).await;
            show_settings(&app, chat_id, Some(message_id)).await;
            Ok(())
        }
        Callback::SetAudioFormat(format) => {
            update_settings(&app, chat_id, |s| s.audio_format = format).await;
            answer(&app, query_id, Some("Saved")).await;
            show_settings(&app, chat_id, Some(message_id)).await;
            Ok(())
        }
        other => {
            let tap = Tap {
                app: &app,
                query_id,
                chat_id,
                message_id,
            };
            tap.handle(other).await
        }
    };
    if let Err(miss) = result {
        let text = match miss {
            FlowMiss::Expired => messages::FLOW_EXPIRED,
            FlowMiss::WrongChat => "This button belongs to another chat.",
        };
        answer(&app, query_id, Some(text)).await;
        if miss == FlowMiss::Expired {
            edit_plain(&app, chat_id, message_id, messages::FLOW_EXPIRED).await;
        }
    }
}

/// One tap on a flow button.
struct Tap<'a> {
    app: &'a Arc<App>,
    query_id: &'a str,
    chat_id: i64,
    message_id: i32,
}

impl Tap<'_> {
    async fn handle(&self, callback: Callback) -> Result<(), FlowMiss> {
        let (app, chat_id) = (self.app, self.chat_id);
        match callback {
            Callback::Download { key, mode } => {
                let Flow::Link {
                    url,
                    title,
                    performer,
                } = app.flows.take(&key, chat_id)?
                else {
                    return Err(FlowMiss::Expired);
                };
                self.ack().await;
                let settings = chat_settings(app, chat_id).await;
                let spec = DownloadSpec::new(mode, settings.audio_format);
                self.start_single(url, spec, title, performer).await;
            }
            Callback::Quality { key } => {
                let Flow::Link { url, title, .. } = app.flows.get(&key, chat_id)? else {
                    return Err(FlowMiss::Expired);
                };
                self.ack().await;
                show_qualities(app, chat_id, self.message_id, &url, title).await;
            }
            Callback::Format { key, index } => {
                let Flow::Formats {
                    url,
                    title,
                    options,
                } = app.flows.take(&key, chat_id)?
                else {
                    return Err(FlowMiss::Expired);
                };
                let option = options.get(usize::from(index)).ok_or(FlowMiss::Expired)?;
                self.ack().await;
                let settings = chat_settings(app, chat_id).await;
                let spec = spec_for_option(option, settings.audio_format);
                self.start_single(url, spec, title, None).await;
            }
            Callback::WholePlaylist { key } => {
                let Flow::VideoOrPlaylist { playlist_url, .. } = app.flows.take(&key, chat_id)?
                else {
                    return Err(FlowMiss::Expired);
                };
                self.ack().await;
                preview_playlist(app, chat_id, &playlist_url, Some(self.message_id)).await;
            }
            Callback::OnlyVideo { key } => {
                let Flow::VideoOrPlaylist { video_url, .. } = app.flows.take(&key, chat_id)? else {
                    return Err(FlowMiss::Expired);
                };
                self.ack().await;
                offer_modes(app, chat_id, &video_url, None, None, Some(self.message_id)).await;
            }
            Callback::Pick { key, index } => {
                let Flow::SearchResults { choices } = app.flows.get(&key, chat_id)? else {
                    return Err(FlowMiss::Expired);
                };
                let choice = choices.get(usize::from(index)).ok_or(FlowMiss::Expired)?;
                self.ack().await;
                offer_modes(
                    app,
                    chat_id,
                    &choice.url,
                    Some(choice.title.clone()),
                    choice.channel.clone(),
                    None,
                )
                .await;
            }
            Callback::Limit { key, count } => {
                let Flow::Playlist { url, title, .. } = app.flows.get(&key, chat_id)? else {
                    return Err(FlowMiss::Expired);
                };
                let limit = (count > 0).then_some(u32::from(count));
                let flow = Flow::Playlist {
                    url,
                    title: title.clone(),
                    limit,
                };
                app.flows.update(&key, chat_id, flow)?;
                self.ack().await;
                let how_many = limit.map_or("all items".to_owned(), |n| format!("first {n} items"));
                let text = format!("📃 {title} · {how_many}\n{}", messages::CHOOSE_MODE);
                let rows = vec![vec![
                    (
                        "🎵 Audio".to_owned(),
                        Callback::PlaylistMode {
                            key: key.clone(),
                            mode: Mode::Audio,
                        }
                        .encode(),
                    ),
                    (
                        "🎬 Video".to_owned(),
                        Callback::PlaylistMode {
                            key,
                            mode: Mode::Video,
                        }
                        .encode(),
                    ),
                ]];
                edit_keyboard(app, chat_id, self.message_id, &text, rows).await;
            }
            Callback::PlaylistMode { key, mode } => {
                let Flow::Playlist { url, title, limit } = app.flows.take(&key, chat_id)? else {
                    return Err(FlowMiss::Expired);
                };
                self.ack().await;
                let settings = chat_settings(app, chat_id).await;
                let job = Job {
                    chat_id,
                    media_key: media_key_for(&url),
                    url,
                    kind: JobKind::Playlist {
                        mode,
                        audio_format: settings.audio_format,
                        limit,
                    },
                    title: Some(title),
                    performer: None,
                    reuse_message_id: Some(self.message_id),
                };
                jobs::start(Arc::clone(app), job).await;
            }
            Callback::SetMode(_) | Callback::SetAudioFormat(_) => {}
        }
        Ok(())
    }

    async fn ack(&self) {
        answer(self.app, self.query_id, None).await;
    }

    async fn start_single(
        &self,
        url: String,
        spec: DownloadSpec,
        title: Option<String>,
        performer: Option<String>,
    ) {
        let job = Job {
            chat_id: self.chat_id,
            media_key: media_key_for(&url),
            url,
            kind: JobKind::Single(spec),
            title,
            performer,
            reuse_message_id: Some(self.message_id),
        };
        jobs::start(Arc::clone(self.app), job).await;
    }
}

/// `⚙ Quality…`: video tiers and audio choices from `get_formats`, one button each.
async fn show_qualities(
    app: &App,
    chat_id: i64,
    message_id: i32,
    url: &str,
    title: Option<String>,
) {
    edit_plain(
        app,
        chat_id,
        message_id,
        "⏳ Looking up the available qualities…",
    )
    .await;
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
        one_choice_per_row(labels, |index| Callback::Format { key: key.clone(), index })
    };
    let subject = title.unwrap_or_else(|| shorten(url, 80));
    let text = format!("⚙ {subject}\nChoose a quality:");
    edit_keyboard(app, chat_id, message_id, &text, rows).await;
}

fn option_label(option: &FormatOption) -> String {
    let icon = if option.kind == "audio" {
        "🎵"
    } else {
        "🎬"
    };
    shorten(&format!("{icon} {}", option.label), BUTTON_TEXT_CHARS)
}

/// A `get_formats` choice as download parameters: a video tier is a format selector; an MP3
/// choice converts at its quality; the original audio is kept in its own container.
pub fn spec_for_option(option: &FormatOption, default_audio: AudioFormat) -> DownloadSpec {
    if option.kind == "audio" {
        let audio_format = option
            .audio_format
            .as_deref()
            .and_then(AudioFormat::from_name)
            .or_else(|| native_audio_format(&option.ext))
            .unwrap_or(default_audio);
        DownloadSpec {
            mode: Mode::Audio,
            audio_format,
            audio_quality: option.audio_quality.clone(),
            format: Some(option.format_id.clone()).filter(|f| !f.is_empty()),
        }
    } else {
        DownloadSpec {
            mode: Mode::Video,
            audio_format: default_audio,
            audio_quality: None,
            format: Some(option.format_id.clone()).filter(|f| !f.is_empty()),
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

/// The upload-cache key of a URL: the same normalisation as links in messages.
fn media_key_for(url: &str) -> String {
    extract_links(url)
        .first()
        .map(normalize_key)
        .unwrap_or_else(|| url.to_owned())
}

fn video_url(id: &str) -> String {
    format!("https://www.youtube.com/watch?v={id}")
}

fn playlist_url(list: &str) -> String {
    format!("https://www.youtube.com/playlist?list={list}")
}

/// Sends `request` and decodes its final event; the error is already the user's message.
async fn ask_worker<T: serde::de::DeserializeOwned>(
    app: &App,
    request: &Request,
    expected: Event,
) -> Result<T, String> {
    let result = app
        .client
        .send_and_wait(request, LOOKUP_TIMEOUT)
        .await
        .and_then(|response| expect_event::<T>(&response, expected));
    result.map_err(|error| {
        tracing::info!(action = %request.action.as_str(), %error, "look-up failed");
        match error {
            ClientError::Worker { code, .. } => messages::error_message(&code).to_owned(),
            ClientError::Timeout { .. } => {
                messages::error_message(&hermes_protocol::ErrorCode::Timeout).to_owned()
            }
            _ => messages::INTERNAL_FAILURE.to_owned(),
        }
    })
}

async fn chat_settings(app: &App, chat_id: i64) -> ChatSettings {
    app.db.chat_settings(chat_id).await.unwrap_or_else(|error| {
        tracing::warn!(%error, "cannot read chat settings, using defaults");
        ChatSettings::default()
    })
}

async fn update_settings(app: &App, chat_id: i64, change: impl FnOnce(&mut ChatSettings)) {
    let mut settings = chat_settings(app, chat_id).await;
    change(&mut settings);
    if let Err(error) = app.db.set_chat_settings(chat_id, settings).await {
        tracing::warn!(%error, "cannot save chat settings");
    }
}

/// A message to edit later: `edit` itself, or a new message with `text`.
async fn placeholder(app: &App, chat_id: i64, text: &str, edit: Option<i32>) -> Option<i32> {
    if let Some(message_id) = edit {
        edit_plain(app, chat_id, message_id, text).await;
        return Some(message_id);
    }
    match app.telegram.send_text(chat_id, text, None).await {
        Ok(message) => Some(message.message_id),
        Err(error) => {
            tracing::warn!(%error, "cannot send a message");
            None
        }
    }
}

async fn send_keyboard(app: &App, chat_id: i64, text: &str, rows: Rows) {
    if let Err(error) = app
        .telegram
        .send_text(chat_id, text, Some(keyboard(rows)))
        .await
    {
        tracing::warn!(%error, "cannot send a keyboard");
    }
}

async fn edit_keyboard(app: &App, chat_id: i64, message_id: i32, text: &str, rows: Rows) {
    edit(app, chat_id, message_id, text, Some(keyboard(rows))).await;
}

async fn edit_plain(app: &App, chat_id: i64, message_id: i32, text: &str) {
    edit(app, chat_id, message_id, text, None).await;
}

async fn edit(
    app: &App,
    chat_id: i64,
    message_id: i32,
    text: &str,
    markup: Option<InlineKeyboardMarkup>,
) {
    if let Err(error) = app
        .telegram
        .edit_text(chat_id, message_id, text, markup)
        .await
    {
        tracing::warn!(%error, "cannot edit a message");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let video = spec_for_option(
            &option("video", "137+bestaudio", "mp4", None, None),
            AudioFormat::Mp3,
        );
        assert_eq!(
            (video.mode, video.format.as_deref()),
            (Mode::Video, Some("137+bestaudio"))
        );
        let mp3 = spec_for_option(
            &option("audio", "bestaudio/best", "mp3", Some("mp3"), Some("5")),
            AudioFormat::Opus,
        );
        assert_eq!(mp3.audio_format, AudioFormat::Mp3);
        assert_eq!(mp3.audio_quality.as_deref(), Some("5"));
        let native = spec_for_option(
            &option("audio", "251", "webm", None, None),
            AudioFormat::Mp3,
        );
        assert_eq!(
            (native.audio_format, native.format.as_deref()),
            (AudioFormat::Opus, Some("251"))
        );
        let m4a = spec_for_option(&option("audio", "140", "m4a", None, None), AudioFormat::Mp3);
        assert_eq!(m4a.audio_format, AudioFormat::M4a);
    }

    #[test]
    fn result_labels_fit_a_button() {
        assert_eq!(result_label("Song", Some(213)), "Song · 3:33");
        assert_eq!(result_label("Live", None), "Live");
        let long = result_label(&"x".repeat(100), Some(36_000));
        assert!(long.chars().count() <= BUTTON_TEXT_CHARS + 1, "{long}");
        assert!(long.ends_with("10:00:00"));
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
