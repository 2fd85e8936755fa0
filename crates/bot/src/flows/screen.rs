//! The message a flow shows and edits in place: a placeholder while the worker looks something
//! up, then text with a keyboard; and the shape of every "pick one of these" keyboard.
use frankenstein::types::InlineKeyboardMarkup;

use crate::api::keyboard;
use crate::app::App;
use crate::callbacks::Callback;

/// Longest button label; Telegram cuts long labels with an ellipsis in the middle otherwise.
pub(super) const BUTTON_TEXT_CHARS: usize = 48;

pub(super) type Rows = Vec<Vec<(String, String)>>;

/// A keyboard with one button per row, the button at position `index` carrying
/// `callback(index)`: the shape of every "pick one of these" list (search hits, quality tiers).
pub(super) fn one_choice_per_row(labels: Vec<String>, callback: impl Fn(u16) -> Callback) -> Rows {
    labels
        .into_iter()
        .enumerate()
        .map(|(index, label)| vec![(label, callback(u16::try_from(index).unwrap_or(u16::MAX)).encode())])
        .collect()
}

/// A message to edit later: `edit` itself, or a new message with `text`.
pub(super) async fn placeholder(app: &App, chat_id: i64, text: &str, edit: Option<i32>) -> Option<i32> {
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

pub(super) async fn send_keyboard(app: &App, chat_id: i64, text: &str, rows: Rows) {
    if let Err(error) = app.telegram.send_text(chat_id, text, Some(keyboard(rows))).await {
        tracing::warn!(%error, "cannot send a keyboard");
    }
}

pub(super) async fn edit_keyboard(app: &App, chat_id: i64, message_id: i32, text: &str, rows: Rows) {
    edit(app, chat_id, message_id, text, Some(keyboard(rows))).await;
}

pub(super) async fn edit_plain(app: &App, chat_id: i64, message_id: i32, text: &str) {
    edit(app, chat_id, message_id, text, None).await;
}

async fn edit(app: &App, chat_id: i64, message_id: i32, text: &str, markup: Option<InlineKeyboardMarkup>) {
    if let Err(error) = app.telegram.edit_text(chat_id, message_id, text, markup).await {
        tracing::warn!(%error, "cannot edit a message");
    }
}
