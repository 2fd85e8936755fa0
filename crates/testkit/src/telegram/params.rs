//! The parameters of message methods, checked as Telegram checks them: the chat, the text or
//! caption (and their limits), the message replied to, the inline keyboard.
use serde_json::{Map, Value};

use super::error::ApiError;
use super::state::FakeState;
use super::text::{utf16_len, RenderedText};
use super::values::{param_i64, value_as_text};

const MESSAGE_TEXT_LIMIT: usize = 4096;
const CAPTION_LIMIT: usize = 1024;
const CALLBACK_DATA_LIMIT: usize = 64;
/// Inline keyboard button fields that make a button do something; a button with none of them is a
/// "text button", which Telegram refuses inside inline keyboards.
const INLINE_BUTTON_ACTIONS: [&str; 10] = [
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
];

/// `chat_id` as a number, a numeric string or `@username` of a chat the fake has seen.
pub(super) fn resolve_chat_id(state: &FakeState, params: &Map<String, Value>) -> Result<i64, ApiError> {
    match params.get("chat_id") {
        None | Some(Value::Null) => Err(ApiError::bad_request("chat_id is empty")),
        Some(Value::String(text)) if text.trim().is_empty() => Err(ApiError::bad_request("chat_id is empty")),
        Some(Value::String(text)) => text
            .trim()
            .parse()
            .ok()
            .or_else(|| state.chat_id_by_username(text.trim().trim_start_matches('@')))
            .ok_or_else(|| ApiError::bad_request("chat not found")),
        Some(Value::Number(number)) => number
            .as_i64()
            .ok_or_else(|| ApiError::bad_request("chat not found")),
        Some(_) => Err(ApiError::bad_request("chat not found")),
    }
}

pub(super) fn required_text(params: &Map<String, Value>) -> Result<RenderedText, ApiError> {
    let raw = params.get("text").map(value_as_text).unwrap_or_default();
    let text = RenderedText::new(&raw, parse_mode(params));
    if text.text.trim().is_empty() {
        return Err(ApiError::bad_request("message text is empty"));
    }
    if utf16_len(&text.text) > MESSAGE_TEXT_LIMIT {
        return Err(ApiError::bad_request("message is too long"));
    }
    Ok(text)
}

pub(super) fn optional_caption(params: &Map<String, Value>) -> Result<Option<RenderedText>, ApiError> {
    let Some(raw) = params.get("caption").filter(|caption| !caption.is_null()) else {
        return Ok(None);
    };
    let caption = RenderedText::new(&value_as_text(raw), parse_mode(params));
    if utf16_len(&caption.text) > CAPTION_LIMIT {
        return Err(ApiError::bad_request("message caption is too long"));
    }
    Ok((!caption.text.is_empty()).then_some(caption))
}

pub(super) fn parse_mode(params: &Map<String, Value>) -> Option<&str> {
    params.get("parse_mode").and_then(Value::as_str)
}

/// The message a new one replies to (`reply_parameters.message_id` or the older
/// `reply_to_message_id`), copied without its own reply as Telegram nests only one level.
pub(super) fn replied_message(
    state: &FakeState,
    chat_id: i64,
    params: &Map<String, Value>,
) -> Result<Option<Value>, ApiError> {
    let reply_parameters = params.get("reply_parameters").and_then(Value::as_object);
    let message_id = reply_parameters
        .and_then(|reply| param_i64(reply, "message_id"))
        .or_else(|| param_i64(params, "reply_to_message_id"));
    let Some(message_id) = message_id else {
        return Ok(None);
    };
    let reply_chat_id = reply_parameters
        .and_then(|reply| param_i64(reply, "chat_id"))
        .unwrap_or(chat_id);
    match state.message(reply_chat_id, message_id) {
        Some(message) => {
            let mut message = message.clone();
            if let Some(fields) = message.as_object_mut() {
                fields.remove("reply_to_message");
            }
            Ok(Some(message))
        }
        None if reply_parameters
            .and_then(|reply| reply.get("allow_sending_without_reply"))
            .and_then(Value::as_bool)
            .unwrap_or(false) =>
        {
            Ok(None)
        }
        None => Err(ApiError::bad_request("message to be replied not found")),
    }
}

/// The inline keyboard a message will carry, after Telegram's checks. Other markups (reply
/// keyboards, force reply) are accepted but, as on Telegram, not echoed in the message.
pub(super) fn inline_markup(params: &Map<String, Value>) -> Result<Option<Value>, ApiError> {
    let markup = match params.get("reply_markup") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(markup)) => markup,
        Some(_) => {
            return Err(ApiError::bad_request(
                "can't parse reply keyboard markup JSON object",
            ))
        }
    };
    let Some(rows) = markup.get("inline_keyboard") else {
        return Ok(None);
    };
    let rows = rows
        .as_array()
        .filter(|rows| rows.iter().all(Value::is_array))
        .ok_or_else(|| {
            ApiError::bad_request(
                "field \"inline_keyboard\" of the InlineKeyboardMarkup should be an Array of Arrays",
            )
        })?;
    for button in rows.iter().filter_map(Value::as_array).flatten() {
        check_inline_button(button)?;
    }
    let has_buttons = rows.iter().filter_map(Value::as_array).any(|row| !row.is_empty());
    Ok(has_buttons.then(|| Value::Object(markup.clone())))
}

fn check_inline_button(button: &Value) -> Result<(), ApiError> {
    if !button["text"].is_string() {
        return Err(ApiError::bad_request(
            "can't parse inline keyboard button: Field \"text\" must be of type String",
        ));
    }
    if !INLINE_BUTTON_ACTIONS
        .iter()
        .any(|action| button.get(action).is_some_and(|v| !v.is_null()))
    {
        return Err(ApiError::bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard",
        ));
    }
    if let Some(data) = button.get("callback_data").filter(|data| !data.is_null()) {
        let length = data.as_str().map_or(0, str::len);
        if !(1..=CALLBACK_DATA_LIMIT).contains(&length) {
            return Err(ApiError::bad_request("BUTTON_DATA_INVALID"));
        }
    }
    Ok(())
}

pub(super) fn set_markup(message: &mut Value, markup: Option<Value>) {
    let Some(fields) = message.as_object_mut() else {
        return;
    };
    match markup {
        Some(markup) => fields.insert("reply_markup".to_owned(), markup),
        None => fields.remove("reply_markup"),
    };
}
