//! `playlist_preview`: a playlist's title, item count and first `preview_count` items, from a
//! flat listing (no per-item extraction, nothing downloaded).
use crate::context::Context;
use crate::error::WorkerError;
use crate::tasks::Task;
use crate::validate::required_url;
use crate::ytdlp::env::ytdlp_env;
use crate::ytdlp::{args::info_argv, driver, info};
use hermes_protocol::{Event, PreviewParams, RawResponse, Request};

/// More than a chat can show usefully; also bounds the answer's size.
const MAX_PREVIEW_COUNT: u32 = 50;

pub(crate) struct PlaylistPreview {
    url: String,
    count: u32,
}

impl PlaylistPreview {
    pub(crate) fn parse(request: Request) -> Result<PlaylistPreview, WorkerError> {
        let params: PreviewParams = request.params_as()?;
        Ok(PlaylistPreview {
            url: required_url(&request)?,
            count: params.preview_count.clamp(1, MAX_PREVIEW_COUNT),
        })
    }

    pub(crate) async fn apply(self, ctx: &Context, task: &Task) -> Result<RawResponse, WorkerError> {
        let listing = driver::run_json(
            ctx,
            task,
            info_argv(&ytdlp_env(&ctx.config), &self.url, true, None),
        )
        .await?;
        let preview = info::playlist_preview(&listing, self.count as usize);
        if preview.playlist_count == Some(0) {
            return Err(WorkerError::Playlist("the playlist has no items".to_owned()));
        }
        Ok(RawResponse::new(task.id.clone(), Event::Done, &preview))
    }
}
