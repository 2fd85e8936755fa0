//! What a test sees of the calls the fake received ([`Call`], [`UploadedFile`]) and what it can
//! make the next call fail with ([`Fault`]).
use std::path::PathBuf;
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
    /// Local mode ([`super::FakeBotApi::set_local_mode`]): files named by a local path or
    /// `file://` URI instead of uploaded, as read from disk when the call arrived.
    pub local_files: Vec<LocalFile>,
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

    /// The local file the parameter `field` named (local mode only).
    pub fn local_file(&self, field: &str) -> Option<&LocalFile> {
        self.local_files.iter().find(|file| file.field == field)
    }
}

/// A file a call named by its path on the server's disk (a local Bot API server, `--local`):
/// `audio=/srv/dl/a.mp3` or `audio=file:///srv/dl/a.mp3`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalFile {
    /// The parameter (`audio`, `video`, `document`, `thumbnail`, ...).
    pub field: String,
    /// The path as given, `file://` removed and percent-decoded.
    pub path: PathBuf,
    /// The file's bytes when the call arrived.
    pub bytes: Vec<u8>,
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
    /// 413 "Request Entity Too Large", what the Bot API answers an upload over its limit (see
    /// also [`super::FakeBotApi::set_upload_limit`], which answers it by size).
    EntityTooLarge,
}
