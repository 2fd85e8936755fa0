//! What becomes of a job, reported by whoever runs it to whoever owns its state: on one machine
//! straight into the jobs table ([`crate::record`]), on a node as an entry of `hermes:results`
//! that the front records the same way.

use std::sync::Arc;

use hermes_queue::{retrying, JobQueue};

use crate::app::App;
use crate::job::Job;
use crate::job_report::JobReport;
use crate::record;

/// Where a runner reports.
#[derive(Clone)]
pub(crate) enum Ledger {
    /// The jobs table of this process (`all`).
    Local(Arc<App>),
    /// `hermes:results`, for the front (`node`).
    Remote(JobQueue),
}

impl Ledger {
    pub(crate) async fn report(&self, task_id: &str, job: &Job, report: JobReport) {
        match self {
            Ledger::Local(app) => record::apply(app, task_id, job, &report).await,
            Ledger::Remote(queue) if report.ends_the_job() => {
                if matches!(report, JobReport::Delivered { .. }) {
                    // Before the result and the acknowledgement: a node that dies in between
                    // leaves a job the next node only acknowledges.
                    retrying("mark a job delivered", || queue.mark_delivered(task_id)).await;
                }
                retrying("report a job's end", || queue.publish_result(task_id, &report)).await;
            }
            Ledger::Remote(queue) => {
                // Progress is only a view: one try, never a stalled download while Redis is away.
                if let Err(error) = queue.publish_result(task_id, &report).await {
                    tracing::warn!(%task_id, %error, "cannot report progress");
                }
            }
        }
    }
}
