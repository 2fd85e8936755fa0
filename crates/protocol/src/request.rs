//! One request line from a host, parsed leniently enough to answer even a bad one with the
//! right `task_id`.
use crate::{Action, ErrorCode};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One line from the host: `{"task_id": str, "action": str, "url"?: str, "params"?: object}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub task_id: String,
    pub action: Action,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default)]
    pub params: Map<String, Value>,
}

/// Why a request line was refused, with everything needed to answer it: the task id when it
/// could be read (else the answer goes to `"unknown"`), the protocol error code and a message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct RequestError {
    pub task_id: Option<String>,
    pub code: ErrorCode,
    pub message: String,
}

impl RequestError {
    fn new(task_id: Option<&str>, code: ErrorCode, message: impl Into<String>) -> RequestError {
        RequestError {
            task_id: task_id.map(str::to_owned),
            code,
            message: message.into(),
        }
    }
}

/// Task ids are echoed into every event and used as directory names by default; keep them sane.
const MAX_TASK_ID_CHARS: usize = 200;

impl Request {
    pub fn new(task_id: impl Into<String>, action: Action) -> Request {
        Request {
            task_id: task_id.into(),
            action,
            url: None,
            params: Map::new(),
        }
    }

    pub fn with_url(mut self, url: impl Into<String>) -> Request {
        self.url = Some(url.into());
        self
    }

    /// Merges the keys of a JSON object into `params` (non-objects are ignored).
    pub fn with_params(mut self, params: Value) -> Request {
        if let Value::Object(map) = params {
            self.params.extend(map);
        }
        self
    }

    /// Parses and validates one request line, telling apart the cases the protocol answers
    /// differently: not JSON (`INVALID_JSON`), malformed (`INVALID_REQUEST`), unknown action
    /// (`UNKNOWN_ACTION`).
    pub fn from_json_line(line: &str) -> Result<Request, RequestError> {
        let value: Value = serde_json::from_str(line.trim_end_matches(['\n', '\r']))
            .map_err(|e| RequestError::new(None, ErrorCode::InvalidJson, format!("invalid JSON: {e}")))?;
        Request::from_value(value)
    }

    /// Validates an already-parsed JSON value (see [`Request::from_json_line`]).
    pub fn from_value(value: Value) -> Result<Request, RequestError> {
        let Value::Object(mut object) = value else {
            return Err(RequestError::new(
                None,
                ErrorCode::InvalidRequest,
                "request must be a JSON object",
            ));
        };
        let task_id = take_task_id(&mut object)?;
        let id = Some(task_id.as_str());
        let action = match object.remove("action") {
            Some(Value::String(name)) => Action::from_name(&name).ok_or_else(|| {
                RequestError::new(
                    id,
                    ErrorCode::UnknownAction,
                    format!("unknown action: {}", truncate(&name, 64)),
                )
            })?,
            Some(_) => {
                return Err(RequestError::new(
                    id,
                    ErrorCode::InvalidRequest,
                    "`action` must be a string",
                ))
            }
            None => {
                return Err(RequestError::new(
                    id,
                    ErrorCode::InvalidRequest,
                    "missing `action`",
                ))
            }
        };
        let url = match object.remove("url") {
            None | Some(Value::Null) => None,
            Some(Value::String(url)) => Some(url),
            Some(_) => {
                return Err(RequestError::new(
                    id,
                    ErrorCode::InvalidRequest,
                    "`url` must be a string",
                ))
            }
        };
        let params = match object.remove("params") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(params)) => params,
            Some(_) => {
                return Err(RequestError::new(
                    id,
                    ErrorCode::InvalidRequest,
                    "`params` must be an object",
                ))
            }
        };
        Ok(Request {
            task_id,
            action,
            url,
            params,
        })
    }

    /// Decodes `params` into an action's typed parameter struct; a wrong type becomes
    /// `INVALID_REQUEST` naming the problem.
    pub fn params_as<T: serde::de::DeserializeOwned>(&self) -> Result<T, RequestError> {
        T::deserialize(Value::Object(self.params.clone())).map_err(|e| {
            RequestError::new(
                Some(&self.task_id),
                ErrorCode::InvalidRequest,
                format!("invalid params: {e}"),
            )
        })
    }
}

fn take_task_id(object: &mut Map<String, Value>) -> Result<String, RequestError> {
    let invalid = |message: &str| RequestError::new(None, ErrorCode::InvalidRequest, message);
    match object.remove("task_id") {
        Some(Value::String(id)) if id.trim().is_empty() => Err(invalid("`task_id` must not be empty")),
        Some(Value::String(id)) if id.chars().count() > MAX_TASK_ID_CHARS => {
            Err(invalid("`task_id` is too long (max 200 characters)"))
        }
        Some(Value::String(id)) if id.chars().any(char::is_control) => {
            Err(invalid("`task_id` must not contain control characters"))
        }
        Some(Value::String(id)) => Ok(id),
        Some(_) => Err(invalid("`task_id` must be a string")),
        None => Err(invalid("missing `task_id`")),
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}
