//! The closed set of actions a host may request, with their wire names and which of them wait
//! for a worker slot.
use serde::{Deserialize, Serialize};
use std::fmt;

/// Every action a host may request. snake_case on the wire (`"youtube_dl"`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    YoutubeDl,
    YoutubeSearch,
    GetVideoInfo,
    GetFormats,
    Playlist,
    PlaylistPreview,
    CacheCleanup,
    CacheStats,
    HealthCheck,
    /// Ours: cancels a running task by id (`params.target_task_id`).
    Cancel,
}

impl Action {
    /// All actions, in the order the worker registers them.
    pub const ALL: [Action; 10] = [
        Action::YoutubeDl,
        Action::YoutubeSearch,
        Action::GetVideoInfo,
        Action::GetFormats,
        Action::Playlist,
        Action::PlaylistPreview,
        Action::CacheCleanup,
        Action::CacheStats,
        Action::HealthCheck,
        Action::Cancel,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::YoutubeDl => "youtube_dl",
            Action::YoutubeSearch => "youtube_search",
            Action::GetVideoInfo => "get_video_info",
            Action::GetFormats => "get_formats",
            Action::Playlist => "playlist",
            Action::PlaylistPreview => "playlist_preview",
            Action::CacheCleanup => "cache_cleanup",
            Action::CacheStats => "cache_stats",
            Action::HealthCheck => "health_check",
            Action::Cancel => "cancel",
        }
    }

    /// Looks up a wire name; `None` for an unknown action.
    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == name)
    }

    /// Whether the action spawns yt-dlp and so must hold one of the worker's concurrency slots.
    /// Cheap actions (`health_check`, `cache_*`, `cancel`) never wait behind downloads.
    pub fn holds_slot(self) -> bool {
        !matches!(
            self,
            Action::HealthCheck | Action::CacheStats | Action::CacheCleanup | Action::Cancel
        )
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
