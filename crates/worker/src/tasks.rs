//! Running tasks by id: what `cancel` looks up, what `active_tasks` counts, and how duplicate
//! task ids are refused.
use crate::events::EventSender;
use hermes_protocol::{ProgressData, RawResponse};
use std::collections::HashMap;
use std::sync::Mutex;
use tokio_util::sync::CancellationToken;

#[derive(Default)]
pub struct TaskRegistry {
    running: Mutex<HashMap<String, CancellationToken>>,
}

impl TaskRegistry {
    /// Registers `task_id` with a token that is a child of `parent` (so worker termination
    /// cancels it). `None` when a task with that id is already running.
    pub fn register(&self, task_id: &str, parent: &CancellationToken) -> Option<CancellationToken> {
        let mut running = self.lock();
        if running.contains_key(task_id) {
            return None;
        }
        let token = parent.child_token();
        running.insert(task_id.to_owned(), token.clone());
        Some(token)
    }

    pub fn remove(&self, task_id: &str) {
        self.lock().remove(task_id);
    }

    /// Cancels a running task; false when no task has that id.
    pub fn cancel(&self, task_id: &str) -> bool {
        match self.lock().get(task_id) {
            Some(token) => {
                token.cancel();
                true
            }
            None => false,
        }
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, CancellationToken>> {
        // A poisoned map is still a valid map: keep serving rather than panic again.
        self.running.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// What an action gets to know about its own task: its id, its cancellation token, and the
/// only way to emit events before its final one.
pub struct Task {
    pub id: String,
    pub cancel: CancellationToken,
    events: EventSender,
    /// The yt-dlp this task runs, fixed at its first run (see [`Task::ytdlp_program`]).
    ytdlp: std::sync::OnceLock<std::path::PathBuf>,
}

impl Task {
    pub fn new(id: String, cancel: CancellationToken, events: EventSender) -> Task {
        Task { id, cancel, events, ytdlp: std::sync::OnceLock::new() }
    }

    /// The yt-dlp program for this task's runs: `configured` as found at the first run, so
    /// retries and later steps (a playlist's listing, then its download) keep the yt-dlp the
    /// task started with when `hermes update-ytdlp` switches the managed one meanwhile.
    pub(crate) fn ytdlp_program(&self, configured: &std::path::Path) -> std::path::PathBuf {
        self.ytdlp.get_or_init(|| crate::toolchain::pinned_program(configured)).clone()
    }

    pub async fn progress(&self, progress: ProgressData) {
        self.events.send(RawResponse::progress(self.id.clone(), &progress)).await;
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }
}
