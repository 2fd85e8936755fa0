//! The Bot API methods the fake implements (sending, editing and deleting messages, callback
//! answers, commands, files, the `getUpdates` long poll); every other known method answers `true`.
use std::pin::pin;
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::error::{ApiError, NOT_MODIFIED, QUERY_EXPIRED};
use super::inline::answer_inline_query;
use super::media::MediaKind;
use super::params::{
    inline_markup, optional_caption, replied_message, required_text, resolve_chat_id, set_markup,
};
use super::request::ApiRequest;
use super::state::{FakeState, Shared};
use super::text::{set_text_field, TextField};
use super::uploads::resolve_media;
use super::users::unix_now;
use super::values::{param_i64, value_as_text};

/// Telegram's own cap on how long a `getUpdates` long poll may be held.
const MAX_LONG_POLL: Duration = Duration::from_secs(30);
const GET_UPDATES_CONFLICT: &str =
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running";

pub(super) fn dispatch(
    shared: &Shared,
    state: &mut FakeState,
    method: &str,
    request: &ApiRequest,
) -> Result<Value, ApiError> {
    let params = &request.params;
    match method {
        "getMe" => Ok(shared.bot_user.clone()),
        "sendMessage" => send_message(shared, state, params),
        "editMessageText" => edit_message_text(shared, state, params),
        "editMessageCaption" => edit_message_caption(shared, state, params),
        "editMessageReplyMarkup" => edit_message_reply_markup(shared, state, params),
        "deleteMessage" => delete_message(state, params),
        "deleteMessages" => delete_messages(state, params),
        "answerCallbackQuery" => answer_callback_query(state, params),
        "answerInlineQuery" => answer_inline_query(state, params),
        "setMyCommands" => set_my_commands(state, params),
        "getMyCommands" => Ok(state.commands.clone()),
        "deleteMyCommands" => {
            state.commands = json!([]);
            Ok(Value::Bool(true))
        }
        "getFile" => get_file(state, params),
        "sendChatAction" => resolve_chat_id(state, params).map(|_| Value::Bool(true)),
        _ => match MediaKind::for_method(method) {
            Some(kind) => send_media(shared, state, request, kind),
            None => Ok(Value::Bool(true)),
        },
    }
}

/// Long poll: answers at once when updates are pending, otherwise waits for a push or for
/// `timeout` seconds (at most 30). A newer `getUpdates` ends an older waiting one with 409, as on
/// Telegram when two bot instances poll.
pub(super) async fn get_updates(shared: &Shared, params: &Map<String, Value>) -> Result<Value, ApiError> {
    let limit = param_i64(params, "limit").map_or(100, |limit| limit.clamp(1, 100));
    let limit = usize::try_from(limit).unwrap_or(100);
    let timeout = param_i64(params, "timeout").map_or(0, |seconds| seconds.max(0));
    let timeout = Duration::from_secs(timeout.unsigned_abs()).min(MAX_LONG_POLL);
    let deadline = tokio::time::Instant::now() + timeout;
    let generation = {
        let mut state = shared.lock();
        let queue = &mut state.updates;
        if let Some(offset) = param_i64(params, "offset") {
            queue.confirm(offset);
        }
        if let Some(Value::Array(kinds)) = params.get("allowed_updates") {
            queue.allowed = kinds
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect();
        }
        queue.poll_generation += 1;
        queue.poll_generation
    };
    shared.updates_changed.notify_waiters();
    loop {
        let mut changed = pin!(shared.updates_changed.notified());
        changed.as_mut().enable();
        {
            let state = shared.lock();
            if state.updates.poll_generation != generation {
                return Err(ApiError::new(409, GET_UPDATES_CONFLICT));
            }
            let batch = state.updates.deliverable(limit);
            if !batch.is_empty() || tokio::time::Instant::now() >= deadline {
                return Ok(Value::Array(batch));
            }
        }
        // On timeout the next turn of the loop answers with whatever is there (nothing).
        let _ = tokio::time::timeout_at(deadline, changed).await;
    }
}

fn send_message(
    shared: &Shared,
    state: &mut FakeState,
    params: &Map<String, Value>,
) -> Result<Value, ApiError> {
    let chat_id = resolve_chat_id(state, params)?;
    let text = required_text(params)?;
    let markup = inline_markup(params)?;
    let reply_to = replied_message(state, chat_id, params)?;
    let mut message = state.new_bot_message(&shared.bot_user, chat_id);
    set_text_field(&mut message, TextField::Text, Some(&text));
    finish_new_message(state, message, markup, reply_to)
}

fn send_media(
    shared: &Shared,
    state: &mut FakeState,
    request: &ApiRequest,
    kind: MediaKind,
) -> Result<Value, ApiError> {
    let params = &request.params;
    let chat_id = resolve_chat_id(state, params)?;
    let caption = optional_caption(params)?;
    let markup = inline_markup(params)?;
    let reply_to = replied_message(state, chat_id, params)?;
    let (media, stored_as) = resolve_media(state, request, kind)?;
    let mut message = state.new_bot_message(&shared.bot_user, chat_id);
    message[stored_as.field()] = media;
    set_text_field(&mut message, TextField::Caption, caption.as_ref());
    finish_new_message(state, message, markup, reply_to)
}

fn finish_new_message(
    state: &mut FakeState,
    mut message: Value,
    markup: Option<Value>,
    reply_to: Option<Value>,
) -> Result<Value, ApiError> {
    if let Some(reply_to) = reply_to {
        message["reply_to_message"] = reply_to;
    }
    set_markup(&mut message, markup);
    state.store_message(&message);
    Ok(message)
}

fn edit_message_text(
    shared: &Shared,
    state: &mut FakeState,
    params: &Map<String, Value>,
) -> Result<Value, ApiError> {
    let text = required_text(params)?;
    let markup = inline_markup(params)?;
    let Some(message) = editable_message(shared, state, params, "edit")? else {
        return Ok(Value::Bool(true));
    };
    if message.get("text").is_none() {
        return Err(ApiError::bad_request("there is no text in the message to edit"));
    }
    if message["text"] == text.text && message.get("reply_markup") == markup.as_ref() {
        return Err(ApiError::bad_request(NOT_MODIFIED));
    }
    set_text_field(message, TextField::Text, Some(&text));
    Ok(finish_edit(message, markup))
}

fn edit_message_caption(
    shared: &Shared,
    state: &mut FakeState,
    params: &Map<String, Value>,
) -> Result<Value, ApiError> {
    let caption = optional_caption(params)?;
    let markup = inline_markup(params)?;
    let Some(message) = editable_message(shared, state, params, "edit")? else {
        return Ok(Value::Bool(true));
    };
    let new_caption = caption
        .as_ref()
        .map(|caption| Value::String(caption.text.clone()));
    if message.get("caption") == new_caption.as_ref() && message.get("reply_markup") == markup.as_ref() {
        return Err(ApiError::bad_request(NOT_MODIFIED));
    }
    set_text_field(message, TextField::Caption, caption.as_ref());
    Ok(finish_edit(message, markup))
}

fn edit_message_reply_markup(
    shared: &Shared,
    state: &mut FakeState,
    params: &Map<String, Value>,
) -> Result<Value, ApiError> {
    let markup = inline_markup(params)?;
    let Some(message) = editable_message(shared, state, params, "edit")? else {
        return Ok(Value::Bool(true));
    };
    if message.get("reply_markup") == markup.as_ref() {
        return Err(ApiError::bad_request(NOT_MODIFIED));
    }
    Ok(finish_edit(message, markup))
}

/// Edits replace the keyboard: one left out of the edit is removed, as on Telegram.
fn finish_edit(message: &mut Value, markup: Option<Value>) -> Value {
    set_markup(message, markup);
    message["edit_date"] = json!(unix_now());
    message.clone()
}

/// The stored message an edit targets, or `None` for inline messages (which the fake does not
/// track and Telegram answers with `true`).
fn editable_message<'a>(
    shared: &Shared,
    state: &'a mut FakeState,
    params: &Map<String, Value>,
    verb: &str,
) -> Result<Option<&'a mut Value>, ApiError> {
    if params.get("inline_message_id").is_some_and(|id| !id.is_null()) {
        return Ok(None);
    }
    let message_id = param_i64(params, "message_id")
        .ok_or_else(|| ApiError::bad_request("message identifier is not specified"))?;
    let chat_id = resolve_chat_id(state, params)?;
    let bot_id = shared.bot_id();
    let message = state
        .message_mut(chat_id, message_id)
        .ok_or_else(|| ApiError::bad_request(format!("message to {verb} not found")))?;
    if message["from"]["id"].as_u64() != Some(bot_id) {
        return Err(ApiError::bad_request(format!("message can't be {verb}ed")));
    }
    Ok(Some(message))
}

fn delete_message(state: &mut FakeState, params: &Map<String, Value>) -> Result<Value, ApiError> {
    let chat_id = resolve_chat_id(state, params)?;
    let message_id = param_i64(params, "message_id")
        .ok_or_else(|| ApiError::bad_request("message identifier is not specified"))?;
    let removed = state
        .chats
        .get_mut(&chat_id)
        .and_then(|chat| chat.messages.remove(&message_id));
    match removed {
        Some(_) => Ok(Value::Bool(true)),
        None => Err(ApiError::bad_request("message to delete not found")),
    }
}

fn delete_messages(state: &mut FakeState, params: &Map<String, Value>) -> Result<Value, ApiError> {
    let chat_id = resolve_chat_id(state, params)?;
    let Some(Value::Array(ids)) = params.get("message_ids") else {
        return Err(ApiError::bad_request("message identifiers are not specified"));
    };
    if let Some(chat) = state.chats.get_mut(&chat_id) {
        for id in ids.iter().filter_map(Value::as_i64) {
            chat.messages.remove(&id);
        }
    }
    Ok(Value::Bool(true))
}

/// A callback query can be answered once; unknown or already answered ids are refused.
fn answer_callback_query(state: &mut FakeState, params: &Map<String, Value>) -> Result<Value, ApiError> {
    let query_id = params
        .get("callback_query_id")
        .map(value_as_text)
        .unwrap_or_default();
    if state.open_callback_queries.remove(&query_id) {
        Ok(Value::Bool(true))
    } else {
        Err(ApiError::bad_request(QUERY_EXPIRED))
    }
}

fn set_my_commands(state: &mut FakeState, params: &Map<String, Value>) -> Result<Value, ApiError> {
    let Some(Value::Array(commands)) = params.get("commands") else {
        return Err(ApiError::bad_request("can't parse commands JSON object"));
    };
    if !commands
        .iter()
        .all(|command| is_valid_command_name(&command["command"]))
    {
        return Err(ApiError::bad_request("BOT_COMMAND_INVALID"));
    }
    state.commands = Value::Array(commands.clone());
    Ok(Value::Bool(true))
}

/// Telegram's rule for command names: 1-32 characters of lower-case letters, digits and `_`
/// (a leading `/` is tolerated).
fn is_valid_command_name(command: &Value) -> bool {
    let Some(name) = command.as_str().map(|name| name.trim_start_matches('/')) else {
        return false;
    };
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_')
}

fn get_file(state: &FakeState, params: &Map<String, Value>) -> Result<Value, ApiError> {
    let file_id = params.get("file_id").map(value_as_text).unwrap_or_default();
    let file = state
        .files
        .get(&file_id)
        .ok_or_else(|| ApiError::bad_request("invalid file_id"))?;
    Ok(json!({
        "file_id": file_id,
        "file_unique_id": file.file_unique_id,
        "file_size": file.file_size,
        "file_path": file.file_path,
    }))
}
