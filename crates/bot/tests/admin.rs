//! The admin's tools in `hermes-bot` (issue 13): `/cookies` (upload checked, written 0600,
//! state without values), `/update` and the daily auto-update (with the `HERMES_PIP` stand-in
//! `fixtures/fake-pip`), and the JavaScript runtime in `/ping`.
mod bot_support;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use bot_support::*;

const ADMIN: i64 = 3333;
const OTHER: i64 = 1111;
const JAR: &str = "# Netscape HTTP Cookie File\n\
    .youtube.com\tTRUE\t/\tTRUE\t2100000000\tSID\tsecret-sid\n\
    #HttpOnly_.youtube.com\tTRUE\t/\tTRUE\t2100000000\t__Secure-3PSID\tsecret-3psid\n";

fn fake_pip() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/fake-pip")
}

fn send_document(harness: &Harness, chat: i64, name: &str, bytes: &[u8], caption: &str) {
    let update = harness
        .api
        .document_message_update(chat, chat.unsigned_abs(), name, bytes, Some(caption));
    harness.api.push_update(update);
}

#[test]
fn the_admin_installs_cookies_and_sees_their_state_without_values() {
    let harness = Harness::start(&[
        ("ADMIN_CHAT_ID", &ADMIN.to_string()),
        ("ALLOWED_CHAT_IDS", &OTHER.to_string()),
        ("YOUTUBE_COOKIE_FILE", "secrets/cookies.txt"),
    ]);
    let file = harness.dir.path().join("secrets/cookies.txt");

    harness.say(ADMIN, "/cookies");
    harness.wait_for_text(ADMIN, 0, "No cookie file");

    let mark = harness.mark();
    send_document(
        &harness,
        ADMIN,
        "cookies.json",
        b"[{\"name\": \"SID\", \"value\": \"x\"}]",
        "/cookies",
    );
    harness.wait_for_text(ADMIN, mark, "Not installed: this is JSON");
    assert!(!file.exists());

    let mark = harness.mark();
    send_document(&harness, ADMIN, "cookies.txt", JAR.as_bytes(), "/cookies");
    let installed = text_of(&harness.wait_for_text(ADMIN, mark, "Installed"));
    assert!(installed.contains("2 cookies: youtube.com 2"), "{installed}");
    assert_eq!(std::fs::read_to_string(&file).expect("cookie file"), JAR);
    assert_eq!(
        std::fs::metadata(&file).expect("meta").permissions().mode() & 0o777,
        0o600
    );

    let mark = harness.mark();
    harness.say(ADMIN, "/cookies");
    let state = text_of(&harness.wait_for_text(ADMIN, mark, "Cookie file"));
    assert!(
        state.contains("2 cookies: youtube.com 2") && state.contains(" old"),
        "{state}"
    );

    // Another chat can neither replace nor read them.
    let mark = harness.mark();
    send_document(
        &harness,
        OTHER,
        "cookies.txt",
        b".evil.com\tTRUE\t/\tTRUE\t0\tA\tB\n",
        "/cookies",
    );
    harness.wait_for_text(OTHER, mark, "Only the bot's admin");
    harness.say(OTHER, "/cookies");
    harness.wait_for_text(OTHER, mark, "Only the bot's admin");
    assert_eq!(std::fs::read_to_string(&file).expect("cookie file"), JAR);

    let everything: String = harness.api.calls().iter().map(text_of).collect();
    assert!(!everything.contains("secret-"), "a cookie value was shown");
}

#[test]
fn update_is_for_the_admin_and_ping_shows_the_js_runtime() {
    let home = tempfile::tempdir().expect("tempdir");
    let home_text = home.path().join("hermes").to_string_lossy().into_owned();
    let pip = fake_pip();
    let harness = Harness::start(&[
        ("ADMIN_CHAT_ID", &ADMIN.to_string()),
        ("ALLOWED_CHAT_IDS", &OTHER.to_string()),
        ("HERMES_HOME", &home_text),
        ("HERMES_PIP", pip.to_str().expect("utf-8")),
        ("FAKE_VERSION", "2026.05.05"),
    ]);
    harness.say(OTHER, "/update");
    harness.wait_for_text(OTHER, 0, "Only the bot's admin");
    assert!(!home.path().join("hermes/venv").exists());

    harness.say(ADMIN, "/update");
    let done = text_of(&harness.wait_for_text(ADMIN, 0, "✅"));
    assert_eq!(
        done,
        "✅ yt-dlp none → 2026.05.05 (JS runtime deno 2.9.8, yt-dlp-ejs 0.8.0)"
    );
    assert!(home.path().join("hermes/venv/bin/yt-dlp").is_file());

    harness.say(ADMIN, "/ping");
    let pong = text_of(&harness.wait_for_text(ADMIN, 0, "Pong"));
    assert!(pong.lines().any(|l| l.starts_with("JS: ")), "{pong}");
}

#[test]
fn the_daily_update_runs_in_the_background_and_tells_the_admin() {
    let home = tempfile::tempdir().expect("tempdir");
    let home_text = home.path().join("hermes").to_string_lossy().into_owned();
    let pip = fake_pip();
    let harness = Harness::start(&[
        ("ADMIN_CHAT_ID", &ADMIN.to_string()),
        ("HERMES_HOME", &home_text),
        ("HERMES_PIP", pip.to_str().expect("utf-8")),
        ("FAKE_VERSION", "2026.07.07"),
        ("YTDLP_AUTO_UPDATE", "daily"),
    ]);
    // No managed environment yet: the update is due at once.
    let report = text_of(&harness.wait_for_text(ADMIN, 0, "Daily update"));
    assert!(report.contains("yt-dlp none → 2026.07.07"), "{report}");
    assert!(home.path().join("hermes/venv/bin/yt-dlp").is_file());
}
