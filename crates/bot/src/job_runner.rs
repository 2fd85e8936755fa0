//! Running one recorded job (a single link or a playlist) to its delivered file: the TaskQueue
//! slot, the worker request, progress edits of the status message, the upload, the report of
//! each step to the job's [`Ledger`], and clean-up. The same runner serves the single process
//! and a node; where the reports go is the only difference.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use hermes_host::client::EventStream;
use hermes_host::render::{render_status, StatusView};
use hermes_host::task_queue::QueueError;
use hermes_protocol::{DownloadDone, ErrorCode, Event, PlaylistDone, ProgressData, Request, Response};

use crate::api::keyboard;
use crate::callbacks::Callback;
use crate::config::StatusWhenDone;
use crate::delivery::{self, Delivered};
use crate::engine::Engine;
use crate::job::{short_id, Job, JobKind};
use crate::job_report::JobReport;
use crate::ledger::Ledger;
use crate::messages;
use crate::progress::StatusMessage;
use crate::shared_download::{Lead, Share};

/// `header`, the status line, and while the task is active a `/cancel <id>` hint.
pub(crate) fn status_text(header: &str, view: &StatusView, active_task: Option<&str>) -> String {
    let mut text = format!("{header}\n{}", render_status(view));
    if let Some(task_id) = active_task {
        text.push_str(&format!("\n/cancel_{}", short_id(task_id)));
    }
    text
}

/// A delivered task's status, collapsed to one line: the file itself is right below it.
pub(crate) fn delivered_text(header: &str) -> String {
    format!("{} · {header}", render_status(&StatusView::Completed))
}

/// How often a queued task looks at its position.
const QUEUE_LOOK: std::time::Duration = std::time::Duration::from_millis(500);

/// How a task ended, for the ledger, the queue and the last status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    Delivered,
    Cancelled,
    Failed {
        user_message: String,
        reason: String,
        /// The file was over the upload limit (its size when known): smaller choices fit.
        too_large: Option<Option<u64>>,
    },
    /// The process is stopping, or another node took the job over: nothing is reported, the
    /// job stays unfinished for whoever runs it next.
    Abandoned,
    /// A transient failure on a node: the job goes back to the queue for another attempt
    /// (possibly elsewhere) instead of failing; `JOB_MAX_ATTEMPTS` bounds it.
    TryAgain {
        reason: String,
    },
}

impl Outcome {
    /// The job is over (and its stream entry may be acknowledged).
    pub(crate) fn is_final(&self) -> bool {
        !matches!(self, Outcome::Abandoned | Outcome::TryAgain { .. })
    }
}

/// One run of a recorded job.
pub(crate) struct Runner {
    engine: Arc<Engine>,
    ledger: Ledger,
    task_id: String,
    header: String,
    status: StatusMessage,
    job: Job,
    /// 1 for the first start, more after restarts and reclaims.
    attempt: u32,
    /// Set when this run must end without a word (see [`Outcome::Abandoned`]).
    abandon: Arc<AtomicBool>,
    /// Transient failures end as [`Outcome::TryAgain`] (on nodes) rather than as failures.
    try_again: bool,
    /// ZIP parts already sent while the playlist ran.
    early_parts: Vec<delivery::EarlyPart>,
    /// This run downloads a media identical requests wait for.
    lead: Option<Lead>,
}

impl Runner {
    /// A run of `job`, whose status message (`job.reuse_message_id`) currently shows
    /// `status_text`. The task must already be in the engine's TaskQueue.
    pub(crate) fn new(
        engine: Arc<Engine>,
        ledger: Ledger,
        task_id: String,
        job: Job,
        attempt: u32,
        status_text: String,
    ) -> Option<Runner> {
        let message_id = job.reuse_message_id?;
        let cancel = keyboard(vec![vec![(
            "✖ Cancel".to_owned(),
            Callback::Cancel {
                task_id: task_id.clone(),
            }
            .encode(),
        )]]);
        let status = StatusMessage::new(engine.telegram.clone(), job.chat_id, message_id, status_text)
            .with_buttons(cancel);
        Some(Runner {
            header: job.header(),
            engine,
            ledger,
            task_id,
            status,
            job,
            attempt,
            abandon: Arc::new(AtomicBool::new(false)),
            try_again: false,
            early_parts: Vec::new(),
            lead: None,
        })
    }

    /// Transient failures end the run as [`Outcome::TryAgain`].
    pub(crate) fn trying_again_on_transient_failures(mut self) -> Runner {
        self.try_again = true;
        self
    }

    /// Set it, then cancel the task in the queue, to end the run as [`Outcome::Abandoned`].
    pub(crate) fn abandon_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.abandon)
    }

    pub(crate) async fn run(mut self) -> Outcome {
        let dir = self.engine.task_dir(self.job.chat_id, &self.task_id);
        let outcome = self.acquire_and_download(&dir).await;
        let outcome = if self.is_abandoned() {
            Outcome::Abandoned
        } else {
            outcome
        };
        self.record(&outcome).await;
        self.engine.remove_task_files(&dir);
        outcome
    }

    fn is_abandoned(&self) -> bool {
        self.engine.is_shutting_down() || self.abandon.load(Ordering::SeqCst)
    }

    async fn acquire_and_download(&mut self, dir: &std::path::Path) -> Outcome {
        if let Some(outcome) = self.share_download().await {
            return outcome;
        }
        match self.wait_for_slot().await {
            Ok(()) => {}
            Err(QueueError::Cancelled) => return Outcome::Cancelled,
            Err(error) => {
                return Outcome::Failed {
                    user_message: messages::INTERNAL_FAILURE.to_owned(),
                    reason: error.to_string(),
                    too_large: None,
                }
            }
        }
        if self.is_abandoned() {
            // The slot came free because the process stops: this job waits for the next one.
            return Outcome::Abandoned;
        }
        // A fresh start: whatever an earlier attempt left in the directory is not trusted.
        self.engine.remove_task_files(dir);
        self.report(JobReport::Running {
            attempt: self.attempt,
        })
        .await;
        self.show(StatusView::Preparing).await;
        let request = self.request(dir);
        let mut stream = match self.engine.client.send(&request) {
            Ok(stream) => stream,
            Err(error) => {
                return Outcome::Failed {
                    user_message: messages::INTERNAL_FAILURE.to_owned(),
                    reason: error.to_string(),
                    too_large: None,
                }
            }
        };
        let Some(final_event) = self.follow_progress(&mut stream, dir).await else {
            return Outcome::Failed {
                user_message: messages::INTERNAL_FAILURE.to_owned(),
                reason: "the worker's event stream ended early".to_owned(),
                too_large: None,
            };
        };
        if self.was_cancelled() {
            return Outcome::Cancelled;
        }
        self.conclude(final_event).await
    }

    /// The same media is downloading for another request: waits for it and sends its upload by
    /// `file_id`. `None` when this run downloads itself (it leads, or the other one failed).
    async fn share_download(&mut self) -> Option<Outcome> {
        let key = self.job.upload_key()?;
        loop {
            let follower = match self.engine.shared.join(&key) {
                Share::Lead(lead) => {
                    self.lead = Some(lead);
                    return None;
                }
                Share::Follow(follower) => follower,
            };
            let text = format!(
                "{}\n{}\n/cancel_{}",
                self.header,
                messages::SHARED_WAIT,
                short_id(&self.task_id)
            );
            self.status.show(text).await;
            let ending = follower.ending();
            tokio::pin!(ending);
            let upload = loop {
                tokio::select! {
                    upload = &mut ending => break upload,
                    () = self.status.next_due() => self.status.flush_due().await,
                    () = tokio::time::sleep(QUEUE_LOOK) => {
                        if self.was_cancelled() || self.is_abandoned() {
                            return Some(Outcome::Cancelled);
                        }
                    }
                }
            };
            let Some(upload) = upload else {
                continue; // The other download failed: lead, or follow a newer one.
            };
            match delivery::send_cached(
                &self.engine,
                self.job.chat_id,
                &upload,
                self.job.performer.clone(),
            )
            .await
            {
                Ok(()) => {
                    // Never started: it leaves the TaskQueue without taking a slot.
                    self.engine.queue.cancel(&self.task_id);
                    self.report(JobReport::Delivered {
                        file_path: None,
                        upload: Some(upload),
                    })
                    .await;
                    return Some(Outcome::Delivered);
                }
                Err(error) => {
                    tracing::warn!(%error, "the shared upload was refused; downloading again");
                    return None;
                }
            }
        }
    }

    /// Waits for the TaskQueue slot, showing the live queue position as others finish.
    async fn wait_for_slot(&mut self) -> Result<(), QueueError> {
        let queue = Arc::clone(&self.engine.queue);
        let task_id = self.task_id.clone();
        let acquire = queue.acquire(&task_id);
        tokio::pin!(acquire);
        let mut shown = None;
        loop {
            let position = queue.task(&task_id).and_then(|t| t.queue_position);
            if shown != Some(position) {
                shown = Some(position);
                self.show(StatusView::Queued { position }).await;
            }
            tokio::select! {
                acquired = &mut acquire => return acquired,
                () = self.status.next_due() => self.status.flush_due().await,
                () = tokio::time::sleep(QUEUE_LOOK) => {}
            }
        }
    }

    fn request(&self, dir: &std::path::Path) -> Request {
        self.job.request(
            &self.task_id,
            &dir.to_string_lossy(),
            self.engine.config.upload_limit_mb,
        )
    }

    /// Relays progress to the queue, the ledger and the status message until the final
    /// event. A pending status text is flushed when its throttle interval is over even if no
    /// new event arrives.
    async fn follow_progress(&mut self, stream: &mut EventStream, dir: &std::path::Path) -> Option<Response> {
        let mut last_saved_percent = 0;
        loop {
            let event = self.status.meanwhile(stream.next()).await?;
            if event.event.is_final() {
                return Some(event);
            }
            let Ok(progress) = event.payload::<ProgressData>() else {
                continue;
            };
            if let (Some(file), JobKind::Playlist { .. }) = (&progress.file, &self.job.kind) {
                // A finished ZIP part: the user gets it now rather than after the last track.
                if let Some(sent) =
                    delivery::deliver_part_early(&self.engine, self.job.chat_id, dir, file).await
                {
                    self.early_parts.push(sent);
                }
            }
            self.engine
                .queue
                .update_progress(&self.task_id, progress.percent, &progress.speed);
            if progress.percent >= last_saved_percent + 10 {
                last_saved_percent = progress.percent;
                self.report(JobReport::Progress {
                    percent: progress.percent,
                })
                .await;
            }
            if let Some(title) = progress.title.as_deref().filter(|_| self.job.title.is_none()) {
                // The header says what is downloading as soon as the worker knows it.
                self.header = self.job.header_for(Some(title));
            }
            let view = StatusView::from_progress(&progress);
            // The worker's "completed" means the file is ready, not delivered: the upload (which
            // may wait out flood control) comes first, and only `record` says ✅ Completed.
            if matches!(view, StatusView::Completed) {
                continue;
            }
            self.show(view).await;
        }
    }

    async fn conclude(&mut self, event: Response) -> Outcome {
        if let Some(error) = event.error_data() {
            if let (ErrorCode::FileTooLarge, JobKind::Single(choice)) = (&error.error_code, &self.job.kind) {
                if choice.split {
                    // Split jobs are capped only by the worker's own MAX_FILESIZE_MB: past it no
                    // choice of ours helps, and offering the same two ways out would be a loop.
                    return Outcome::Failed {
                        user_message: messages::TOO_LARGE_TO_SPLIT.to_owned(),
                        reason: format!("{}: {}", error.error_code, error.message),
                        too_large: None,
                    };
                }
                // Stopped at the upload limit we passed as its cap: same as a file that arrived
                // too big, a smaller choice is offered.
                return Outcome::Failed {
                    user_message: messages::stopped_at_limit(
                        error.file_size,
                        self.engine.config.upload_limit_mb,
                    ),
                    reason: format!("{}: {}", error.error_code, error.message),
                    too_large: Some(error.file_size),
                };
            }
            return self.worker_failure(&error.error_code, &error.message);
        }
        if event.event != Event::Done {
            return Outcome::Failed {
                user_message: messages::INTERNAL_FAILURE.to_owned(),
                reason: format!("unexpected final event {}", event.event),
                too_large: None,
            };
        }
        self.show_uploading().await;
        let (engine, job, early_parts, status) =
            (&self.engine, &self.job, &self.early_parts, &mut self.status);
        let dir = engine.task_dir(job.chat_id, &self.task_id);
        let deliver = async {
            match &job.kind {
                JobKind::Single(choice) => match event.payload::<DownloadDone>() {
                    Ok(done) => delivery::deliver_single(engine, job, choice, &done, &dir).await,
                    Err(error) => Err(delivery::DeliveryError::internal(error.to_string())),
                },
                JobKind::Playlist { mode, .. } => match event.payload::<PlaylistDone>() {
                    Ok(done) => {
                        delivery::deliver_playlist(engine, job.chat_id, *mode, &done, early_parts).await
                    }
                    Err(error) => Err(delivery::DeliveryError::internal(error.to_string())),
                },
            }
        };
        // "⬆️ Uploading…" may wait for the edit interval: it is shown while the upload runs.
        let delivered = status.meanwhile(deliver).await;
        match delivered {
            Ok(Delivered { file_path, upload }) => {
                if let (Some(lead), Some(upload)) = (self.lead.as_mut(), &upload) {
                    lead.delivered(upload.clone());
                }
                self.report(JobReport::Delivered { file_path, upload }).await;
                Outcome::Delivered
            }
            Err(error) => Outcome::Failed {
                user_message: error.user_message,
                reason: error.reason,
                too_large: error.too_large.map(Some),
            },
        }
    }

    fn worker_failure(&self, code: &ErrorCode, message: &str) -> Outcome {
        // While the process stops, the worker kills its children: the task ends as cancelled or
        // crashed, but it was interrupted, and runs again at the next start (or on another node).
        if self.is_abandoned() {
            return Outcome::Abandoned;
        }
        match code {
            ErrorCode::Cancelled => Outcome::Cancelled,
            code if self.try_again && messages::is_transient(code) => {
                tracing::info!(task_id = %self.task_id, %code, %message, "transient failure; the job goes back");
                Outcome::TryAgain {
                    reason: format!("{code}: {message}"),
                }
            }
            _ => {
                tracing::info!(task_id = %self.task_id, %code, %message, "task failed");
                let mut user_message = messages::failure_text(code, message).to_owned();
                if let Some(hint) = messages::operator_hint(code, message)
                    .filter(|_| self.engine.config.is_admin(self.job.chat_id))
                {
                    user_message = format!("{user_message}\n\n{hint}");
                }
                Outcome::Failed {
                    user_message,
                    reason: format!("{code}: {message}"),
                    too_large: None,
                }
            }
        }
    }

    fn was_cancelled(&self) -> bool {
        self.engine
            .queue
            .task(&self.task_id)
            .is_some_and(|t| t.state == hermes_host::task_queue::TaskState::Cancelled)
    }

    /// Brings the queue, the ledger and the status message to the task's end state.
    async fn record(&mut self, outcome: &Outcome) {
        let view = match outcome {
            Outcome::Abandoned => {
                self.engine.queue.cancel(&self.task_id);
                return;
            }
            Outcome::TryAgain { reason } => {
                self.engine.queue.fail(&self.task_id, reason);
                let text = status_text(&self.header, &StatusView::Retrying, None);
                self.status.finish(text).await;
                return;
            }
            // Reported as soon as the file was sent, with its `file_id`.
            Outcome::Delivered => {
                self.engine.queue.complete(&self.task_id);
                self.collapse().await;
                return;
            }
            Outcome::Cancelled => {
                self.engine.queue.cancel(&self.task_id);
                self.report(JobReport::Cancelled).await;
                StatusView::Cancelled
            }
            Outcome::Failed {
                user_message,
                reason,
                too_large,
            } => {
                self.engine.queue.fail(&self.task_id, reason);
                self.report(JobReport::Failed {
                    reason: reason.clone(),
                    too_large: too_large.is_some(),
                    file_size: too_large.flatten(),
                })
                .await;
                StatusView::Failed {
                    message: user_message.clone(),
                }
            }
        };
        let text = status_text(&self.header, &view, None);
        self.status.finish(text).await;
    }

    /// "⬆️ Uploading…", as soon as the edit interval allows (see `conclude`).
    async fn show_uploading(&mut self) {
        let text = status_text(&self.header, &StatusView::Uploading, Some(&self.task_id));
        self.status.show(text).await;
    }

    /// The file arrived: its status message becomes one line, or goes (`STATUS_WHEN_DONE`).
    async fn collapse(&mut self) {
        if self.engine.config.status_when_done == StatusWhenDone::Delete {
            match self
                .engine
                .telegram
                .delete_message(self.job.chat_id, self.status.message_id)
                .await
            {
                Ok(()) => return,
                Err(error) => tracing::warn!(%error, "cannot delete a status message; collapsing it"),
            }
        }
        self.status.finish(delivered_text(&self.header)).await;
    }

    async fn report(&self, report: JobReport) {
        self.ledger.report(&self.task_id, &self.job, report).await;
    }

    async fn show(&mut self, view: StatusView) {
        let text = status_text(&self.header, &view, Some(&self.task_id));
        self.status.show(text).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_text_shows_the_cancel_hint_only_while_active() {
        let active = status_text("🎵 Song", &StatusView::Preparing, Some("tg-abcdef0123"));
        assert_eq!(active, "🎵 Song\n🔎 Preparing…\n/cancel_abcdef01");
        assert_eq!(delivered_text("🎵 Song"), "✅ Completed · 🎵 Song");
    }
}
