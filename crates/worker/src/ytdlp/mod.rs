//! Everything that knows about yt-dlp: the argv (one place), the child-process runner, the
//! progress-line parser and the classification of its ERROR lines.
pub mod args;
pub mod classify;
pub(crate) mod cookies;
pub mod driver;
pub mod final_files;
pub mod info;
pub mod orphans;
pub mod progress;
pub mod runner;
pub mod size_cap;
