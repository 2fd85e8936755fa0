//! `youtube_search` — lands with its issue; until then it answers `error` `INTERNAL` "not implemented yet".
use crate::context::Context;
use crate::error::WorkerError;
use crate::tasks::Task;
use hermes_protocol::{Request, Response};

pub struct YoutubeSearch;

impl YoutubeSearch {
    pub fn parse(_request: Request) -> Result<YoutubeSearch, WorkerError> {
        Ok(YoutubeSearch)
    }

    pub async fn apply(self, _ctx: &Context, _task: &Task) -> Result<Response, WorkerError> {
        Err(WorkerError::Internal("youtube_search: not implemented yet".to_owned()))
    }
}
