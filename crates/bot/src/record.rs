//! Recording a job's reports in the jobs table, the one owner of its state, and what the owner
//! does about them: the upload cache, smaller choices after a file over the limit, and the
//! 🔁 Retry offer for a job given up. Used for this process's own runs (`all`) and for the
//! results the nodes send (`front`).

use hermes_host::render::{render_status, StatusView};
use hermes_host::task_queue::TaskState;

use crate::api::keyboard;
use crate::app::App;
use crate::callbacks::{Callback, Flow};
use crate::job::{Job, JobKind};
use crate::job_report::JobReport;
use crate::messages;

pub(crate) async fn apply(app: &App, task_id: &str, job: &Job, report: &JobReport) {
    let result = match report {
        JobReport::Running { attempt } => app.db.record_start(task_id, *attempt).await.map(|_| ()),
        JobReport::Progress { percent } => app.db.set_task_progress(task_id, *percent).await,
        JobReport::Delivered { file_path, upload } => {
            if let (Some(upload), Some(key)) = (upload, job.upload_key()) {
                if let Err(error) = app.db.store_upload(&key, upload).await {
                    tracing::warn!(%error, "cannot cache the upload");
                }
            }
            app.db
                .finish_task(task_id, TaskState::Done, None, file_path.as_deref())
                .await
                .map(|_| ())
        }
        JobReport::Failed {
            reason,
            too_large,
            file_size,
        } => match app
            .db
            .finish_task(task_id, TaskState::Failed, Some(reason), None)
            .await
        {
            Ok(true) if *too_large => {
                offer_lower_quality(app, job, *file_size).await;
                Ok(())
            }
            other => other.map(|_| ()),
        },
        JobReport::Cancelled => app
            .db
            .finish_task(task_id, TaskState::Cancelled, None, None)
            .await
            .map(|_| ()),
        JobReport::Dead { attempts } => {
            let reason = format!("given up after {attempts} attempts");
            match app
                .db
                .finish_task(task_id, TaskState::Failed, Some(&reason), None)
                .await
            {
                Ok(true) => {
                    offer_retry(app, task_id, job, *attempts).await;
                    Ok(())
                }
                other => other.map(|_| ()),
            }
        }
    };
    if let Err(error) = result {
        tracing::warn!(%task_id, %error, "cannot record a job's state");
    }
}

/// Over the limit: tell the size and offer ⚙ Quality… (lower bitrates / resolutions).
async fn offer_lower_quality(app: &App, job: &Job, size: Option<u64>) {
    let flow = Flow::Link {
        url: job.url.clone(),
        title: job.title.clone(),
        performer: job.performer.clone(),
        // Unknown size: stopped at the cap, so it was at least the upload limit.
        smaller_than: Some(size.unwrap_or_else(|| app.config.upload_limit_bytes())),
    };
    let key = app.flows.insert(job.chat_id, flow);
    let mut rows = vec![vec![(
        "⚙ Choose a lower quality…".to_owned(),
        Callback::Quality { key }.encode(),
    )]];
    if matches!(job.kind, JobKind::Single(_)) {
        rows.push(vec![(
            messages::SPLIT_OFFER.to_owned(),
            Callback::split(&app.flows, job).encode(),
        )]);
    }
    let markup = keyboard(rows);
    let text = format!(
        "{} {}",
        messages::stopped_at_limit(size, app.config.upload_limit_mb),
        messages::LOWER_QUALITY_OFFER
    );
    if let Err(error) = app.telegram.send_text(job.chat_id, &text, Some(markup)).await {
        tracing::warn!(%error, "cannot offer a lower quality");
    }
}

/// The status message of a job given up says so, once, with a 🔁 Retry button.
async fn offer_retry(app: &App, task_id: &str, job: &Job, attempts: u32) {
    let view = StatusView::Failed {
        message: messages::gave_up(attempts),
    };
    let text = format!("{}\n{}", job.header(), render_status(&view));
    let markup = keyboard(vec![vec![(
        "🔁 Retry".to_owned(),
        Callback::Retry {
            task_id: task_id.to_owned(),
        }
        .encode(),
    )]]);
    let sent = match job.reuse_message_id {
        Some(message_id) => app
            .telegram
            .edit_text(job.chat_id, message_id, &text, Some(markup))
            .await
            .map(|_| ()),
        None => app
            .telegram
            .send_text(job.chat_id, &text, Some(markup))
            .await
            .map(|_| ()),
    };
    if let Err(error) = sent {
        tracing::warn!(%task_id, %error, "cannot tell the chat a job was given up");
    }
}
