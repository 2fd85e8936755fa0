//! One file per action. A [`Command`] is parsed from a [`Request`] (validating its params before
//! it takes a slot) and then applied; applying returns the task's final event. This module only
//! declares and dispatches: the actions import from the modules below them (context, ytdlp,
//! cache, validate), never from here or from `dispatch`.
use crate::context::Context;
use crate::error::WorkerError;
use crate::tasks::Task;
use hermes_protocol::{Action, RawResponse, Request};

pub(crate) mod cache_cleanup;
pub(crate) mod cache_stats;
pub(crate) mod cancel;
pub(crate) mod get_formats;
pub(crate) mod get_video_info;
pub(crate) mod health_check;
pub(crate) mod playlist;
pub(crate) mod playlist_preview;
pub(crate) mod youtube_dl;
pub(crate) mod youtube_search;

pub(crate) enum Command {
    YoutubeDl(youtube_dl::YoutubeDl),
    YoutubeSearch(youtube_search::YoutubeSearch),
    GetVideoInfo(get_video_info::GetVideoInfo),
    GetFormats(get_formats::GetFormats),
    Playlist(playlist::Playlist),
    PlaylistPreview(playlist_preview::PlaylistPreview),
    CacheCleanup(cache_cleanup::CacheCleanup),
    CacheStats(cache_stats::CacheStats),
    HealthCheck(health_check::HealthCheck),
    Cancel(cancel::Cancel),
}

impl Command {
    pub(crate) fn from_request(request: Request) -> Result<Command, WorkerError> {
        Ok(match request.action {
            Action::YoutubeDl => Command::YoutubeDl(youtube_dl::YoutubeDl::parse(request)?),
            Action::YoutubeSearch => Command::YoutubeSearch(youtube_search::YoutubeSearch::parse(request)?),
            Action::GetVideoInfo => Command::GetVideoInfo(get_video_info::GetVideoInfo::parse(request)?),
            Action::GetFormats => Command::GetFormats(get_formats::GetFormats::parse(request)?),
            Action::Playlist => Command::Playlist(playlist::Playlist::parse(request)?),
            Action::PlaylistPreview => {
                Command::PlaylistPreview(playlist_preview::PlaylistPreview::parse(request)?)
            }
            Action::CacheCleanup => Command::CacheCleanup(cache_cleanup::CacheCleanup),
            Action::CacheStats => Command::CacheStats(cache_stats::CacheStats),
            Action::HealthCheck => Command::HealthCheck(health_check::HealthCheck),
            Action::Cancel => Command::Cancel(cancel::Cancel::parse(request)?),
        })
    }

    /// Whether the command waits for one of the `WORKER_CONCURRENCY` slots.
    pub(crate) fn holds_slot(&self) -> bool {
        self.action().holds_slot()
    }

    pub(crate) fn action(&self) -> Action {
        match self {
            Command::YoutubeDl(_) => Action::YoutubeDl,
            Command::YoutubeSearch(_) => Action::YoutubeSearch,
            Command::GetVideoInfo(_) => Action::GetVideoInfo,
            Command::GetFormats(_) => Action::GetFormats,
            Command::Playlist(_) => Action::Playlist,
            Command::PlaylistPreview(_) => Action::PlaylistPreview,
            Command::CacheCleanup(_) => Action::CacheCleanup,
            Command::CacheStats(_) => Action::CacheStats,
            Command::HealthCheck(_) => Action::HealthCheck,
            Command::Cancel(_) => Action::Cancel,
        }
    }

    pub(crate) async fn apply(self, ctx: &Context, task: &Task) -> Result<RawResponse, WorkerError> {
        match self {
            Command::YoutubeDl(cmd) => cmd.apply(ctx, task).await,
            Command::YoutubeSearch(cmd) => cmd.apply(ctx, task).await,
            Command::GetVideoInfo(cmd) => cmd.apply(ctx, task).await,
            Command::GetFormats(cmd) => cmd.apply(ctx, task).await,
            Command::Playlist(cmd) => cmd.apply(ctx, task).await,
            Command::PlaylistPreview(cmd) => cmd.apply(ctx, task).await,
            Command::CacheCleanup(cmd) => cmd.apply(ctx, task).await,
            Command::CacheStats(cmd) => cmd.apply(ctx, task).await,
            Command::HealthCheck(cmd) => cmd.apply(ctx, task).await,
            Command::Cancel(cmd) => cmd.apply(ctx, task).await,
        }
    }
}
