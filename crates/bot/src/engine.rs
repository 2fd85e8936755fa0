//! What runs and delivers downloads: the worker client, the slots of the TaskQueue, the Telegram
//! client and the configuration. A node has only this; the front and the single-process bot
//! ([`crate::app::App`]) have it too, plus the database and the conversations.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use hermes_host::client::WorkerClient;
use hermes_host::task_queue::TaskQueue;

use crate::api::Telegram;
use crate::config::BotConfig;
use crate::shared_download::SharedDownloads;

pub(crate) struct Engine {
    pub(crate) config: BotConfig,
    pub(crate) telegram: Telegram,
    pub(crate) client: WorkerClient,
    pub(crate) queue: Arc<TaskQueue>,
    /// `DOWNLOAD_DIR`, absolute: the worker only writes inside its own `DOWNLOAD_DIR`, which is
    /// set to this same path, so task directories must be given as absolute paths under it.
    pub(crate) download_root: PathBuf,
    /// Downloads running now, for identical requests to wait for instead of repeating them.
    pub(crate) shared: SharedDownloads,
    shutting_down: AtomicBool,
}

impl Engine {
    pub(crate) fn new(
        config: BotConfig,
        telegram: Telegram,
        client: WorkerClient,
        queue: Arc<TaskQueue>,
        download_root: PathBuf,
    ) -> Self {
        Self {
            config,
            telegram,
            client,
            queue,
            download_root,
            shared: SharedDownloads::default(),
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

    /// From now on, a task ending with `WORKER_CRASHED` is the process stopping, not a failure:
    /// its job stays unfinished, for the next start (or another node) to run again.
    pub(crate) fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }

    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }
}
