//! `get_formats` — lands with its issue; until then it answers `error` `INTERNAL` "not implemented yet".
use crate::context::Context;
use crate::error::WorkerError;
use crate::tasks::Task;
use hermes_protocol::{Request, Response};

pub struct GetFormats;

impl GetFormats {
    pub fn parse(_request: Request) -> Result<GetFormats, WorkerError> {
        Ok(GetFormats)
    }

    pub async fn apply(self, _ctx: &Context, _task: &Task) -> Result<Response, WorkerError> {
        Err(WorkerError::Internal("get_formats: not implemented yet".to_owned()))
    }
}
