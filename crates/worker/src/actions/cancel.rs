//! `cancel` (ours): cancels a running task. The target's child processes are killed by its own
//! runner, and the target answers with `error` `CANCELLED`; this request answers `done` at once.
use crate::context::Context;
use crate::error::WorkerError;
use crate::tasks::Task;
use hermes_protocol::{CancelDone, CancelParams, Event, RawResponse, Request};

pub(crate) struct Cancel {
    target_task_id: String,
}

impl Cancel {
    pub(crate) fn parse(request: Request) -> Result<Cancel, WorkerError> {
        let params: CancelParams = request.params_as()?;
        if params.target_task_id.is_empty() {
            return Err(WorkerError::InvalidRequest(
                "cancel needs params.target_task_id".into(),
            ));
        }
        Ok(Cancel {
            target_task_id: params.target_task_id,
        })
    }

    pub(crate) async fn apply(self, ctx: &Context, task: &Task) -> Result<RawResponse, WorkerError> {
        let found = self.target_task_id != task.id && ctx.tasks.cancel(&self.target_task_id);
        tracing::info!(target = %self.target_task_id, found, "cancel requested");
        let done = CancelDone {
            cancelled: found,
            found,
            target_task_id: self.target_task_id,
        };
        Ok(RawResponse::new(task.id.clone(), Event::Done, &done))
    }
}
