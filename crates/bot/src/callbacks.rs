//! Inline-keyboard callbacks: a server-side store of flow state and the compact `callback_data`
//! that points into it.
//!
//! Telegram caps `callback_data` at 64 bytes and echoes it back verbatim, so it can neither hold
//! a URL (they are longer, and putting user input there would let anyone forge a request) nor a
//! search result list. Instead each keyboard gets a short random key; the flow state (URLs,
//! titles, format choices) stays here for [`FLOW_TTL`] and the button carries only
//! `<action>:<key>[:<small number>]`. A key is bound to its chat, so a forwarded keyboard cannot
//! act on someone else's flow.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use hermes_protocol::{AudioFormat, FormatOption};

use crate::job::{is_task_id, Job};
use crate::media_mode::MediaMode;

/// How long a keyboard stays usable; after that the user is asked to send the link again.
pub(crate) const FLOW_TTL: Duration = Duration::from_secs(10 * 60);
const KEY_LEN: usize = 10;

/// One search hit offered as a button.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SearchChoice {
    pub(crate) url: String,
    pub(crate) title: String,
    pub(crate) channel: Option<String>,
}

/// What a keyboard is about. Everything needed to act on a tap lives here, never in the button.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Flow {
    /// A link waiting for 🎵 Audio / 🎬 Video / ⚙ Quality…; `title`/`performer` are known when
    /// it came from a search result.
    Link {
        url: String,
        title: Option<String>,
        performer: Option<String>,
        /// After a file of this many bytes was refused as too large: only strictly smaller
        /// choices are offered.
        smaller_than: Option<u64>,
    },
    /// A YouTube video inside a playlist: whole playlist or this video?
    VideoOrPlaylist {
        video_url: String,
        playlist_url: String,
    },
    SearchResults {
        choices: Vec<SearchChoice>,
    },
    /// A playlist preview. The user first picks how many items (`limit`, `None` = all), then the
    /// mode, both on the same keyboard message.
    Playlist {
        url: String,
        title: String,
        limit: Option<u32>,
    },
    /// A single download refused as too large, to run again split into parts under the limit.
    Split {
        job: Box<Job>,
    },
    /// Quality tiers from `get_formats` for `url`.
    Formats {
        url: String,
        title: Option<String>,
        options: Vec<FormatOption>,
    },
}

/// A button's meaning, encoded into at most 64 bytes (Telegram's limit for `callback_data`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Callback {
    /// Download the flow's link with this mode.
    Download {
        key: String,
        mode: MediaMode,
    },
    /// Show the quality tiers of the flow's link.
    Quality {
        key: String,
    },
    /// Run the flow's refused download again, split into parts that fit.
    Split {
        key: String,
    },
    /// Download the flow's link with the quality option at this index.
    Format {
        key: String,
        index: u16,
    },
    /// Choose the whole playlist of a video-in-playlist link.
    WholePlaylist {
        key: String,
    },
    /// Choose only the video of a video-in-playlist link.
    OnlyVideo {
        key: String,
    },
    /// Pick search result `index`.
    Pick {
        key: String,
        index: u16,
    },
    /// Playlist item limit; 0 means all.
    Limit {
        key: String,
        count: u16,
    },
    /// Playlist mode once the limit is chosen.
    PlaylistMode {
        key: String,
        mode: MediaMode,
    },
    /// A `/settings` choice. Settings live in the database, not in a flow, so these buttons
    /// keep working across restarts and never expire.
    SetMode(MediaMode),
    SetAudioFormat(AudioFormat),
    /// Start a job given up (its status message's button). The job is in the jobs table, so
    /// this button too works across restarts.
    Retry {
        task_id: String,
    },
    /// ✖ Cancel under a status message: that task, by its own id.
    Cancel {
        task_id: String,
    },
}

impl Callback {
    /// ✂️ "in parts": a button that runs `job` (a single download) again, split into parts under
    /// the upload limit when tapped, in the tapped message.
    pub(crate) fn split(flows: &FlowStore, job: &Job) -> Callback {
        let mut job = job.clone();
        job.reuse_message_id = None;
        let key = flows.insert(job.chat_id, Flow::Split { job: Box::new(job) });
        Callback::Split { key }
    }

    /// The `callback_data` string. Keys are generated here and indices are small integers, so the
    /// longest encoding is ~20 bytes; the limit is still checked by a test over every variant.
    pub(crate) fn encode(&self) -> String {
        match self {
            Callback::Download { key, mode } => format!("d:{key}:{}", mode_code(*mode)),
            Callback::Quality { key } => format!("q:{key}"),
            Callback::Split { key } => format!("sp:{key}"),
            Callback::Format { key, index } => format!("f:{key}:{index}"),
            Callback::WholePlaylist { key } => format!("wp:{key}"),
            Callback::OnlyVideo { key } => format!("ov:{key}"),
            Callback::Pick { key, index } => format!("r:{key}:{index}"),
            Callback::Limit { key, count } => format!("n:{key}:{count}"),
            Callback::PlaylistMode { key, mode } => format!("pm:{key}:{}", mode_code(*mode)),
            Callback::SetMode(mode) => format!("set:mode:{}", mode_code(*mode)),
            Callback::SetAudioFormat(format) => format!("set:fmt:{}", format.as_str()),
            Callback::Retry { task_id } => format!("rt:{task_id}"),
            Callback::Cancel { task_id } => format!("cx:{task_id}"),
        }
    }

    /// Parses `callback_data`; `None` for anything this bot did not produce.
    pub(crate) fn decode(data: &str) -> Option<Callback> {
        let mut parts = data.split(':');
        let action = parts.next()?;
        let first = parts.next()?;
        let second = parts.next();
        if parts.next().is_some() {
            return None;
        }
        if action == "set" {
            return decode_setting(first, second?);
        }
        if action == "rt" || action == "cx" {
            let valid = second.is_none() && is_task_id(first);
            let task_id = first.to_owned();
            return valid.then(|| {
                if action == "rt" {
                    Callback::Retry { task_id }
                } else {
                    Callback::Cancel { task_id }
                }
            });
        }
        let key = valid_key(first)?.to_owned();
        let callback = match (action, second) {
            ("d", Some(mode)) => Callback::Download {
                key,
                mode: mode_from_code(mode)?,
            },
            ("q", None) => Callback::Quality { key },
            ("sp", None) => Callback::Split { key },
            ("f", Some(index)) => Callback::Format {
                key,
                index: index.parse().ok()?,
            },
            ("wp", None) => Callback::WholePlaylist { key },
            ("ov", None) => Callback::OnlyVideo { key },
            ("r", Some(index)) => Callback::Pick {
                key,
                index: index.parse().ok()?,
            },
            ("n", Some(count)) => Callback::Limit {
                key,
                count: count.parse().ok()?,
            },
            ("pm", Some(mode)) => Callback::PlaylistMode {
                key,
                mode: mode_from_code(mode)?,
            },
            _ => return None,
        };
        Some(callback)
    }
}

fn mode_code(mode: MediaMode) -> &'static str {
    match mode {
        MediaMode::Audio => "a",
        MediaMode::Video => "v",
    }
}

fn mode_from_code(code: &str) -> Option<MediaMode> {
    match code {
        "a" => Some(MediaMode::Audio),
        "v" => Some(MediaMode::Video),
        _ => None,
    }
}

fn decode_setting(what: &str, value: &str) -> Option<Callback> {
    match what {
        "mode" => Some(Callback::SetMode(mode_from_code(value)?)),
        "fmt" => Some(Callback::SetAudioFormat(AudioFormat::from_name(value)?)),
        _ => None,
    }
}

fn valid_key(key: &str) -> Option<&str> {
    (key.len() == KEY_LEN && key.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(key)
}

/// Why a flow could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlowMiss {
    /// Unknown or older than [`FLOW_TTL`] (the bot may also have restarted): both read to the
    /// user as "expired".
    Expired,
    /// The key belongs to another chat.
    WrongChat,
}

struct Entry {
    chat_id: i64,
    created: Instant,
    flow: Flow,
}

/// Flow state by key. Shared behind an `Arc`; every method takes `&self`.
#[derive(Default)]
pub(crate) struct FlowStore {
    entries: Mutex<HashMap<String, Entry>>,
}

impl FlowStore {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Stores `flow` for `chat_id` and returns its new key.
    pub(crate) fn insert(&self, chat_id: i64, flow: Flow) -> String {
        self.insert_at(chat_id, flow, Instant::now())
    }

    pub(crate) fn insert_at(&self, chat_id: i64, flow: Flow, now: Instant) -> String {
        let mut entries = self.lock();
        entries.retain(|_, entry| !is_expired(entry, now));
        let key = loop {
            let candidate = new_key();
            if !entries.contains_key(&candidate) {
                break candidate;
            }
        };
        entries.insert(
            key.clone(),
            Entry {
                chat_id,
                created: now,
                flow,
            },
        );
        key
    }

    /// The flow under `key`, leaving it in place (for steps that can be revisited).
    pub(crate) fn get(&self, key: &str, chat_id: i64) -> Result<Flow, FlowMiss> {
        self.get_at(key, chat_id, Instant::now())
    }

    pub(crate) fn get_at(&self, key: &str, chat_id: i64, now: Instant) -> Result<Flow, FlowMiss> {
        let entries = self.lock();
        let entry = entries.get(key).ok_or(FlowMiss::Expired)?;
        check(entry, chat_id, now)?;
        Ok(entry.flow.clone())
    }

    /// Removes and returns the flow under `key`: a final choice (start a download) must act
    /// once even if the user taps twice before the keyboard disappears.
    pub(crate) fn take(&self, key: &str, chat_id: i64) -> Result<Flow, FlowMiss> {
        self.take_at(key, chat_id, Instant::now())
    }

    pub(crate) fn take_at(&self, key: &str, chat_id: i64, now: Instant) -> Result<Flow, FlowMiss> {
        let mut entries = self.lock();
        let entry = entries.get(key).ok_or(FlowMiss::Expired)?;
        check(entry, chat_id, now)?;
        entries.remove(key).map(|e| e.flow).ok_or(FlowMiss::Expired)
    }

    /// Replaces the flow under `key` (same chat), keeping its age: a flow moves through steps
    /// (playlist: limit, then mode) under one keyboard.
    pub(crate) fn update(&self, key: &str, chat_id: i64, flow: Flow) -> Result<(), FlowMiss> {
        let now = Instant::now();
        let mut entries = self.lock();
        let entry = entries.get_mut(key).ok_or(FlowMiss::Expired)?;
        check(entry, chat_id, now)?;
        entry.flow = flow;
        Ok(())
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// No code runs under the lock that could leave the map half-updated, so a poisoned lock is
    /// safe to keep using.
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn check(entry: &Entry, chat_id: i64, now: Instant) -> Result<(), FlowMiss> {
    if is_expired(entry, now) {
        Err(FlowMiss::Expired)
    } else if entry.chat_id != chat_id {
        Err(FlowMiss::WrongChat)
    } else {
        Ok(())
    }
}

fn is_expired(entry: &Entry, now: Instant) -> bool {
    now.saturating_duration_since(entry.created) >= FLOW_TTL
}

/// Ten random alphanumerics (~59 bits): unguessable enough that keys cannot be enumerated.
fn new_key() -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut bits = uuid::Uuid::new_v4().as_u128();
    let mut key = String::with_capacity(KEY_LEN);
    for _ in 0..KEY_LEN {
        let index = (bits % ALPHABET.len() as u128) as usize;
        bits /= ALPHABET.len() as u128;
        key.push(char::from(ALPHABET[index]));
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Telegram's limit for `callback_data`, in bytes.
    const CALLBACK_DATA_LIMIT: usize = 64;

    fn link(url: &str) -> Flow {
        Flow::Link {
            url: url.into(),
            title: None,
            performer: None,
            smaller_than: None,
        }
    }

    #[test]
    fn every_callback_round_trips_within_the_limit() {
        let key = new_key();
        let mut cases = vec![
            Callback::Download {
                key: key.clone(),
                mode: MediaMode::Audio,
            },
            Callback::Download {
                key: key.clone(),
                mode: MediaMode::Video,
            },
            Callback::Quality { key: key.clone() },
            Callback::Split { key: key.clone() },
            Callback::Format {
                key: key.clone(),
                index: u16::MAX,
            },
            Callback::WholePlaylist { key: key.clone() },
            Callback::OnlyVideo { key: key.clone() },
            Callback::Pick {
                key: key.clone(),
                index: 19,
            },
            Callback::Limit {
                key: key.clone(),
                count: 0,
            },
            Callback::Limit {
                key: key.clone(),
                count: 50,
            },
            Callback::PlaylistMode {
                key: key.clone(),
                mode: MediaMode::Video,
            },
            Callback::SetMode(MediaMode::Audio),
            Callback::SetMode(MediaMode::Video),
            Callback::Retry {
                task_id: hermes_host::client::new_task_id("tg"),
            },
            Callback::Cancel {
                task_id: hermes_host::client::new_task_id("tg"),
            },
        ];
        for format in ["mp3", "m4a", "opus", "flac", "wav"] {
            cases.push(Callback::SetAudioFormat(
                AudioFormat::from_name(format).expect("format"),
            ));
        }
        for callback in cases {
            let data = callback.encode();
            assert!(data.len() <= CALLBACK_DATA_LIMIT, "{data}");
            assert!(!data.contains("http"), "{data}");
            assert_eq!(Callback::decode(&data), Some(callback), "{data}");
        }
    }

    #[test]
    fn foreign_or_malformed_data_is_rejected() {
        for data in [
            "",
            "d",
            "d:short:a",
            "d:ABCDEFGHIJ:x",
            "d:ABCDEFGHIJ",
            "q:ABCDEFGHIJ:1",
            "f:ABCDEFGHIJ:-1",
            "f:ABCDEFGHIJ:99999999",
            "rt:",
            "rt:tg-",
            "rt:abc",
            "rt:tg-abc:1",
            "rt:tg-a/b",
            "cx:tg-",
            "cx:abc",
            "r:ABCDEFGH/J:1",
            "zz:ABCDEFGHIJ",
            "set:mode:x",
            "set:fmt:aac",
            "set:color:a",
            "d:ABCDEFGHIJ:a:extra",
            "https://youtu.be/dQw4w9WgXcQ",
        ] {
            assert_eq!(Callback::decode(data), None, "{data:?}");
        }
    }

    #[test]
    fn keys_are_unique_alphanumerics() {
        let keys: std::collections::HashSet<String> = (0..1000).map(|_| new_key()).collect();
        assert_eq!(keys.len(), 1000);
        assert!(keys.iter().all(|k| valid_key(k).is_some()));
    }

    #[test]
    fn flows_expire_after_ten_minutes() {
        let store = FlowStore::new();
        let t0 = Instant::now();
        let key = store.insert_at(7, link("https://a"), t0);
        let just_before = t0 + FLOW_TTL - Duration::from_secs(1);
        assert_eq!(store.get_at(&key, 7, just_before), Ok(link("https://a")));
        assert_eq!(store.get_at(&key, 7, t0 + FLOW_TTL), Err(FlowMiss::Expired));
        assert_eq!(store.take_at(&key, 7, t0 + FLOW_TTL), Err(FlowMiss::Expired));
        assert_eq!(store.get_at("0123456789", 7, t0), Err(FlowMiss::Expired));
    }

    #[test]
    fn expired_flows_are_purged_on_insert() {
        let store = FlowStore::new();
        let t0 = Instant::now();
        store.insert_at(1, link("https://old"), t0);
        assert_eq!(store.len(), 1);
        store.insert_at(1, link("https://new"), t0 + FLOW_TTL + Duration::from_secs(1));
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn flows_belong_to_their_chat_and_take_acts_once() {
        let store = FlowStore::new();
        let key = store.insert(7, link("https://a"));
        assert_eq!(store.get(&key, 8), Err(FlowMiss::WrongChat));
        assert_eq!(store.take(&key, 8), Err(FlowMiss::WrongChat));
        assert_eq!(store.take(&key, 7), Ok(link("https://a")));
        assert_eq!(store.take(&key, 7), Err(FlowMiss::Expired));
        assert!(store.is_empty());
    }

    #[test]
    fn update_replaces_the_state_under_the_same_key() {
        let store = FlowStore::new();
        let key = store.insert(7, link("https://a"));
        assert_eq!(store.update(&key, 8, link("https://b")), Err(FlowMiss::WrongChat));
        store.update(&key, 7, link("https://b")).expect("same chat");
        assert_eq!(store.get(&key, 7), Ok(link("https://b")));
        assert_eq!(store.update("0123456789", 7, link("x")), Err(FlowMiss::Expired));
    }
}
