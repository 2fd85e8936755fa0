//! The front's handle on the queue, shared by the handlers (which wake the sender and cancel
//! jobs) and the loops of [`crate::front`] (which connect it).

use std::sync::Arc;

use hermes_queue::{JobQueue, QueueConfig};
use tokio::sync::{Notify, OnceCell};

/// The front's side of the queue.
pub(crate) struct FrontLink {
    config: QueueConfig,
    queue: OnceCell<JobQueue>,
    wake: Notify,
}

impl FrontLink {
    pub(crate) fn new(config: QueueConfig) -> Arc<FrontLink> {
        Arc::new(FrontLink {
            config,
            queue: OnceCell::new(),
            wake: Notify::new(),
        })
    }

    pub(crate) fn config(&self) -> &QueueConfig {
        &self.config
    }

    pub(crate) fn connected(&self, queue: JobQueue) {
        let _ = self.queue.set(queue);
    }

    pub(crate) async fn woken(&self) {
        self.wake.notified().await;
    }

    /// A job was recorded: send it now.
    pub(crate) fn wake(&self) {
        self.wake.notify_one();
    }

    /// Asks the node holding `task_id` (or the one that will take it) to stop it.
    pub(crate) async fn cancel(&self, task_id: &str) -> bool {
        let Some(queue) = self.queue.get() else {
            tracing::warn!(%task_id, "cannot cancel: the queue is not reachable yet");
            return false;
        };
        match queue.cancel(task_id).await {
            Ok(()) => true,
            Err(error) => {
                tracing::warn!(%task_id, %error, "cannot cancel a job");
                false
            }
        }
    }
}
