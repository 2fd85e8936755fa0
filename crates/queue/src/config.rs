//! Names and limits shared by the front and the nodes.
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct QueueConfig {
    /// `QUEUE_URL`, e.g. `redis://127.0.0.1:6379/0`.
    pub url: String,
    /// This process's name in its consumer group (a node's, or the front's); stable across
    /// restarts of the same machine, so its own unacknowledged entries come back to it.
    pub consumer: String,
    /// `JOB_CLAIM_IDLE_SECS`: a job whose node has not heartbeaten for this long is taken over.
    pub claim_idle: Duration,
    /// `JOB_MAX_ATTEMPTS`: a job started this many times without being delivered is dead.
    pub max_attempts: u32,
    /// Prefix of every key (`hermes`), so that tests and deployments can share a server.
    pub prefix: String,
}

impl QueueConfig {
    pub fn new(url: impl Into<String>, consumer: impl Into<String>) -> QueueConfig {
        QueueConfig {
            url: url.into(),
            consumer: consumer.into(),
            claim_idle: Duration::from_secs(60),
            max_attempts: 3,
            prefix: "hermes".to_owned(),
        }
    }

    pub(crate) fn jobs(&self) -> String {
        format!("{}:jobs", self.prefix)
    }

    pub(crate) fn dead(&self) -> String {
        format!("{}:jobs:dead", self.prefix)
    }

    pub(crate) fn results(&self) -> String {
        format!("{}:results", self.prefix)
    }

    pub(crate) fn attempts(&self) -> String {
        format!("{}:attempts", self.prefix)
    }

    pub(crate) fn delivered(&self, job_id: &str) -> String {
        format!("{}:delivered:{job_id}", self.prefix)
    }

    pub(crate) fn cancelled(&self, job_id: &str) -> String {
        format!("{}:cancel:{job_id}", self.prefix)
    }
}

/// The consumer group every node reads `hermes:jobs` in.
pub(crate) const NODES_GROUP: &str = "nodes";
/// The consumer group the front reads `hermes:results` in.
pub(crate) const FRONT_GROUP: &str = "front";
/// How long the markers of a delivered or cancelled job are kept.
pub(crate) const MARKER_TTL_SECS: u64 = 7 * 24 * 3600;
