//! What the fake remembers between calls: recorded calls, queued faults and updates, chats and
//! their messages, stored files; and the wake-ups of waiting long polls and tests.
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use serde_json::{json, Map, Value};
use tokio::sync::Notify;

use super::call::{Call, Fault};
use super::media::MediaKind;
use super::updates::UpdateQueue;
use super::users::{bot_user_json, chat_json, unix_now};
use super::values::value_as_text;

/// The Bot API refuses uploads above 50 MB with 413; tests can lower this with
/// [`super::FakeBotApi::set_upload_limit`] to exercise that path with small files.
const DEFAULT_UPLOAD_LIMIT: u64 = 50 * 1024 * 1024;
/// A local Bot API server (`--local`) accepts files up to 2000 MB.
pub(super) const LOCAL_UPLOAD_LIMIT: u64 = 2000 * 1024 * 1024;
/// Update fields that carry a `Message`, so pushed updates can be remembered as chat history.
const MESSAGE_UPDATE_KINDS: [&str; 5] = [
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_message",
];

pub(super) struct Shared {
    pub(super) token: String,
    pub(super) bot_user: Value,
    pub(super) state: Mutex<FakeState>,
    /// Wakes blocking waiters when a call is recorded.
    pub(super) call_recorded_sync: Condvar,
    /// Wakes async waiters when a call is recorded.
    pub(super) call_recorded: Notify,
    /// Wakes long polls when an update is pushed or a newer poll takes over.
    pub(super) updates_changed: Notify,
}

impl Shared {
    pub(super) fn new(token: &str) -> Shared {
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
    pub(super) fn lock(&self) -> MutexGuard<'_, FakeState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn bot_id(&self) -> u64 {
        self.bot_user["id"].as_u64().unwrap_or_default()
    }

    pub(super) fn record(&self, mut call: Call) {
        {
            let mut state = self.lock();
            call.seq = state.calls.len();
            state.calls.push(call);
        }
        self.call_recorded_sync.notify_all();
        self.call_recorded.notify_waiters();
    }
}

pub(super) struct FakeState {
    pub(super) calls: Vec<Call>,
    /// Keyed by lower-cased method name.
    pub(super) faults: HashMap<String, VecDeque<Fault>>,
    pub(super) updates: UpdateQueue,
    pub(super) chats: HashMap<i64, ChatRecord>,
    pub(super) files: HashMap<String, StoredFile>,
    pub(super) open_callback_queries: HashSet<String>,
    /// Inline queries pushed and not answered yet.
    pub(super) open_inline_queries: HashSet<String>,
    /// `answerInlineQuery` parameters accepted, by inline query id.
    pub(super) inline_answers: HashMap<String, Value>,
    /// Answer like a local Bot API server started with `--local` (see `local_mode.rs`).
    pub(super) local_mode: bool,
    pub(super) commands: Value,
    pub(super) next_file_seq: u64,
    pub(super) next_callback_seq: u64,
    pub(super) upload_limit: u64,
}

pub(super) struct ChatRecord {
    pub(super) chat: Value,
    pub(super) next_message_id: i64,
    pub(super) messages: BTreeMap<i64, Value>,
}

pub(super) struct StoredFile {
    pub(super) kind: MediaKind,
    /// What a message carries for it (`Audio`, or a `PhotoSize` array for photos).
    pub(super) object: Value,
    pub(super) file_unique_id: String,
    pub(super) file_size: usize,
    pub(super) file_path: String,
    /// The content, served at `/file/bot<token>/<file_path>` as Telegram serves downloads.
    pub(super) bytes: Vec<u8>,
}

impl FakeState {
    pub(super) fn new() -> FakeState {
        FakeState {
            calls: Vec::new(),
            faults: HashMap::new(),
            updates: UpdateQueue::new(),
            chats: HashMap::new(),
            files: HashMap::new(),
            open_callback_queries: HashSet::new(),
            open_inline_queries: HashSet::new(),
            inline_answers: HashMap::new(),
            local_mode: false,
            commands: json!([]),
            next_file_seq: 0,
            next_callback_seq: 0,
            upload_limit: DEFAULT_UPLOAD_LIMIT,
        }
    }

    pub(super) fn find_call(&self, method: &str, predicate: &impl Fn(&Call) -> bool) -> Option<Call> {
        self.calls
            .iter()
            .find(|call| call.method.eq_ignore_ascii_case(method) && predicate(call))
            .cloned()
    }

    pub(super) fn take_fault(&mut self, method: &str) -> Option<Fault> {
        self.faults
            .get_mut(&method.to_ascii_lowercase())
            .and_then(VecDeque::pop_front)
    }

    /// The chat's record, created on first sight; `user` names a private chat after its user.
    pub(super) fn chat_record(&mut self, chat_id: i64, user: Option<&Value>) -> &mut ChatRecord {
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

    pub(super) fn message(&self, chat_id: i64, message_id: i64) -> Option<&Value> {
        self.chats.get(&chat_id)?.messages.get(&message_id)
    }

    pub(super) fn message_mut(&mut self, chat_id: i64, message_id: i64) -> Option<&mut Value> {
        self.chats.get_mut(&chat_id)?.messages.get_mut(&message_id)
    }

    /// Remembers a message (new or edited) so it can be edited, replied to or pressed later.
    pub(super) fn store_message(&mut self, message: &Value) {
        let (Some(chat_id), Some(message_id)) =
            (message["chat"]["id"].as_i64(), message["message_id"].as_i64())
        else {
            return;
        };
        let record = self.chat_record(chat_id, None);
        if message["chat"].is_object() {
            record.chat = message["chat"].clone();
        }
        record.next_message_id = record.next_message_id.max(message_id + 1);
        record.messages.insert(message_id, message.clone());
    }

    pub(super) fn chat_id_by_username(&self, username: &str) -> Option<i64> {
        self.chats
            .iter()
            .find(|(_, record)| record.chat["username"].as_str() == Some(username))
            .map(|(id, _)| *id)
    }

    /// Side effects of a pushed update: its messages join the history, its callback query becomes
    /// answerable.
    pub(super) fn absorb_update(&mut self, update: &Map<String, Value>) {
        for kind in MESSAGE_UPDATE_KINDS {
            if let Some(message) = update.get(kind) {
                self.store_message(message);
            }
        }
        if let Some(query_id) = update.get("callback_query").and_then(|query| query.get("id")) {
            self.open_callback_queries.insert(value_as_text(query_id));
        }
        if let Some(query_id) = update.get("inline_query").and_then(|query| query.get("id")) {
            self.open_inline_queries.insert(value_as_text(query_id));
        }
    }

    /// A new message from `user` in `chat_id` (a fresh message id, the chat recorded), before its
    /// content (text, caption, document) is set.
    pub(super) fn new_user_message(&mut self, chat_id: i64, user: Value) -> Value {
        let chat = self.chat_record(chat_id, Some(&user)).chat.clone();
        let message_id = self.allocate_message_id(chat_id);
        json!({
            "message_id": message_id,
            "from": user,
            "chat": chat,
            "date": unix_now(),
        })
    }

    /// A new message from the bot in `chat_id`, with the next message id of that chat.
    pub(super) fn new_bot_message(&mut self, bot_user: &Value, chat_id: i64) -> Value {
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
