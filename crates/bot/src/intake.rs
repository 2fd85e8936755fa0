//! A download the user asked for becomes a job: answered from the upload cache when possible,
//! refused past `MAX_QUEUED_PER_CHAT`, else given a status message, recorded in the jobs table
//! (the one owner of its state) and handed on: to this process's worker (`all`) or to the nodes
//! (`front`).

use std::sync::Arc;

use hermes_host::client::new_task_id;
use hermes_host::render::{render_status, StatusView};

use crate::app::App;
use crate::config::StatusWhenDone;
use crate::db::NewTask;
use crate::delivery;
use crate::job::Job;
use crate::job_runner::{delivered_text, status_text, Runner};
use crate::ledger::Ledger;
use crate::messages;
use crate::reply::reply;
use crate::role::Dispatch;

pub(crate) async fn start(app: Arc<App>, mut job: Job) {
    if answered_from_cache(&app, &job).await {
        return;
    }
    let active = match app.db.active_tasks(job.chat_id).await {
        Ok(active) => active.len(),
        Err(error) => {
            tracing::error!(%error, "cannot count the chat's jobs");
            reply(&app, job.chat_id, messages::INTERNAL_FAILURE).await;
            return;
        }
    };
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
    let text = status_text(
        &job.header(),
        &StatusView::Queued { position: None },
        Some(&task_id),
    );
    let Some(message_id) = open_status_message(&app, &job, &text).await else {
        return;
    };
    job.reuse_message_id = Some(message_id);
    let json = match serde_json::to_string(&job) {
        Ok(json) => json,
        Err(error) => {
            tracing::error!(%error, "cannot serialise a job");
            return;
        }
    };
    let record = NewTask {
        id: &task_id,
        chat_id: job.chat_id,
        kind: job.kind.queue_kind(),
        url: &job.url,
        status_message_id: Some(message_id),
        job: &json,
        enqueued: matches!(app.dispatch, Dispatch::Local),
    };
    if let Err(error) = app.db.insert_task(&record).await {
        // Not recorded means not run: a job nobody owns could be neither resumed nor seen.
        tracing::error!(%error, "cannot record a job");
        let text = format!(
            "{}\n{}",
            job.header(),
            render_status(&StatusView::Failed {
                message: messages::INTERNAL_FAILURE.to_owned(),
            })
        );
        if let Err(error) = app.telegram.edit_text(job.chat_id, message_id, &text, None).await {
            tracing::warn!(%error, "cannot report a job that was not recorded");
        }
        return;
    }
    match &app.dispatch {
        Dispatch::Local => run_here(&app, task_id, job, 1, text),
        Dispatch::Front(link) => link.wake(),
    }
}

/// Runs a recorded job on this process's worker; `attempt` counts its starts, `status_text` is
/// what its status message shows now.
pub(crate) fn run_here(app: &Arc<App>, task_id: String, job: Job, attempt: u32, status_text: String) {
    if !app.queue.enqueue(&task_id, job.chat_id, job.kind.queue_kind()) {
        tracing::error!(%task_id, "duplicate task id");
        return;
    }
    let Some(runner) = Runner::new(
        Arc::clone(&app.engine),
        Ledger::Local(Arc::clone(app)),
        task_id,
        job,
        attempt,
        status_text,
    ) else {
        tracing::error!("a recorded job without a status message");
        return;
    };
    tokio::spawn(runner.run());
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
    match delivery::send_cached(&app.engine, job.chat_id, &cached, job.performer.clone()).await {
        Ok(()) => {
            if let Some(message_id) = job.reuse_message_id {
                let deleted = app.config.status_when_done == StatusWhenDone::Delete
                    && app.telegram.delete_message(job.chat_id, message_id).await.is_ok();
                if !deleted {
                    let text = delivered_text(&job.header());
                    if let Err(error) = app.telegram.edit_text(job.chat_id, message_id, &text, None).await {
                        tracing::warn!(%error, "cannot update the keyboard message");
                    }
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

/// The keyboard message that was tapped becomes the status message, else a new one is sent.
async fn open_status_message(app: &App, job: &Job, text: &str) -> Option<i32> {
    if let Some(message_id) = job.reuse_message_id {
        match app.telegram.edit_text(job.chat_id, message_id, text, None).await {
            Ok(()) => return Some(message_id),
            Err(error) => tracing::warn!(%error, "cannot reuse the keyboard message"),
        }
    }
    match app.telegram.send_text(job.chat_id, text, None).await {
        Ok(message) => Some(message.message_id),
        Err(error) => {
            tracing::error!(%error, "cannot send a status message");
            None
        }
    }
}
