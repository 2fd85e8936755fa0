//! The events a worker emits (a closed set), the response envelope, and which event ends a task
//! ([`Event::is_final`]), so no host re-implements that check on raw JSON.
use crate::{ErrorCode, ErrorData, ProgressData};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;
use std::fmt;

/// Every event the worker emits. The set is closed (DESIGN.md §2): in particular the worker never
/// emits the Python worker's `retry` (the existing host would take it as the end of a download);
/// a retry is a `progress` event with status `retrying`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    Progress,
    Done,
    Error,
    SearchResults,
    VideoInfo,
    FormatList,
    HealthOk,
    CacheStats,
    CacheCleanupDone,
    /// An event name this build does not know (hosts stay forward-compatible). Never emitted.
    #[serde(other)]
    Unknown,
}

impl Event {
    /// Every request gets exactly one final event: anything but `progress`.
    pub fn is_final(self) -> bool {
        self != Event::Progress
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Progress => "progress",
            Event::Done => "done",
            Event::Error => "error",
            Event::SearchResults => "search_results",
            Event::VideoInfo => "video_info",
            Event::FormatList => "format_list",
            Event::HealthOk => "health_ok",
            Event::CacheStats => "cache_stats",
            Event::CacheCleanupDone => "cache_cleanup_done",
            Event::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One line from the worker: `{"task_id": str, "event": str, "data": object}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    pub task_id: String,
    pub event: Event,
    #[serde(default = "empty_object")]
    pub data: Value,
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

/// The `task_id` used for errors about input whose task id could not be read.
pub const UNKNOWN_TASK_ID: &str = "unknown";

impl Response {
    /// An event carrying a typed payload (any of the structs in [`crate::payload`]).
    pub fn new(task_id: impl Into<String>, event: Event, data: &impl Serialize) -> Response {
        Response {
            task_id: task_id.into(),
            event,
            data: serde_json::to_value(data).unwrap_or_else(|_| empty_object()),
        }
    }

    pub fn progress(task_id: impl Into<String>, progress: &ProgressData) -> Response {
        Response::new(task_id, Event::Progress, progress)
    }

    pub fn error(task_id: impl Into<String>, code: ErrorCode, message: impl Into<String>) -> Response {
        Response::new(
            task_id,
            Event::Error,
            &ErrorData {
                message: message.into(),
                error_code: code,
                file_size: None,
            },
        )
    }

    /// Decodes `data` as a typed payload.
    pub fn payload<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.data)
    }

    /// `data` of an `error` event, if this is one.
    pub fn error_data(&self) -> Option<ErrorData> {
        (self.event == Event::Error)
            .then(|| self.payload().ok())
            .flatten()
    }
}

/// A [`Response`] whose `data` is already JSON text: what an emitter (the worker) builds, so an
/// event is serialised once, straight from its payload struct, instead of through a
/// `serde_json::Value` tree. On the wire it is the same object; hosts read it as a [`Response`].
#[derive(Debug, Clone, Serialize)]
pub struct RawResponse {
    pub task_id: String,
    pub event: Event,
    pub data: Box<RawValue>,
}

impl RawResponse {
    /// An event carrying a typed payload (any of the structs in [`crate::payload`]).
    pub fn new(task_id: impl Into<String>, event: Event, data: &impl Serialize) -> RawResponse {
        let data = serde_json::value::to_raw_value(data).unwrap_or_else(|_| empty_raw_object());
        RawResponse {
            task_id: task_id.into(),
            event,
            data,
        }
    }

    pub fn progress(task_id: impl Into<String>, progress: &ProgressData) -> RawResponse {
        RawResponse::new(task_id, Event::Progress, progress)
    }

    pub fn error(task_id: impl Into<String>, code: ErrorCode, message: impl Into<String>) -> RawResponse {
        RawResponse::new(
            task_id,
            Event::Error,
            &ErrorData {
                message: message.into(),
                error_code: code,
                file_size: None,
            },
        )
    }

    /// The same event as a [`Response`] (parses `data`; for tests and tools, not hot paths).
    pub fn to_response(&self) -> Response {
        Response {
            task_id: self.task_id.clone(),
            event: self.event,
            data: serde_json::from_str(self.data.get()).unwrap_or_else(|_| empty_object()),
        }
    }
}

fn empty_raw_object() -> Box<RawValue> {
    RawValue::from_string("{}".to_owned()).expect("`{}` is valid JSON")
}
