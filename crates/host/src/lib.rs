//! Hermes host side, shared by every front end (the `hermes` terminal CLI, the `hermes-bot`
//! Telegram bot): the supervised worker client, the TaskQueue, progress rendering, link detection
//! and the managed yt-dlp toolchain. No Telegram, no terminal UI.
pub mod client;
pub mod links;
pub mod render;
pub mod task_queue;
#[cfg(any(test, feature = "test-support"))]
pub mod test_support;
pub mod toolchain;
