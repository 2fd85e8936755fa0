//! A local fake of the Telegram Bot API, for driving `hermes-bot` (frankenstein 0.52, async reqwest
//! client) end to end without the internet.
//!
//! The fake listens on `127.0.0.1:<ephemeral>` and answers `GET`/`POST /bot<token>/<method>` the way
//! `api.telegram.org` does: `{"ok":true,"result":...}` on success, and
//! `{"ok":false,"error_code":N,"description":"...","parameters":{"retry_after":N}}` on failure, with
//! the HTTP status equal to `error_code` (frankenstein decides success by the status). Parameters are
//! accepted as a JSON body (what frankenstein sends for ordinary methods), as
//! `multipart/form-data` (what it sends for uploads: every non-file parameter is a text part, and
//! objects such as `reply_markup` are JSON text inside it), as a url-encoded body or as a query string.
//!
//! It keeps enough state to answer like Telegram and to catch the mistakes Telegram would reject:
//! message ids count up per chat; edits change the stored message and an edit that changes nothing is
//! refused with "message is not modified"; files uploaded get a `file_id` that can be sent again;
//! callback queries can be answered once; `callback_data` over 64 bytes, texts over 4096 characters and
//! uploads over 50 MB are refused. Every request is recorded as a [`Call`] so tests can assert on what
//! the bot sent, and [`Fault`]s can be queued to make the next call of a method fail.
//!
//! Inline mode: [`FakeBotApi::inline_query_update`] makes an `inline_query` update whose id can be
//! answered once with `answerInlineQuery` (at most 50 results, ids of 1-64 bytes and unique, the
//! fields each result type requires, cached `*_file_id`s the fake issued for that kind of file).
//! Local mode ([`FakeBotApi::set_local_mode`]) behaves like a local Bot API server started with
//! `--local`: media (and `thumbnail`) may be an absolute path or `file://` URI, read from disk and
//! recorded in [`Call::local_files`], and uploads up to 2000 MB are accepted.
//!
//! Known simplifications: `parse_mode` HTML is reduced to its visible text (tags dropped, the basic
//! character references decoded) but Markdown is kept verbatim and never rejected; http(s) URLs given
//! as media are not fetched (the call fails); photo dimensions come from the PNG/JPEG header only;
//! webhooks are accepted but never called.

mod call;
mod error;
mod fake_bot_api;
mod inline;
mod local_mode;
mod media;
mod methods;
mod params;
mod request;
mod server;
mod state;
mod text;
mod updates;
mod uploads;
mod users;
mod values;

pub use call::{Call, Fault, LocalFile, UploadedFile};
pub use fake_bot_api::FakeBotApi;
