//! Hermes worker library: everything the `hermes-worker` binary runs, exposed for tests and
//! benches. Layout follows mini-redis: `dispatch` parses a line into an `actions::Command` and
//! runs it, `events` owns stdout, `shutdown` owns stopping, `error` owns the error-code mapping,
//! `ytdlp` owns everything about the child processes.
pub mod actions;
pub mod app;
pub mod archive;
pub mod cache;
pub mod config;
pub mod confine;
pub mod context;
pub mod egress;
pub mod dispatch;
pub mod error;
pub mod events;
pub mod profile;
pub mod sanitize;
pub mod search;
pub mod shutdown;
pub mod tasks;
pub(crate) mod toolchain;
pub mod tools;
pub mod transfer;
pub mod ytdlp;
