//! `get_video_info` — lands with its issue; until then it answers `error` `INTERNAL` "not implemented yet".
use crate::context::Context;
use crate::error::WorkerError;
use crate::tasks::Task;
use hermes_protocol::{Request, Response};

pub struct GetVideoInfo;

impl GetVideoInfo {
    pub fn parse(_request: Request) -> Result<GetVideoInfo, WorkerError> {
        Ok(GetVideoInfo)
    }

    pub async fn apply(self, _ctx: &Context, _task: &Task) -> Result<Response, WorkerError> {
        Err(WorkerError::Internal("get_video_info: not implemented yet".to_owned()))
    }
}
