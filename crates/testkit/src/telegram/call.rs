//! What a test sees of the calls the fake received ([`Call`], [`UploadedFile`]) and what it can
//! make the next call fail with ([`Fault`]).
use std::time::Instant;

use serde_json::Value;

/// One request the fake received on `/bot<token>/<method>`, recorded when it was answered.
#[derive(Debug, Clone)]
pub struct Call {
    /// Position in [`super::FakeBotApi::calls`]; lets a test ignore calls made before a point
    /// (`c.seq >= mark`).
    pub seq: usize,
    /// The method as Telegram spells it (`sendMessage`), or as requested when it is unknown.
    pub method: String,
    /// The parameters as one JSON object: the JSON body, or the form/query fields with JSON text
    /// (numbers, `reply_markup`, ...) decoded. Uploaded files are in [`Call::files`] instead.
    pub params: Value,
    /// Files sent as multipart parts with a filename.
    pub files: Vec<UploadedFile>,
    /// The HTTP status answered (200, or the `error_code` of a refusal).
    pub status: u16,
    /// The JSON body answered.
    pub response: Value,
    /// When the request arrived (a long poll is recorded at its end but keeps its arrival time).
    pub at: Instant,
}

impl Call {
    /// Whether Telegram would have accepted this call.
    pub fn succeeded(&self) -> bool {
        self.status == 200
    }

    /// The `result` the call returned, if it succeeded.
    pub fn result(&self) -> Option<&Value> {
        self.succeeded().then(|| &self.response["result"])
    }

    /// The uploaded file sent in the form field `field`.
    pub fn file(&self, field: &str) -> Option<&UploadedFile> {
        self.files.iter().find(|file| file.field == field)
    }
}

/// A file part of a multipart request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedFile {
    /// The form field name (`audio`, or the name an `attach://` reference points at).
    pub field: String,
    /// The filename the client gave the part.
    pub filename: String,
    /// The part's `Content-Type`, when the client sent one.
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
}

/// A failure to inject into the next call of one method (see [`super::FakeBotApi::fail_next`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// 429 "Too Many Requests: retry after N" with `parameters.retry_after = N`, what flood control
    /// answers.
    TooManyRequests { retry_after: u32 },
    /// 400 "Bad Request: message is not modified: ...", what an edit that changes nothing gets.
    NotModified,
    /// Any status with the given description (used verbatim, e.g. "Bad Request: chat not found").
    Status(u16, String),
}
