//! Running one download (a single link or a playlist) from the tap to the delivered file: the
//! upload-once cache check, the TaskQueue slot, the worker request, progress edits, delivery,
//! persistence and clean-up.

use std::sync::Arc;

use hermes_protocol::{
    download_request, playlist_request_opts, AudioFormat, DownloadDone, ErrorCode, Event,
    PlaylistDone, ProgressData, Request, Response,
};
use serde_json::json;

use crate::client::{new_task_id, EventStream};
use crate::render::{render_status, StatusView};
use crate::task_queue::{QueueError, TaskState};

use super::app::App;
use super::callbacks::Mode;
use super::db::{NewTask, UploadKey};
use super::delivery::{self, Delivered};
use super::messages;
use super::progress::StatusMessage;

/// How a single link is downloaded: the mode plus an optional quality pick from `get_formats`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadSpec {
    pub mode: Mode,
    pub audio_format: AudioFormat,
    /// yt-dlp `--audio-quality` (`"0"` best … `"9"`); the worker's default when `None`.
    pub audio_quality: Option<String>,
    /// An explicit yt-dlp format selector (a quality pick); the worker's default when `None`.
    pub format: Option<String>,
}

impl DownloadSpec {
    pub fn new(mode: Mode, audio_format: AudioFormat) -> Self {
        Self {
            mode,
            audio_format,
            audio_quality: None,
            format: None,
        }
    }

    /// The `format` column of the upload cache: every parameter that changes the produced file.
    pub fn cache_format(&self) -> String {
        match self.mode {
            Mode::Audio => {
                let mut label = self.audio_format.as_str().to_owned();
                if let Some(quality) = &self.audio_quality {
                    label.push_str(&format!("@q{quality}"));
                }
                if let Some(format) = &self.format {
                    label.push_str(&format!("@{format}"));
                }
                label
            }
            Mode::Video => self.format.clone().unwrap_or_else(|| "best".to_owned()),
        }
    }

    fn request(&self, task_id: &str, url: &str, output_dir: &str) -> Request {
        let mut request = download_request(task_id, url, self.mode == Mode::Audio, output_dir);
        if self.mode == Mode::Audio {
            request = request.with_params(json!({ "audio_format": self.audio_format.as_str() }));
        }
        if let Some(quality) = &self.audio_quality {
            request = request.with_params(json!({ "audio_quality": quality }));
        }
        if let Some(format) = &self.format {
            request = request.with_params(json!({ "format": format }));
        }
        request
    }
}

/// What the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobKind {
    Single(DownloadSpec),
    Playlist {
        mode: Mode,
        audio_format: AudioFormat,
        /// First N items; all when `None`.
        limit: Option<u32>,
    },
}

impl JobKind {
    fn queue_kind(&self) -> &'static str {
        match self {
            JobKind::Single(spec) => spec.mode.as_str(),
            JobKind::Playlist { .. } => "playlist",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub chat_id: i64,
    pub url: String,
    /// `links::normalize_key` of the link, the upload cache's media key.
    pub media_key: String,
    pub kind: JobKind,
    /// Known up front when the link came from a search result.
    pub title: Option<String>,
    pub performer: Option<String>,
    /// A message to turn into the status message (the keyboard that was tapped); a new message
    /// is sent when `None`.
    pub reuse_message_id: Option<i32>,
}

impl Job {
    fn upload_key(&self) -> Option<UploadKey> {
        match &self.kind {
            JobKind::Single(spec) => Some(UploadKey {
                media_key: self.media_key.clone(),
                mode: spec.mode,
                format: spec.cache_format(),
            }),
            // A playlist's content changes over time and arrives as several ZIP parts.
            JobKind::Playlist { .. } => None,
        }
    }

    fn header(&self) -> String {
        let subject = self.title.clone().unwrap_or_else(|| shorten(&self.url, 80));
        match &self.kind {
            JobKind::Single(spec) if spec.mode == Mode::Audio => format!("🎵 {subject}"),
            JobKind::Single(_) => format!("🎬 {subject}"),
            JobKind::Playlist { .. } => format!("📃 {subject}"),
        }
    }
}

/// The short id users type after `/cancel` (the first 8 hex digits of the task's uuid).
pub fn short_id(task_id: &str) -> &str {
    let id = task_id.strip_prefix("tg-").unwrap_or(task_id);
    id.get(..8).unwrap_or(id)
}

/// Starts `job`: answers from the upload cache when possible, otherwise queues the download
/// and runs it in the background.
pub async fn start(app: Arc<App>, job: Job) {
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
        tracing::info!(chat_id = job.chat_id, active, "download refused: MAX_QUEUED_PER_CHAT reached");
        let text = messages::queue_full(app.config.max_queued_per_chat);
        match job.reuse_message_id {
            Some(message_id) => {
                if let Err(error) = app.telegram.edit_text(job.chat_id, message_id, &text, None).await {
                    tracing::warn!(%error, "cannot refuse in the keyboard message");
                }
            }
            None => super::handlers::reply(&app, job.chat_id, &text).await,
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
    if !app
        .queue
        .enqueue(&task_id, job.chat_id, job.kind.queue_kind())
    {
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
                let text = format!(
                    "{}\n{}",
                    job.header(),
                    render_status(&StatusView::Completed)
                );
                if let Err(error) = app
                    .telegram
                    .edit_text(job.chat_id, message_id, &text, None)
                    .await
                {
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

async fn open_status_message(
    app: &App,
    job: &Job,
    task_id: &str,
    header: &str,
) -> Option<StatusMessage> {
    let text = status_text(
        header,
        &StatusView::Queued { position: None },
        Some(task_id),
    );
    let message_id = match job.reuse_message_id {
        Some(message_id) => match app
            .telegram
            .edit_text(job.chat_id, message_id, &text, None)
            .await
        {
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
        let position = self
            .app
            .queue
            .task(&self.task_id)
            .and_then(|t| t.queue_position);
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
        let output_dir = dir.to_string_lossy();
        let request = match &self.job.kind {
            JobKind::Single(spec) => spec.request(&self.task_id, &self.job.url, &output_dir),
            JobKind::Playlist {
                mode,
                audio_format,
                limit,
            } => playlist_request_opts(
                &self.task_id,
                &self.job.url,
                &output_dir,
                *limit,
                *mode == Mode::Audio,
            )
            .with_params(json!({
                "audio_format": audio_format.as_str(),
                // Every ZIP part must fit through Telegram's upload limit.
                "archive_max_size_mb": self.app.config.upload_limit_mb,
            })),
        };
        // A file over the upload limit could not be delivered anyway: the worker stops it early
        // instead of filling the disk with it.
        request.with_params(json!({ "max_filesize_mb": self.app.config.upload_limit_mb }))
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
                if let Some(sent) = delivery::deliver_part_early(&self.app, self.job.chat_id, dir, file).await {
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
            let status = serde_json::to_value(&progress.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let eta = (progress.eta > 0).then_some(progress.eta);
            let view = StatusView::from_progress(&status, progress.percent, &progress.speed, eta);
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
                    user_message: messages::stopped_at_limit(error.file_size, self.app.config.upload_limit_mb),
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
            JobKind::Single(spec) => match event.payload::<DownloadDone>() {
                Ok(done) => delivery::deliver_single(&self.app, &self.job, spec, &done).await,
                Err(error) => Err(delivery::DeliveryError::internal(error.to_string())),
            },
            JobKind::Playlist { mode, .. } => match event.payload::<PlaylistDone>() {
                Ok(done) => {
                    delivery::deliver_playlist(&self.app, self.job.chat_id, *mode, &done, &self.early_parts).await
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
                if let Some(hint) = messages::operator_hint(code, message).filter(|_| self.app.config.is_admin(self.job.chat_id)) {
                    user_message = format!("{user_message}\n\n{hint}");
                }
                Outcome::Failed { user_message, reason: format!("{code}: {message}") }
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
            Outcome::Failed {
                user_message,
                reason,
            } => {
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
        if let Err(db_error) = self
            .app
            .db
            .set_task_state(&self.task_id, state, error)
            .await
        {
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

/// `text` cut to `max` characters on a char boundary, with an ellipsis when cut.
pub fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_owned(),
        Some((cut, _)) => format!("{}…", &text[..cut]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_format_names_everything_that_changes_the_file() {
        let mut spec = DownloadSpec::new(Mode::Audio, AudioFormat::Mp3);
        assert_eq!(spec.cache_format(), "mp3");
        spec.audio_quality = Some("5".into());
        spec.format = Some("bestaudio/best".into());
        assert_eq!(spec.cache_format(), "mp3@q5@bestaudio/best");
        let mut video = DownloadSpec::new(Mode::Video, AudioFormat::Mp3);
        assert_eq!(video.cache_format(), "best");
        video.format = Some("137+bestaudio".into());
        assert_eq!(video.cache_format(), "137+bestaudio");
    }

    #[test]
    fn requests_carry_the_spec() {
        let mut spec = DownloadSpec::new(Mode::Audio, AudioFormat::Opus);
        spec.audio_quality = Some("5".into());
        let request = spec.request("t1", "http://x/a.webm", "/dl/1/t1");
        assert_eq!(request.params["extract_audio"], json!(true));
        assert_eq!(request.params["audio_format"], json!("opus"));
        assert_eq!(request.params["audio_quality"], json!("5"));
        assert_eq!(request.params["output_dir"], json!("/dl/1/t1"));
        assert!(!request.params.contains_key("format"));
        let video = DownloadSpec::new(Mode::Video, AudioFormat::Mp3).request("t2", "u", "/d");
        assert_eq!(video.params["extract_audio"], json!(false));
        assert!(!video.params.contains_key("audio_format"));
    }

    #[test]
    fn short_ids_and_shortened_text() {
        assert_eq!(short_id("tg-0123456789abcdef"), "01234567");
        assert_eq!(short_id("abc"), "abc");
        assert_eq!(shorten("héllo", 10), "héllo");
        assert_eq!(shorten("héllo wörld", 5), "héllo…");
    }

    #[test]
    fn status_text_shows_the_cancel_hint_only_while_active() {
        let active = status_text("🎵 Song", &StatusView::Preparing, Some("tg-abcdef0123"));
        assert_eq!(active, "🎵 Song\n🔎 Preparing…\n/cancel abcdef01");
        let done = status_text("🎵 Song", &StatusView::Completed, None);
        assert_eq!(done, "🎵 Song\n✅ Completed");
    }
}
