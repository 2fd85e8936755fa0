//! The security review's attacks through the real `hermes-bot` (fake Bot API, real worker, media
//! and feeds on 127.0.0.1): a default-configured bot is closed to strangers, and a feed whose
//! titles forge yt-dlp output lines makes the bot upload nothing but the real media.
mod bot_support;

use bot_support::*;
use hermes_testkit::http::FeedItem;
use hermes_testkit::media;
use std::path::{Path, PathBuf};
use std::time::Duration;

const CHAT: i64 = 7101;
const STRANGER: i64 = 7202;

fn tone_path(seconds: u32, freq: u32) -> String {
    format!(
        "/media/{}",
        media::tone_webm(seconds, freq)
            .file_name()
            .unwrap()
            .to_string_lossy()
    )
}

fn plant_victim(dir: &Path) -> PathBuf {
    let victim = dir.join("victim-secret");
    std::fs::write(&victim, b"TOP SECRET BOT TOKEN").unwrap();
    victim
}

/// Every byte the bot uploaded, with the file name it gave.
fn uploads(harness: &Harness) -> Vec<(String, Vec<u8>)> {
    harness
        .api
        .calls()
        .into_iter()
        .flat_map(|call| call.files.into_iter().map(|f| (f.filename, f.bytes)))
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn a_stranger_of_a_default_bot_gets_only_start_and_chatid() {
    // ALLOWED_CHAT_IDS empty: the default an operator gets when setting nothing.
    let harness = Harness::start(&[("ALLOWED_CHAT_IDS", "")]);
    let url = harness.media.url(&tone_path(2, 440));
    for text in [
        url.as_str(),
        "/audio https://youtu.be/dQw4w9WgXcQ",
        "/search lofi",
        "/status",
        "/help",
    ] {
        harness.say(STRANGER, text);
    }
    harness.tap(STRANGER, 1, "d:ABCDEFGHIJ:a");
    harness.say(STRANGER, "/start");
    let start = harness.wait_for_text(STRANGER, 0, &format!("ALLOWED_CHAT_IDS={STRANGER}"));
    harness.say(STRANGER, "/chatid");
    harness.wait_for("sendMessage", start.seq + 1, |c| {
        c.params["chat_id"] == STRANGER && text_of(c).contains(&format!("ALLOWED_CHAT_IDS={STRANGER}"))
    });
    std::thread::sleep(Duration::from_millis(500));
    let to_stranger: Vec<String> = harness
        .api
        .calls()
        .iter()
        .filter(|c| c.params["chat_id"] == STRANGER && c.method != "answerCallbackQuery")
        .map(|c| format!("{} {}", c.method, text_of(c)))
        .collect();
    assert_eq!(
        to_stranger.len(),
        2,
        "only /start and /chatid are answered: {to_stranger:#?}"
    );
    assert_eq!(
        harness.media.hits(&tone_path(2, 440)),
        0,
        "nothing was downloaded"
    );
    assert!(!harness.downloads().join(STRANGER.to_string()).exists());
}

#[test]
fn a_public_bot_is_an_explicit_choice() {
    let harness = Harness::start(&[("ALLOWED_CHAT_IDS", "*")]);
    harness.say(STRANGER, "/chatid");
    let reply = harness.wait_for_text(STRANGER, 0, &STRANGER.to_string());
    assert!(
        !text_of(&reply).contains("ALLOWED_CHAT_IDS"),
        "a let-in chat gets the plain answer"
    );
}

#[test]
fn forged_file_lines_in_a_feed_upload_only_the_real_media() {
    let harness = Harness::start(&[]);
    let victim = plant_victim(harness.dir.path());
    let forged = format!(
        "\nHERMES_FILE {{\"filepath\": \"{v}\", \"title\": \"x\", \"playlist_index\": 1}}\n[download] Destination: {v}",
        v = victim.display()
    );
    let feed = harness.media.add_feed(
        "hostile",
        &format!("Mix{forged}"),
        vec![
            FeedItem::new("One", tone_path(2, 440)),
            FeedItem::new("Two", tone_path(2, 550)),
        ],
    );

    // A bare link to the feed: its preview (the title quotes the forged text), All, Audio.
    let mark = harness.mark();
    harness.say(CHAT, &feed);
    let (message_id, all) = harness.wait_for_button(CHAT, mark, "All");
    let after_all = harness.mark();
    harness.tap(CHAT, message_id, &all);
    let (message_id, audio) = harness.wait_for_button(CHAT, after_all, "Audio");
    harness.tap(CHAT, message_id, &audio);
    harness.wait_for_message_text(CHAT, message_id, "✅ Completed");

    // And as a playlist: preview, All, Audio.
    let message_id = harness.playlist_all_as_audio(CHAT, &feed);
    harness.wait_for_message_text(CHAT, message_id, "✅ Completed");

    let sent = uploads(&harness);
    assert!(
        sent.len() >= 2,
        "the real files were delivered: {:?}",
        sent.iter().map(|s| &s.0).collect::<Vec<_>>()
    );
    for (name, bytes) in &sent {
        // The playlist's (sanitised) title may quote the forged text; the file itself must not be the victim.
        assert_ne!(name.as_str(), "victim-secret");
        assert!(
            !contains(bytes, b"TOP SECRET"),
            "{name} carries the victim's bytes"
        );
        assert!(
            !contains(bytes, b"victim-secret"),
            "{name} names the victim (a ZIP entry?)"
        );
    }
    assert_eq!(std::fs::read(&victim).unwrap(), b"TOP SECRET BOT TOKEN");
}

#[test]
fn a_download_over_the_upload_limit_is_stopped_by_the_worker_not_downloaded_whole() {
    let harness = Harness::start(&[("TELEGRAM_UPLOAD_LIMIT_MB", "1")]);
    // 50 MiB of a stream that announces no size: the worker's cap (the upload limit) stops it.
    let url = harness
        .media
        .url(&format!("/endless/{}/live.webm", 50u64 * 1024 * 1024));
    let mark = harness.mark();
    harness.say(CHAT, &format!("/video {url}"));
    let notice = harness.wait_for_text(CHAT, mark, "over the 1 MB upload limit");
    assert!(
        button(&notice, "lower quality").is_some(),
        "{:?}",
        buttons(&notice)
    );
    for method in ["sendVideo", "sendDocument", "sendAudio"] {
        assert!(
            harness.api.calls_to(method).is_empty(),
            "{method} must not be called"
        );
    }
    let chat_dir = harness.downloads().join(CHAT.to_string());
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while chat_dir.exists() && std::fs::read_dir(&chat_dir).map(|d| d.count()).unwrap_or(0) > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "downloads left in {}",
            chat_dir.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_private_address_is_neither_looked_at_nor_downloaded() {
    // The worker's default egress policy: nothing on this machine or a private network.
    let harness = Harness::start(&[("EGRESS_ALLOW_CIDRS", "")]);
    let page = media::video_page("Local", &media::video_mp4(2), &media::poster_png(64, 36));
    let url = harness.media.media_url(&page);
    // A page, not a media file: the bot first asks the worker whether it is a feed (D1). The
    // look is refused like the download, and the keyboard follows.
    let (status_id, _) = request_audio(&harness, CHAT, &url);
    let text = harness.wait_for_message_text(CHAT, status_id, "❌");
    assert!(text.contains("only public http and https links"), "{text}");
    assert_eq!(
        harness.media.hits(&url),
        0,
        "no byte of the local server was fetched"
    );
}
