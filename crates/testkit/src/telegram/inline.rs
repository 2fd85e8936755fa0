//! Inline mode: `answerInlineQuery`, checked as Telegram checks it. An inline query can be
//! answered once; at most 50 results; each result has a `type` Telegram knows, an `id` of 1-64
//! bytes unique within the answer, and the fields its type requires; a cached result's
//! `*_file_id` must be a file the fake issued for that kind of media (a document's id cannot be
//! sent as audio); `next_offset` is at most 64 bytes; a `button`'s `start_parameter` is 1-64 of
//! `A-Z a-z 0-9 _ -`.
use std::collections::HashSet;

use serde_json::{Map, Value};

use super::error::{ApiError, QUERY_EXPIRED};
use super::media::MediaKind;
use super::params::inline_markup;
use super::state::FakeState;
use super::values::value_as_text;

/// "No more than 50 results per query are allowed."
pub(super) const MAX_RESULTS: usize = 50;
/// Result ids and `next_offset`: "1-64 Bytes" / "can't exceed 64 bytes".
const MAX_ID_BYTES: usize = 64;

pub(super) fn answer_inline_query(
    state: &mut FakeState,
    params: &Map<String, Value>,
) -> Result<Value, ApiError> {
    let query_id = params
        .get("inline_query_id")
        .map(value_as_text)
        .unwrap_or_default();
    let Some(Value::Array(results)) = params.get("results") else {
        return Err(ApiError::bad_request(
            "can't parse inline query results JSON object",
        ));
    };
    if results.len() > MAX_RESULTS {
        return Err(ApiError::bad_request("RESULTS_TOO_MUCH"));
    }
    let mut ids = HashSet::new();
    for result in results {
        check_result(state, result, &mut ids)?;
    }
    if let Some(offset) = params.get("next_offset").filter(|o| !o.is_null()) {
        if value_as_text(offset).len() > MAX_ID_BYTES {
            return Err(ApiError::bad_request("NEXT_OFFSET_INVALID"));
        }
    }
    if let Some(button) = params.get("button").filter(|b| !b.is_null()) {
        check_button(button)?;
    }
    if !state.open_inline_queries.remove(&query_id) {
        return Err(ApiError::bad_request(QUERY_EXPIRED));
    }
    state
        .inline_answers
        .insert(query_id, Value::Object(params.clone()));
    Ok(Value::Bool(true))
}

fn check_result(state: &FakeState, result: &Value, ids: &mut HashSet<String>) -> Result<(), ApiError> {
    let Some(fields) = result.as_object() else {
        return Err(ApiError::bad_request("can't parse inline query result"));
    };
    let id = fields.get("id").map(value_as_text).unwrap_or_default();
    if id.is_empty() || id.len() > MAX_ID_BYTES {
        return Err(ApiError::bad_request("RESULT_ID_INVALID"));
    }
    if !ids.insert(id) {
        return Err(ApiError::bad_request("RESULT_ID_DUPLICATE"));
    }
    let kind = fields.get("type").and_then(Value::as_str).unwrap_or_default();
    let has = |name: &str| fields.get(name).is_some_and(|v| !v.is_null() && v != "");
    let missing = |name: &str| ApiError::bad_request(format!("field \"{name}\" must be of type String"));
    let cached = |field: &str, media: MediaKind| -> Result<(), ApiError> {
        let file_id = fields.get(field).map(value_as_text).unwrap_or_default();
        match state.files.get(&file_id) {
            Some(file) if file.kind == media => Ok(()),
            Some(_) => Err(ApiError::bad_request("wrong file identifier type")),
            None => Err(ApiError::bad_request("wrong file identifier/HTTP URL specified")),
        }
    };
    match kind {
        "article" => {
            require(&has, &missing, &["title"])?;
            if !has("input_message_content") {
                return Err(ApiError::bad_request("MESSAGE_EMPTY"));
            }
        }
        "audio" if has("audio_file_id") => cached("audio_file_id", MediaKind::Audio)?,
        "audio" => require(&has, &missing, &["audio_url", "title"])?,
        "video" if has("video_file_id") => {
            require(&has, &missing, &["title"])?;
            cached("video_file_id", MediaKind::Video)?;
        }
        "video" => require(
            &has,
            &missing,
            &["video_url", "mime_type", "thumbnail_url", "title"],
        )?,
        "document" if has("document_file_id") => {
            require(&has, &missing, &["title"])?;
            cached("document_file_id", MediaKind::Document)?;
        }
        "document" => require(&has, &missing, &["title", "document_url", "mime_type"])?,
        "voice" if has("voice_file_id") => {
            require(&has, &missing, &["title"])?;
            cached("voice_file_id", MediaKind::Voice)?;
        }
        "voice" => require(&has, &missing, &["voice_url", "title"])?,
        "photo" if has("photo_file_id") => cached("photo_file_id", MediaKind::Photo)?,
        "photo" => require(&has, &missing, &["photo_url", "thumbnail_url"])?,
        "gif" | "mpeg4_gif" | "sticker" | "location" | "venue" | "contact" | "game" => {}
        _ => return Err(ApiError::bad_request("RESULT_TYPE_INVALID")),
    }
    inline_markup(fields)?;
    Ok(())
}

fn require(
    has: &impl Fn(&str) -> bool,
    missing: &impl Fn(&str) -> ApiError,
    names: &[&str],
) -> Result<(), ApiError> {
    match names.iter().find(|name| !has(name)) {
        Some(name) => Err(missing(name)),
        None => Ok(()),
    }
}

/// `InlineQueryResultsButton`: `text` and exactly one of `web_app` / `start_parameter`.
fn check_button(button: &Value) -> Result<(), ApiError> {
    if button["text"].as_str().is_none_or(str::is_empty) {
        return Err(ApiError::bad_request("BUTTON_TEXT_INVALID"));
    }
    match (button.get("start_parameter"), button.get("web_app")) {
        (Some(Value::String(start)), None) if is_start_parameter(start) => Ok(()),
        (None, Some(web_app)) if web_app.is_object() => Ok(()),
        _ => Err(ApiError::bad_request("START_PARAM_INVALID")),
    }
}

/// Deep-linking parameter: 1-64 characters of `A-Z a-z 0-9 _ -`.
fn is_start_parameter(text: &str) -> bool {
    (1..=64).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}
