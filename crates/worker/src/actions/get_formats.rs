//! `get_formats`: the choices offered to a user — video tiers 2160…360 or audio (best native
//! plus MP3 320/192/128) — from the same cached info JSON as `get_video_info`.
use super::get_video_info::video_metadata;
use crate::context::Context;
use crate::error::WorkerError;
use crate::tasks::Task;
use crate::validate::required_url;
use crate::ytdlp::info;
use hermes_protocol::{Event, FormatMode, FormatsParams, RawResponse, Request};

pub(crate) struct GetFormats {
    url: String,
    mode: FormatMode,
}

impl GetFormats {
    pub(crate) fn parse(request: Request) -> Result<GetFormats, WorkerError> {
        let params: FormatsParams = request.params_as()?;
        Ok(GetFormats {
            url: required_url(&request)?,
            mode: params.mode,
        })
    }

    pub(crate) async fn apply(self, ctx: &Context, task: &Task) -> Result<RawResponse, WorkerError> {
        let (metadata, _from_cache) = video_metadata(ctx, task, &self.url).await?;
        Ok(RawResponse::new(
            task.id.clone(),
            Event::FormatList,
            &info::format_list(&metadata, self.mode, ctx.config.wire_profile),
        ))
    }
}
