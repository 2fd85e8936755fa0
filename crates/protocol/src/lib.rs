//! Hermes IPC wire types: requests, events, their typed payloads and the request builders of the
//! protocol guide. serde only — no I/O, no async runtime — so both the worker and every host can
//! depend on it.
//!
//! Framing: one JSON object per line, UTF-8, `\n`-terminated, both directions
//! ([`to_json_line`] / [`Request::from_json_line`]).
//!
//! Where the protocol guide and the Python worker it replaces spell a key differently we **accept
//! both on input**. On output the worker has two wire profiles (DESIGN.md §2.1): `guide` emits
//! the guide's keys plus compatible extras; `python` emits the Python worker's own shapes
//! (`Python*` payloads), because the existing host delivers every file a superset names.

mod action;
mod builders;
mod error_code;
mod event;
mod js_runtime;
mod params;
pub mod payload;
mod request;
mod request_options;

pub use action::Action;
pub use builders::*;
pub use error_code::ErrorCode;
pub use event::{Event, RawResponse, Response, UNKNOWN_TASK_ID};
pub use js_runtime::{JsRuntime, JsSupport};
pub use params::*;
pub use payload::*;
pub use request::{Request, RequestError};
pub use request_options::{
    download_request_with, playlist_request_with, DownloadOptions, MediaOptions, PlaylistOptions,
};

/// Serialises any wire value as one NDJSON line (compact JSON plus `\n`).
///
/// serde_json escapes control characters inside strings, so the result never contains a newline
/// before the terminating one: one value, one line.
pub fn to_json_line<T: serde::Serialize>(value: &T) -> String {
    // Serialising our own types (string keys, no non-finite floats) cannot fail.
    let mut line = serde_json::to_string(value).unwrap_or_else(|_| "{}".to_owned());
    line.push('\n');
    line
}

/// Parses one NDJSON line (with or without its `\n` / `\r\n`) into any wire value.
pub fn from_json_line<T: serde::de::DeserializeOwned>(line: &str) -> Result<T, serde_json::Error> {
    serde_json::from_str(line.trim_end_matches(['\n', '\r']))
}
