//! Durable jobs on Redis Streams, for a bot that runs as one front and many nodes (DESIGN.md §7).
//!
//! - The front [`JobQueue::enqueue`]s a job on `hermes:jobs`, may [`JobQueue::cancel`] it, and
//!   reads what became of it from `hermes:results` ([`ResultReader`]).
//! - A node [`JobQueue::claim_next`]s in the consumer group of the nodes: first a job whose node
//!   has been silent for `claim_idle` (`XAUTOCLAIM`), else a new one (`XREADGROUP`). While it
//!   works it [`JobQueue::heartbeat`]s; once the file is sent it [`JobQueue::mark_delivered`]s
//!   and then [`JobQueue::ack`]s, so a job reclaimed after a crash between the two is acknowledged,
//!   not sent twice. Past `max_attempts` a job goes to `hermes:jobs:dead` instead.
//!
//! Jobs and results are opaque JSON to this crate: it knows streams, not Telegram.
mod config;
mod error;
mod hold;
mod jobs;
mod results;
mod retry;

pub use config::QueueConfig;
pub use error::QueueError;
pub use hold::{Hold, Stop};
pub use jobs::{Claim, Claimed, JobQueue};
pub use results::{Received, ResultReader};
pub use retry::retrying;
