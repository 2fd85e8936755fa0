//! Running one download (a single link or a playlist) from the tap to the delivered file: the
//! upload-once cache check, the TaskQueue slot, the worker request, progress edits, delivery,
//! persistence and clean-up.

use std::sync::Arc;

use hermes_host::client::{new_task_id, EventStream};
use hermes_host::render::{render_status, StatusView};
use hermes_host::task_queue::{QueueError, TaskState};
use hermes_protocol::{DownloadDone, ErrorCode, Event, PlaylistDone, ProgressData, Request, Response};

use crate::app::App;
use crate::db::NewTask;
use crate::delivery::{self, Delivered};
use crate::job::{short_id, Job, JobKind};
use crate::messages;
use crate::progress::StatusMessage;
use crate::reply::reply;

/// Starts `job`: answers from the upload cache when possible, otherwise queues the download
/// and runs it in the background.
pub(crate) async fn start(app: Arc<App>, job: Job) {
    if answered_from_cache(&app, &job).await {
        return;
    }
    let active = app
        .queue
        .snapshot_for_chat(job.chat_id)
        .iter()
        .filter(|task| !task.state.is_finished())
        .count();
    if active >= app.config.max_queued_per_chat {
        tracing::info!(
            chat_id = job.chat_id,
            active,
            "download refused: MAX_QUEUED_PER_CHAT reached"
        );
        let text = messages::queue_full(app.config.max_queued_per_chat);
        match job.reuse_message_id {
            Some(message_id) => {
                if let Err(error) = app.telegram.edit_text(job.chat_id, message_id, &text, None).await {
                    tracing::warn!(%error, "cannot refuse in the keyboard message");
                }
            }
            None => reply(&app, job.chat_id, &text).await,
        }
        return;
    }
    let task_id = new_task_id("tg");
    let header = job.header();
    let Some(status) = open_status_message(&app, &job, &task_id, &header).await else {
        return;
    };
    let record = NewTask {
        id: &task_id,
        chat_id: job.chat_id,
        kind: job.kind.queue_kind(),
        url: &job.url,
        status_message_id: Some(status.message_id),
    };
    if let Err(error) = app.db.insert_task(&record).await {
        tracing::error!(%error, "cannot record task");
    }
    if !app.queue.enqueue(&task_id, job.chat_id, job.kind.queue_kind()) {
        tracing::error!(%task_id, "duplicate task id");
        return;
    }
    app.set_label(&task_id, &header);
    tokio::spawn(async move {
        let mut runner = Runner {
            app: Arc::clone(&app),
            task_id,
            header,
            status,
            job,
            early_parts: Vec::new(),
        };
        runner.run().await;
        app.forget_label(&runner.task_id);
    });
}

/// Sends the cached upload if this exact media was delivered before. A `file_id` Telegram no
/// longer accepts is forgotten and the download goes ahead.
async fn answered_from_cache(app: &App, job: &Job) -> bool {
    let Some(key) = job.upload_key() else {
        return false;
    };
    let cached = match app.db.cached_upload(&key).await {
        Ok(Some(cached)) => cached,
        Ok(None) => return false,
        Err(error) => {
            tracing::warn!(%error, "upload cache lookup failed");
            return false;
        }
    };
    match delivery::send_cached(app, job.chat_id, &cached, job.performer.clone()).await {
        Ok(()) => {
            if let Some(message_id) = job.reuse_message_id {
                let text = format!("{}\n{}", job.header(), render_status(&StatusView::Completed));
                if let Err(error) = app.telegram.edit_text(job.chat_id, message_id, &text, None).await {
                    tracing::warn!(%error, "cannot update the keyboard message");
                }
            }
            true
        }
        Err(error) => {
            tracing::warn!(%error, "cached file_id refused, downloading again");
            if let Err(error) = app.db.forget_upload(&key).await {
                tracing::warn!(%error, "cannot forget a stale upload");
            }
            false
        }
    }
}

async fn open_status_message(app: &App, job: &Job, task_id: &str, header: &str) -> Option<StatusMessage> {
    let text = status_text(header, &StatusView::Queued { position: None }, Some(task_id));
    let message_id = match job.reuse_message_id {
        Some(message_id) => match app.telegram.edit_text(job.chat_id, message_id, &text, None).await {
            Ok(()) => Some(message_id),
            Err(error) => {
                tracing::warn!(%error, "cannot reuse the keyboard message");
                None
            }
        },
        None => None,
    };
    let message_id = match message_id {
        Some(id) => id,
        None => match app.telegram.send_text(job.chat_id, &text, None).await {
            Ok(message) => message.message_id,
            Err(error) => {
                tracing::error!(%error, "cannot send a status message");
                return None;
            }
        },
    };
    Some(StatusMessage::new(
        app.telegram.clone(),
        job.chat_id,
        message_id,
        text,
    ))
}

/// `header`, the status line, and while the task is active a `/cancel <id>` hint.
fn status_text(header: &str, view: &StatusView, active_task: Option<&str>) -> String {
    let mut text = format!("{header}\n{}", render_status(view));
    if let Some(task_id) = active_task {
        text.push_str(&format!("\n/cancel {}", short_id(task_id)));
    }
    text
}

/// How a task ended, for the database, the queue and the last status line.
enum Outcome {
    Delivered,
    Cancelled,
    Failed {
        user_message: String,
        reason: String,
    },
    /// The bot is stopping: leave everything as is for the next start to report.
    Abandoned,
}

struct Runner {
    app: Arc<App>,
    task_id: String,
    header: String,
    status: StatusMessage,
    job: Job,
    /// ZIP parts already sent while the playlist ran.
    early_parts: Vec<delivery::EarlyPart>,
}

impl Runner {
    async fn run(&mut self) {
        let dir = self.app.task_dir(self.job.chat_id, &self.task_id);
        let outcome = self.acquire_and_download(&dir).await;
        self.record(&outcome).await;
        if !matches!(outcome, Outcome::Abandoned) {
            self.app.remove_task_files(&dir);
        }
    }

    async fn acquire_and_download(&mut self, dir: &std::path::Path) -> Outcome {
        let position = self.app.queue.task(&self.task_id).and_then(|t| t.queue_position);
        self.show(StatusView::Queued { position }).await;
        match self.app.queue.acquire(&self.task_id).await {
            Ok(()) => {}
            Err(QueueError::Cancelled) => return Outcome::Cancelled,
            Err(error) => {
                return Outcome::Failed {
                    user_message: messages::INTERNAL_FAILURE.to_owned(),
                    reason: error.to_string(),
                }
            }
        }
        self.set_db_state(TaskState::Running, None).await;
        self.show(StatusView::Preparing).await;
        let request = self.request(dir);
        let mut stream = match self.app.client.send(&request) {
            Ok(stream) => stream,
            Err(error) => {
                return Outcome::Failed {
                    user_message: messages::INTERNAL_FAILURE.to_owned(),
                    reason: error.to_string(),
                }
            }
        };
        let Some(final_event) = self.follow_progress(&mut stream, dir).await else {
            return Outcome::Failed {
                user_message: messages::INTERNAL_FAILURE.to_owned(),
                reason: "the worker's event stream ended early".to_owned(),
            };
        };
        if self.was_cancelled() {
            return Outcome::Cancelled;
        }
        self.conclude(final_event).await
    }

    fn request(&self, dir: &std::path::Path) -> Request {
        self.job.request(
            &self.task_id,
            &dir.to_string_lossy(),
            self.app.config.upload_limit_mb,
        )
    }

    /// Relays progress to the queue, the database and the status message until the final
    /// event. A pending status text is flushed when its throttle interval is over even if no
    /// new event arrives.
    async fn follow_progress(&mut self, stream: &mut EventStream, dir: &std::path::Path) -> Option<Response> {
        let mut last_saved_percent = 0;
        loop {
            let due = self.status.due_at();
            let event = tokio::select! {
                event = stream.next() => event,
                () = sleep_until_opt(due) => {
                    self.status.flush_due().await;
                    continue;
                }
            };
            let event = event?;
            if event.event.is_final() {
                return Some(event);
            }
            let Ok(progress) = event.payload::<ProgressData>() else {
                continue;
            };
            if let (Some(file), JobKind::Playlist { .. }) = (&progress.file, &self.job.kind) {
                // A finished ZIP part: the user gets it now rather than after the last track.
                if let Some(sent) = delivery::deliver_part_early(&self.app, self.job.chat_id, dir, file).await
                {
                    self.early_parts.push(sent);
                }
            }
            self.app
                .queue
                .update_progress(&self.task_id, progress.percent, &progress.speed);
            if progress.percent >= last_saved_percent + 10 {
                last_saved_percent = progress.percent;
                if let Err(error) = self
                    .app
                    .db
                    .set_task_progress(&self.task_id, progress.percent)
                    .await
                {
                    tracing::warn!(%error, "cannot save progress");
                }
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
            if let (ErrorCode::FileTooLarge, JobKind::Single(_)) = (&error.error_code, &self.job.kind) {
                // Stopped at the upload limit we passed as its cap: same as a file that arrived
                // too big, a smaller choice is offered.
                delivery::offer_lower_quality(&self.app, &self.job, error.file_size).await;
                return Outcome::Failed {
                    user_message: messages::stopped_at_limit(
                        error.file_size,
                        self.app.config.upload_limit_mb,
                    ),
                    reason: format!("{}: {}", error.error_code, error.message),
                };
            }
            return self.worker_failure(&error.error_code, &error.message);
        }
        if event.event != Event::Done {
            return Outcome::Failed {
                user_message: messages::INTERNAL_FAILURE.to_owned(),
                reason: format!("unexpected final event {}", event.event),
            };
        }
        let delivered = match &self.job.kind {
            JobKind::Single(choice) => match event.payload::<DownloadDone>() {
                Ok(done) => delivery::deliver_single(&self.app, &self.job, choice, &done).await,
                Err(error) => Err(delivery::DeliveryError::internal(error.to_string())),
            },
            JobKind::Playlist { mode, .. } => match event.payload::<PlaylistDone>() {
                Ok(done) => {
                    delivery::deliver_playlist(&self.app, self.job.chat_id, *mode, &done, &self.early_parts)
                        .await
                }
                Err(error) => Err(delivery::DeliveryError::internal(error.to_string())),
            },
        };
        match delivered {
            Ok(Delivered { file_path }) => {
                if let Some(path) = file_path {
                    if let Err(error) = self.app.db.set_task_file(&self.task_id, &path).await {
                        tracing::warn!(%error, "cannot save the file path");
                    }
                }
                Outcome::Delivered
            }
            Err(error) => Outcome::Failed {
                user_message: error.user_message,
                reason: error.reason,
            },
        }
    }

    fn worker_failure(&self, code: &ErrorCode, message: &str) -> Outcome {
        // While the bot stops, the worker kills its children: the task ends as cancelled or
        // crashed, but it was interrupted, and the next start tells the user to resend it.
        if self.app.is_shutting_down() {
            return Outcome::Abandoned;
        }
        match code {
            ErrorCode::Cancelled => Outcome::Cancelled,
            _ => {
                tracing::info!(task_id = %self.task_id, %code, %message, "task failed");
                let mut user_message = messages::error_message(code).to_owned();
                if let Some(hint) = messages::operator_hint(code, message)
                    .filter(|_| self.app.config.is_admin(self.job.chat_id))
                {
                    user_message = format!("{user_message}\n\n{hint}");
                }
                Outcome::Failed {
                    user_message,
                    reason: format!("{code}: {message}"),
                }
            }
        }
    }

    fn was_cancelled(&self) -> bool {
        self.app
            .queue
            .task(&self.task_id)
            .is_some_and(|t| t.state == TaskState::Cancelled)
    }

    /// Brings the queue, the database and the status message to the task's end state.
    async fn record(&mut self, outcome: &Outcome) {
        let (state, view, reason) = match outcome {
            Outcome::Abandoned => return,
            Outcome::Delivered => {
                self.app.queue.complete(&self.task_id);
                (TaskState::Done, StatusView::Completed, None)
            }
            Outcome::Cancelled => {
                self.app.queue.cancel(&self.task_id);
                (TaskState::Cancelled, StatusView::Cancelled, None)
            }
            Outcome::Failed { user_message, reason } => {
                self.app.queue.fail(&self.task_id, reason);
                let view = StatusView::Failed {
                    message: user_message.clone(),
                };
                (TaskState::Failed, view, Some(reason.as_str()))
            }
        };
        self.set_db_state(state, reason).await;
        let text = status_text(&self.header, &view, None);
        self.status.finish(text).await;
    }

    async fn set_db_state(&self, state: TaskState, error: Option<&str>) {
        if let Err(db_error) = self.app.db.set_task_state(&self.task_id, state, error).await {
            tracing::warn!(%db_error, "cannot save task state");
        }
    }

    async fn show(&mut self, view: StatusView) {
        let text = status_text(&self.header, &view, Some(&self.task_id));
        self.status.show(text).await;
    }
}

async fn sleep_until_opt(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_text_shows_the_cancel_hint_only_while_active() {
        let active = status_text("🎵 Song", &StatusView::Preparing, Some("tg-abcdef0123"));
        assert_eq!(active, "🎵 Song\n🔎 Preparing…\n/cancel abcdef01");
        let done = status_text("🎵 Song", &StatusView::Completed, None);
        assert_eq!(done, "🎵 Song\n✅ Completed");
    }
}
