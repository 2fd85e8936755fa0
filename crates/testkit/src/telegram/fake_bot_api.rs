//! [`FakeBotApi`]: the handle a test holds. It starts the server on its own thread, builds and
//! pushes updates (messages, documents, button presses), and reads back what the bot called.
use std::io;
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::pin::pin;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};
use tokio::sync::oneshot;

use super::call::{Call, Fault, UploadedFile};
use super::media::{media_object, MediaKind};
use super::server::{router, serve_until_shutdown};
use super::state::{Shared, StoredFile, LOCAL_UPLOAD_LIMIT};
use super::text::{set_text_field, RenderedText, TextField};
use super::uploads::new_file_ids;
use super::users::{chat_instance, user_json};

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
            panic!("push_update needs a JSON object such as {{\"message\": {{...}}}}, got {update}");
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
        let mut message = self.shared.lock().new_user_message(chat_id, user);
        set_text_field(&mut message, TextField::Text, Some(&RenderedText::plain(text)));
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
        let object = media_object(
            MediaKind::Document,
            &file_id,
            &file_unique_id,
            &upload,
            &Map::new(),
        );
        let extension = file_name.rsplit_once('.').map_or("", |(_, ext)| ext);
        let file_path = format!(
            "{}/file_{}.{}",
            MediaKind::Document.storage_folder(),
            state.next_file_seq,
            extension
        );
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
        let mut message = state.new_user_message(chat_id, user);
        message["document"] = object;
        if let Some(caption) = caption {
            set_text_field(
                &mut message,
                TextField::Caption,
                Some(&RenderedText::plain(caption)),
            );
        }
        json!({ "message": message })
    }

    /// An update with user `from_id` pressing a button carrying `data` under message `message_id` of
    /// chat `chat_id`. `message` is that message as the fake last saw it (normally one the bot sent
    /// or edited), or Telegram's inaccessible-message shape (`date: 0`) when it is unknown.
    pub fn callback_query_update(&self, chat_id: i64, from_id: u64, message_id: i32, data: &str) -> Value {
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

    /// An update with user `from_id` typing `@bot query` (an `inline_query`), its id answerable
    /// once with `answerInlineQuery`. `chat_type` is where it was typed (`"sender"`, `"private"`,
    /// `"group"`, `"supergroup"`, `"channel"`), left out when `None` as Telegram does for secret
    /// chats. Push it with [`FakeBotApi::push_update`].
    pub fn inline_query_update(&self, from_id: u64, query: &str, chat_type: Option<&str>) -> Value {
        let mut state = self.shared.lock();
        state.next_callback_seq += 1;
        let query_id = (5_000_000_000_000_000_000_u64 + state.next_callback_seq).to_string();
        let mut inline_query = json!({
            "id": query_id,
            "from": user_json(from_id),
            "query": query,
            "offset": "",
        });
        if let Some(chat_type) = chat_type {
            inline_query["chat_type"] = json!(chat_type);
        }
        json!({ "inline_query": inline_query })
    }

    /// An update telling the bot that user `from_id` chose result `result_id` of an inline
    /// `query` (sent when inline feedback is on; `inline_message_id` present when the result
    /// carried an inline keyboard).
    pub fn chosen_inline_result_update(
        &self,
        from_id: u64,
        result_id: &str,
        query: &str,
        inline_message_id: Option<&str>,
    ) -> Value {
        let mut chosen = json!({
            "result_id": result_id,
            "from": user_json(from_id),
            "query": query,
        });
        if let Some(id) = inline_message_id {
            chosen["inline_message_id"] = json!(id);
        }
        json!({ "chosen_inline_result": chosen })
    }

    /// The accepted `answerInlineQuery` parameters for an inline query id (`results`,
    /// `cache_time`, `button`, ...), or `None` if it was not (successfully) answered.
    pub fn inline_answer(&self, inline_query_id: &str) -> Option<Value> {
        self.shared.lock().inline_answers.get(inline_query_id).cloned()
    }

    /// Answers like a local Bot API server started with `--local` (`TELEGRAM_LOCAL_MODE`): media
    /// and `thumbnail` parameters may be an absolute path or a `file://` URI, read from disk and
    /// recorded in [`Call::local_files`], and uploads up to 2000 MB are accepted. Off: such a
    /// value is taken as a `file_id` and refused, as `api.telegram.org` does.
    pub fn set_local_mode(&self, on: bool) {
        let mut state = self.shared.lock();
        state.local_mode = on;
        if on {
            state.upload_limit = state.upload_limit.max(LOCAL_UPLOAD_LIMIT);
        }
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
            if tokio::time::timeout_at(deadline, call_recorded).await.is_err() {
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
            state = match self.shared.call_recorded_sync.wait_timeout(state, remaining) {
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
