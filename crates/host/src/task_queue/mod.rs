//! The host-side TaskQueue (`queue`) and the limits a deployment gives it (`limits`).
mod limits;
mod queue;

pub use limits::QueueConfigError;
pub use queue::{CancelHook, CancelOutcome, QueueError, TaskQueue, TaskSnapshot, TaskState};
