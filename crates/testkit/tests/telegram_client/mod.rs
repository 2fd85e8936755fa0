//! What the fake Bot API's tests share: the token and chat they use, a frankenstein client
//! pointed at the fake, and reading the Telegram error a call failed with.
#![allow(dead_code)] // each test binary uses its own part

use std::path::PathBuf;

use frankenstein::client_reqwest::Bot;
use frankenstein::response::ErrorResponse;
use hermes_testkit::telegram::FakeBotApi;

pub const TOKEN: &str = "123456789:AAtest-token";
pub const CHAT: i64 = 5001;
pub const USER: u64 = 5001;

pub fn client(fake: &FakeBotApi) -> Bot {
    Bot::new_url(fake.api_url())
}

/// The Telegram error a call failed with; anything else (transport, decoding) fails the test.
pub fn api_error<T: std::fmt::Debug>(result: Result<T, frankenstein::Error>) -> ErrorResponse {
    match result {
        Err(frankenstein::Error::Api(error)) => error,
        other => panic!("expected a Telegram API error, got {other:?}"),
    }
}

pub fn write_temp_file(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).expect("write the upload fixture");
    path
}
