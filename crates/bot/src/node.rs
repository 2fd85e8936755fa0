//! `HERMES_ROLE=node`: takes jobs from `hermes:jobs` as long as it has a free slot
//! (`WORKER_CONCURRENCY`), runs each on its own worker with the same [`Runner`] as the single
//! process, heartbeating it, and reports to `hermes:results`. A job is acknowledged only once it
//! is over: a node that dies leaves its jobs to be claimed by another after
//! `JOB_CLAIM_IDLE_SECS`; a node that stops hands them back at once.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use hermes_host::render::StatusView;
use hermes_queue::{retrying, Claim, Claimed, JobQueue, QueueConfig, Stop};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use crate::engine::Engine;
use crate::job::{is_task_id, Job};
use crate::job_report::JobReport;
use crate::job_runner::{status_text, Outcome, Runner};
use crate::ledger::Ledger;
use crate::messages;
use crate::shutdown;

/// How long one claim waits for a new job before it looks for silent nodes' jobs again.
const CLAIM_WAIT: Duration = Duration::from_secs(2);
/// How long running jobs may take to hand themselves back at a stop.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Runs until SIGINT/SIGTERM.
pub(crate) async fn run(engine: Arc<Engine>, config: QueueConfig, concurrency: usize) {
    let stop = shutdown::stop_signal();
    tokio::pin!(stop);
    let queue = tokio::select! {
        queue = retrying("connect to the job queue", || JobQueue::connect(config.clone())) => queue,
        () = &mut stop => return,
    };
    tracing::info!(consumer = %config.consumer, concurrency, "node is taking jobs");
    let slots = Arc::new(Semaphore::new(concurrency));
    let mut running = JoinSet::new();
    let mut failures = 0u32;
    loop {
        while running.try_join_next().is_some() {}
        let permit = tokio::select! {
            permit = Arc::clone(&slots).acquire_owned() => permit.expect("the semaphore is never closed"),
            () = &mut stop => break,
        };
        let claim = tokio::select! {
            claim = queue.claim_next::<Job>(CLAIM_WAIT) => claim,
            () = &mut stop => break,
        };
        match claim {
            Ok(Claim::Idle) => failures = 0,
            Ok(Claim::Dead(claimed)) => {
                failures = 0;
                let report = JobReport::Dead {
                    attempts: claimed.attempt,
                };
                Ledger::Remote(queue.clone())
                    .report(&claimed.job_id, &claimed.job, report)
                    .await;
            }
            Ok(Claim::Job(claimed)) => {
                failures = 0;
                tracing::info!(task_id = %claimed.job_id, attempt = claimed.attempt, "job claimed");
                running.spawn(run_claimed(Arc::clone(&engine), queue.clone(), claimed, permit));
            }
            Err(error) => {
                failures += 1;
                let pause = Duration::from_millis(200 << failures.min(5));
                tracing::warn!(%error, ?pause, "cannot claim a job; retrying");
                tokio::time::sleep(pause).await;
            }
        }
    }
    tracing::info!(running = running.len(), "node stopping; handing its jobs back");
    engine.begin_shutdown();
    engine.client.shutdown().await;
    let _ = tokio::time::timeout(STOP_GRACE, async { while running.join_next().await.is_some() {} }).await;
}

async fn run_claimed(
    engine: Arc<Engine>,
    queue: JobQueue,
    claimed: Claimed<Job>,
    _slot: OwnedSemaphorePermit,
) {
    let task_id = claimed.job_id.clone();
    if !is_task_id(&task_id) {
        // It would name a directory this node writes and deletes: never run it.
        tracing::error!(?task_id, "a job whose id is not a task id; dropped");
        acknowledge(&queue, &claimed).await;
        return;
    }
    let job = claimed.job.clone();
    let ledger = Ledger::Remote(queue.clone());
    if queue.is_cancelled(&task_id).await.unwrap_or(false) {
        ledger.report(&task_id, &job, JobReport::Cancelled).await;
        if let Some(message_id) = job.reuse_message_id {
            let text = status_text(&job.header(), &StatusView::Cancelled, None);
            if let Err(error) = engine
                .telegram
                .edit_text(job.chat_id, message_id, &text, None)
                .await
            {
                tracing::warn!(%error, "cannot show a cancelled job");
            }
        }
        acknowledge(&queue, &claimed).await;
        return;
    }
    let text = if claimed.attempt > 1 {
        // Taken over from a node that went silent, or handed back by one that stopped.
        let text = format!("{}\n{}", job.header(), messages::RESUMING);
        if let Some(message_id) = job.reuse_message_id {
            if let Err(error) = engine
                .telegram
                .edit_text(job.chat_id, message_id, &text, None)
                .await
            {
                tracing::warn!(%error, "cannot show that a job resumes");
            }
        }
        text
    } else {
        status_text(
            &job.header(),
            &StatusView::Queued { position: None },
            Some(&task_id),
        )
    };
    if !engine.queue.enqueue(&task_id, job.chat_id, job.kind.queue_kind()) {
        tracing::warn!(%task_id, "this node already runs that job");
        return;
    }
    let runner = Runner::new(
        Arc::clone(&engine),
        ledger,
        task_id.clone(),
        job,
        claimed.attempt,
        text,
    )
    .map(Runner::trying_again_on_transient_failures);
    let Some(runner) = runner else {
        tracing::error!(%task_id, "a job without a status message; dropped");
        acknowledge(&queue, &claimed).await;
        return;
    };
    let abandon = runner.abandon_flag();
    let hold = queue.hold(&claimed);
    let mut run = tokio::spawn(runner.run());
    let outcome = tokio::select! {
        outcome = &mut run => outcome,
        () = hold.stopped().cancelled() => {
            if hold.reason() == Some(Stop::TakenOver) {
                tracing::warn!(%task_id, "another node took this job over; stopping it here");
                abandon.store(true, Ordering::SeqCst);
            }
            engine.queue.cancel(&task_id);
            run.await
        }
    };
    drop(hold);
    match outcome {
        Ok(outcome) if outcome.is_final() => acknowledge(&queue, &claimed).await,
        Ok(Outcome::TryAgain { .. }) => {
            // Counted as an attempt; past JOB_MAX_ATTEMPTS the next claim finds it dead.
            retrying("hand a job back", || queue.requeue(&claimed)).await;
        }
        Ok(_) if engine.is_shutting_down() => {
            // Stopping, not dead: the job goes back now rather than after JOB_CLAIM_IDLE_SECS.
            if let Err(error) = queue.requeue(&claimed).await {
                tracing::warn!(%task_id, %error, "cannot hand a job back; another node will claim it");
            }
        }
        Ok(_) => {}
        Err(error) => tracing::error!(%task_id, %error, "a job's run panicked; another node will claim it"),
    }
}

async fn acknowledge(queue: &JobQueue, claimed: &Claimed<Job>) {
    retrying("acknowledge a job", || queue.ack(claimed)).await;
}
