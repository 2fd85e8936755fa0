//! One `hermes` run's conversation with its worker: a request sent, its progress shown as it
//! arrives, its final event decoded; Ctrl-C cancels the task in the worker first.
use std::time::Duration;

use hermes_host::client::{expect_event, ClientError, EventStream, WorkerClient};
use hermes_protocol::{Event, Request};
use tokio::time::{timeout_at, Instant};

use crate::error::CliError;
use crate::interrupt::Interrupts;
use crate::ui::Ui;

/// After Ctrl-C, how long to wait for the worker to confirm the cancellation with the task's
/// final event before stopping the worker anyway.
const CANCEL_WAIT: Duration = Duration::from_secs(3);

pub(crate) struct Session<'a> {
    client: &'a WorkerClient,
    ui: Ui,
    interrupts: &'a mut Interrupts,
}

impl<'a> Session<'a> {
    pub(crate) fn new(client: &'a WorkerClient, ui: Ui, interrupts: &'a mut Interrupts) -> Self {
        Session {
            client,
            ui,
            interrupts,
        }
    }

    /// What the user sees: results are printed through it.
    pub(crate) fn ui(&mut self) -> &mut Ui {
        &mut self.ui
    }

    pub(crate) fn finish(&mut self) {
        self.ui.clear();
    }

    /// Runs one request to its final event and decodes the payload of `expected`. Progress is
    /// shown as it arrives; an `error` event becomes [`CliError::Worker`]; Ctrl-C cancels the
    /// task in the worker and becomes [`CliError::Interrupted`].
    pub(crate) async fn run<T: serde::de::DeserializeOwned>(
        &mut self,
        request: &Request,
        label: &str,
        with_percent: bool,
        expected: Event,
    ) -> Result<T, CliError> {
        let mut stream = self.client.send(request)?;
        self.ui.start(label, with_percent);
        let final_event = loop {
            tokio::select! {
                event = stream.next() => {
                    let Some(event) = event else {
                        return Err(ClientError::StreamEnded(request.task_id.clone()).into());
                    };
                    self.ui.event(&event);
                    if event.event.is_final() {
                        break event;
                    }
                }
                exit_code = self.interrupts.recv() => {
                    self.ui.abandon("cancelling…");
                    self.cancel_and_wait(&mut stream).await;
                    return Err(CliError::Interrupted { exit_code });
                }
            }
        };
        self.ui.clear();
        Ok(expect_event(&final_event, expected)?)
    }

    /// Asks the worker to cancel the task and waits (at most [`CANCEL_WAIT`], or until a second
    /// Ctrl-C) for its final event, which tells that the worker has killed yt-dlp and ffmpeg and
    /// removed the partial files.
    async fn cancel_and_wait(&mut self, stream: &mut EventStream) {
        let deadline = Instant::now() + CANCEL_WAIT;
        let client = self.client;
        let ui = &mut self.ui;
        let confirmation = async {
            if let Err(error) = client.cancel(stream.task_id()).await {
                tracing::warn!(%error, "cannot cancel the task in the worker");
            }
            while let Some(event) = stream.next().await {
                ui.event(&event);
            }
        };
        tokio::select! {
            waited = timeout_at(deadline, confirmation) => {
                if waited.is_err() {
                    tracing::warn!("the worker did not confirm the cancellation in time; stopping it");
                }
            }
            _ = self.interrupts.recv() => {}
        }
    }
}
