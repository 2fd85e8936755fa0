//! Asking the worker something a flow shows (search hits, a playlist preview, format choices),
//! with the failure already turned into the user's message.
use std::time::Duration;

use hermes_host::client::{expect_event, ClientError};
use hermes_protocol::{ErrorCode, Event, Request};

use crate::app::App;
use crate::messages;

/// Look-ups (search, preview, formats) are quick unless YouTube is slow; past this the user is
/// told to retry rather than left waiting.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(90);

/// Sends `request` and decodes its final event; the error is already the user's message.
pub(super) async fn ask_worker<T: serde::de::DeserializeOwned>(
    app: &App,
    request: &Request,
    expected: Event,
) -> Result<T, String> {
    ask_worker_with(app, request, expected, |code, message| {
        messages::failure_text(code, message).to_owned()
    })
    .await
}

/// [`ask_worker`] with the flow's own words for a worker error.
pub(super) async fn ask_worker_with<T: serde::de::DeserializeOwned>(
    app: &App,
    request: &Request,
    expected: Event,
    explain: impl FnOnce(&ErrorCode, &str) -> String,
) -> Result<T, String> {
    let result = app
        .client
        .send_and_wait(request, LOOKUP_TIMEOUT)
        .await
        .and_then(|response| expect_event::<T>(&response, expected));
    result.map_err(|error| {
        tracing::info!(action = %request.action.as_str(), %error, "look-up failed");
        match error {
            ClientError::Worker { code, message } => explain(&code, &message),
            ClientError::Timeout { .. } => messages::error_message(&ErrorCode::Timeout).to_owned(),
            _ => messages::INTERNAL_FAILURE.to_owned(),
        }
    })
}
