//! Decoding a call's parameters and files, however the client sent them: a JSON body, a
//! multipart form (uploads), a url-encoded body or a query string.
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{header::CONTENT_TYPE, StatusCode};
use serde_json::{Map, Value};

use super::call::{LocalFile, UploadedFile};
use super::error::ApiError;
use crate::percent::form_decode;

/// The HTTP layer reads whole requests up to this size so that an over-limit upload is answered
/// with Telegram's 413 JSON rather than a dropped connection.
pub(super) const BODY_LIMIT: usize = 256 * 1024 * 1024;
/// Parameters that are strings in the Bot API even when their text looks like JSON (a caption "42"
/// must stay a string when it arrives as a form field).
const STRING_PARAMS: [&str; 27] = [
    "text",
    "caption",
    "title",
    "performer",
    "parse_mode",
    "business_connection_id",
    "message_effect_id",
    "callback_query_id",
    "inline_message_id",
    "file_id",
    "audio",
    "video",
    "document",
    "photo",
    "voice",
    "animation",
    "video_note",
    "sticker",
    "thumbnail",
    "cover",
    "url",
    "description",
    "short_description",
    "name",
    "language_code",
    "emoji",
    "secret_token",
];

/// A call's parameters and files, however they were encoded.
#[derive(Debug, Clone, Default)]
pub(super) struct ApiRequest {
    pub(super) params: Map<String, Value>,
    pub(super) files: Vec<UploadedFile>,
    /// Files named by a local path (local mode only), read before the method runs.
    pub(super) local_files: Vec<LocalFile>,
}

impl ApiRequest {
    pub(super) fn file(&self, field: &str) -> Option<&UploadedFile> {
        self.files.iter().find(|file| file.field == field)
    }

    pub(super) fn local_file(&self, field: &str) -> Option<&LocalFile> {
        self.local_files.iter().find(|file| file.field == field)
    }
}

pub(super) async fn read_api_request(request: Request) -> Result<ApiRequest, ApiError> {
    let mut api_request = ApiRequest::default();
    if let Some(query) = request.uri().query() {
        api_request.params.extend(parse_urlencoded(query));
    }
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if content_type.starts_with("multipart/form-data") {
        read_multipart(request, &mut api_request).await?;
        return Ok(api_request);
    }
    let body = axum::body::to_bytes(request.into_body(), BODY_LIMIT)
        .await
        .map_err(|_| ApiError::too_large())?;
    if content_type.starts_with("application/x-www-form-urlencoded") {
        api_request
            .params
            .extend(parse_urlencoded(&String::from_utf8_lossy(&body)));
    } else {
        api_request.params.extend(parse_json_body(&body)?);
    }
    Ok(api_request)
}

/// frankenstein sends `Content-Type: application/json` even with no body (`getMe`), so an empty
/// body is an empty parameter set.
fn parse_json_body(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(params)) => Ok(params),
        Ok(_) => Err(ApiError::bad_request("parameters must be a JSON object")),
        Err(error) => Err(ApiError::bad_request(format!("can't parse JSON body: {error}"))),
    }
}

async fn read_multipart(request: Request, api_request: &mut ApiRequest) -> Result<(), ApiError> {
    let mut multipart = Multipart::from_request(request, &())
        .await
        .map_err(|rejection| ApiError::bad_request(rejection.body_text()))?;
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_owned();
        let filename = field.file_name().map(str::to_owned);
        let content_type = field.content_type().map(str::to_owned);
        let bytes = field.bytes().await.map_err(multipart_error)?;
        match filename {
            Some(filename) => api_request.files.push(UploadedFile {
                field: name,
                filename,
                content_type,
                bytes: bytes.to_vec(),
            }),
            None => {
                let value = form_value(&name, &String::from_utf8_lossy(&bytes));
                api_request.params.insert(name, value);
            }
        }
    }
    Ok(())
}

fn multipart_error(error: axum::extract::multipart::MultipartError) -> ApiError {
    if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::too_large()
    } else {
        ApiError::bad_request(format!("can't parse multipart body: {}", error.body_text()))
    }
}

/// Form and query values are text; Telegram reads numbers, booleans and objects (`reply_markup`)
/// out of it, except for parameters that are strings by definition.
fn form_value(name: &str, text: &str) -> Value {
    if STRING_PARAMS.contains(&name) {
        return Value::String(text.to_owned());
    }
    match serde_json::from_str::<Value>(text) {
        Ok(value) if !value.is_string() => value,
        _ => Value::String(text.to_owned()),
    }
}

fn parse_urlencoded(text: &str) -> Map<String, Value> {
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = form_decode(name);
            let value = form_value(&name, &form_decode(value));
            (name, value)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn form_values_decode_json_except_string_parameters() {
        assert_eq!(form_value("chat_id", "42"), json!(42));
        assert_eq!(form_value("caption", "42"), json!("42"));
        assert_eq!(
            form_value("reply_markup", "{\"inline_keyboard\":[]}"),
            json!({ "inline_keyboard": [] })
        );
        assert_eq!(form_value("chat_id", "@channel"), json!("@channel"));
    }

    #[test]
    fn urlencoded_pairs_are_percent_decoded() {
        let params = parse_urlencoded("chat_id=7&text=a+b%20%C3%A9&x");
        assert_eq!(params["chat_id"], json!(7));
        assert_eq!(params["text"], json!("a b é"));
        assert_eq!(params["x"], json!(""));
    }
}
