//! `HERMES_ROLE=front`: the jobs it records go to `hermes:jobs`, and what the nodes report on
//! `hermes:results` goes into its jobs table. Redis may be away: jobs wait in SQLite (`enqueued`
//! = 0) until Redis has them, results wait in their stream until the front has recorded them.

use std::sync::Arc;
use std::time::Duration;

use hermes_queue::{retrying, JobQueue, ResultReader};

use crate::app::App;
use crate::front_link::FrontLink;
use crate::job::Job;
use crate::job_report::JobReport;
use crate::record;

/// How long the front waits between looks for unsent jobs when nothing wakes it.
const OUTBOX_PERIOD: Duration = Duration::from_secs(5);
const RESULT_WAIT: Duration = Duration::from_secs(5);

/// Connects (retrying until Redis answers), then sends unsent jobs and records results for as
/// long as the process lives.
pub(crate) fn spawn(app: Arc<App>, link: Arc<FrontLink>) {
    tokio::spawn(async move {
        let queue = retrying("connect to the job queue", || {
            JobQueue::connect(link.config().clone())
        })
        .await;
        link.connected(queue.clone());
        tokio::spawn(send_unsent(Arc::clone(&app), Arc::clone(&link), queue));
        let reader = retrying("connect to hermes:results", || {
            ResultReader::connect(link.config().clone())
        })
        .await;
        record_results(app, reader).await;
    });
}

async fn send_unsent(app: Arc<App>, link: Arc<FrontLink>, queue: JobQueue) {
    loop {
        match app.db.unsent_jobs().await {
            Ok(unsent) => {
                for (task_id, json) in unsent {
                    let job: Job = match serde_json::from_str(&json) {
                        Ok(job) => job,
                        Err(error) => {
                            tracing::error!(%task_id, %error, "a recorded job cannot be read");
                            continue;
                        }
                    };
                    retrying("add a job to hermes:jobs", || queue.enqueue(&task_id, &job)).await;
                    if let Err(error) = app.db.mark_enqueued(&task_id).await {
                        tracing::warn!(%task_id, %error, "cannot mark a job sent");
                    }
                    tracing::info!(%task_id, "job sent to the nodes");
                }
            }
            Err(error) => tracing::warn!(%error, "cannot read unsent jobs"),
        }
        tokio::select! {
            () = link.woken() => {}
            () = tokio::time::sleep(OUTBOX_PERIOD) => {}
        }
    }
}

async fn record_results(app: Arc<App>, mut reader: ResultReader) {
    let mut failures = 0u32;
    loop {
        let received = match reader.next::<JobReport>(RESULT_WAIT).await {
            Ok(Some(received)) => received,
            Ok(None) => continue,
            Err(error) => {
                failures += 1;
                let pause = Duration::from_millis(200 << failures.min(5));
                tracing::warn!(%error, ?pause, "cannot read hermes:results; retrying");
                tokio::time::sleep(pause).await;
                continue;
            }
        };
        failures = 0;
        let task_id = received.job_id.as_str();
        match app.db.task(task_id).await {
            Ok(Some(row)) => match row.job.as_deref().map(serde_json::from_str::<Job>) {
                Some(Ok(job)) => record::apply(&app, task_id, &job, &received.result).await,
                _ => tracing::warn!(%task_id, "a result for a job that cannot be read"),
            },
            Ok(None) => tracing::warn!(%task_id, "a result for a job this front does not know"),
            Err(error) => {
                // Not acknowledged: read again after the database answers.
                tracing::warn!(%task_id, %error, "cannot record a result; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        }
        while let Err(error) = reader.ack(&received).await {
            tracing::warn!(%task_id, %error, "cannot acknowledge a result; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}
