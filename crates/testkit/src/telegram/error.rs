//! A refusal shaped like Telegram's error responses: the HTTP status equals `error_code`, which is
//! how frankenstein tells success from failure.
use axum::http::StatusCode;
use serde_json::{json, Value};

use super::call::Fault;

pub(super) const NOT_MODIFIED: &str =
    "message is not modified: specified new message content and reply markup \
are exactly the same as a current content and reply markup of the message";

/// What Telegram answers a callback or inline query that is unknown, already answered or too old.
pub(super) const QUERY_EXPIRED: &str = "query is too old and response timeout expired or query ID is invalid";

/// A refusal, shaped like Telegram's error responses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ApiError {
    pub(super) code: u16,
    pub(super) description: String,
    pub(super) retry_after: Option<u32>,
}

impl ApiError {
    pub(super) fn new(code: u16, description: impl Into<String>) -> ApiError {
        ApiError {
            code,
            description: description.into(),
            retry_after: None,
        }
    }

    pub(super) fn bad_request(detail: impl std::fmt::Display) -> ApiError {
        ApiError::new(400, format!("Bad Request: {detail}"))
    }

    pub(super) fn unauthorized() -> ApiError {
        ApiError::new(401, "Unauthorized")
    }

    pub(super) fn not_found() -> ApiError {
        ApiError::new(404, "Not Found")
    }

    pub(super) fn too_large() -> ApiError {
        ApiError::new(413, "Request Entity Too Large")
    }

    pub(super) fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    pub(super) fn body(&self) -> Value {
        let mut body = json!({ "ok": false, "error_code": self.code, "description": self.description });
        if let Some(retry_after) = self.retry_after {
            body["parameters"] = json!({ "retry_after": retry_after });
        }
        body
    }
}

impl From<Fault> for ApiError {
    fn from(fault: Fault) -> ApiError {
        match fault {
            Fault::TooManyRequests { retry_after } => ApiError {
                code: 429,
                description: format!("Too Many Requests: retry after {retry_after}"),
                retry_after: Some(retry_after),
            },
            Fault::NotModified => ApiError::bad_request(NOT_MODIFIED),
            Fault::Status(code, description) => ApiError::new(code, description),
            Fault::EntityTooLarge => ApiError::too_large(),
        }
    }
}
