//! The host side of the IPC protocol (the guide's "dispatcher") for `hermes-worker`.
//!
//! One client owns one worker process at a time:
//! - a **writer** (the supervisor loop) owns the worker's stdin and writes the requests it receives
//!   through an mpsc channel, so request lines never interleave;
//! - a **reader** task reads stdout line by line and hands each line to the [`Router`], which
//!   delivers it to the channel of its `task_id` (an [`EventStream`]);
//! - a **stderr** task forwards the worker's log lines to `tracing` (target `worker`).
//!
//! **Supervision.** When the worker exits or closes its stdout, every task that was sent to it
//! receives a synthetic `error` event with code `WORKER_CRASHED` at once, so no caller waits for a
//! timeout, and the worker is started again after a backoff (1 s, 2 s, 4 s, … capped at 30 s; the
//! sequence starts over once a worker has stayed up for a minute). Requests sent while no worker
//! runs stay queued and are written to the next one; callers bound the wait with
//! [`WorkerClient::send_and_wait`]'s timeout.
//!
//! The worker runs in its own process group: a Ctrl-C in a terminal signals the whole foreground
//! group, and the host, not the terminal, must decide how the worker stops (cancel the task first,
//! then close stdin), otherwise the host would see a crash instead of a clean cancellation.
mod config;
mod error;
mod router;
mod supervisor;
mod worker_client;
mod worker_log;

pub use config::{Backoff, LocateError, WorkerConfig};
pub use error::{expect_event, ClientError};
pub use router::{EventStream, RouteOutcome, Router};
pub use worker_client::{new_task_id, WorkerClient};
