//! `youtube_dl` — lands with its issue; until then it answers `error` `INTERNAL` "not implemented yet".
use crate::context::Context;
use crate::error::WorkerError;
use crate::tasks::Task;
use hermes_protocol::{Request, Response};

pub struct YoutubeDl;

impl YoutubeDl {
    pub fn parse(_request: Request) -> Result<YoutubeDl, WorkerError> {
        Ok(YoutubeDl)
    }

    pub async fn apply(self, _ctx: &Context, _task: &Task) -> Result<Response, WorkerError> {
        Err(WorkerError::Internal("youtube_dl: not implemented yet".to_owned()))
    }
}
