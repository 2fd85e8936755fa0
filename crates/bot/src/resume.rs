//! At start (`HERMES_ROLE=all`): the jobs a previous process left queued or running run again,
//! their status messages saying so, up to `JOB_MAX_ATTEMPTS` starts; past that the user is told,
//! with a 🔁 Retry button. Nobody is asked to resend.

use std::sync::Arc;

use hermes_host::task_queue::TaskState;

use crate::app::App;
use crate::db::TaskRow;
use crate::intake;
use crate::job::{short_id, Job};
use crate::job_report::JobReport;
use crate::messages;
use crate::record;
use crate::reply::reply;

pub(crate) async fn resume_interrupted(app: &Arc<App>) {
    let rows = match app.db.unfinished_tasks().await {
        Ok(rows) => rows,
        Err(error) => {
            tracing::warn!(%error, "cannot look for interrupted jobs");
            return;
        }
    };
    for row in rows {
        app.remove_task_files(&app.task_dir(row.chat_id, &row.id));
        let job = row
            .job
            .as_deref()
            .and_then(|json| serde_json::from_str::<Job>(json).ok());
        let Some(job) = job else {
            tell_lost(app, &row).await;
            continue;
        };
        if row.attempts >= app.config.cluster.max_attempts {
            tracing::info!(task_id = %row.id, attempts = row.attempts, "giving up an interrupted job");
            record::apply(
                app,
                &row.id,
                &job,
                &JobReport::Dead {
                    attempts: row.attempts,
                },
            )
            .await;
            continue;
        }
        tracing::info!(task_id = %row.id, attempt = row.attempts + 1, "resuming an interrupted job");
        let text = format!(
            "{}\n{}\n/cancel_{}",
            job.header(),
            messages::RESUMING,
            short_id(&row.id)
        );
        if let Some(message_id) = job.reuse_message_id {
            if let Err(error) = app.telegram.edit_text(job.chat_id, message_id, &text, None).await {
                tracing::warn!(%error, "cannot show that a job resumes");
            }
        }
        intake::run_here(app, row.id, job, row.attempts + 1, text);
    }
}

/// A row from before jobs were kept whole cannot run again: its chat is told to resend.
async fn tell_lost(app: &App, row: &TaskRow) {
    if let Err(error) = app
        .db
        .finish_task(&row.id, TaskState::Failed, Some("the bot restarted"), None)
        .await
    {
        tracing::warn!(%error, "cannot record a lost task");
    }
    let text = format!("{}: {}", messages::BOT_RESTARTED, row.url);
    reply(app, row.chat_id, &text).await;
}
