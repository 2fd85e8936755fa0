//! A thin layer over frankenstein's async client that speaks the Bot API's failure modes as
//! values: flood control (429 with `retry_after`) is waited out, "message is not modified" is
//! success, and every other failure becomes a [`TgError`] the caller can log without ever
//! showing it to a user.

use std::path::PathBuf;
use std::time::Duration;

use frankenstein::client_reqwest::Bot;
use frankenstein::input_file::FileUpload;
use frankenstein::methods::{
    AnswerCallbackQueryParams, DeleteMessageParams, EditMessageCaptionParams, EditMessageTextParams,
    GetUpdatesParams, SendAudioParams, SendChatActionParams, SendDocumentParams, SendMessageParams,
    SendVideoParams, SetMyCommandsParams,
};
use frankenstein::types::{AllowedUpdate, ChatAction};
use frankenstein::types::{
    BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Message, ReplyMarkup,
};
use frankenstein::updates::Update;
use frankenstein::AsyncTelegramApi;
use thiserror::Error;

use crate::db::SendMethod;

/// How many times a call is retried after flood control or a server error before giving up.
const MAX_FLOOD_RETRIES: u32 = 3;
/// A `retry_after` above this is not waited out inline (the caller gets the error instead):
/// a user would rather see nothing than a bot frozen for minutes. `getUpdates` waits at most
/// this long too, then polls again. `TELEGRAM_MAX_RETRY_WAIT_SECS` changes it.
const MAX_INLINE_WAIT: Duration = Duration::from_secs(60);
/// Pause before retrying after a server error (5xx): doubled each time, capped at 30 s.
const FIRST_SERVER_ERROR_PAUSE: Duration = Duration::from_secs(1);

/// How long a failed call may be retried.
#[derive(Debug, Clone, Copy)]
enum Patience {
    /// [`MAX_FLOOD_RETRIES`] times, each flood-control wait at most [`Telegram::max_wait`]:
    /// replies, edits, button answers.
    Inline,
    /// As often as needed until this instant: an upload, whose file took a download to make
    /// and is kept until it is delivered or this deadline passes.
    Until(tokio::time::Instant),
}

#[derive(Debug, Error)]
pub(crate) enum TgError {
    #[error("flood control: retry after {0:?}")]
    RetryAfter(Duration),
    #[error("Telegram refused the call ({code}): {description}")]
    Refused { code: u64, description: String },
    #[error("Telegram request failed: {0}")]
    Transport(String),
}

impl TgError {
    fn from_frankenstein(error: frankenstein::Error) -> TgError {
        match error {
            frankenstein::Error::Api(response) => match response.parameters.and_then(|p| p.retry_after) {
                Some(secs) if response.error_code == 429 => {
                    TgError::RetryAfter(Duration::from_secs(u64::from(secs)))
                }
                _ => TgError::Refused {
                    code: response.error_code,
                    description: response.description,
                },
            },
            other => TgError::Transport(other.to_string()),
        }
    }

    /// Telegram's own failures (5xx), worth retrying like flood control.
    pub(crate) fn is_server_error(&self) -> bool {
        matches!(self, TgError::Refused { code, .. } if (500..600).contains(code))
    }

    /// Telegram answers an edit that changes nothing with 400 "message is not modified": the
    /// message already shows what we wanted.
    pub(crate) fn is_not_modified(&self) -> bool {
        matches!(self, TgError::Refused { code: 400, description } if description.contains("message is not modified"))
    }
}

/// A button row builder: `(text, callback_data)` pairs.
pub(crate) fn keyboard(rows: Vec<Vec<(String, String)>>) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::builder()
        .inline_keyboard(
            rows.into_iter()
                .map(|row| {
                    row.into_iter()
                        .map(|(text, data)| {
                            InlineKeyboardButton::builder()
                                .text(text)
                                .callback_data(data)
                                .build()
                        })
                        .collect()
                })
                .collect(),
        )
        .build()
}

/// What an upload carries besides the file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct MediaMeta {
    pub(crate) title: Option<String>,
    pub(crate) performer: Option<String>,
    pub(crate) duration: Option<u32>,
    pub(crate) caption: Option<String>,
    /// A JPEG of at most 320 px inside the task's directory (sent with audio, video, documents).
    pub(crate) thumbnail: Option<PathBuf>,
    pub(crate) width: Option<u32>,
    pub(crate) height: Option<u32>,
}

/// The file to send: a local path (upload) or a `file_id` Telegram already has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MediaSource {
    Path(PathBuf),
    FileId(String),
}

#[derive(Clone)]
pub(crate) struct Telegram {
    bot: Bot,
    /// The longest flood-control wait taken inline ([`MAX_INLINE_WAIT`] by default).
    max_wait: Duration,
    /// A local Bot API server (`--local`) reads files from this machine's disk: they are named
    /// by `file://` URI instead of uploaded.
    local_mode: bool,
}

impl Telegram {
    /// `api_url` is `{base}/bot{token}`.
    pub(crate) fn new(api_url: String) -> Self {
        Self {
            bot: Bot::new_url(api_url),
            max_wait: MAX_INLINE_WAIT,
            local_mode: false,
        }
    }

    /// Files are sent by local path (see [`Telegram::local_mode`]).
    pub(crate) fn in_local_mode(mut self, local_mode: bool) -> Self {
        self.local_mode = local_mode;
        self
    }

    /// A file on this machine as the Bot API takes it: a multipart upload, or in local mode its
    /// `file://` URI.
    fn file_upload(&self, path: PathBuf) -> FileUpload {
        if !self.local_mode {
            return path.into();
        }
        let absolute = std::fs::canonicalize(&path).unwrap_or(path);
        FileUpload::String(file_uri(&absolute))
    }

    /// Changes the longest flood-control wait taken inline (and the cap on `getUpdates`').
    pub(crate) fn with_max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = max_wait;
        self
    }

    /// The longest flood-control wait taken inline.
    pub(crate) fn max_wait(&self) -> Duration {
        self.max_wait
    }

    /// One long poll. Updates are returned raw, so one update of a kind this frankenstein version
    /// cannot decode is skipped instead of failing the whole batch (and stalling the offset).
    pub(crate) async fn get_updates(
        &self,
        offset: Option<i64>,
        timeout_secs: u32,
    ) -> Result<Vec<RawUpdate>, TgError> {
        let params = GetUpdatesParams::builder()
            .maybe_offset(offset)
            .timeout(timeout_secs)
            .allowed_updates(vec![
                AllowedUpdate::Message,
                AllowedUpdate::CallbackQuery,
                AllowedUpdate::InlineQuery,
                AllowedUpdate::ChosenInlineResult,
            ])
            .build();
        let response: frankenstein::response::MethodResponse<Vec<serde_json::Value>> = self
            .bot
            .request("getUpdates", Some(params))
            .await
            .map_err(TgError::from_frankenstein)?;
        Ok(response.result.into_iter().map(RawUpdate::from).collect())
    }

    pub(crate) async fn set_commands(&self, commands: &[(&str, &str)]) -> Result<(), TgError> {
        let params = SetMyCommandsParams::builder()
            .commands(
                commands
                    .iter()
                    .map(|(command, description)| {
                        BotCommand::builder()
                            .command(*command)
                            .description(*description)
                            .build()
                    })
                    .collect::<Vec<_>>(),
            )
            .build();
        self.with_flood_retry(|| self.bot.set_my_commands(&params))
            .await?;
        Ok(())
    }

    pub(crate) async fn send_text(
        &self,
        chat_id: i64,
        text: &str,
        markup: Option<InlineKeyboardMarkup>,
    ) -> Result<Message, TgError> {
        let params = SendMessageParams::builder()
            .chat_id(chat_id)
            .text(text)
            .link_preview_options(no_preview())
            .maybe_reply_markup(markup.map(ReplyMarkup::InlineKeyboardMarkup))
            .build();
        let response = self.with_flood_retry(|| self.bot.send_message(&params)).await?;
        Ok(response.result)
    }

    /// Edits a message's text (and keyboard: `None` removes it), waiting out flood control.
    pub(crate) async fn edit_text(
        &self,
        chat_id: i64,
        message_id: i32,
        text: &str,
        markup: Option<InlineKeyboardMarkup>,
    ) -> Result<(), TgError> {
        let params = edit_params(chat_id, message_id, text, markup);
        match self
            .with_flood_retry(|| self.bot.edit_message_text(&params))
            .await
        {
            Err(error) if error.is_not_modified() => Ok(()),
            other => other.map(drop),
        }
    }

    /// Replaces the caption of a sent file (a ZIP part's "part i" once the count is known).
    pub(crate) async fn edit_caption(
        &self,
        chat_id: i64,
        message_id: i32,
        caption: &str,
    ) -> Result<(), TgError> {
        let params = EditMessageCaptionParams::builder()
            .chat_id(chat_id)
            .message_id(message_id)
            .caption(caption)
            .build();
        match self
            .with_flood_retry(|| self.bot.edit_message_caption(&params))
            .await
        {
            Err(error) if error.is_not_modified() => Ok(()),
            other => other.map(drop),
        }
    }

    /// Like [`Telegram::edit_text`] but never waits: progress edits are best effort, and a
    /// [`TgError::RetryAfter`] tells the caller when it may edit again.
    pub(crate) async fn try_edit_text(
        &self,
        chat_id: i64,
        message_id: i32,
        text: &str,
        markup: Option<InlineKeyboardMarkup>,
    ) -> Result<(), TgError> {
        let params = edit_params(chat_id, message_id, text, markup);
        match self.bot.edit_message_text(&params).await {
            Ok(_) => Ok(()),
            Err(error) => {
                let error = TgError::from_frankenstein(error);
                if error.is_not_modified() {
                    Ok(())
                } else {
                    Err(error)
                }
            }
        }
    }

    /// "uploading a video/document…" at the top of the chat while a file goes up; best effort.
    pub(crate) async fn send_chat_action(&self, chat_id: i64, action: ChatAction) {
        let params = SendChatActionParams::builder()
            .chat_id(chat_id)
            .action(action)
            .build();
        if let Err(error) = self.bot.send_chat_action(&params).await {
            tracing::debug!(%error, "chat action refused");
        }
    }

    pub(crate) async fn delete_message(&self, chat_id: i64, message_id: i32) -> Result<(), TgError> {
        let params = DeleteMessageParams::builder()
            .chat_id(chat_id)
            .message_id(message_id)
            .build();
        self.with_flood_retry(|| self.bot.delete_message(&params))
            .await
            .map(drop)
    }

    /// Answers a button tap (stops the client's spinner), optionally with a toast.
    pub(crate) async fn answer_callback(&self, query_id: &str, text: Option<&str>) -> Result<(), TgError> {
        let params = AnswerCallbackQueryParams::builder()
            .callback_query_id(query_id)
            .maybe_text(text)
            .build();
        self.with_flood_retry(|| self.bot.answer_callback_query(&params))
            .await
            .map(drop)
    }

    /// Sends media with `method`; returns the sent message (which carries the new `file_id`).
    /// Retried like a reply: for re-sending a `file_id`, which costs nothing to try again later.
    pub(crate) async fn send_media(
        &self,
        chat_id: i64,
        method: SendMethod,
        source: MediaSource,
        meta: &MediaMeta,
    ) -> Result<Message, TgError> {
        self.send_media_with(chat_id, method, source, meta, Patience::Inline)
            .await
    }

    /// Uploads a downloaded file: flood control (whatever its `retry_after`) and server errors
    /// are waited out and retried until `until`; only a wait that would end past it, or another
    /// failure, gives up.
    pub(crate) async fn upload_until(
        &self,
        chat_id: i64,
        method: SendMethod,
        source: MediaSource,
        meta: &MediaMeta,
        until: tokio::time::Instant,
    ) -> Result<Message, TgError> {
        self.send_media_with(chat_id, method, source, meta, Patience::Until(until))
            .await
    }

    async fn send_media_with(
        &self,
        chat_id: i64,
        method: SendMethod,
        source: MediaSource,
        meta: &MediaMeta,
        patience: Patience,
    ) -> Result<Message, TgError> {
        let file: FileUpload = match source {
            MediaSource::Path(path) => self.file_upload(path),
            MediaSource::FileId(id) => id.into(),
        };
        let thumbnail = meta.thumbnail.clone().map(|path| self.file_upload(path));
        let response = match method {
            SendMethod::Audio => {
                let params = SendAudioParams::builder()
                    .chat_id(chat_id)
                    .audio(file)
                    .maybe_caption(meta.caption.clone())
                    .maybe_title(meta.title.clone())
                    .maybe_performer(meta.performer.clone())
                    .maybe_duration(meta.duration)
                    .maybe_thumbnail(thumbnail)
                    .build();
                self.with_retry(patience, || self.bot.send_audio(&params)).await?
            }
            SendMethod::Video => {
                let params = SendVideoParams::builder()
                    .chat_id(chat_id)
                    .video(file)
                    .maybe_caption(meta.caption.clone())
                    .maybe_duration(meta.duration)
                    .maybe_width(meta.width)
                    .maybe_height(meta.height)
                    .maybe_thumbnail(thumbnail)
                    .supports_streaming(true)
                    .build();
                self.with_retry(patience, || self.bot.send_video(&params)).await?
            }
            SendMethod::Document => {
                let params = SendDocumentParams::builder()
                    .chat_id(chat_id)
                    .document(file)
                    .maybe_caption(meta.caption.clone())
                    .maybe_thumbnail(thumbnail)
                    .build();
                self.with_retry(patience, || self.bot.send_document(&params))
                    .await?
            }
        };
        Ok(response.result)
    }

    /// The content of a file a user sent: `getFile`, then a download from the Bot API's file
    /// endpoint (`{base}/file/bot{token}/{file_path}`). More than `max_bytes` is refused.
    pub(crate) async fn download_file(&self, file_id: &str, max_bytes: u64) -> Result<Vec<u8>, TgError> {
        let params = frankenstein::methods::GetFileParams::builder()
            .file_id(file_id)
            .build();
        let file = self.with_flood_retry(|| self.bot.get_file(&params)).await?.result;
        let too_large = |size: u64| TgError::Refused {
            code: 413,
            description: format!("the file is {size} bytes, over {max_bytes}"),
        };
        if let Some(size) = file.file_size.filter(|size| *size > max_bytes) {
            return Err(too_large(size));
        }
        let path = file
            .file_path
            .ok_or_else(|| TgError::Transport("getFile gave no file_path".to_owned()))?;
        let (base, token) = self
            .bot
            .api_url
            .rsplit_once("/bot")
            .ok_or_else(|| TgError::Transport("unexpected Bot API URL".to_owned()))?;
        let url = format!("{base}/file/bot{token}/{path}");
        let response = self
            .bot
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| TgError::Transport(e.to_string()))?;
        if !response.status().is_success() {
            return Err(TgError::Refused {
                code: u64::from(response.status().as_u16()),
                description: "file download refused".to_owned(),
            });
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|e| TgError::Transport(e.to_string()))?;
        if bytes.len() as u64 > max_bytes {
            return Err(too_large(bytes.len() as u64));
        }
        Ok(bytes.to_vec())
    }

    /// The bot's own account (`getMe`): its `username` makes `t.me` deep links.
    pub(crate) async fn get_me(&self) -> Result<frankenstein::types::User, TgError> {
        let response = self.with_flood_retry(|| self.bot.get_me()).await?;
        Ok(response.result)
    }

    /// Answers an inline query (stops the client's spinner). Always personal: what a user may
    /// see depends on who asks (`ALLOWED_CHAT_IDS`, their search share), so Telegram must not
    /// hand one user's answer to another.
    pub(crate) async fn answer_inline_query(
        &self,
        query_id: &str,
        results: Vec<frankenstein::inline_mode::InlineQueryResult>,
        button: Option<frankenstein::inline_mode::InlineQueryResultsButton>,
        cache_time_secs: u32,
    ) -> Result<(), TgError> {
        let params = frankenstein::methods::AnswerInlineQueryParams::builder()
            .inline_query_id(query_id)
            .results(results)
            .cache_time(cache_time_secs)
            .is_personal(true)
            .maybe_button(button)
            .build();
        self.with_flood_retry(|| self.bot.answer_inline_query(&params))
            .await
            .map(drop)
    }

    /// Runs `call`, sleeping out flood control up to [`MAX_FLOOD_RETRIES`] times.
    async fn with_flood_retry<T, F, Fut>(&self, call: F) -> Result<T, TgError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, frankenstein::Error>>,
    {
        self.with_retry(Patience::Inline, call).await
    }

    /// Runs `call`, retrying flood control (after its `retry_after`) and server errors (after
    /// 1 s, 2 s, 4 s, … at most 30 s) as `patience` allows.
    async fn with_retry<T, F, Fut>(&self, patience: Patience, call: F) -> Result<T, TgError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, frankenstein::Error>>,
    {
        let mut attempt: u32 = 0;
        loop {
            let error = match call().await.map_err(TgError::from_frankenstein) {
                Err(error) => error,
                ok => return ok,
            };
            let wait = match &error {
                TgError::RetryAfter(wait) => *wait,
                error if error.is_server_error() => FIRST_SERVER_ERROR_PAUSE
                    .saturating_mul(1 << attempt.min(5))
                    .min(Duration::from_secs(30)),
                _ => return Err(error),
            };
            let allowed = match patience {
                Patience::Inline => attempt < MAX_FLOOD_RETRIES && wait <= self.max_wait,
                Patience::Until(until) => tokio::time::Instant::now() + wait <= until,
            };
            if !allowed {
                return Err(error);
            }
            attempt += 1;
            tracing::warn!(%error, ?wait, attempt, "Telegram call failed, retrying");
            tokio::time::sleep(wait).await;
        }
    }
}

fn edit_params(
    chat_id: i64,
    message_id: i32,
    text: &str,
    markup: Option<InlineKeyboardMarkup>,
) -> EditMessageTextParams {
    EditMessageTextParams::builder()
        .chat_id(chat_id)
        .message_id(message_id)
        .text(text)
        .link_preview_options(no_preview())
        .maybe_reply_markup(markup)
        .build()
}

/// `file://` and the path, every byte outside `A-Z a-z 0-9 - . _ ~ /` percent-encoded.
fn file_uri(path: &std::path::Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut uri = String::from("file://");
    for &byte in path.as_os_str().as_bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            uri.push(char::from(byte));
        } else {
            uri.push_str(&format!("%{byte:02X}"));
        }
    }
    uri
}

/// Status and menu messages quote links; a preview card under each would bury the text.
fn no_preview() -> LinkPreviewOptions {
    LinkPreviewOptions::builder().is_disabled(true).build()
}

/// One update from `getUpdates`: its id (always readable, so the offset can advance) and the
/// decoded update when this frankenstein version understands it.
#[derive(Debug)]
pub(crate) struct RawUpdate {
    pub(crate) update_id: Option<i64>,
    pub(crate) update: Option<Update>,
}

impl From<serde_json::Value> for RawUpdate {
    fn from(value: serde_json::Value) -> Self {
        let update_id = value.get("update_id").and_then(serde_json::Value::as_i64);
        let update = match serde_json::from_value::<Update>(value) {
            Ok(update) => Some(update),
            Err(error) => {
                tracing::warn!(?update_id, %error, "skipping an update this bot cannot decode");
                None
            }
        };
        Self { update_id, update }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use frankenstein::response::{ErrorResponse, ResponseParameters};

    fn api_error(code: u64, description: &str, retry_after: Option<u16>) -> frankenstein::Error {
        frankenstein::Error::Api(ErrorResponse {
            ok: false,
            description: description.into(),
            error_code: code,
            parameters: retry_after.map(|secs| ResponseParameters {
                migrate_to_chat_id: None,
                retry_after: Some(secs),
            }),
        })
    }

    #[test]
    fn flood_control_and_not_modified_are_recognised() {
        let flood = TgError::from_frankenstein(api_error(429, "Too Many Requests: retry after 3", Some(3)));
        assert!(matches!(flood, TgError::RetryAfter(d) if d == Duration::from_secs(3)));
        let not_modified = TgError::from_frankenstein(api_error(
            400,
            "Bad Request: message is not modified: specified new message content",
            None,
        ));
        assert!(not_modified.is_not_modified());
        let other = TgError::from_frankenstein(api_error(400, "Bad Request: chat not found", None));
        assert!(!other.is_not_modified());
        assert!(matches!(other, TgError::Refused { code: 400, .. }));
    }

    #[test]
    fn raw_updates_keep_their_id_even_when_undecodable() {
        let good = RawUpdate::from(serde_json::json!({
            "update_id": 5,
            "message": {"message_id": 1, "date": 0, "chat": {"id": 7, "type": "private"}, "text": "hi"}
        }));
        assert_eq!(good.update_id, Some(5));
        assert!(good.update.is_some());
        let unknown = RawUpdate::from(serde_json::json!({"update_id": 6, "some_future_kind": {}}));
        assert_eq!(unknown.update_id, Some(6));
        assert!(unknown.update.is_none());
    }

    #[test]
    fn local_files_are_named_by_percent_encoded_uris() {
        assert_eq!(
            file_uri(std::path::Path::new("/srv/dl/1/tg-a/Song #1 (ü).mp3")),
            "file:///srv/dl/1/tg-a/Song%20%231%20%28%C3%BC%29.mp3"
        );
    }

    #[test]
    fn keyboards_carry_text_and_callback_data() {
        let markup = keyboard(vec![vec![("🎵 Audio".into(), "d:ABCDEFGHIJ:a".into())]]);
        let json = serde_json::to_value(&markup).expect("serialise");
        assert_eq!(json["inline_keyboard"][0][0]["text"], "🎵 Audio");
        assert_eq!(json["inline_keyboard"][0][0]["callback_data"], "d:ABCDEFGHIJ:a");
    }
}
