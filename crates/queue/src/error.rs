use thiserror::Error;

#[derive(Debug, Error)]
pub enum QueueError {
    /// Redis is unreachable or answered with an error; the caller retries ([`crate::retrying`]).
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// A stream entry that is not what this crate writes (another program's, or a bug).
    #[error("malformed stream entry {id}: {why}")]
    Malformed { id: String, why: String },
    #[error("cannot encode a job: {0}")]
    Encode(#[from] serde_json::Error),
}
