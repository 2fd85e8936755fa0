//! Holding a job while it runs: heartbeats at a third of `claim_idle` (so a busy node is never
//! taken for a silent one), and the job's stop when it is cancelled (`/cancel` on the front) or
//! was taken over by another node (this one was unreachable for too long).
use crate::jobs::{Claimed, JobQueue};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Why a held job must stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The user cancelled it.
    Cancelled,
    /// Another node holds it now; this node must neither deliver it nor report it.
    TakenOver,
}

/// A job being held; heartbeating stops when this is dropped.
pub struct Hold {
    stop: CancellationToken,
    reason: std::sync::Arc<std::sync::Mutex<Option<Stop>>>,
    heartbeat: tokio::task::JoinHandle<()>,
}

impl Hold {
    /// Cancelled when the job must stop; [`Hold::reason`] says why.
    pub fn stopped(&self) -> &CancellationToken {
        &self.stop
    }

    pub fn reason(&self) -> Option<Stop> {
        *self
            .reason
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        self.heartbeat.abort();
    }
}

impl JobQueue {
    /// Starts heartbeating `claimed` in the background. A Redis that cannot be reached only
    /// delays the heartbeat (the job goes on; if the outage outlasts `claim_idle`, another node
    /// takes it over and this one learns so when Redis is back).
    pub fn hold<T>(&self, claimed: &Claimed<T>) -> Hold {
        let stop = CancellationToken::new();
        let reason = std::sync::Arc::new(std::sync::Mutex::new(None));
        let every = (self.config().claim_idle / 3).max(Duration::from_millis(50));
        let (queue, job) = (
            self.clone(),
            Claimed {
                entry_id: claimed.entry_id.clone(),
                job_id: claimed.job_id.clone(),
                job: (),
                attempt: claimed.attempt,
            },
        );
        let (task_stop, task_reason) = (stop.clone(), reason.clone());
        let heartbeat = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let verdict = match queue.heartbeat(&job).await {
                    Ok(false) => Some(Stop::TakenOver),
                    Ok(true) => match queue.is_cancelled(&job.job_id).await {
                        Ok(true) => Some(Stop::Cancelled),
                        _ => None,
                    },
                    Err(error) => {
                        tracing::warn!(job_id = job.job_id, %error, "cannot heartbeat a job; trying again");
                        None
                    }
                };
                if let Some(verdict) = verdict {
                    *task_reason
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(verdict);
                    task_stop.cancel();
                    return;
                }
            }
        });
        Hold {
            stop,
            reason,
            heartbeat,
        }
    }
}
