//! Hermes worker library: everything the `hermes-worker` binary runs. Only what the binary, the
//! integration tests and the bench reach is `pub`; the rest is `pub(crate)`, so rustc reports
//! what nothing uses.
//!
//! Layout follows mini-redis: `dispatch` parses a line into an `actions::Command` and runs it
//! (one file per action; actions import only from the modules below them, never from dispatch),
//! `events` owns stdout, `shutdown` owns stopping, `error` owns the error-code mapping (and the
//! cancellation error), `config` the environment, `ytdlp` everything about the child processes.
pub(crate) mod actions;
pub mod app;
pub mod archive;
pub mod cache;
pub mod config;
pub(crate) mod confine;
pub mod context;
pub mod dispatch;
pub mod egress;
pub mod error;
pub mod events;
pub(crate) mod ffmpeg;
pub mod ffprobe;
pub mod program;
pub(crate) mod rate_limiter;
pub(crate) mod sanitize;
pub mod shutdown;
pub(crate) mod single_flight;
pub(crate) mod split;
pub(crate) mod tasks;
pub(crate) mod thumbnail;
pub(crate) mod tool_versions;
pub(crate) mod toolchain;
pub(crate) mod validate;
pub mod ytdlp;
