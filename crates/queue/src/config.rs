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

/// The longest `BLOCK` of a read: a caller's longer wait is cut to this.
pub(crate) const MAX_BLOCK: Duration = Duration::from_secs(30);

/// A connection that reconnects by itself, and while Redis is away fails each command within
/// seconds, so that callers retry with their own backoff and log it. (redis-rs's default
/// schedule waits 1 s, then 60 s, between reconnection attempts, and never times out a command.)
/// `blocking`: the connection carries `XREADGROUP … BLOCK` of up to [`MAX_BLOCK`].
pub(crate) async fn connection(
    client: redis::Client,
    blocking: bool,
) -> Result<redis::aio::ConnectionManager, redis::RedisError> {
    let answer_within = if blocking {
        MAX_BLOCK + Duration::from_secs(5)
    } else {
        Duration::from_secs(5)
    };
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_factor(2)
        .set_max_delay(1000)
        .set_number_of_retries(2)
        .set_connection_timeout(Duration::from_secs(2))
        .set_response_timeout(answer_within);
    redis::aio::ConnectionManager::new_with_config(client, config).await
}

/// The consumer group every node reads `hermes:jobs` in.
pub(crate) const NODES_GROUP: &str = "nodes";
/// The consumer group the front reads `hermes:results` in.
pub(crate) const FRONT_GROUP: &str = "front";
/// How long the markers of a delivered or cancelled job are kept.
pub(crate) const MARKER_TTL_SECS: u64 = 7 * 24 * 3600;
