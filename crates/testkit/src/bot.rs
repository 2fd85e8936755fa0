//! `hermes-bot` processes in a sandbox, and the users who talk to them through the fake Bot API.
//! Shared by the bot's end-to-end tests, the scale-out bench figure and `scripts/cluster-demo.sh`
//! (through the `hermes-cluster-demo` binary), so all three start the bot the same way.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::telegram::{Call, FakeBotApi};

/// The bot token every sandbox uses.
pub const TOKEN: &str = "424242:test-secret";
/// The user behind test messages in group chats (private chats are their own user).
pub const USER: u64 = 5001;

/// Where one `hermes-bot` process lives: its binaries, the sandbox root (its bot database is
/// `<root>/bot.db`, shared by every process of one sandbox) and the fake Bot API it talks to.
#[derive(Debug, Clone)]
pub struct Sandbox {
    pub bot_bin: PathBuf,
    pub worker_bin: PathBuf,
    pub root: PathBuf,
    pub api_url: String,
}

impl Sandbox {
    /// The command of process `name` (`bot` is the main one): its download directory, worker
    /// database and log (`<root>/<name>.log`, stderr) are its own; `env` comes last and wins.
    pub fn command(&self, name: &str, downloads: &Path, env: &[(&str, &str)]) -> std::io::Result<Command> {
        let log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(self.root.join(format!("{name}.log")))?;
        let worker_db = if name == "bot" {
            "worker.db".to_owned()
        } else {
            format!("{name}-worker.db")
        };
        let mut command = Command::new(&self.bot_bin);
        command
            .current_dir(&self.root)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.root)
            .env("TELEGRAM_BOT_TOKEN", TOKEN)
            .env("TELEGRAM_API_URL", &self.api_url)
            .env("TELEGRAM_POLL_TIMEOUT_SECS", "10")
            .env("HERMES_WORKER_BIN", &self.worker_bin)
            .env("DOWNLOAD_DIR", downloads)
            .env(
                "BOT_DATABASE_URL",
                format!("sqlite://{}", self.root.join("bot.db").display()),
            )
            .env(
                "DATABASE_URL",
                format!("sqlite://{}", self.root.join(worker_db).display()),
            )
            .env("TEMP_DIR", self.root.join("tmp"))
            .env("LOG_LEVEL", "warn")
            .env("EGRESS_ALLOW_CIDRS", "127.0.0.1/32")
            // Sandboxes talk from several chats; a test of the private default overrides this.
            .env("ALLOWED_CHAT_IDS", "*")
            .env("RUST_LOG", "info")
            .env("MAX_RETRIES", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log));
        for (key, value) in env {
            command.env(key, value);
        }
        Ok(command)
    }
}

/// A user message in `chat` (user [`USER`] when the chat is not private).
pub fn say(api: &FakeBotApi, chat: i64, text: &str) {
    let update = api.text_message_update(chat, sender(chat), text);
    api.push_update(update);
}

/// A tap on the button with `data` under `message_id`.
pub fn tap(api: &FakeBotApi, chat: i64, message_id: i32, data: &str) {
    let update = api.callback_query_update(chat, sender(chat), message_id, data);
    api.push_update(update);
}

fn sender(chat: i64) -> u64 {
    if chat > 0 {
        chat.unsigned_abs()
    } else {
        USER
    }
}

/// The first keyboard sent or edited into `chat` since call `after` with a button whose label
/// contains `label`: its message and the button's callback data.
pub fn find_button(api: &FakeBotApi, chat: i64, after: usize, label: &str) -> Option<(i32, String)> {
    api.calls().iter().find_map(|call| {
        if call.seq < after || !call.succeeded() || call.params["chat_id"] != chat {
            return None;
        }
        Some((message_id_of(call)?, button(call, label)?))
    })
}

/// Waits up to `within` for [`find_button`].
pub fn wait_for_button(
    api: &FakeBotApi,
    chat: i64,
    after: usize,
    label: &str,
    within: Duration,
) -> Option<(i32, String)> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(found) = find_button(api, chat, after, label) {
            return Some(found);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A user sends `url` and taps 🎵 Audio: the status message's id once the tap was sent.
pub fn request_audio(api: &FakeBotApi, chat: i64, url: &str, within: Duration) -> Option<i32> {
    let mark = api.calls().len();
    say(api, chat, url);
    let (message_id, data) = wait_for_button(api, chat, mark, "Audio", within)?;
    tap(api, chat, message_id, &data);
    Some(message_id)
}

/// Successful uploads of audio, video or documents so far.
pub fn uploads(api: &FakeBotApi) -> Vec<Call> {
    api.calls()
        .into_iter()
        .filter(|c| matches!(c.method.as_str(), "sendAudio" | "sendVideo" | "sendDocument") && c.succeeded())
        .collect()
}

/// The message a call created or edited.
pub fn message_id_of(call: &Call) -> Option<i32> {
    call.params["message_id"]
        .as_i64()
        .or_else(|| call.result()?["message_id"].as_i64())
        .and_then(|id| i32::try_from(id).ok())
}

/// Every `(text, callback_data)` of a call's inline keyboard.
pub fn buttons(call: &Call) -> Vec<(String, String)> {
    call.params["reply_markup"]["inline_keyboard"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row.as_array().into_iter().flatten())
        .map(|b| {
            (
                b["text"].as_str().unwrap_or_default().to_owned(),
                b["callback_data"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// The callback data of the button whose label contains `label`.
pub fn button(call: &Call, label: &str) -> Option<String> {
    buttons(call)
        .into_iter()
        .find(|(text, _)| text.contains(label))
        .map(|(_, data)| data)
}

/// How many jobs a node's log says it claimed.
pub fn jobs_claimed(log: &str) -> usize {
    log.lines().filter(|line| line.contains("job claimed")).count()
}

/// Calls in a readable form for failure messages (without `getUpdates`).
pub fn summarize(calls: &[Call]) -> Vec<String> {
    calls
        .iter()
        .filter(|c| c.method != "getUpdates")
        .map(|c| {
            let mut params = c.params.clone();
            if let Value::Object(map) = &mut params {
                map.remove("link_preview_options");
            }
            format!("#{} {} {} {}", c.seq, c.method, c.status, params)
        })
        .collect()
}
