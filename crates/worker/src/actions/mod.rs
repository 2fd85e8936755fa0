//! One file per action. A [`Command`] is parsed from a [`Request`] (validating its params before
//! it takes a slot) and then applied; applying returns the task's final event.
use crate::context::Context;
use crate::error::WorkerError;
use crate::tasks::Task;
use hermes_protocol::{Action, RawResponse, Request};

pub mod cache_cleanup;
pub mod cache_stats;
pub mod cancel;
pub mod get_formats;
pub mod get_video_info;
pub mod health_check;
pub mod playlist;
pub mod playlist_preview;
pub mod youtube_dl;
pub mod youtube_search;

pub enum Command {
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
    pub fn from_request(request: Request) -> Result<Command, WorkerError> {
        Ok(match request.action {
            Action::YoutubeDl => Command::YoutubeDl(youtube_dl::YoutubeDl::parse(request)?),
            Action::YoutubeSearch => Command::YoutubeSearch(youtube_search::YoutubeSearch::parse(request)?),
            Action::GetVideoInfo => Command::GetVideoInfo(get_video_info::GetVideoInfo::parse(request)?),
            Action::GetFormats => Command::GetFormats(get_formats::GetFormats::parse(request)?),
            Action::Playlist => Command::Playlist(playlist::Playlist::parse(request)?),
            Action::PlaylistPreview => Command::PlaylistPreview(playlist_preview::PlaylistPreview::parse(request)?),
            Action::CacheCleanup => Command::CacheCleanup(cache_cleanup::CacheCleanup),
            Action::CacheStats => Command::CacheStats(cache_stats::CacheStats),
            Action::HealthCheck => Command::HealthCheck(health_check::HealthCheck),
            Action::Cancel => Command::Cancel(cancel::Cancel::parse(request)?),
        })
    }

    /// Whether the command waits for one of the `WORKER_CONCURRENCY` slots.
    pub fn holds_slot(&self) -> bool {
        self.action().holds_slot()
    }

    pub fn action(&self) -> Action {
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

    pub async fn apply(self, ctx: &Context, task: &Task) -> Result<RawResponse, WorkerError> {
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

/// The handler names reported by `health_check`.
pub fn handler_names() -> Vec<String> {
    Action::ALL.iter().map(|a| a.as_str().to_owned()).collect()
}

/// The size cap of one request: `MAX_FILESIZE_MB`, or the request's `max_filesize_mb` when smaller.
pub fn max_filesize_mb(config: &crate::config::Config, requested: Option<u64>) -> u64 {
    requested.filter(|mb| *mb > 0).map_or(config.max_filesize_mb, |mb| mb.min(config.max_filesize_mb))
}

/// yt-dlp's `--audio-quality`: `0` (best) to `10` (worst) for VBR, or a bitrate such as `128K`.
/// Anything else would reach yt-dlp's argv as an unchecked value.
pub fn validate_audio_quality(quality: &str) -> Result<(), WorkerError> {
    let quality = quality.trim();
    let vbr = quality.parse::<u8>().is_ok_and(|q| q <= 10) && quality.len() <= 2;
    let bitrate = quality
        .strip_suffix(['k', 'K'])
        .is_some_and(|kbps| (1..=4).contains(&kbps.len()) && kbps.chars().all(|c| c.is_ascii_digit()) && kbps.parse::<u32>().is_ok_and(|k| k > 0));
    if vbr || bitrate {
        Ok(())
    } else {
        Err(WorkerError::InvalidRequest(format!(
            "audio_quality {quality:?} is not valid: use 0 (best) to 10 (worst), or a bitrate such as 128K"
        )))
    }
}

/// Longest URL accepted; longer input is not a link anyone pasted.
const MAX_URL_CHARS: usize = 4096;

/// The request's `url`, checked just enough to refuse what cannot be a link (empty, control
/// characters, whitespace inside, absurd length). Anything else goes to yt-dlp — always after
/// `--`, so even a "URL" like `--exec=...` is only ever a URL — and yt-dlp decides whether it
/// supports it.
pub fn required_url(request: &Request) -> Result<String, WorkerError> {
    let url = request.url.as_deref().map(str::trim).unwrap_or_default();
    if url.is_empty() {
        return Err(WorkerError::InvalidRequest(format!("{} needs a `url`", request.action)));
    }
    if url.chars().count() > MAX_URL_CHARS || url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(WorkerError::InvalidUrl("not a URL (whitespace, control characters or too long)".to_owned()));
    }
    if let Some(scheme) = crate::egress::forbidden_scheme(url) {
        return Err(WorkerError::UrlNotAllowed(format!("{scheme}: URLs are not allowed; only http and https links are")));
    }
    Ok(url.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_can_lower_the_size_cap_but_never_raise_it() {
        let config = crate::config::Config::from_lookup(|name| (name == "MAX_FILESIZE_MB").then(|| "50".to_owned())).unwrap();
        assert_eq!(max_filesize_mb(&config, None), 50);
        assert_eq!(max_filesize_mb(&config, Some(10)), 10);
        assert_eq!(max_filesize_mb(&config, Some(u64::MAX)), 50);
        assert_eq!(max_filesize_mb(&config, Some(0)), 50, "0 is no cap of the request's, not an unlimited one");
    }

    #[test]
    fn audio_quality_is_a_vbr_level_or_a_bitrate() {
        for ok in ["0", "5", "10", "128K", "320k", " 2 "] {
            assert!(validate_audio_quality(ok).is_ok(), "{ok}");
        }
        for bad in ["11", "-1", "K", "0K", "12345K", "128M", "best", "--exec=x", "5\n--exec"] {
            assert!(validate_audio_quality(bad).is_err(), "{bad:?}");
        }
    }
}
