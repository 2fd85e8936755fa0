//! `HERMES_ROLE`: what this process is in a deployment (DESIGN.md §7), and how the process that
//! talks with users hands a download on.
//!
//! - `all` (default): one process polls Telegram, runs the downloads on its own worker and owns
//!   the database. No Redis.
//! - `front`: polls Telegram and owns the database; downloads go to the nodes through Redis.
//! - `node`: takes downloads from Redis, runs them on its own worker, edits the status message
//!   and uploads the file itself (file bytes never cross machines), and reports the outcome.

use std::sync::Arc;
use std::time::Duration;

use hermes_host::task_queue::{CancelOutcome, TaskQueue};
use hermes_queue::QueueConfig;

use crate::front_link::FrontLink;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    All,
    Front,
    Node,
}

impl Role {
    pub(crate) fn from_name(name: &str) -> Option<Role> {
        match name.to_ascii_lowercase().as_str() {
            "all" => Some(Role::All),
            "front" => Some(Role::Front),
            "node" => Some(Role::Node),
            _ => None,
        }
    }
}

/// How the front and the nodes reach each other: `QUEUE_URL` and the job limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClusterConfig {
    pub(crate) queue_url: Option<String>,
    /// `HERMES_NODE_NAME`: this process's consumer name; one per process.
    pub(crate) node_name: String,
    /// `JOB_CLAIM_IDLE_SECS`: a node silent this long loses its jobs to another node.
    pub(crate) claim_idle: Duration,
    /// `JOB_MAX_ATTEMPTS`: starts of a job before it is given up (also after restarts in `all`).
    pub(crate) max_attempts: u32,
    /// `WORKER_CONCURRENCY` (the worker's own limit): the jobs a node takes at once.
    pub(crate) node_concurrency: usize,
}

impl ClusterConfig {
    /// The streams' configuration; `None` without `QUEUE_URL` (checked at start-up).
    pub(crate) fn queue_config(&self) -> Option<QueueConfig> {
        let url = self.queue_url.as_ref()?;
        let mut config = QueueConfig::new(url.clone(), self.node_name.clone());
        config.claim_idle = self.claim_idle;
        config.max_attempts = self.max_attempts;
        Some(config)
    }
}

/// The default consumer name: unique per process, so two nodes on one machine never answer each
/// other's heartbeats. A node restarted under a new name gets its old jobs back like any other
/// node, once they have been silent for `JOB_CLAIM_IDLE_SECS`.
pub(crate) fn default_node_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "hermes".to_owned());
    format!("{host}-{}", std::process::id())
}

/// Where the process that talks with users sends a download.
pub(crate) enum Dispatch {
    /// Run it on this process's own worker (`all`).
    Local,
    /// Put it on `hermes:jobs` for the nodes (`front`).
    Front(Arc<FrontLink>),
}

impl Dispatch {
    /// Asks whatever runs `task_id` to stop it; `false` when nothing could be asked.
    pub(crate) async fn cancel(&self, local: &TaskQueue, task_id: &str) -> bool {
        match self {
            Dispatch::Local => matches!(
                local.cancel(task_id),
                CancelOutcome::WasQueued | CancelOutcome::WasRunning
            ),
            Dispatch::Front(link) => link.cancel(task_id).await,
        }
    }
}
