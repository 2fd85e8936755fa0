//! One file per `hermes` command: each builds its request(s) with the protocol's typed builders,
//! runs them through the [`crate::session::Session`] and prints the final event's data.
pub(crate) mod cache;
pub(crate) mod download;
pub(crate) mod formats;
pub(crate) mod health;
pub(crate) mod info;
pub(crate) mod playlist;
pub(crate) mod search;
pub(crate) mod update_ytdlp;
