//! A local fake of the Telegram Bot API, for driving `hermes-bot` (frankenstein 0.52, async reqwest
//! client) end to end without the internet.
//!
//! The fake listens on `127.0.0.1:<ephemeral>` and answers `GET`/`POST /bot<token>/<method>` the way
//! `api.telegram.org` does: `{"ok":true,"result":...}` on success, and
//! `{"ok":false,"error_code":N,"description":"...","parameters":{"retry_after":N}}` on failure, with
//! the HTTP status equal to `error_code` (frankenstein decides success by the status). Parameters are
//! accepted as a JSON body (what frankenstein sends for ordinary methods), as
//! `multipart/form-data` (what it sends for uploads: every non-file parameter is a text part, and
//! objects such as `reply_markup` are JSON text inside it), as a url-encoded body or as a query string.
//!
//! It keeps enough state to answer like Telegram and to catch the mistakes Telegram would reject:
//! message ids count up per chat; edits change the stored message and an edit that changes nothing is
//! refused with "message is not modified"; files uploaded get a `file_id` that can be sent again;
//! callback queries can be answered once; `callback_data` over 64 bytes, texts over 4096 characters and
//! uploads over 50 MB are refused. Every request is recorded as a [`Call`] so tests can assert on what
//! the bot sent, and [`Fault`]s can be queued to make the next call of a method fail.
//!
//! Known simplifications: `parse_mode` HTML is reduced to its visible text (tags dropped, the basic
//! character references decoded) but Markdown is kept verbatim and never rejected; http(s) URLs given
//! as media are not fetched (the call fails); photo dimensions come from the PNG/JPEG header only;
//! webhooks are accepted but never called.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::future::IntoFuture;
use std::io;
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::pin::pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Request, State as AxumState};
use axum::http::{header::CONTENT_TYPE, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use tokio::sync::{oneshot, Notify};

/// Telegram's own cap on how long a `getUpdates` long poll may be held.
const MAX_LONG_POLL: Duration = Duration::from_secs(30);
/// The Bot API refuses uploads above 50 MB with 413; tests can lower this with
/// [`FakeBotApi::set_upload_limit`] to exercise that path with small files.
const DEFAULT_UPLOAD_LIMIT: u64 = 50 * 1024 * 1024;
/// The HTTP layer reads whole requests up to this size so that an over-limit upload is answered
/// with Telegram's 413 JSON rather than a dropped connection.
const BODY_LIMIT: usize = 256 * 1024 * 1024;
const MESSAGE_TEXT_LIMIT: usize = 4096;
const CAPTION_LIMIT: usize = 1024;
const CALLBACK_DATA_LIMIT: usize = 64;
const FIRST_UPDATE_ID: u32 = 1;
/// Update kinds Telegram leaves out unless `allowed_updates` names them.
const OPT_IN_UPDATE_KINDS: [&str; 3] =
    ["chat_member", "message_reaction", "message_reaction_count"];
/// Update fields that carry a `Message`, so pushed updates can be remembered as chat history.
const MESSAGE_UPDATE_KINDS: [&str; 5] = [
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_message",
];
const NOT_MODIFIED: &str =
    "message is not modified: specified new message content and reply markup \
are exactly the same as a current content and reply markup of the message";
const CALLBACK_QUERY_EXPIRED: &str =
    "query is too old and response timeout expired or query ID is invalid";
const GET_UPDATES_CONFLICT: &str =
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running";
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

/// Every method name of the Bot API version frankenstein 0.52 speaks. Names are matched
/// case-insensitively, as Telegram does; anything else is answered with 404.
#[rustfmt::skip]
const KNOWN_METHODS: &[&str] = &[
    "addStickerToSet", "answerCallbackQuery", "answerChatJoinRequestQuery", "answerGuestQuery",
    "answerInlineQuery", "answerPreCheckoutQuery", "answerShippingQuery", "answerWebAppQuery",
    "approveChatJoinRequest", "approveSuggestedPost", "banChatMember", "banChatSenderChat", "close",
    "closeForumTopic", "closeGeneralForumTopic", "convertGiftToStars", "copyMessage", "copyMessages",
    "createChatInviteLink", "createChatSubscriptionInviteLink", "createForumTopic",
    "createInvoiceLink", "createNewStickerSet", "declineChatJoinRequest", "declineSuggestedPost",
    "deleteAllMessageReactions", "deleteBusinessMessages", "deleteChatPhoto", "deleteChatStickerSet",
    "deleteEphemeralMessage", "deleteForumTopic", "deleteMessage", "deleteMessageReaction",
    "deleteMessages", "deleteMyCommands", "deleteStickerFromSet", "deleteStickerSet", "deleteStory",
    "deleteWebhook", "editChatInviteLink", "editChatSubscriptionInviteLink",
    "editEphemeralMessageCaption", "editEphemeralMessageMedia", "editEphemeralMessageReplyMarkup",
    "editForumTopic", "editGeneralForumTopic", "editMessageCaption", "editMessageChecklist",
    "editMessageLiveLocation", "editMessageMedia", "editMessageReplyMarkup", "editMessageText",
    "editStory", "editUserStarSubscription", "exportChatInviteLink", "forwardMessage",
    "forwardMessages", "getAvailableGifts", "getBusinessAccountGifts",
    "getBusinessAccountStarBalance", "getBusinessConnection", "getChat", "getChatAdministrators",
    "getChatGifts", "getChatMember", "getChatMemberCount", "getChatMenuButton",
    "getCustomEmojiStickers", "getFile", "getForumTopicIconStickers", "getGameHighScores",
    "getManagedBotAccessSettings", "getManagedBotToken", "getMe", "getMyCommands",
    "getMyDefaultAdministratorRights", "getMyDescription", "getMyName", "getMyShortDescription",
    "getMyStarBalance", "getStarTransactions", "getStickerSet", "getUpdates", "getUserChatBoosts",
    "getUserGifts", "getUserPersonalChatMessages", "getUserProfileAudios", "getUserProfilePhotos",
    "getWebhookInfo", "giftPremiumSubscription", "hideGeneralForumTopic", "leaveChat", "logOut",
    "pinChatMessage", "postStory", "promoteChatMember", "readBusinessMessage", "refundStarPayment",
    "removeBusinessAccountProfilePhoto", "removeChatVerification", "removeMyProfilePhoto",
    "removeUserVerification", "reopenForumTopic", "reopenGeneralForumTopic",
    "replaceManagedBotToken", "replaceStickerInSet", "repostStory", "restrictChatMember",
    "revokeChatInviteLink", "savePreparedInlineMessage", "savePreparedKeyboardButton",
    "sendAnimation", "sendAudio", "sendChatAction", "sendChatJoinRequestWebApp", "sendChecklist",
    "sendContact", "sendDice", "sendDocument", "sendGame", "sendGift", "sendInvoice",
    "sendLivePhoto", "sendLocation", "sendMediaGroup", "sendMessage", "sendMessageDraft",
    "sendPaidMedia", "sendPhoto", "sendPoll", "sendRichMessage", "sendRichMessageDraft",
    "sendSticker", "sendVenue", "sendVideo", "sendVideoNote", "sendVoice", "setBusinessAccountBio",
    "setBusinessAccountGiftSettings", "setBusinessAccountName", "setBusinessAccountProfilePhoto",
    "setBusinessAccountUsername", "setChatAdministratorCustomTitle", "setChatDescription",
    "setChatMemberTag", "setChatMenuButton", "setChatPermissions", "setChatStickerSet",
    "setChatTitle", "setCustomEmojiStickerSetThumbnail", "setGameScore",
    "setManagedBotAccessSettings", "setMessageReaction", "setMyCommands",
    "setMyDefaultAdministratorRights", "setMyDescription", "setMyName", "setMyProfilePhoto",
    "setMyShortDescription", "setPassportDataErrors", "setStickerEmojiList", "setStickerKeywords",
    "setStickerMaskPosition", "setStickerPositionInSet", "setStickerSetThumbnail",
    "setStickerSetTitle", "setUserEmojiStatus", "setWebhook", "stopMessageLiveLocation", "stopPoll",
    "transferBusinessAccountStars", "transferGift", "unbanChatMember", "unbanChatSenderChat",
    "unhideGeneralForumTopic", "unpinAllChatMessages", "unpinAllForumTopicMessages",
    "unpinAllGeneralForumTopicMessages", "unpinChatMessage", "upgradeGift", "verifyChat",
    "verifyUser",
];

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

/// One request the fake received on `/bot<token>/<method>`, recorded when it was answered.
#[derive(Debug, Clone)]
pub struct Call {
    /// Position in [`FakeBotApi::calls`]; lets a test ignore calls made before a point
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

/// A failure to inject into the next call of one method (see [`FakeBotApi::fail_next`]).
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

/// The fake server. Starts on [`FakeBotApi::start`]; dropping it stops the server and cuts any
/// request still in flight (a waiting long poll included).
pub struct FakeBotApi {
    shared: Arc<Shared>,
    base_url: String,
    shutdown: Option<oneshot::Sender<()>>,
    server_thread: Option<JoinHandle<()>>,
}

impl FakeBotApi {
    /// Starts the fake for `token` (give it the shape `"<bot id>:<secret>"`; the digits before the
    /// colon become the bot's user id, as with real tokens).
    ///
    /// # Panics
    /// When no loopback port can be bound or no thread started, which leaves a test nothing to run
    /// against; [`FakeBotApi::try_start`] returns the error instead.
    pub fn start(token: &str) -> FakeBotApi {
        match FakeBotApi::try_start(token) {
            Ok(fake) => fake,
            Err(error) => panic!("cannot start the fake Telegram Bot API: {error}"),
        }
    }

    /// Starts the server on its own thread and tokio runtime, so it serves sync and async tests alike
    /// and keeps serving while the test's own runtime is blocked.
    pub fn try_start(token: &str) -> io::Result<FakeBotApi> {
        let shared = Arc::new(Shared::new(token));
        let listener = StdTcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        listener.set_nonblocking(true)?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let listener = {
            // `enter` (unlike `block_on`) is allowed inside a caller's runtime.
            let _runtime_context = runtime.enter();
            tokio::net::TcpListener::from_std(listener)?
        };
        let (shutdown, shutdown_requested) = oneshot::channel();
        let app = router(Arc::clone(&shared));
        let server_thread = std::thread::Builder::new()
            .name("fake-telegram".to_owned())
            .spawn(move || serve_until_shutdown(runtime, listener, app, shutdown_requested))?;
        Ok(FakeBotApi {
            shared,
            base_url,
            shutdown: Some(shutdown),
            server_thread: Some(server_thread),
        })
    }

    /// `http://127.0.0.1:PORT`, what the bot gets as `TELEGRAM_API_URL`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// `{base_url}/bot{token}`, what `frankenstein::client_reqwest::Bot::new_url` takes.
    pub fn api_url(&self) -> String {
        format!("{}/bot{}", self.base_url, self.shared.token)
    }

    pub fn token(&self) -> &str {
        &self.shared.token
    }

    /// The bot's own `User` object, as `getMe` returns it.
    pub fn bot_user(&self) -> Value {
        self.shared.bot_user.clone()
    }

    /// Queues an update for `getUpdates` and wakes a waiting long poll. The `update_id` is assigned
    /// here (increasing); any `update_id` in `update` is replaced. Messages in the update are
    /// remembered as chat history and callback query ids become answerable. Returns the `update_id`.
    ///
    /// # Panics
    /// When `update` is not a JSON object: that is a mistake in the test, not data to handle.
    pub fn push_update(&self, update: Value) -> u32 {
        let Value::Object(update) = update else {
            panic!(
                "push_update needs a JSON object such as {{\"message\": {{...}}}}, got {update}"
            );
        };
        let update_id = {
            let mut state = self.shared.lock();
            state.absorb_update(&update);
            state.updates.push(update)
        };
        self.shared.updates_changed.notify_waiters();
        update_id
    }

    /// An update with a text message from user `from_id` in chat `chat_id` (private when positive,
    /// a group when negative, a supergroup from -100…), with a fresh message id of that chat and the
    /// `bot_command`/`url` entities Telegram would mark. Push it with [`FakeBotApi::push_update`].
    pub fn text_message_update(&self, chat_id: i64, from_id: u64, text: &str) -> Value {
        let user = user_json(from_id);
        let mut message = new_user_message(&mut self.shared.lock(), chat_id, user);
        set_text_field(
            &mut message,
            TextField::Text,
            Some(&RenderedText::plain(text)),
        );
        json!({ "message": message })
    }

    /// An update with a document (`file_name`, `bytes`) sent by user `from_id` in chat `chat_id`,
    /// with an optional caption (where a command such as `/cookies` goes, with its
    /// `bot_command` entity). The file is stored like an upload: `getFile` answers for its
    /// `file_id` and its bytes are served at `/file/bot<token>/<file_path>`.
    pub fn document_message_update(
        &self,
        chat_id: i64,
        from_id: u64,
        file_name: &str,
        bytes: &[u8],
        caption: Option<&str>,
    ) -> Value {
        let user = user_json(from_id);
        let mut state = self.shared.lock();
        let upload = UploadedFile {
            field: "document".to_owned(),
            filename: file_name.to_owned(),
            content_type: None,
            bytes: bytes.to_vec(),
        };
        let (file_id, file_unique_id) = new_file_ids(&mut state, MediaKind::Document);
        let object = media_object(MediaKind::Document, &file_id, &file_unique_id, &upload, &Map::new());
        let extension = file_name.rsplit_once('.').map_or("", |(_, ext)| ext);
        let file_path = format!("{}/file_{}.{}", MediaKind::Document.storage_folder(), state.next_file_seq, extension);
        state.files.insert(
            file_id,
            StoredFile {
                kind: MediaKind::Document,
                object: object.clone(),
                file_unique_id,
                file_size: bytes.len(),
                file_path,
                bytes: bytes.to_vec(),
            },
        );
        let mut message = new_user_message(&mut state, chat_id, user);
        message["document"] = object;
        if let Some(caption) = caption {
            set_text_field(&mut message, TextField::Caption, Some(&RenderedText::plain(caption)));
        }
        json!({ "message": message })
    }

    /// An update with user `from_id` pressing a button carrying `data` under message `message_id` of
    /// chat `chat_id`. `message` is that message as the fake last saw it (normally one the bot sent
    /// or edited), or Telegram's inaccessible-message shape (`date: 0`) when it is unknown.
    pub fn callback_query_update(
        &self,
        chat_id: i64,
        from_id: u64,
        message_id: i32,
        data: &str,
    ) -> Value {
        let user = user_json(from_id);
        let mut state = self.shared.lock();
        let message = match state.message(chat_id, i64::from(message_id)) {
            Some(message) => message.clone(),
            None => {
                let chat = state.chat_record(chat_id, Some(&user)).chat.clone();
                json!({ "chat": chat, "message_id": message_id, "date": 0 })
            }
        };
        state.next_callback_seq += 1;
        let query_id = (4_000_000_000_000_000_000_u64 + state.next_callback_seq).to_string();
        json!({
            "callback_query": {
                "id": query_id,
                "from": user,
                "message": message,
                "chat_instance": chat_instance(chat_id),
                "data": data,
            }
        })
    }

    /// Updates pushed but not yet confirmed by a `getUpdates` offset.
    pub fn pending_updates(&self) -> usize {
        self.shared.lock().updates.pending.len()
    }

    /// Every call so far, in the order they were answered.
    pub fn calls(&self) -> Vec<Call> {
        self.shared.lock().calls.clone()
    }

    /// The calls of one method (matched case-insensitively), in order.
    pub fn calls_to(&self, method: &str) -> Vec<Call> {
        let state = self.shared.lock();
        state
            .calls
            .iter()
            .filter(|call| call.method.eq_ignore_ascii_case(method))
            .cloned()
            .collect()
    }

    /// The first recorded call of `method` that satisfies `predicate` (earlier calls included),
    /// waiting up to `timeout` for one to arrive.
    pub async fn wait_for_call(
        &self,
        method: &str,
        predicate: impl Fn(&Call) -> bool,
        timeout: Duration,
    ) -> Option<Call> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let mut call_recorded = pin!(self.shared.call_recorded.notified());
            call_recorded.as_mut().enable();
            if let Some(call) = self.shared.lock().find_call(method, &predicate) {
                return Some(call);
            }
            if tokio::time::timeout_at(deadline, call_recorded)
                .await
                .is_err()
            {
                return self.shared.lock().find_call(method, &predicate);
            }
        }
    }

    /// [`FakeBotApi::wait_for_call`] for tests without a runtime (blocks the calling thread).
    pub fn wait_for_call_blocking(
        &self,
        method: &str,
        predicate: impl Fn(&Call) -> bool,
        timeout: Duration,
    ) -> Option<Call> {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        loop {
            if let Some(call) = state.find_call(method, &predicate) {
                return Some(call);
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return None;
            }
            state = match self
                .shared
                .call_recorded_sync
                .wait_timeout(state, remaining)
            {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }

    /// Makes the next call of `method` fail with `fault` instead of being served. Several faults
    /// queued for one method apply to its next calls in order, one each.
    pub fn fail_next(&self, method: &str, fault: Fault) {
        let mut state = self.shared.lock();
        state
            .faults
            .entry(method.to_ascii_lowercase())
            .or_default()
            .push_back(fault);
    }

    /// Changes the largest upload accepted (50 MB by default); bigger files get Telegram's 413.
    pub fn set_upload_limit(&self, bytes: u64) {
        self.shared.lock().upload_limit = bytes;
    }

    /// A message as it stands now (after edits), or `None` if unknown or deleted.
    pub fn message(&self, chat_id: i64, message_id: i32) -> Option<Value> {
        self.shared
            .lock()
            .message(chat_id, i64::from(message_id))
            .cloned()
    }

    /// The messages of a chat that still exist, by message id.
    pub fn chat_messages(&self, chat_id: i64) -> Vec<Value> {
        let state = self.shared.lock();
        state
            .chats
            .get(&chat_id)
            .map(|chat| chat.messages.values().cloned().collect())
            .unwrap_or_default()
    }
}

impl Drop for FakeBotApi {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            // The server may already be gone; there is nothing left to stop then.
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.server_thread.take() {
            // A panic on the server thread has already been reported by the panic hook.
            let _ = thread.join();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Server plumbing
// ---------------------------------------------------------------------------------------------

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/file/{bot_segment}/{*file_path}", get(download_file))
        .route(
            "/{bot_segment}/{method}",
            get(handle_method).post(handle_method),
        )
        .fallback(|| async { error_response(&ApiError::not_found()) })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(shared)
}

/// Runs the server until the owner asks it to stop, then drops the runtime, which also cancels the
/// per-connection tasks (a graceful shutdown would wait out long polls of up to 30 s).
fn serve_until_shutdown(
    runtime: tokio::runtime::Runtime,
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown_requested: oneshot::Receiver<()>,
) {
    runtime.block_on(async move {
        tokio::select! {
            _ = axum::serve(listener, app).into_future() => {}
            _ = shutdown_requested => {}
        }
    });
    drop(runtime);
}

async fn handle_method(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path((bot_segment, method)): Path<(String, String)>,
    request: Request,
) -> Response {
    let received_at = Instant::now();
    let Some(token) = bot_segment.strip_prefix("bot") else {
        return error_response(&ApiError::not_found());
    };
    let known_method = canonical_method(&method);
    let parsed = read_api_request(request).await;
    let outcome = serve_call(&shared, token, known_method, &parsed).await;
    let (status, body) = response_parts(&outcome);
    let request = parsed.unwrap_or_default();
    shared.record(Call {
        seq: 0,
        method: known_method.unwrap_or(&method).to_owned(),
        params: Value::Object(request.params),
        files: request.files,
        status: status.as_u16(),
        response: body.clone(),
        at: received_at,
    });
    (status, Json(body)).into_response()
}

/// `GET /file/bot<token>/<file_path>`: the bytes of a file `getFile` named, as Telegram serves
/// them (404 for an unknown path or a wrong token).
async fn download_file(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path((bot_segment, file_path)): Path<(String, String)>,
) -> Response {
    if bot_segment.strip_prefix("bot") != Some(shared.token.as_str()) {
        return error_response(&ApiError::not_found());
    }
    let state = shared.lock();
    match state.files.values().find(|file| file.file_path == file_path) {
        Some(file) => (StatusCode::OK, file.bytes.clone()).into_response(),
        None => error_response(&ApiError::not_found()),
    }
}

/// Decides the answer in Telegram's order: token, method, parameters, then injected faults, then
/// the method itself.
async fn serve_call(
    shared: &Shared,
    token: &str,
    method: Option<&'static str>,
    parsed: &Result<ApiRequest, ApiError>,
) -> Result<Value, ApiError> {
    if token != shared.token {
        return Err(ApiError::unauthorized());
    }
    let Some(method) = method else {
        return Err(ApiError::not_found());
    };
    let request = parsed.as_ref().map_err(Clone::clone)?;
    if let Some(fault) = shared.lock().take_fault(method) {
        return Err(ApiError::from(fault));
    }
    if method == "getUpdates" {
        return get_updates(shared, &request.params).await;
    }
    let mut state = shared.lock();
    dispatch(shared, &mut state, method, request)
}

fn canonical_method(name: &str) -> Option<&'static str> {
    KNOWN_METHODS
        .iter()
        .copied()
        .find(|known| known.eq_ignore_ascii_case(name))
}

fn response_parts(outcome: &Result<Value, ApiError>) -> (StatusCode, Value) {
    match outcome {
        Ok(result) => (StatusCode::OK, json!({ "ok": true, "result": result })),
        Err(error) => (error.status(), error.body()),
    }
}

fn error_response(error: &ApiError) -> Response {
    (error.status(), Json(error.body())).into_response()
}

/// A refusal, shaped like Telegram's error responses.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ApiError {
    code: u16,
    description: String,
    retry_after: Option<u32>,
}

impl ApiError {
    fn new(code: u16, description: impl Into<String>) -> ApiError {
        ApiError {
            code,
            description: description.into(),
            retry_after: None,
        }
    }

    fn bad_request(detail: impl std::fmt::Display) -> ApiError {
        ApiError::new(400, format!("Bad Request: {detail}"))
    }

    fn unauthorized() -> ApiError {
        ApiError::new(401, "Unauthorized")
    }

    fn not_found() -> ApiError {
        ApiError::new(404, "Not Found")
    }

    fn too_large() -> ApiError {
        ApiError::new(413, "Request Entity Too Large")
    }

    fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn body(&self) -> Value {
        let mut body =
            json!({ "ok": false, "error_code": self.code, "description": self.description });
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
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Request decoding
// ---------------------------------------------------------------------------------------------

/// A call's parameters and files, however they were encoded.
#[derive(Debug, Clone, Default)]
struct ApiRequest {
    params: Map<String, Value>,
    files: Vec<UploadedFile>,
}

impl ApiRequest {
    fn file(&self, field: &str) -> Option<&UploadedFile> {
        self.files.iter().find(|file| file.field == field)
    }
}

async fn read_api_request(request: Request) -> Result<ApiRequest, ApiError> {
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
        Err(error) => Err(ApiError::bad_request(format!(
            "can't parse JSON body: {error}"
        ))),
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
            let name = percent_decode(name);
            let value = form_value(&name, &percent_decode(value));
            (name, value)
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escaped = bytes
            .get(index + 1..index + 3)
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (bytes[index], escaped) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                index += 3;
            }
            (b'+', _) => {
                decoded.push(b' ');
                index += 1;
            }
            (byte, _) => {
                decoded.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

// ---------------------------------------------------------------------------------------------
// Shared state
// ---------------------------------------------------------------------------------------------

struct Shared {
    token: String,
    bot_user: Value,
    state: Mutex<FakeState>,
    /// Wakes blocking waiters when a call is recorded.
    call_recorded_sync: Condvar,
    /// Wakes async waiters when a call is recorded.
    call_recorded: Notify,
    /// Wakes long polls when an update is pushed or a newer poll takes over.
    updates_changed: Notify,
}

impl Shared {
    fn new(token: &str) -> Shared {
        Shared {
            token: token.to_owned(),
            bot_user: bot_user_json(token),
            state: Mutex::new(FakeState::new()),
            call_recorded_sync: Condvar::new(),
            call_recorded: Notify::new(),
            updates_changed: Notify::new(),
        }
    }

    /// A panicking test thread must not make every later call panic too, so a poisoned lock is
    /// used as is.
    fn lock(&self) -> MutexGuard<'_, FakeState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn bot_id(&self) -> u64 {
        self.bot_user["id"].as_u64().unwrap_or_default()
    }

    fn record(&self, mut call: Call) {
        {
            let mut state = self.lock();
            call.seq = state.calls.len();
            state.calls.push(call);
        }
        self.call_recorded_sync.notify_all();
        self.call_recorded.notify_waiters();
    }
}

struct FakeState {
    calls: Vec<Call>,
    /// Keyed by lower-cased method name.
    faults: HashMap<String, VecDeque<Fault>>,
    updates: UpdateQueue,
    chats: HashMap<i64, ChatRecord>,
    files: HashMap<String, StoredFile>,
    open_callback_queries: HashSet<String>,
    commands: Value,
    next_file_seq: u64,
    next_callback_seq: u64,
    upload_limit: u64,
}

struct ChatRecord {
    chat: Value,
    next_message_id: i64,
    messages: BTreeMap<i64, Value>,
}

struct StoredFile {
    kind: MediaKind,
    /// What a message carries for it (`Audio`, or a `PhotoSize` array for photos).
    object: Value,
    file_unique_id: String,
    file_size: usize,
    file_path: String,
    /// The content, served at `/file/bot<token>/<file_path>` as Telegram serves downloads.
    bytes: Vec<u8>,
}

impl FakeState {
    fn new() -> FakeState {
        FakeState {
            calls: Vec::new(),
            faults: HashMap::new(),
            updates: UpdateQueue::new(),
            chats: HashMap::new(),
            files: HashMap::new(),
            open_callback_queries: HashSet::new(),
            commands: json!([]),
            next_file_seq: 0,
            next_callback_seq: 0,
            upload_limit: DEFAULT_UPLOAD_LIMIT,
        }
    }

    fn find_call(&self, method: &str, predicate: &impl Fn(&Call) -> bool) -> Option<Call> {
        self.calls
            .iter()
            .find(|call| call.method.eq_ignore_ascii_case(method) && predicate(call))
            .cloned()
    }

    fn take_fault(&mut self, method: &str) -> Option<Fault> {
        self.faults
            .get_mut(&method.to_ascii_lowercase())
            .and_then(VecDeque::pop_front)
    }

    /// The chat's record, created on first sight; `user` names a private chat after its user.
    fn chat_record(&mut self, chat_id: i64, user: Option<&Value>) -> &mut ChatRecord {
        self.chats.entry(chat_id).or_insert_with(|| ChatRecord {
            chat: chat_json(chat_id, user),
            next_message_id: 1,
            messages: BTreeMap::new(),
        })
    }

    fn allocate_message_id(&mut self, chat_id: i64) -> i64 {
        let chat = self.chat_record(chat_id, None);
        let message_id = chat.next_message_id;
        chat.next_message_id += 1;
        message_id
    }

    fn message(&self, chat_id: i64, message_id: i64) -> Option<&Value> {
        self.chats.get(&chat_id)?.messages.get(&message_id)
    }

    fn message_mut(&mut self, chat_id: i64, message_id: i64) -> Option<&mut Value> {
        self.chats.get_mut(&chat_id)?.messages.get_mut(&message_id)
    }

    /// Remembers a message (new or edited) so it can be edited, replied to or pressed later.
    fn store_message(&mut self, message: &Value) {
        let (Some(chat_id), Some(message_id)) = (
            message["chat"]["id"].as_i64(),
            message["message_id"].as_i64(),
        ) else {
            return;
        };
        let record = self.chat_record(chat_id, None);
        if message["chat"].is_object() {
            record.chat = message["chat"].clone();
        }
        record.next_message_id = record.next_message_id.max(message_id + 1);
        record.messages.insert(message_id, message.clone());
    }

    fn chat_id_by_username(&self, username: &str) -> Option<i64> {
        self.chats
            .iter()
            .find(|(_, record)| record.chat["username"].as_str() == Some(username))
            .map(|(id, _)| *id)
    }

    /// Side effects of a pushed update: its messages join the history, its callback query becomes
    /// answerable.
    fn absorb_update(&mut self, update: &Map<String, Value>) {
        for kind in MESSAGE_UPDATE_KINDS {
            if let Some(message) = update.get(kind) {
                self.store_message(message);
            }
        }
        if let Some(query_id) = update
            .get("callback_query")
            .and_then(|query| query.get("id"))
        {
            self.open_callback_queries.insert(value_as_text(query_id));
        }
    }

    /// A new message from the bot in `chat_id`, with the next message id of that chat.
    fn new_bot_message(&mut self, bot_user: &Value, chat_id: i64) -> Value {
        let message_id = self.allocate_message_id(chat_id);
        let chat = self.chat_record(chat_id, None).chat.clone();
        json!({
            "message_id": message_id,
            "from": bot_user,
            "chat": chat,
            "date": unix_now(),
        })
    }
}

/// Pending updates and the `getUpdates` bookkeeping Telegram does per bot.
struct UpdateQueue {
    pending: VecDeque<Value>,
    next_update_id: u32,
    /// Bumped by every `getUpdates`; a long poll that sees it move was superseded (409).
    poll_generation: u64,
    /// The last `allowed_updates` given; empty means Telegram's default set.
    allowed: Vec<String>,
}

impl UpdateQueue {
    fn new() -> UpdateQueue {
        UpdateQueue {
            pending: VecDeque::new(),
            next_update_id: FIRST_UPDATE_ID,
            poll_generation: 0,
            allowed: Vec::new(),
        }
    }

    fn push(&mut self, mut update: Map<String, Value>) -> u32 {
        let update_id = self.next_update_id;
        self.next_update_id += 1;
        update.insert("update_id".to_owned(), json!(update_id));
        self.pending.push_back(Value::Object(update));
        update_id
    }

    /// Telegram's offset rule: a positive offset confirms (forgets) every update below it; a
    /// negative one keeps only the last `-offset` updates.
    fn confirm(&mut self, offset: i64) {
        if offset > 0 {
            self.pending
                .retain(|update| update["update_id"].as_i64().is_some_and(|id| id >= offset));
        } else if offset < 0 {
            let keep = usize::try_from(offset.unsigned_abs()).unwrap_or(usize::MAX);
            let drop_count = self.pending.len().saturating_sub(keep);
            self.pending.drain(..drop_count);
        }
    }

    fn deliverable(&self, limit: usize) -> Vec<Value> {
        self.pending
            .iter()
            .filter(|update| self.is_allowed(update))
            .take(limit)
            .cloned()
            .collect()
    }

    fn is_allowed(&self, update: &Value) -> bool {
        let Some(kind) = update
            .as_object()
            .and_then(|fields| fields.keys().find(|key| key.as_str() != "update_id"))
        else {
            return false;
        };
        if self.allowed.is_empty() {
            !OPT_IN_UPDATE_KINDS.contains(&kind.as_str())
        } else {
            self.allowed.iter().any(|allowed| allowed == kind)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Methods
// ---------------------------------------------------------------------------------------------

fn dispatch(
    shared: &Shared,
    state: &mut FakeState,
    method: &str,
    request: &ApiRequest,
) -> Result<Value, ApiError> {
    let params = &request.params;
    match method {
        "getMe" => Ok(shared.bot_user.clone()),
        "sendMessage" => send_message(shared, state, params),
        "editMessageText" => edit_message_text(shared, state, params),
        "editMessageCaption" => edit_message_caption(shared, state, params),
        "editMessageReplyMarkup" => edit_message_reply_markup(shared, state, params),
        "deleteMessage" => delete_message(state, params),
        "deleteMessages" => delete_messages(state, params),
        "answerCallbackQuery" => answer_callback_query(state, params),
        "setMyCommands" => set_my_commands(state, params),
        "getMyCommands" => Ok(state.commands.clone()),
        "deleteMyCommands" => {
            state.commands = json!([]);
            Ok(Value::Bool(true))
        }
        "getFile" => get_file(state, params),
        "sendChatAction" => resolve_chat_id(state, params).map(|_| Value::Bool(true)),
        _ => match MediaKind::for_method(method) {
            Some(kind) => send_media(shared, state, request, kind),
            None => Ok(Value::Bool(true)),
        },
    }
}

/// Long poll: answers at once when updates are pending, otherwise waits for a push or for
/// `timeout` seconds (at most 30). A newer `getUpdates` ends an older waiting one with 409, as on
/// Telegram when two bot instances poll.
async fn get_updates(shared: &Shared, params: &Map<String, Value>) -> Result<Value, ApiError> {
    let limit = param_i64(params, "limit").map_or(100, |limit| limit.clamp(1, 100));
    let limit = usize::try_from(limit).unwrap_or(100);
    let timeout = param_i64(params, "timeout").map_or(0, |seconds| seconds.max(0));
    let timeout = Duration::from_secs(timeout.unsigned_abs()).min(MAX_LONG_POLL);
    let deadline = tokio::time::Instant::now() + timeout;
    let generation = {
        let mut state = shared.lock();
        let queue = &mut state.updates;
        if let Some(offset) = param_i64(params, "offset") {
            queue.confirm(offset);
        }
        if let Some(Value::Array(kinds)) = params.get("allowed_updates") {
            queue.allowed = kinds
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect();
        }
        queue.poll_generation += 1;
        queue.poll_generation
    };
    shared.updates_changed.notify_waiters();
    loop {
        let mut changed = pin!(shared.updates_changed.notified());
        changed.as_mut().enable();
        {
            let state = shared.lock();
            if state.updates.poll_generation != generation {
                return Err(ApiError::new(409, GET_UPDATES_CONFLICT));
            }
            let batch = state.updates.deliverable(limit);
            if !batch.is_empty() || tokio::time::Instant::now() >= deadline {
                return Ok(Value::Array(batch));
            }
        }
        // On timeout the next turn of the loop answers with whatever is there (nothing).
        let _ = tokio::time::timeout_at(deadline, changed).await;
    }
}

fn send_message(
    shared: &Shared,
    state: &mut FakeState,
    params: &Map<String, Value>,
) -> Result<Value, ApiError> {
    let chat_id = resolve_chat_id(state, params)?;
    let text = required_text(params)?;
    let markup = inline_markup(params)?;
    let reply_to = replied_message(state, chat_id, params)?;
    let mut message = state.new_bot_message(&shared.bot_user, chat_id);
    set_text_field(&mut message, TextField::Text, Some(&text));
    finish_new_message(state, message, markup, reply_to)
}

fn send_media(
    shared: &Shared,
    state: &mut FakeState,
    request: &ApiRequest,
    kind: MediaKind,
) -> Result<Value, ApiError> {
    let params = &request.params;
    let chat_id = resolve_chat_id(state, params)?;
    let caption = optional_caption(params)?;
    let markup = inline_markup(params)?;
    let reply_to = replied_message(state, chat_id, params)?;
    let media = resolve_media(state, request, kind)?;
    let mut message = state.new_bot_message(&shared.bot_user, chat_id);
    message[kind.field()] = media;
    set_text_field(&mut message, TextField::Caption, caption.as_ref());
    finish_new_message(state, message, markup, reply_to)
}

fn finish_new_message(
    state: &mut FakeState,
    mut message: Value,
    markup: Option<Value>,
    reply_to: Option<Value>,
) -> Result<Value, ApiError> {
    if let Some(reply_to) = reply_to {
        message["reply_to_message"] = reply_to;
    }
    set_markup(&mut message, markup);
    state.store_message(&message);
    Ok(message)
}

fn edit_message_text(
    shared: &Shared,
    state: &mut FakeState,
    params: &Map<String, Value>,
) -> Result<Value, ApiError> {
    let text = required_text(params)?;
    let markup = inline_markup(params)?;
    let Some(message) = editable_message(shared, state, params, "edit")? else {
        return Ok(Value::Bool(true));
    };
    if message.get("text").is_none() {
        return Err(ApiError::bad_request(
            "there is no text in the message to edit",
        ));
    }
    if message["text"] == text.text && message.get("reply_markup") == markup.as_ref() {
        return Err(ApiError::bad_request(NOT_MODIFIED));
    }
    set_text_field(message, TextField::Text, Some(&text));
    Ok(finish_edit(message, markup))
}

fn edit_message_caption(
    shared: &Shared,
    state: &mut FakeState,
    params: &Map<String, Value>,
) -> Result<Value, ApiError> {
    let caption = optional_caption(params)?;
    let markup = inline_markup(params)?;
    let Some(message) = editable_message(shared, state, params, "edit")? else {
        return Ok(Value::Bool(true));
    };
    let new_caption = caption
        .as_ref()
        .map(|caption| Value::String(caption.text.clone()));
    if message.get("caption") == new_caption.as_ref()
        && message.get("reply_markup") == markup.as_ref()
    {
        return Err(ApiError::bad_request(NOT_MODIFIED));
    }
    set_text_field(message, TextField::Caption, caption.as_ref());
    Ok(finish_edit(message, markup))
}

fn edit_message_reply_markup(
    shared: &Shared,
    state: &mut FakeState,
    params: &Map<String, Value>,
) -> Result<Value, ApiError> {
    let markup = inline_markup(params)?;
    let Some(message) = editable_message(shared, state, params, "edit")? else {
        return Ok(Value::Bool(true));
    };
    if message.get("reply_markup") == markup.as_ref() {
        return Err(ApiError::bad_request(NOT_MODIFIED));
    }
    Ok(finish_edit(message, markup))
}

/// Edits replace the keyboard: one left out of the edit is removed, as on Telegram.
fn finish_edit(message: &mut Value, markup: Option<Value>) -> Value {
    set_markup(message, markup);
    message["edit_date"] = json!(unix_now());
    message.clone()
}

/// The stored message an edit targets, or `None` for inline messages (which the fake does not
/// track and Telegram answers with `true`).
fn editable_message<'a>(
    shared: &Shared,
    state: &'a mut FakeState,
    params: &Map<String, Value>,
    verb: &str,
) -> Result<Option<&'a mut Value>, ApiError> {
    if params
        .get("inline_message_id")
        .is_some_and(|id| !id.is_null())
    {
        return Ok(None);
    }
    let message_id = param_i64(params, "message_id")
        .ok_or_else(|| ApiError::bad_request("message identifier is not specified"))?;
    let chat_id = resolve_chat_id(state, params)?;
    let bot_id = shared.bot_id();
    let message = state
        .message_mut(chat_id, message_id)
        .ok_or_else(|| ApiError::bad_request(format!("message to {verb} not found")))?;
    if message["from"]["id"].as_u64() != Some(bot_id) {
        return Err(ApiError::bad_request(format!("message can't be {verb}ed")));
    }
    Ok(Some(message))
}

fn delete_message(state: &mut FakeState, params: &Map<String, Value>) -> Result<Value, ApiError> {
    let chat_id = resolve_chat_id(state, params)?;
    let message_id = param_i64(params, "message_id")
        .ok_or_else(|| ApiError::bad_request("message identifier is not specified"))?;
    let removed = state
        .chats
        .get_mut(&chat_id)
        .and_then(|chat| chat.messages.remove(&message_id));
    match removed {
        Some(_) => Ok(Value::Bool(true)),
        None => Err(ApiError::bad_request("message to delete not found")),
    }
}

fn delete_messages(state: &mut FakeState, params: &Map<String, Value>) -> Result<Value, ApiError> {
    let chat_id = resolve_chat_id(state, params)?;
    let Some(Value::Array(ids)) = params.get("message_ids") else {
        return Err(ApiError::bad_request(
            "message identifiers are not specified",
        ));
    };
    if let Some(chat) = state.chats.get_mut(&chat_id) {
        for id in ids.iter().filter_map(Value::as_i64) {
            chat.messages.remove(&id);
        }
    }
    Ok(Value::Bool(true))
}

/// A callback query can be answered once; unknown or already answered ids are refused.
fn answer_callback_query(
    state: &mut FakeState,
    params: &Map<String, Value>,
) -> Result<Value, ApiError> {
    let query_id = params
        .get("callback_query_id")
        .map(value_as_text)
        .unwrap_or_default();
    if state.open_callback_queries.remove(&query_id) {
        Ok(Value::Bool(true))
    } else {
        Err(ApiError::bad_request(CALLBACK_QUERY_EXPIRED))
    }
}

fn set_my_commands(state: &mut FakeState, params: &Map<String, Value>) -> Result<Value, ApiError> {
    let Some(Value::Array(commands)) = params.get("commands") else {
        return Err(ApiError::bad_request("can't parse commands JSON object"));
    };
    if !commands
        .iter()
        .all(|command| is_valid_command_name(&command["command"]))
    {
        return Err(ApiError::bad_request("BOT_COMMAND_INVALID"));
    }
    state.commands = Value::Array(commands.clone());
    Ok(Value::Bool(true))
}

/// Telegram's rule for command names: 1-32 characters of lower-case letters, digits and `_`
/// (a leading `/` is tolerated).
fn is_valid_command_name(command: &Value) -> bool {
    let Some(name) = command.as_str().map(|name| name.trim_start_matches('/')) else {
        return false;
    };
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_')
}

fn get_file(state: &FakeState, params: &Map<String, Value>) -> Result<Value, ApiError> {
    let file_id = params.get("file_id").map(value_as_text).unwrap_or_default();
    let file = state
        .files
        .get(&file_id)
        .ok_or_else(|| ApiError::bad_request("invalid file_id"))?;
    Ok(json!({
        "file_id": file_id,
        "file_unique_id": file.file_unique_id,
        "file_size": file.file_size,
        "file_path": file.file_path,
    }))
}

// ---------------------------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------------------------

/// Integers may arrive as JSON numbers or as numeric strings; Telegram takes both.
fn param_i64(params: &Map<String, Value>, name: &str) -> Option<i64> {
    match params.get(name)? {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

fn value_as_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// `chat_id` as a number, a numeric string or `@username` of a chat the fake has seen.
fn resolve_chat_id(state: &FakeState, params: &Map<String, Value>) -> Result<i64, ApiError> {
    match params.get("chat_id") {
        None | Some(Value::Null) => Err(ApiError::bad_request("chat_id is empty")),
        Some(Value::String(text)) if text.trim().is_empty() => {
            Err(ApiError::bad_request("chat_id is empty"))
        }
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

fn required_text(params: &Map<String, Value>) -> Result<RenderedText, ApiError> {
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

fn optional_caption(params: &Map<String, Value>) -> Result<Option<RenderedText>, ApiError> {
    let Some(raw) = params.get("caption").filter(|caption| !caption.is_null()) else {
        return Ok(None);
    };
    let caption = RenderedText::new(&value_as_text(raw), parse_mode(params));
    if utf16_len(&caption.text) > CAPTION_LIMIT {
        return Err(ApiError::bad_request("message caption is too long"));
    }
    Ok((!caption.text.is_empty()).then_some(caption))
}

fn parse_mode(params: &Map<String, Value>) -> Option<&str> {
    params.get("parse_mode").and_then(Value::as_str)
}

/// The message a new one replies to (`reply_parameters.message_id` or the older
/// `reply_to_message_id`), copied without its own reply as Telegram nests only one level.
fn replied_message(
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
fn inline_markup(params: &Map<String, Value>) -> Result<Option<Value>, ApiError> {
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
    let has_buttons = rows
        .iter()
        .filter_map(Value::as_array)
        .any(|row| !row.is_empty());
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

fn set_markup(message: &mut Value, markup: Option<Value>) {
    let Some(fields) = message.as_object_mut() else {
        return;
    };
    match markup {
        Some(markup) => fields.insert("reply_markup".to_owned(), markup),
        None => fields.remove("reply_markup"),
    };
}

// ---------------------------------------------------------------------------------------------
// Text and entities
// ---------------------------------------------------------------------------------------------

/// A text as Telegram stores it: the visible characters plus the entities it detected.
struct RenderedText {
    text: String,
    entities: Vec<Value>,
}

impl RenderedText {
    fn new(raw: &str, parse_mode: Option<&str>) -> RenderedText {
        if parse_mode.is_some_and(|mode| mode.eq_ignore_ascii_case("html")) {
            RenderedText::plain(&html_visible_text(raw))
        } else {
            RenderedText::plain(raw)
        }
    }

    fn plain(text: &str) -> RenderedText {
        RenderedText {
            text: text.to_owned(),
            entities: detect_entities(text),
        }
    }
}

#[derive(Clone, Copy)]
enum TextField {
    Text,
    Caption,
}

/// Sets (or, with `None`, removes) a message's text or caption and the matching entity list.
fn set_text_field(message: &mut Value, field: TextField, text: Option<&RenderedText>) {
    let (text_key, entities_key) = match field {
        TextField::Text => ("text", "entities"),
        TextField::Caption => ("caption", "caption_entities"),
    };
    let Some(fields) = message.as_object_mut() else {
        return;
    };
    fields.remove(entities_key);
    let Some(text) = text else {
        fields.remove(text_key);
        return;
    };
    fields.insert(text_key.to_owned(), Value::String(text.text.clone()));
    if !text.entities.is_empty() {
        fields.insert(entities_key.to_owned(), Value::Array(text.entities.clone()));
    }
}

/// The `bot_command` and `url` entities Telegram marks on its own, with offsets and lengths in
/// UTF-16 code units as the Bot API counts them.
fn detect_entities(text: &str) -> Vec<Value> {
    let mut entities = Vec::new();
    let mut offset = 0;
    for piece in text.split_inclusive(char::is_whitespace) {
        let token = piece.trim_end_matches(char::is_whitespace);
        if let Some((kind, matched)) = classify_token(token) {
            entities.push(json!({ "type": kind, "offset": offset, "length": utf16_len(matched) }));
        }
        offset += utf16_len(piece);
    }
    entities
}

fn classify_token(token: &str) -> Option<(&'static str, &str)> {
    if let Some(command) = token.strip_prefix('/') {
        let name_len = command
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '@'))
            .unwrap_or(command.len());
        return (name_len > 0).then(|| ("bot_command", &token[..=name_len]));
    }
    let scheme_len = ["https://", "http://"]
        .iter()
        .find(|scheme| {
            token
                .get(..scheme.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(scheme))
        })?
        .len();
    let url = token.trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '\'', '"']);
    (url.len() > scheme_len).then_some(("url", url))
}

fn utf16_len(text: &str) -> usize {
    text.encode_utf16().count()
}

/// What a reader sees of an HTML-formatted text: tags dropped, character references decoded.
fn html_visible_text(html: &str) -> String {
    let mut visible = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => visible.push(c),
            _ => {}
        }
    }
    visible
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

// ---------------------------------------------------------------------------------------------
// Media
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MediaKind {
    Audio,
    Video,
    Document,
    Photo,
    Voice,
    Animation,
}

impl MediaKind {
    fn for_method(method: &str) -> Option<MediaKind> {
        Some(match method {
            "sendAudio" => MediaKind::Audio,
            "sendVideo" => MediaKind::Video,
            "sendDocument" => MediaKind::Document,
            "sendPhoto" => MediaKind::Photo,
            "sendVoice" => MediaKind::Voice,
            "sendAnimation" => MediaKind::Animation,
            _ => return None,
        })
    }

    /// The parameter, and the `Message` field, that carries this kind of file.
    fn field(self) -> &'static str {
        match self {
            MediaKind::Audio => "audio",
            MediaKind::Video => "video",
            MediaKind::Document => "document",
            MediaKind::Photo => "photo",
            MediaKind::Voice => "voice",
            MediaKind::Animation => "animation",
        }
    }

    /// The folder Telegram puts this kind under in `getFile` paths.
    fn storage_folder(self) -> &'static str {
        match self {
            MediaKind::Audio => "music",
            MediaKind::Video => "videos",
            MediaKind::Document => "documents",
            MediaKind::Photo => "photos",
            MediaKind::Voice => "voice",
            MediaKind::Animation => "animations",
        }
    }
}

/// The media object a new message carries: a fresh upload (a part named like the parameter, or the
/// part an `attach://name` value points at), or a file sent before, by `file_id`.
fn resolve_media(
    state: &mut FakeState,
    request: &ApiRequest,
    kind: MediaKind,
) -> Result<Value, ApiError> {
    let field = kind.field();
    match request.params.get(field) {
        Some(Value::String(reference)) => {
            if let Some(part) = reference.strip_prefix("attach://") {
                let upload = request.file(part).ok_or_else(|| {
                    ApiError::bad_request(format!("there is no {field} in the request"))
                })?;
                store_upload(state, request, upload, kind)
            } else if is_http_url(reference) {
                Err(ApiError::bad_request("failed to get HTTP URL content"))
            } else {
                reuse_file(state, reference, kind)
            }
        }
        None | Some(Value::Null) => {
            let upload = request.file(field).ok_or_else(|| {
                ApiError::bad_request(format!("there is no {field} in the request"))
            })?;
            store_upload(state, request, upload, kind)
        }
        Some(_) => Err(ApiError::bad_request(
            "wrong file identifier/HTTP URL specified",
        )),
    }
}

fn is_http_url(text: &str) -> bool {
    let lower = text.trim_start().to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

fn reuse_file(state: &FakeState, file_id: &str, kind: MediaKind) -> Result<Value, ApiError> {
    let file = state
        .files
        .get(file_id)
        .ok_or_else(|| ApiError::bad_request("wrong file identifier/HTTP URL specified"))?;
    if file.kind != kind {
        return Err(ApiError::bad_request("type of file mismatch"));
    }
    Ok(file.object.clone())
}

fn store_upload(
    state: &mut FakeState,
    request: &ApiRequest,
    upload: &UploadedFile,
    kind: MediaKind,
) -> Result<Value, ApiError> {
    check_upload_size(state, upload)?;
    let thumbnail = match thumbnail_upload(request) {
        Some(thumbnail) => {
            check_upload_size(state, thumbnail)?;
            Some(new_photo_size(state, &thumbnail.bytes))
        }
        None => None,
    };
    let (file_id, file_unique_id) = new_file_ids(state, kind);
    let mut object = match kind {
        MediaKind::Photo => {
            let (width, height) = image_dimensions(&upload.bytes);
            json!([{
                "file_id": file_id,
                "file_unique_id": file_unique_id,
                "width": width,
                "height": height,
                "file_size": upload.bytes.len(),
            }])
        }
        _ => media_object(kind, &file_id, &file_unique_id, upload, &request.params),
    };
    if let (Some(thumbnail), Some(fields)) = (thumbnail, object.as_object_mut()) {
        fields.insert("thumbnail".to_owned(), thumbnail);
    }
    let extension = upload.filename.rsplit_once('.').map_or("", |(_, ext)| ext);
    let file_path = format!(
        "{}/file_{}.{}",
        kind.storage_folder(),
        state.next_file_seq,
        extension
    );
    state.files.insert(
        file_id,
        StoredFile {
            kind,
            object: object.clone(),
            file_unique_id,
            file_size: upload.bytes.len(),
            file_path,
            bytes: upload.bytes.clone(),
        },
    );
    Ok(object)
}

fn check_upload_size(state: &FakeState, upload: &UploadedFile) -> Result<(), ApiError> {
    if upload.bytes.is_empty() {
        return Err(ApiError::bad_request("file must be non-empty"));
    }
    if u64::try_from(upload.bytes.len()).unwrap_or(u64::MAX) > state.upload_limit {
        return Err(ApiError::too_large());
    }
    Ok(())
}

fn thumbnail_upload(request: &ApiRequest) -> Option<&UploadedFile> {
    match request.params.get("thumbnail") {
        Some(Value::String(reference)) => request.file(reference.strip_prefix("attach://")?),
        _ => request.file("thumbnail"),
    }
}

fn new_file_ids(state: &mut FakeState, kind: MediaKind) -> (String, String) {
    state.next_file_seq += 1;
    let seq = state.next_file_seq;
    (format!("fake-{}-{seq}", kind.field()), format!("uniq{seq}"))
}

fn new_photo_size(state: &mut FakeState, bytes: &[u8]) -> Value {
    let (file_id, file_unique_id) = new_file_ids(state, MediaKind::Photo);
    let (width, height) = image_dimensions(bytes);
    json!({
        "file_id": file_id,
        "file_unique_id": file_unique_id,
        "width": width,
        "height": height,
        "file_size": bytes.len(),
    })
}

/// The `Audio`/`Video`/`Document`/`Voice`/`Animation` object for an upload. Telegram reads
/// duration, size and tags from the file; the fake takes what the bot declared in the request.
fn media_object(
    kind: MediaKind,
    file_id: &str,
    file_unique_id: &str,
    upload: &UploadedFile,
    params: &Map<String, Value>,
) -> Value {
    let mut object = json!({
        "file_id": file_id,
        "file_unique_id": file_unique_id,
        "file_size": upload.bytes.len(),
        "mime_type": mime_type_for(&upload.filename),
    });
    if kind != MediaKind::Voice {
        object["file_name"] = json!(upload.filename);
    }
    let declared = |name: &str| param_i64(params, name).unwrap_or(0).max(0);
    if matches!(
        kind,
        MediaKind::Audio | MediaKind::Video | MediaKind::Voice | MediaKind::Animation
    ) {
        object["duration"] = json!(declared("duration"));
    }
    if matches!(kind, MediaKind::Video | MediaKind::Animation) {
        object["width"] = json!(declared("width"));
        object["height"] = json!(declared("height"));
    }
    if kind == MediaKind::Audio {
        for tag in ["performer", "title"] {
            if let Some(value) = params.get(tag).filter(|value| !value.is_null()) {
                object[tag] = Value::String(value_as_text(value));
            }
        }
    }
    object
}

fn mime_type_for(filename: &str) -> &'static str {
    let extension = filename
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase());
    match extension.as_deref() {
        Some("mp3") => "audio/mpeg",
        Some("m4a") => "audio/mp4",
        Some("ogg" | "opus" | "oga") => "audio/ogg",
        Some("flac") => "audio/flac",
        Some("wav") => "audio/x-wav",
        Some("mp4") => "video/mp4",
        Some("webm") => "video/webm",
        Some("mkv") => "video/x-matroska",
        Some("zip") => "application/zip",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("png") => "image/png",
        Some("txt") => "text/plain",
        _ => "application/octet-stream",
    }
}

/// Width and height from a PNG or JPEG header; (0, 0) for anything else.
fn image_dimensions(bytes: &[u8]) -> (u32, u32) {
    png_dimensions(bytes)
        .or_else(|| jpeg_dimensions(bytes))
        .unwrap_or((0, 0))
}

fn png_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    if !bytes.starts_with(b"\x89PNG\r\n\x1a\n") || bytes.get(12..16)? != b"IHDR" {
        return None;
    }
    Some((be_u32(bytes.get(16..20)?)?, be_u32(bytes.get(20..24)?)?))
}

/// Walks the JPEG segments to the first start-of-frame marker, which holds the dimensions.
fn jpeg_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut index = 2;
    loop {
        if *bytes.get(index)? != 0xFF {
            return None;
        }
        let marker = *bytes.get(index + 1)?;
        match marker {
            0xFF => index += 1,
            0x01 | 0xD0..=0xD9 => index += 2,
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                let height = be_u16(bytes.get(index + 5..index + 7)?)?;
                let width = be_u16(bytes.get(index + 7..index + 9)?)?;
                return Some((u32::from(width), u32::from(height)));
            }
            _ => index += 2 + usize::from(be_u16(bytes.get(index + 2..index + 4)?)?),
        }
    }
}

fn be_u16(bytes: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes(bytes.try_into().ok()?))
}

fn be_u32(bytes: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.try_into().ok()?))
}

// ---------------------------------------------------------------------------------------------
// Users and chats
// ---------------------------------------------------------------------------------------------

/// The bot's `User`: real tokens are `<bot id>:<secret>`, so the id comes from the token.
fn bot_user_json(token: &str) -> Value {
    let id = token
        .split_once(':')
        .and_then(|(id, _)| id.parse::<u64>().ok())
        .unwrap_or(1_000_000_001);
    json!({
        "id": id,
        "is_bot": true,
        "first_name": "Hermes Test Bot",
        "username": "hermes_test_bot",
        "can_join_groups": true,
        "can_read_all_group_messages": false,
        "supports_inline_queries": false,
        "can_connect_to_business": false,
        "has_main_web_app": false,
    })
}

/// A new message from `user` in `chat_id` (a fresh message id, the chat recorded), before its
/// content (text, caption, document) is set.
fn new_user_message(state: &mut FakeState, chat_id: i64, user: Value) -> Value {
    let chat = state.chat_record(chat_id, Some(&user)).chat.clone();
    let message_id = state.allocate_message_id(chat_id);
    json!({
        "message_id": message_id,
        "from": user,
        "chat": chat,
        "date": unix_now(),
    })
}

fn user_json(user_id: u64) -> Value {
    json!({
        "id": user_id,
        "is_bot": false,
        "first_name": "Tester",
        "last_name": user_id.to_string(),
        "username": format!("user{user_id}"),
        "language_code": "en",
    })
}

/// A `Chat` in Telegram's id conventions: positive ids are private chats with that user, ids
/// from -1000000000000 down are supergroups, other negative ids basic groups.
fn chat_json(chat_id: i64, user: Option<&Value>) -> Value {
    if chat_id > 0 {
        let fallback;
        let user = match user {
            Some(user) => user,
            None => {
                fallback = user_json(chat_id.unsigned_abs());
                &fallback
            }
        };
        let mut chat =
            json!({ "id": chat_id, "type": "private", "first_name": user["first_name"] });
        for optional in ["last_name", "username"] {
            if let Some(value) = user.get(optional) {
                chat[optional] = value.clone();
            }
        }
        chat
    } else if chat_id <= -1_000_000_000_000 {
        json!({ "id": chat_id, "type": "supergroup", "title": format!("Test supergroup {chat_id}") })
    } else {
        json!({ "id": chat_id, "type": "group", "title": format!("Test group {chat_id}") })
    }
}

/// A stable opaque id per chat, like the `chat_instance` Telegram puts in callback queries.
fn chat_instance(chat_id: i64) -> String {
    (chat_id.unsigned_abs().wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 1).to_string()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities_count_utf16_units_and_skip_trailing_punctuation() {
        let entities = detect_entities("🎵 /start@hermes_bot see https://example.com/a?b=1.");
        assert_eq!(
            entities,
            vec![
                json!({ "type": "bot_command", "offset": 3, "length": 17 }),
                json!({ "type": "url", "offset": 25, "length": 25 }),
            ]
        );
    }

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

    #[test]
    fn offsets_confirm_and_negative_offsets_keep_the_tail() {
        let mut queue = UpdateQueue::new();
        for _ in 0..4 {
            queue.push(Map::from_iter([("message".to_owned(), json!({}))]));
        }
        queue.confirm(3);
        assert_eq!(
            queue
                .deliverable(10)
                .iter()
                .map(|u| u["update_id"].clone())
                .collect::<Vec<_>>(),
            [json!(3), json!(4)]
        );
        queue.confirm(-1);
        assert_eq!(queue.deliverable(10).len(), 1);
        assert_eq!(queue.deliverable(10)[0]["update_id"], json!(4));
    }

    #[test]
    fn image_dimensions_read_png_and_jpeg_headers() {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        png.extend_from_slice(&[0, 0, 1, 0x40, 0, 0, 0, 0xF0]);
        assert_eq!(image_dimensions(&png), (320, 240));
        let jpeg = [
            0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 0, 0, 0xFF, 0xC0, 0, 11, 8, 0, 90, 0, 160, 3,
        ];
        assert_eq!(image_dimensions(&jpeg), (160, 90));
        assert_eq!(image_dimensions(b"GIF89a"), (0, 0));
        assert_eq!(image_dimensions(&[0xFF, 0xD8, 0xFF, 0xE0, 0xFF]), (0, 0));
    }

    #[test]
    fn html_text_is_reduced_to_what_the_reader_sees() {
        assert_eq!(
            html_visible_text("<b>1 &lt; 2</b> &amp; <a href=\"x\">y</a>"),
            "1 < 2 & y"
        );
    }
}
