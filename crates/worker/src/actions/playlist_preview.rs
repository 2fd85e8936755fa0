//! `playlist_preview` — lands with its issue; until then it answers `error` `INTERNAL` "not implemented yet".
use crate::context::Context;
use crate::error::WorkerError;
use crate::tasks::Task;
use hermes_protocol::{Request, Response};

pub struct PlaylistPreview;

impl PlaylistPreview {
    pub fn parse(_request: Request) -> Result<PlaylistPreview, WorkerError> {
        Ok(PlaylistPreview)
    }

    pub async fn apply(self, _ctx: &Context, _task: &Task) -> Result<Response, WorkerError> {
        Err(WorkerError::Internal("playlist_preview: not implemented yet".to_owned()))
    }
}
