//! Hermes host side: the worker client, the TaskQueue, progress rendering and link detection,
//! shared by the `hermes-bot` Telegram binary and the `hermes` terminal CLI.
pub mod client;
pub mod links;
pub mod render;
pub mod task_queue;
pub mod telegram;
pub mod toolchain;
