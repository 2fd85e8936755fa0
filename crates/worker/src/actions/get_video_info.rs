//! `get_video_info`: title, duration, thumbnail and flags of one video, from yt-dlp
//! `--dump-single-json`, cached in `hermes_metadata_cache` for `CACHE_EXPIRY_HOURS`.
use crate::context::Context;
use crate::error::WorkerError;
use crate::tasks::Task;
use crate::validate::required_url;
use crate::ytdlp::info;
use hermes_protocol::{Event, RawResponse, Request};

pub(crate) struct GetVideoInfo {
    url: String,
}

impl GetVideoInfo {
    pub(crate) fn parse(request: Request) -> Result<GetVideoInfo, WorkerError> {
        Ok(GetVideoInfo {
            url: required_url(&request)?,
        })
    }

    pub(crate) async fn apply(self, ctx: &Context, task: &Task) -> Result<RawResponse, WorkerError> {
        let (info, from_cache) = video_metadata(ctx, task, &self.url).await?;
        Ok(RawResponse::new(
            task.id.clone(),
            Event::VideoInfo,
            &info::video_info(&info, from_cache),
        ))
    }
}

/// The info JSON of one video: from the metadata cache when live there, else from yt-dlp (and
/// then cached). The flag says which. Shared with `get_formats`.
pub(crate) async fn video_metadata(
    ctx: &Context,
    task: &Task,
    url: &str,
) -> Result<(serde_json::Value, bool), WorkerError> {
    let key = info::metadata_key(url);
    match ctx.cache.metadata_get(&key).await {
        Ok(Some(cached)) => return Ok((cached, true)),
        Ok(None) => {}
        Err(error) => tracing::warn!(%error, "metadata cache unreadable; asking yt-dlp"),
    }
    let args = crate::ytdlp::args::info_argv(&crate::ytdlp::env::ytdlp_env(&ctx.config), url, false, None);
    let fetched = crate::ytdlp::driver::run_json(ctx, task, args).await?;
    if let Err(error) = ctx
        .cache
        .metadata_put(&key, url, &info::trimmed_for_cache(&fetched))
        .await
    {
        tracing::warn!(%error, "cannot cache video metadata");
    }
    Ok((fetched, false))
}
