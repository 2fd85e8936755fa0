//! `playlist` — lands with its issue; until then it answers `error` `INTERNAL` "not implemented yet".
use crate::context::Context;
use crate::error::WorkerError;
use crate::tasks::Task;
use hermes_protocol::{Request, Response};

pub struct Playlist;

impl Playlist {
    pub fn parse(_request: Request) -> Result<Playlist, WorkerError> {
        Ok(Playlist)
    }

    pub async fn apply(self, _ctx: &Context, _task: &Task) -> Result<Response, WorkerError> {
        Err(WorkerError::Internal("playlist: not implemented yet".to_owned()))
    }
}
