//! More than one connection at a time (DESIGN.md §5): CDNs throttle each connection, so what a
//! user waits for shrinks with the number of connections, not with the worker's own speed.
//!
//! - `PLAYLIST_CONCURRENCY` (default 4): tracks of one playlist downloaded and converted at once,
//!   in lanes of one yt-dlp each (see `actions::playlist`). A playlist still holds one `WORKER_CONCURRENCY` slot, so the worker never
//!   runs more than `WORKER_CONCURRENCY × PLAYLIST_CONCURRENCY` yt-dlp processes (each with its
//!   ffmpeg or aria2c children).
//! - `CONCURRENT_FRAGMENTS` (default 4): yt-dlp's `--concurrent-fragments` for HLS/DASH.
//! - `EXTERNAL_DOWNLOADER` (`aria2c` or `none`; default aria2c when it is installed): aria2c with
//!   8 connections per file for plain http(s) files.
use crate::program::resolve_program;
use crate::ytdlp::args::TransferArgs;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::OnceLock;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TransferConfig {
    pub playlist_concurrency: usize,
    pub concurrent_fragments: u32,
    pub(crate) external_downloader: ExternalDownloader,
}

impl Default for TransferConfig {
    fn default() -> Self {
        TransferConfig {
            playlist_concurrency: 4,
            concurrent_fragments: 4,
            external_downloader: ExternalDownloader::Auto,
        }
    }
}

/// `EXTERNAL_DOWNLOADER`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ExternalDownloader {
    /// Unset: aria2c when it is on `PATH`, else yt-dlp's own downloader.
    #[default]
    Auto,
    Aria2c,
    None,
}

impl FromStr for ExternalDownloader {
    type Err = ();

    fn from_str(value: &str) -> Result<Self, ()> {
        match value.to_ascii_lowercase().as_str() {
            "aria2c" | "aria2" => Ok(ExternalDownloader::Aria2c),
            "none" | "native" | "off" => Ok(ExternalDownloader::None),
            _ => Err(()),
        }
    }
}

impl TransferConfig {
    /// The download options for yt-dlp. aria2c is looked up once; asked for explicitly but
    /// missing, it is left out (logged once) rather than failing every download.
    pub fn args(&self) -> TransferArgs {
        let aria2c = match self.external_downloader {
            ExternalDownloader::None => None,
            ExternalDownloader::Auto => installed_aria2c(),
            ExternalDownloader::Aria2c => {
                let found = installed_aria2c();
                if found.is_none() {
                    static WARNED: OnceLock<()> = OnceLock::new();
                    WARNED.get_or_init(|| tracing::warn!("EXTERNAL_DOWNLOADER=aria2c but aria2c is not installed; using yt-dlp's own downloader"));
                }
                found
            }
        };
        TransferArgs {
            concurrent_fragments: self.concurrent_fragments,
            aria2c,
        }
    }
}

fn installed_aria2c() -> Option<PathBuf> {
    static ARIA2C: OnceLock<Option<PathBuf>> = OnceLock::new();
    ARIA2C
        .get_or_init(|| resolve_program(Path::new("aria2c")))
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_downloader_values() {
        assert_eq!("aria2c".parse(), Ok(ExternalDownloader::Aria2c));
        assert_eq!("NONE".parse(), Ok(ExternalDownloader::None));
        assert_eq!("curl".parse::<ExternalDownloader>(), Err(()));
        let none = TransferConfig {
            external_downloader: ExternalDownloader::None,
            ..TransferConfig::default()
        };
        assert_eq!(
            none.args(),
            TransferArgs {
                concurrent_fragments: 4,
                aria2c: None
            }
        );
    }
}
