//! [`ClientError`], and the one place a worker's final event becomes either its typed payload
//! or one of these errors ([`expect_event`]), so no caller reads an `error` event by hand.
use std::path::PathBuf;
use std::time::Duration;

use hermes_protocol::{ErrorCode, Event, Response};
use thiserror::Error;

use super::config::LocateError;

#[derive(Debug, Error)]
pub enum ClientError {
    #[error(transparent)]
    Locate(#[from] LocateError),
    #[error("cannot start {program}: {source}")]
    Spawn {
        program: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("task id {0:?} is already pending")]
    DuplicateTaskId(String),
    #[error("the worker client is shut down")]
    Closed,
    #[error("no final event for task {task_id} within {after:?}")]
    Timeout { task_id: String, after: Duration },
    #[error("the event stream of task {0} ended without a final event")]
    StreamEnded(String),
    #[error("worker error [{code}]: {message}")]
    Worker { code: ErrorCode, message: String },
    #[error("expected `{expected}` for task {task_id}, got `{got}`")]
    UnexpectedEvent {
        task_id: String,
        expected: Event,
        got: Event,
    },
    #[error("cannot decode the `{event}` data of task {task_id}: {source}")]
    Payload {
        task_id: String,
        event: Event,
        #[source]
        source: serde_json::Error,
    },
}

/// Decodes the data of a final event, turning a worker `error` into [`ClientError::Worker`] and
/// any other event than `expected` into [`ClientError::UnexpectedEvent`].
pub fn expect_event<T: serde::de::DeserializeOwned>(
    response: &Response,
    expected: Event,
) -> Result<T, ClientError> {
    if let Some(error) = response.error_data() {
        return Err(ClientError::Worker {
            code: error.error_code,
            message: error.message,
        });
    }
    if response.event != expected {
        return Err(ClientError::UnexpectedEvent {
            task_id: response.task_id.clone(),
            expected,
            got: response.event,
        });
    }
    response.payload().map_err(|source| ClientError::Payload {
        task_id: response.task_id.clone(),
        event: response.event,
        source,
    })
}
