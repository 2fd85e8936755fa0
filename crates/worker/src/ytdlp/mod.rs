//! Everything that knows about yt-dlp: the argv (one place) and what the configuration adds to it,
//! the child-process runner, what its output lines say and the progress they make, the private
//! channel of final files, the classification of its ERROR lines, and the driver that runs it for
//! one task.
pub mod args;
pub mod classify;
pub(crate) mod cookies;
pub(crate) mod driver;
pub mod env;
pub(crate) mod final_files;
pub(crate) mod info;
pub mod line;
pub mod orphans;
pub mod progress;
pub mod runner;
pub(crate) mod size_cap;
