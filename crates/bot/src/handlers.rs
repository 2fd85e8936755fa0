//! Incoming updates: access control, commands, and links sent without a command.

use std::fmt::Write as _;
use std::sync::Arc;

use frankenstein::types::{Chat, ChatType, MaybeInaccessibleMessage, Message};
use frankenstein::updates::{Update, UpdateContent};

use hermes_host::links::extract_links;
use hermes_host::render::{js_support_text, render_status, shorten, StatusView};

use crate::admin;
use crate::api::keyboard;
use crate::app::App;
use crate::callbacks::Callback;
use crate::db::TaskRow;
use crate::flows;
use crate::job::{short_id, Job};
use crate::messages;
use crate::reply::{answer, reply};

/// The commands registered with `setMyCommands`, in menu order.
pub(crate) const COMMANDS: &[(&str, &str)] = &[
    ("start", "What this bot does"),
    ("help", "Commands and your chat id"),
    ("download", "Download a link (your default mode)"),
    ("audio", "Download the audio of a link"),
    ("video", "Download the video of a link"),
    ("search", "Search YouTube"),
    ("playlist", "Download a playlist as ZIP files"),
    ("status", "Your downloads"),
    ("cancel", "Cancel a download"),
    ("settings", "Default mode and audio format"),
    ("ping", "Check the download engine"),
    ("chatid", "Show this chat's id"),
];

/// Handles one update. Never fails: problems are logged and, where useful, told to the user.
pub(crate) async fn handle_update(app: Arc<App>, update: Update) {
    match update.content {
        UpdateContent::Message(message) => handle_message(app, &message).await,
        UpdateContent::CallbackQuery(query) => {
            let chat_id = query.message.as_ref().map(|m| match m {
                MaybeInaccessibleMessage::Message(message) => message.chat.id,
                MaybeInaccessibleMessage::InaccessibleMessage(message) => message.chat.id,
            });
            let message_id = query.message.as_ref().map(|m| match m {
                MaybeInaccessibleMessage::Message(message) => message.message_id,
                MaybeInaccessibleMessage::InaccessibleMessage(message) => message.message_id,
            });
            let (Some(chat_id), Some(message_id)) = (chat_id, message_id) else {
                answer(&app, &query.id, None).await;
                return;
            };
            if !app.config.is_chat_allowed(chat_id) {
                let refusal = messages::access_denied(chat_id);
                answer(&app, &query.id, Some(&refusal)).await;
                return;
            }
            let data = query.data.clone().unwrap_or_default();
            flows::handle_callback(app, &query.id, chat_id, message_id, &data).await;
        }
        UpdateContent::InlineQuery(query) => flows::answer_inline_query(app, query).await,
        // Sent when inline feedback is on (@BotFather): nothing to do with it.
        UpdateContent::ChosenInlineResult(_) => {}
        _ => {}
    }
}

async fn handle_message(app: Arc<App>, message: &Message) {
    let chat_id = message.chat.id;
    // A document's command is in its caption (`/cookies` with a cookies.txt).
    let Some(text) = message.text.as_deref().or(message.caption.as_deref()) else {
        return;
    };
    if !app.config.is_chat_allowed(chat_id) {
        let command = parse_command(text).map(|(command, _)| command);
        if matches!(command.as_deref(), Some("start" | "chatid")) {
            reply(&app, chat_id, &messages::not_let_in(chat_id)).await;
        } else if !app.config.allowed_chat_ids.is_empty() {
            // A private bot with a list: the stranger learns how to ask for access.
            reply(&app, chat_id, &messages::access_denied(chat_id)).await;
        } else {
            // Not configured for anyone yet: a stranger gets nothing but /start and /chatid.
            tracing::info!(chat_id, "ignored a chat that is not let in");
        }
        return;
    }
    let group = is_group(&message.chat);
    if group && parse_command(text).is_some() && !addressed_to_us(&app, text).await {
        // `/cmd@other_bot` in a group is another bot's.
        return;
    }
    match parse_command(text) {
        Some((command, _)) if command == "cookies" => {
            admin::cookies_command(&app, chat_id, message.document.as_deref()).await
        }
        // In a group, a command the bot does not know is most likely another bot's: no answer.
        Some((command, _)) if group && !is_known_command(&command) => {}
        Some((command, args)) => handle_command(app, chat_id, &command, args).await,
        None if message.text.is_none() => {} // a caption without a command: not for us
        None if group => handle_group_text(app, chat_id, text).await,
        None => handle_plain_text(app, chat_id, text).await,
    }
}

/// `/cmd@botname args` → (`cmd`, `args`); `None` when the text is not a command.
pub(crate) fn parse_command(text: &str) -> Option<(String, &str)> {
    let rest = text.trim_start().strip_prefix('/')?;
    let (word, args) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let command = word.split('@').next().unwrap_or(word).to_ascii_lowercase();
    if command.is_empty() {
        return None;
    }
    Some((command, args.trim()))
}

async fn handle_command(app: Arc<App>, chat_id: i64, command: &str, args: &str) {
    match command {
        // `/start dl_<VIDEO_ID>`: the deep link of an inline result starts its download.
        "start" => match flows::deep_link_url(args) {
            Some(url) => flows::download_command(app, chat_id, "download", &url).await,
            None => reply(&app, chat_id, &messages::help(chat_id)).await,
        },
        "help" => reply(&app, chat_id, &messages::help(chat_id)).await,
        "chatid" => reply(&app, chat_id, &messages::chat_id_text(chat_id)).await,
        "ping" => ping(&app, chat_id).await,
        "status" => status(&app, chat_id).await,
        "cancel" => cancel(&app, chat_id, args).await,
        "settings" => flows::show_settings(&app, chat_id, None).await,
        "search" => flows::search(app, chat_id, args).await,
        "download" | "audio" | "video" => flows::download_command(app, chat_id, command, args).await,
        "playlist" => flows::playlist_command(app, chat_id, args).await,
        "update" => admin::update_command(app, chat_id, args).await,
        // `/cancel_<id>`: the hint under a status message, tappable as a whole.
        _ if command.starts_with("cancel_") => cancel(&app, chat_id, &command["cancel_".len()..]).await,
        _ => reply(&app, chat_id, messages::UNKNOWN_COMMAND).await,
    }
}

/// A message without a command: every link in it starts a flow (at most
/// [`hermes_host::links::MAX_LINKS_PER_MESSAGE`]). Without a link, a private chat gets a hint; a
/// group is left alone (people talk there, not only to the bot).
async fn handle_plain_text(app: Arc<App>, chat_id: i64, text: &str) {
    let links = extract_links(text);
    if links.is_empty() {
        if chat_id > 0 {
            reply(&app, chat_id, messages::NO_LINK_HINT).await;
        }
        return;
    }
    for link in links {
        flows::offer_link(&app, chat_id, &link).await;
    }
}

/// Whether a command without `@bot` or with this bot's name: `/cmd@other_bot` is not ours.
/// While the bot's name is unknown (getMe failed), every command counts as ours.
async fn addressed_to_us(app: &App, text: &str) -> bool {
    let word = text.split_whitespace().next().unwrap_or_default();
    let Some((_, target)) = word.split_once('@') else {
        return true;
    };
    flows::bot_username(app)
        .await
        .is_none_or(|name| name.trim_start_matches('@').eq_ignore_ascii_case(target))
}

/// A command this bot answers (the menu, the admin's and `/cancel_<id>`).
fn is_known_command(command: &str) -> bool {
    COMMANDS.iter().any(|(name, _)| *name == command)
        || matches!(command, "cookies" | "update")
        || command.starts_with("cancel_")
}

/// A group or supergroup (chat type, or a negative id as Telegram gives groups).
fn is_group(chat: &Chat) -> bool {
    chat.id < 0 || matches!(chat.type_field, ChatType::Group | ChatType::Supergroup)
}

/// A group message without a command: people talk there, so the bot answers only when spoken
/// to. A message mentioning `@<bot>` starts a flow for each of its links (the hint without one);
/// a bare link only with `GROUP_LINKS`; anything else is left alone.
async fn handle_group_text(app: Arc<App>, chat_id: i64, text: &str) {
    let mentioned = text.contains('@')
        && match flows::bot_username(&app).await {
            Some(username) => mentions(text, username),
            None => false,
        };
    if mentioned {
        let links = extract_links(text);
        if links.is_empty() {
            reply(&app, chat_id, messages::NO_LINK_HINT).await;
        }
        for link in links {
            flows::offer_link(&app, chat_id, &link).await;
        }
    } else if app.config.group_links {
        handle_plain_text(app, chat_id, text).await;
    } else {
        tracing::debug!(chat_id, "a group message not for the bot: ignored");
    }
}

/// Whether `text` mentions `@username` (any case, as a whole word, as Telegram marks mentions).
fn mentions(text: &str, username: &str) -> bool {
    let wanted = format!("@{}", username.trim_start_matches('@').to_ascii_lowercase());
    let text = text.to_ascii_lowercase();
    let is_name_char = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.match_indices(&wanted).any(|(at, found)| {
        let before = text[..at].chars().next_back();
        let after = text[at + found.len()..].chars().next();
        !before.is_some_and(is_name_char) && !after.is_some_and(is_name_char)
    })
}

async fn ping(app: &App, chat_id: i64) {
    let text = match app.client.health().await {
        Ok(health) => {
            let mut text = format!(
                "🏓 Pong! The download engine is up.\nVersion: {}\nActive tasks: {}",
                health.version, health.active_tasks
            );
            let _ = write!(
                text,
                "\nyt-dlp: {}\nJS: {}\nffmpeg: {}",
                health.ytdlp.as_deref().unwrap_or("not found"),
                js_support_text(&health),
                health.ffmpeg.as_deref().unwrap_or("not found")
            );
            if app.config.is_admin(chat_id) {
                let _ = write!(
                    text,
                    "\nUptime: {:.0} s\nWorker restarts: {}\nConfig: {}",
                    health.uptime_s,
                    app.client.worker_starts().saturating_sub(1),
                    health.config
                );
            }
            text
        }
        Err(error) => {
            tracing::warn!(%error, "health check failed");
            "⚠️ The download engine is not answering right now. Please try again in a minute.".to_owned()
        }
    };
    reply(app, chat_id, &text).await;
}

/// One line of `/status`: a job of the jobs table, seen through the TaskQueue when it runs here.
struct StatusEntry {
    task_id: String,
    label: String,
    view: StatusView,
}

impl StatusEntry {
    fn of(app: &App, row: &TaskRow) -> StatusEntry {
        let label = label_of(row);
        let live = app.queue.task(&row.id).filter(|task| !task.state.is_finished());
        let view = match (live, row.state.as_str()) {
            (Some(task), _) => StatusView::from(&task),
            (None, "running") => StatusView::Downloading {
                percent: row.progress,
                speed: None,
                eta_secs: None,
            },
            (None, _) => StatusView::Queued { position: None },
        };
        StatusEntry {
            task_id: row.id.clone(),
            label,
            view,
        }
    }

    fn is_queued(&self) -> bool {
        matches!(self.view, StatusView::Queued { .. })
    }
}

/// The chat's queued and running jobs from the jobs table, oldest first.
async fn active_tasks(app: &App, chat_id: i64) -> Option<Vec<TaskRow>> {
    match app.db.active_tasks(chat_id).await {
        Ok(rows) => Some(rows),
        Err(error) => {
            tracing::warn!(%error, "cannot read the chat's jobs");
            reply(app, chat_id, messages::INTERNAL_FAILURE).await;
            None
        }
    }
}

/// Tasks `/status` shows one by one; the rest are summed up in one line.
const STATUS_LISTED: usize = 10;
/// Telegram refuses messages over 4096 characters; this leaves room for the summary line.
const STATUS_BUDGET: usize = 3600;

/// The chat's queued and running jobs, each with its bar: running ones first, at most
/// [`STATUS_LISTED`] of them and never more than fits one message, then a line counting the
/// rest (a chat may have `MAX_QUEUED_PER_CHAT` jobs, each entry takes ~150 characters).
async fn status(app: &App, chat_id: i64) {
    let Some(rows) = active_tasks(app, chat_id).await else {
        return;
    };
    if rows.is_empty() {
        reply(app, chat_id, messages::QUEUE_EMPTY).await;
        return;
    }
    let mut entries: Vec<StatusEntry> = rows.iter().map(|row| StatusEntry::of(app, row)).collect();
    // Stable: running before queued, each group in queue order.
    entries.sort_by_key(StatusEntry::is_queued);
    reply(app, chat_id, &status_text(&entries)).await;
}

fn status_text(entries: &[StatusEntry]) -> String {
    let mut text = String::from("Your downloads:");
    let mut listed = 0;
    for entry in entries.iter().take(STATUS_LISTED) {
        let line = format!(
            "\n\n{}\n{}\n/cancel_{}",
            shorten(&entry.label, 100),
            render_status(&entry.view),
            short_id(&entry.task_id)
        );
        if text.chars().count() + line.chars().count() > STATUS_BUDGET {
            break;
        }
        text.push_str(&line);
        listed += 1;
    }
    let rest = &entries[listed..];
    if !rest.is_empty() {
        let queued = rest.iter().filter(|entry| entry.is_queued()).count();
        let _ = write!(
            text,
            "\n\n…and {} more ({} running, {queued} queued).",
            rest.len(),
            rest.len() - queued
        );
    }
    text
}

/// `/cancel <id prefix>` (or `/cancel_<id>`, tappable as a whole) cancels the matching jobs,
/// naming them; a bare `/cancel` cancels the only active job, or with several asks which one
/// (a ✖ button each) rather than guessing.
async fn cancel(app: &App, chat_id: i64, args: &str) {
    let Some(active) = active_tasks(app, chat_id).await else {
        return;
    };
    let prefix = args.split_whitespace().next().map(str::to_ascii_lowercase);
    let targets: Vec<&TaskRow> = match &prefix {
        Some(prefix) => active
            .iter()
            .filter(|task| short_id(&task.id).starts_with(prefix.as_str()))
            .collect(),
        None if active.len() > 1 => return ask_which(app, chat_id, &active).await,
        None => active.iter().collect(),
    };
    let mut cancelled = Vec::new();
    for task in targets {
        if app.dispatch.cancel(&app.queue, &task.id).await {
            cancelled.push(shorten(&label_of(task), 60));
        }
    }
    let text = if cancelled.is_empty() {
        messages::CANCEL_NOTHING.to_owned()
    } else {
        format!("🚫 Cancelling {}.", cancelled.join(", "))
    };
    reply(app, chat_id, &text).await;
}

/// Several downloads and no id: one ✖ button per download.
async fn ask_which(app: &App, chat_id: i64, active: &[TaskRow]) {
    let rows = active
        .iter()
        .take(20)
        .map(|task| {
            let label = format!("✖ {}", shorten(&label_of(task), 40));
            vec![(
                label,
                Callback::Cancel {
                    task_id: task.id.clone(),
                }
                .encode(),
            )]
        })
        .collect();
    if let Err(error) = app
        .telegram
        .send_text(chat_id, messages::CANCEL_WHICH, Some(keyboard(rows)))
        .await
    {
        tracing::warn!(%error, "cannot ask which download to cancel");
    }
}

/// The header of a job's status message, or its kind for rows without a job.
fn label_of(row: &TaskRow) -> String {
    row.job
        .as_deref()
        .and_then(|json| serde_json::from_str::<Job>(json).ok())
        .map_or_else(|| row.kind.clone(), |job| job.header())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_parsed_with_bot_suffix_and_arguments() {
        let cases: &[(&str, Option<(&str, &str)>)] = &[
            ("/start", Some(("start", ""))),
            ("/start@hermes_test_bot", Some(("start", ""))),
            ("  /Search  lofi hip hop ", Some(("search", "lofi hip hop"))),
            (
                "/audio@bot https://youtu.be/x",
                Some(("audio", "https://youtu.be/x")),
            ),
            ("/cancel\tab12", Some(("cancel", "ab12"))),
            ("/", None),
            ("hello /start", None),
            ("https://example.com/a", None),
        ];
        for (text, expected) in cases {
            let got = parse_command(text);
            let got = got.as_ref().map(|(c, a)| (c.as_str(), *a));
            assert_eq!(got, *expected, "{text:?}");
        }
    }

    #[test]
    fn mentions_of_the_bot_are_whole_words_in_any_case() {
        let bot = "hermes_test_bot";
        for text in [
            "@hermes_test_bot https://example.com/a",
            "look: @Hermes_Test_Bot, please",
            "https://example.com/a @hermes_test_bot",
            "@hermes_test_bot",
        ] {
            assert!(mentions(text, bot), "{text:?}");
        }
        for text in [
            "https://example.com/a",
            "@hermes_test_bot2 hi",
            "@hermes_test_bo hi",
            "mail me at x@hermes_test_bot",
            "hermes_test_bot",
        ] {
            assert!(!mentions(text, bot), "{text:?}");
        }
    }

    #[test]
    fn status_of_two_hundred_tasks_fits_one_message() {
        let entry = |i: usize| StatusEntry {
            task_id: format!("tg-{i:032x}"),
            label: format!("🎵 {} {i}", "x".repeat(300)),
            view: if i < 2 {
                StatusView::Downloading {
                    percent: 40,
                    speed: Some("1.0MiB/s".into()),
                    eta_secs: None,
                }
            } else {
                StatusView::Queued {
                    position: Some(i - 1),
                }
            },
        };
        let entries: Vec<StatusEntry> = (0..200).map(entry).collect();
        let text = status_text(&entries);
        assert!(
            text.chars().count() <= 4096,
            "{} characters",
            text.chars().count()
        );
        assert!(text.contains("…and 190 more (0 running, 190 queued)."), "{text}");
        assert_eq!(text.matches("/cancel_").count(), 10);
        let few = status_text(&entries[..3]);
        assert!(!few.contains("more"), "{few}");
    }

    #[test]
    fn registered_commands_follow_telegrams_rules() {
        for (command, description) in COMMANDS {
            assert!(command.len() <= 32 && command.bytes().all(|b| b.is_ascii_lowercase()));
            assert!((3..=256).contains(&description.len()), "{command}");
        }
    }
}
