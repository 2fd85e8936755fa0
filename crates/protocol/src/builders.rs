//! The request builders of the protocol guide ("Request Builders (Rust side)"), plus the ones
//! for the actions it does not list. All are thin wrappers over
//! `Request::new(task_id, action).with_url(...).with_params(...)`.
use crate::{Action, FormatMode, Request};
use serde_json::json;

/// Single video or audio download into `out_dir`.
pub fn download_request(task_id: &str, url: &str, extract_audio: bool, out_dir: &str) -> Request {
    Request::new(task_id, Action::YoutubeDl)
        .with_url(url)
        .with_params(json!({ "extract_audio": extract_audio, "output_dir": out_dir }))
}

/// Playlist download, limited to `max_items` when given (sent as `playlist_end`).
pub fn playlist_request_opts(
    task_id: &str,
    url: &str,
    out_dir: &str,
    max_items: Option<u32>,
    extract_audio: bool,
) -> Request {
    let mut request = Request::new(task_id, Action::Playlist)
        .with_url(url)
        .with_params(json!({ "extract_audio": extract_audio, "output_dir": out_dir }));
    if let Some(max_items) = max_items {
        request = request.with_params(json!({ "playlist_end": max_items }));
    }
    request
}

/// YouTube search for `query`, `max_results` hits.
pub fn search_request(task_id: &str, query: &str, max_results: u32) -> Request {
    Request::new(task_id, Action::YoutubeSearch)
        .with_params(json!({ "query": query, "max_results": max_results }))
}

/// Video format tiers for `url` (the guide's builder: video mode).
pub fn get_formats_request(task_id: &str, url: &str) -> Request {
    get_formats_request_mode(task_id, url, FormatMode::Video)
}

/// Format tiers for `url` in the given mode.
pub fn get_formats_request_mode(task_id: &str, url: &str, mode: FormatMode) -> Request {
    Request::new(task_id, Action::GetFormats)
        .with_url(url)
        .with_params(json!({ "mode": mode }))
}

pub fn health_check_request(task_id: &str) -> Request {
    Request::new(task_id, Action::HealthCheck)
}

pub fn video_info_request(task_id: &str, url: &str) -> Request {
    Request::new(task_id, Action::GetVideoInfo).with_url(url)
}

pub fn playlist_preview_request(task_id: &str, url: &str, preview_count: u32) -> Request {
    Request::new(task_id, Action::PlaylistPreview)
        .with_url(url)
        .with_params(json!({ "preview_count": preview_count }))
}

/// Asks the worker to cancel the running task `target_task_id`.
pub fn cancel_request(task_id: &str, target_task_id: &str) -> Request {
    Request::new(task_id, Action::Cancel).with_params(json!({ "target_task_id": target_task_id }))
}

pub fn cache_stats_request(task_id: &str) -> Request {
    Request::new(task_id, Action::CacheStats)
}

pub fn cache_cleanup_request(task_id: &str) -> Request {
    Request::new(task_id, Action::CacheCleanup)
}
