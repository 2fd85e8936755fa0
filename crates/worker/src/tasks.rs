//! Running tasks by id: what `cancel` looks up, what `active_tasks` counts, and how duplicate
//! task ids are refused.
use crate::events::EventSender;
use crate::ytdlp::progress::{lock, ProgressTracker};
use hermes_protocol::{ProgressData, RawResponse};
use std::collections::HashMap;
use std::sync::Mutex;
use tokio_util::sync::CancellationToken;

#[derive(Default)]
pub(crate) struct TaskRegistry {
    running: Mutex<HashMap<String, CancellationToken>>,
}

impl TaskRegistry {
    /// Registers `task_id` with a token that is a child of `parent` (so worker termination
    /// cancels it). `None` when a task with that id is already running.
    pub(crate) fn register(&self, task_id: &str, parent: &CancellationToken) -> Option<CancellationToken> {
        let mut running = self.lock();
        if running.contains_key(task_id) {
            return None;
        }
        let token = parent.child_token();
        running.insert(task_id.to_owned(), token.clone());
        Some(token)
    }

    pub(crate) fn remove(&self, task_id: &str) {
        self.lock().remove(task_id);
    }

    /// Cancels a running task; false when no task has that id.
    pub(crate) fn cancel(&self, task_id: &str) -> bool {
        match self.lock().get(task_id) {
            Some(token) => {
                token.cancel();
                true
            }
            None => false,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, CancellationToken>> {
        // A poisoned map is still a valid map: keep serving rather than panic again.
        self.running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// What an action gets to know about its own task: its id, its cancellation token, and the
/// only way to emit events before its final one.
pub(crate) struct Task {
    pub(crate) id: String,
    pub(crate) cancel: CancellationToken,
    events: EventSender,
    /// The yt-dlp this task runs, fixed at its first run (see [`Task::ytdlp_program`]).
    ytdlp: std::sync::OnceLock<std::path::PathBuf>,
}

impl Task {
    pub(crate) fn new(id: String, cancel: CancellationToken, events: EventSender) -> Task {
        Task {
            id,
            cancel,
            events,
            ytdlp: std::sync::OnceLock::new(),
        }
    }

    /// The yt-dlp program for this task's runs: `configured` as found at the first run, so
    /// retries and later steps (a playlist's listing, then its download) keep the yt-dlp the
    /// task started with when `hermes update-ytdlp` switches the managed one meanwhile.
    pub(crate) fn ytdlp_program(&self, configured: &std::path::Path) -> std::path::PathBuf {
        self.ytdlp
            .get_or_init(|| crate::toolchain::pinned_program(configured))
            .clone()
    }

    pub(crate) async fn progress(&self, progress: ProgressData) {
        self.events
            .send(RawResponse::progress(self.id.clone(), &progress))
            .await;
    }

    /// Applies `step` to the task's progress tracker and sends the event it yields, if any (the
    /// throttle often holds one back). The lock is released before the event is sent.
    pub(crate) async fn report_progress(
        &self,
        tracker: &Mutex<ProgressTracker>,
        step: impl FnOnce(&mut ProgressTracker) -> Option<ProgressData>,
    ) {
        let update = step(&mut lock(tracker));
        if let Some(update) = update {
            self.progress(update).await;
        }
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }
}
