//! `hermes-bot`: the Telegram front end. Long-polls the Bot API (frankenstein), turns commands,
//! links and button taps into worker requests through the shared host library
//! (`hermes_host::client`, `hermes_host::task_queue`), shows progress in one edited message per
//! task and delivers the results as Telegram uploads. As `HERMES_ROLE=front` and `node` it runs
//! on many machines joined by Redis Streams (`hermes_queue`).
//!
//! The bot is a library so that integration tests can open what it leaves behind ([`db`]); the
//! `hermes-bot` binary only calls [`main`].
mod admin;
mod api;
mod app;
mod callbacks;
mod config;
mod cookies;
pub mod db;
mod delivery;
mod engine;
mod flows;
mod front;
mod front_link;
mod handlers;
mod intake;
mod job;
mod job_report;
mod job_runner;
mod ledger;
mod lifecycle;
mod limits;
mod media_mode;
mod messages;
mod node;
mod polling;
mod progress;
mod record;
mod reply;
mod resume;
mod role;
mod shared_download;
mod shutdown;

pub use lifecycle::main;
