//! The bot's shared state, handed to every handler behind an `Arc`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use hermes_host::client::WorkerClient;
use hermes_host::task_queue::TaskQueue;

use crate::api::Telegram;
use crate::callbacks::FlowStore;
use crate::config::BotConfig;
use crate::db::Db;
use crate::limits::PerChatRate;

pub(crate) struct App {
    pub(crate) config: BotConfig,
    pub(crate) telegram: Telegram,
    pub(crate) client: WorkerClient,
    pub(crate) queue: Arc<TaskQueue>,
    pub(crate) db: Db,
    pub(crate) flows: FlowStore,
    /// `DOWNLOAD_DIR`, absolute: the worker only writes inside its own `DOWNLOAD_DIR`, which is
    /// set to this same path, so task directories must be given as absolute paths under it.
    pub(crate) download_root: PathBuf,
    /// Header line of each active task (title or link) for `/status`.
    labels: Mutex<HashMap<String, String>>,
    shutting_down: AtomicBool,
    /// `SEARCHES_PER_CHAT_PER_HOUR`.
    pub(crate) searches: PerChatRate,
}

impl App {
    pub(crate) fn new(
        config: BotConfig,
        telegram: Telegram,
        client: WorkerClient,
        queue: Arc<TaskQueue>,
        db: Db,
        download_root: PathBuf,
    ) -> Self {
        Self {
            searches: PerChatRate::per_hour(config.searches_per_chat_per_hour),
            config,
            telegram,
            client,
            queue,
            db,
            flows: FlowStore::new(),
            download_root,
            labels: Mutex::new(HashMap::new()),
            shutting_down: AtomicBool::new(false),
        }
    }

    /// Where one task writes: `DOWNLOAD_DIR/<chat_id>/<task_id>`.
    pub(crate) fn task_dir(&self, chat_id: i64, task_id: &str) -> PathBuf {
        self.download_root.join(chat_id.to_string()).join(task_id)
    }

    /// Deletes a task's files after it ended, unless `KEEP_FILES=true`.
    pub(crate) fn remove_task_files(&self, dir: &Path) {
        if self.config.keep_files {
            return;
        }
        match std::fs::remove_dir_all(dir) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => tracing::warn!(dir = %dir.display(), %error, "cannot delete task files"),
        }
    }

    pub(crate) fn set_label(&self, task_id: &str, label: &str) {
        lock(&self.labels).insert(task_id.to_owned(), label.to_owned());
    }

    pub(crate) fn label(&self, task_id: &str) -> Option<String> {
        lock(&self.labels).get(task_id).cloned()
    }

    pub(crate) fn forget_label(&self, task_id: &str) {
        lock(&self.labels).remove(task_id);
    }

    /// From now on, a task ending with `WORKER_CRASHED` is the bot stopping, not a failure: its
    /// row stays `running` so the next start tells the user to resend.
    pub(crate) fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }

    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
