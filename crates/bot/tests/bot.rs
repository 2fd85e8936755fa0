//! `hermes-bot` end to end: the real binary against a fake Bot API on 127.0.0.1, with the real
//! worker, real yt-dlp and ffmpeg downloading media served on 127.0.0.1. Every assertion is on
//! what the bot sent to "Telegram" (the recorded calls) or left on disk.

mod bot_support;

use std::time::Duration;

use bot_support::*;
use hermes_testkit::media;
use hermes_testkit::telegram::Fault;
use serde_json::json;

const CHAT: i64 = 7001;

#[test]
fn start_help_chatid_ping_and_unknown_commands() {
    let harness = Harness::start(&[]);
    let commands = harness.wait_for("setMyCommands", 0, |c| c.succeeded());
    let names: Vec<&str> = commands.params["commands"]
        .as_array()
        .expect("commands")
        .iter()
        .filter_map(|c| c["command"].as_str())
        .collect();
    for expected in [
        "start", "help", "download", "audio", "video", "search", "playlist", "status", "cancel", "settings",
        "ping", "chatid",
    ] {
        assert!(names.contains(&expected), "{expected} missing from {names:?}");
    }

    harness.say(CHAT, "/start");
    let start = harness.wait_for_text(CHAT, 0, "/search");
    assert!(
        text_of(&start).contains(&CHAT.to_string()),
        "chat id in /start: {}",
        text_of(&start)
    );

    harness.say(CHAT, "/chatid");
    harness.wait_for_text(CHAT, 0, &format!("Your chat id: {CHAT}"));
    harness.say(CHAT, "/frobnicate");
    harness.wait_for_text(CHAT, 0, "/help");
    harness.say(CHAT, "just words, no link");
    harness.wait_for_text(CHAT, 0, "Send me a link");

    harness.say(CHAT, "/ping");
    let pong = harness.wait_for_text(CHAT, 0, "Pong");
    let text = text_of(&pong);
    assert!(text.contains("Version:") && text.contains("yt-dlp: 20"), "{text}");
    assert!(
        !text.contains("Config:"),
        "details are for the admin only: {text}"
    );

    // Long polling: messages, button taps and inline mode, every update confirmed by the offset.
    let polls = harness.api.calls_to("getUpdates");
    assert_eq!(
        polls[0].params["allowed_updates"],
        json!([
            "message",
            "callback_query",
            "inline_query",
            "chosen_inline_result"
        ])
    );
    harness.wait_for("getUpdates", 0, |c| c.params["offset"].as_i64() == Some(6));
    assert_eq!(harness.api.pending_updates(), 0);

    // Flood control on getUpdates is waited out; other failures are backed off and retried.
    harness
        .api
        .fail_next("getUpdates", Fault::TooManyRequests { retry_after: 2 });
    harness
        .api
        .fail_next("getUpdates", Fault::Status(502, "Bad Gateway".into()));
    let mark = harness.mark();
    harness.say(CHAT, "/chatid");
    let flood = harness.wait_for("getUpdates", mark, |c| c.status == 429);
    let after_flood = harness.wait_for("getUpdates", flood.seq + 1, |_| true);
    assert!(after_flood.at.duration_since(flood.at) >= Duration::from_millis(1900));
    let bad_gateway = harness.wait_for("getUpdates", mark, |c| c.status == 502);
    let retried = harness.wait_for("getUpdates", bad_gateway.seq + 1, |_| true);
    assert!(retried.at.duration_since(bad_gateway.at) >= Duration::from_millis(900));
    let answered = harness.wait_for_text(CHAT, mark, "Your chat id");
    assert_eq!(
        harness
            .api
            .calls()
            .iter()
            .filter(|c| c.seq >= mark && text_of(c).contains("Your chat id"))
            .count(),
        1,
        "the update is handled exactly once: {answered:?}"
    );
}

#[test]
fn a_link_downloads_as_mp3_with_progress_and_is_uploaded_only_once() {
    let harness = Harness::start(&[]);
    let tone = media::tone_webm(3, 440);
    let name = tone.file_name().expect("name").to_string_lossy().into_owned();
    let path = format!("/slow/{}/{name}", rate_for(&tone, 5));
    let url = harness.media.url(&path);

    let (status_id, mark) = request_audio(&harness, CHAT, &url);
    let audio = harness.wait_for("sendAudio", mark, |c| c.succeeded());
    let file = audio.file("audio").expect("sendAudio is a multipart upload");
    assert!(file.filename.ends_with(".mp3"), "{}", file.filename);
    assert_eq!(probe_codec(&file.bytes, harness.dir.path(), "got.mp3"), "mp3");
    assert_eq!(audio.params["chat_id"], json!(CHAT));
    assert!(audio.params["duration"]
        .as_u64()
        .is_some_and(|d| (2..=4).contains(&d)));

    let final_text = harness.wait_for_final_status(CHAT, status_id);
    assert!(!final_text.contains("/cancel"), "{final_text}");
    let edits: Vec<String> = harness
        .api
        .calls_to("editMessageText")
        .iter()
        .filter(|c| c.params["message_id"] == json!(status_id) && c.succeeded())
        .map(text_of)
        .collect();
    let bars = percents(&edits);
    assert!(!bars.is_empty(), "no progress bar among {edits:#?}");
    assert!(
        bars.windows(2).all(|w| w[0] <= w[1]),
        "bars went backwards: {bars:?}"
    );
    assert_edits_spaced(&harness, status_id);
    assert_eq!(task_state(&harness, &url).as_deref(), Some("done"));
    wait_until_empty(&harness.downloads().join(CHAT.to_string()));
    let hits = harness.media.hits(&path);

    // The same link again: answered by file_id, the worker never downloads.
    let (_, mark) = request_audio(&harness, CHAT, &url);
    let again = harness.wait_for("sendAudio", mark, |c| c.succeeded());
    assert!(again.files.is_empty(), "re-sent by file_id, not uploaded");
    let file_id = audio.result().expect("result")["audio"]["file_id"].clone();
    assert_eq!(again.params["audio"], file_id);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        harness.media.hits(&path),
        hits,
        "the worker was not asked to download"
    );
}

/// No two successful edits of one message closer than the 2 s throttle (small slack for the
/// fake's timestamps being taken on arrival).
fn assert_edits_spaced(harness: &Harness, message_id: i32) {
    let times: Vec<std::time::Instant> = harness
        .api
        .calls_to("editMessageText")
        .iter()
        .filter(|c| c.params["message_id"] == json!(message_id) && c.succeeded())
        .map(|c| c.at)
        .collect();
    for pair in times.windows(2) {
        let gap = pair[1].duration_since(pair[0]);
        assert!(gap >= Duration::from_millis(1900), "edits {gap:?} apart");
    }
}

#[test]
fn flood_control_on_a_status_edit_is_waited_out() {
    let harness = Harness::start(&[]);
    let tone = media::tone_webm(3, 550);
    let name = tone.file_name().expect("name").to_string_lossy().into_owned();
    let url = harness
        .media
        .url(&format!("/slow/{}/{name}", rate_for(&tone, 10)));
    let (status_id, mark) = request_audio(&harness, CHAT, &url);
    // The keyboard turned into the status message; flood control hits the next edit.
    harness.wait_for("editMessageText", mark, |c| {
        c.params["message_id"] == json!(status_id)
    });
    harness
        .api
        .fail_next("editMessageText", Fault::TooManyRequests { retry_after: 3 });
    let refused = harness.wait_for("editMessageText", mark, |c| c.status == 429);
    let next = harness.wait_for("editMessageText", refused.seq + 1, |c| c.succeeded());
    let waited = next.at.duration_since(refused.at);
    assert!(
        waited >= Duration::from_millis(2900),
        "edited again after {waited:?}"
    );
    // "message is not modified" is not an error: the task goes on to the end.
    harness.api.fail_next("editMessageText", Fault::NotModified);
    let not_modified = harness.wait_for("editMessageText", next.seq + 1, |c| c.status == 400);
    harness.wait_for("editMessageText", not_modified.seq + 1, |c| c.succeeded());
    harness.wait_for("sendAudio", mark, |c| c.succeeded());
    harness.wait_for_message_text(CHAT, status_id, "✅ Completed");
}

#[test]
fn a_file_over_the_upload_limit_is_not_sent_and_a_lower_quality_is_offered() {
    // yt-dlp's own downloader refuses a file whose announced size is over `--max-filesize`;
    // with aria2c (EXTERNAL_DOWNLOADER) the worker's egress proxy sees the announced size and
    // stops the run. Either way the user is told how large the file is.
    for downloader in ["none", "aria2c"] {
        let harness = Harness::start(&[
            ("TELEGRAM_UPLOAD_LIMIT_MB", "1"),
            ("EXTERNAL_DOWNLOADER", downloader),
        ]);
        let wav = media::big_wav(2);
        let mark = harness.mark();
        harness.say(CHAT, &format!("/video {}", harness.media.media_url(&wav)));
        let notice = harness.wait_for_text(CHAT, mark, "over the 1 MB upload limit");
        assert!(
            text_of(&notice).contains("2.0 MB"),
            "{downloader}: {}",
            text_of(&notice)
        );
        assert!(
            button(&notice, "lower quality").is_some(),
            "{downloader}: {:?}",
            buttons(&notice)
        );
        std::thread::sleep(Duration::from_millis(300));
        for method in ["sendVideo", "sendDocument", "sendAudio"] {
            assert!(
                harness.api.calls_to(method).is_empty(),
                "{downloader}: {method} must not be called"
            );
        }
        wait_until_empty(&harness.downloads().join(CHAT.to_string()));
    }
}

#[test]
fn cancel_stops_a_slow_download_and_leaves_no_process() {
    let harness = Harness::start(&[]);
    let wav = media::big_wav(4);
    let name = wav.file_name().expect("name").to_string_lossy().into_owned();
    let url = harness.media.url(&format!("/slow/100000/{name}"));
    let (status_id, _) = request_audio(&harness, CHAT, &url);
    harness.wait_for_message_text(CHAT, status_id, "%");
    assert!(
        !harness.download_processes().is_empty(),
        "yt-dlp should be running"
    );

    let mark = harness.mark();
    harness.say(CHAT, "/status");
    let status = harness.wait_for_text(CHAT, mark, "Your downloads");
    assert!(text_of(&status).contains('░'), "{}", text_of(&status));

    harness.say(CHAT, "/cancel");
    harness.wait_for_text(CHAT, mark, "Cancelling");
    harness.wait_for_message_text(CHAT, status_id, "🚫 Cancelled");
    let gone = hermes_testkit::procs::wait_until(Duration::from_secs(10), || {
        harness.download_processes().is_empty()
    });
    assert!(gone, "left behind: {:?}", harness.download_processes());
    assert_eq!(task_state(&harness, &url).as_deref(), Some("cancelled"));
    assert!(harness.api.calls_to("sendAudio").is_empty());
}

#[test]
fn a_killed_worker_fails_the_task_clearly_and_the_next_request_works() {
    let harness = Harness::start(&[]);
    let wav = media::big_wav(2);
    let name = wav.file_name().expect("name").to_string_lossy().into_owned();
    let slow_url = harness.media.url(&format!("/slow/100000/{name}"));
    let (status_id, _) = request_audio(&harness, CHAT, &slow_url);
    harness.wait_for_message_text(CHAT, status_id, "%");
    let worker = harness.worker_pid().expect("worker running");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(worker as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill worker");
    let text = harness.wait_for_message_text(CHAT, status_id, "❌");
    assert!(text.contains("stopped unexpectedly"), "{text}");
    assert!(
        !text.contains("WORKER_CRASHED") && !text.contains("Error"),
        "{text}"
    );
    assert_eq!(task_state(&harness, &slow_url).as_deref(), Some("failed"));

    let tone = media::tone_webm(2, 660);
    let (next_id, mark) = request_audio(&harness, CHAT, &harness.media.media_url(&tone));
    harness.wait_for("sendAudio", mark, |c| c.succeeded());
    harness.wait_for_message_text(CHAT, next_id, "✅ Completed");
}

#[test]
fn chats_outside_the_allow_list_are_refused_and_nothing_runs() {
    let allowed = 1111_i64;
    let stranger = 2222_i64;
    let admin = 3333_i64;
    let harness = Harness::start(&[
        ("ALLOWED_CHAT_IDS", &allowed.to_string()),
        ("ADMIN_CHAT_ID", &admin.to_string()),
    ]);
    let tone = media::tone_webm(2, 770);
    let url = harness.media.media_url(&tone);

    harness.say(stranger, &url);
    let refusal = harness.wait_for_text(stranger, 0, "private");
    assert!(text_of(&refusal).contains(&stranger.to_string()));
    harness.say(stranger, "/audio https://youtu.be/dQw4w9WgXcQ");
    harness.wait_for("sendMessage", refusal.seq + 1, |c| {
        c.params["chat_id"] == json!(stranger)
    });
    // A forged tap from the stranger is refused too.
    harness.tap(stranger, 1, "d:ABCDEFGHIJ:a");
    let answer = harness.wait_for("answerCallbackQuery", 0, |_| true);
    assert!(answer.params["text"]
        .as_str()
        .unwrap_or_default()
        .contains("private"));

    harness.say(allowed, "/chatid");
    harness.wait_for_text(allowed, 0, &allowed.to_string());
    // The admin is always allowed and sees the worker's details.
    harness.say(admin, "/ping");
    let pong = harness.wait_for_text(admin, 0, "Pong");
    assert!(text_of(&pong).contains("Config:"), "{}", text_of(&pong));
    std::thread::sleep(Duration::from_millis(500));
    let to_stranger: Vec<_> = harness
        .api
        .calls()
        .into_iter()
        .filter(|c| c.params["chat_id"] == json!(stranger) && c.method != "getUpdates")
        .collect();
    assert!(to_stranger
        .iter()
        .all(|c| c.method == "sendMessage" && buttons(c).is_empty()));
    assert_eq!(harness.media.hits(&url), 0, "nothing was downloaded");
}

#[test]
fn missing_token_is_a_clear_error_with_exit_code_2() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_hermes-bot"))
        .env_remove("TELEGRAM_BOT_TOKEN")
        .output()
        .expect("run hermes-bot");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("TELEGRAM_BOT_TOKEN") && stderr.contains("BotFather"),
        "{stderr}"
    );
}

#[test]
fn playlist_preview_then_all_then_audio_sends_zip_parts_within_the_limit() {
    let harness = Harness::start(&[("TELEGRAM_UPLOAD_LIMIT_MB", "1")]);
    let feed = harness.tone_feed("botmix", "Bot Mix", "Track", 45, &[440, 550, 660]);

    let mark = harness.mark();
    harness.say(CHAT, &format!("/playlist {feed}"));
    let (message_id, all) = harness.wait_for_button(CHAT, mark, "All");
    let preview = harness.message_text(CHAT, message_id);
    assert!(
        preview.contains("Bot Mix") && preview.contains("Track 1"),
        "{preview}"
    );
    // Marked before the tap: the bot may answer before the next line runs.
    let after_all = harness.mark();
    harness.tap(CHAT, message_id, &all);
    let (message_id, audio) = harness.wait_for_button(CHAT, after_all, "Audio");
    harness.tap(CHAT, message_id, &audio);

    harness.wait_for_final_status(CHAT, message_id);
    let parts = harness.api.calls_to("sendDocument");
    assert!(
        parts.len() >= 2,
        "3 × ~400 KB at a 1 MB limit needs several parts, got {}",
        parts.len()
    );
    for (index, part) in parts.iter().enumerate() {
        assert!(part.succeeded());
        let file = part.file("document").expect("uploaded zip");
        assert!(file.bytes.starts_with(b"PK"), "a ZIP");
        assert!(
            file.bytes.len() <= 1024 * 1024,
            "part {index} is {} bytes",
            file.bytes.len()
        );
        // Each part is sent as soon as the worker reports it, captioned "part i" while the
        // count is unknown, and numbered "part i/n" by an edit once the playlist is done.
        let sent = part.params["caption"].as_str().unwrap_or_default();
        assert!(sent.contains(&format!("part {}", index + 1)), "{sent}");
        let message_id = part.result().expect("sent")["message_id"]
            .as_i64()
            .expect("message id");
        let message = harness
            .api
            .message(CHAT, message_id as i32)
            .expect("the part's message");
        let caption = message["caption"].as_str().unwrap_or_default();
        assert!(
            caption.contains(&format!("part {}/{}", index + 1, parts.len())),
            "{caption}"
        );
    }
    // The worker announces every part before its `done`, so every part went out early and was
    // renumbered once the count was known.
    let edits = harness.api.calls_to("editMessageCaption");
    assert_eq!(edits.len(), parts.len(), "the early parts were renumbered");
}

#[test]
fn search_offers_buttons_and_a_tap_downloads_the_result() {
    let harness = Harness::with_fake_youtube(&[]);
    let local = harness.serve_youtube_from(&media::tone_webm(2, 880));

    let mark = harness.mark();
    harness.say(CHAT, "/search never gonna give you up");
    // A numbered list of the results, a number button each (D13).
    let (message_id, first) = harness.wait_for_button(CHAT, mark, "1");
    let results = harness.wait_for("editMessageText", mark, |c| !buttons(c).is_empty());
    let list = text_of(&results);
    assert!(list.contains("1. Rick Astley - Never Gonna"), "{list}");
    let all = buttons(&results);
    assert_eq!(all.len(), 5);
    for (label, data) in &all {
        assert!(data.len() <= 64 && !data.contains("http"), "{label}: {data}");
        assert!(label.chars().count() <= 49, "{label}");
    }
    // Marked before the tap: the bot may answer before the next line runs.
    let after_pick = harness.mark();
    harness.tap(CHAT, message_id, &first);
    let (choice_id, audio) = harness.wait_for_button(CHAT, after_pick, "Audio");
    assert!(harness
        .message_text(CHAT, choice_id)
        .contains("Never Gonna Give You Up"));
    harness.tap(CHAT, choice_id, &audio);
    let sent = harness.wait_for("sendAudio", after_pick, |c| c.succeeded());
    assert_eq!(
        sent.params["title"].as_str().map(|t| t.contains("Never Gonna")),
        Some(true)
    );
    assert!(
        harness.media.hits(&local) > 0,
        "downloaded through the local stand-in"
    );
}

#[test]
fn settings_persist_and_quality_choices_download() {
    let harness = Harness::start(&[]);
    harness.set_audio_format(CHAT, "opus");

    // /audio uses the saved format (Opus, which Telegram keeps as a document).
    let tone = media::tone_webm(2, 990);
    let url = harness.media.media_url(&tone);
    let mark = harness.mark();
    harness.say(CHAT, &format!("/audio {url}"));
    let sent = harness.wait_for("sendDocument", mark, |c| c.succeeded());
    let file = sent.file("document").expect("upload");
    assert!(file.filename.ends_with(".opus"), "{}", file.filename);

    // ⚙ Quality… lists the tiers; MP3 128 kbps downloads at that quality.
    let mark = harness.mark();
    harness.say(CHAT, &url);
    let (message_id, quality) = harness.wait_for_button(CHAT, mark, "Quality");
    harness.tap(CHAT, message_id, &quality);
    let (message_id, mp3) = harness.wait_for_button(CHAT, mark, "MP3 128");
    harness.tap(CHAT, message_id, &mp3);
    let sent = harness.wait_for("sendAudio", mark, |c| c.succeeded());
    let file = sent.file("audio").expect("upload");
    assert_eq!(probe_codec(&file.bytes, harness.dir.path(), "q.mp3"), "mp3");

    // A stale or forged key reads as expired.
    harness.tap(CHAT, 9999, "d:ZZZZZZZZZZ:a");
    let answer = harness.wait_for("answerCallbackQuery", mark, |c| {
        c.params["text"].as_str().is_some_and(|t| t.contains("expired"))
    });
    assert!(answer.succeeded());
}

/// Against a worker in the python wire profile (what the existing host runs): a link is sent
/// once, the quality menu's MP3 row (`bestaudio` plus `extract_audio`) converts even on a direct
/// link without an audio-only stream, and a playlist (no ZIP; `files` are the tracks) arrives
/// as its tracks.
#[test]
fn a_python_profile_worker_delivers_each_file_once_and_playlists_as_tracks() {
    // The database URL in the Python worker's spelling: `./worker.db` in the working directory.
    let harness = Harness::start(&[
        ("WIRE_PROFILE", "python"),
        ("DATABASE_URL", "sqlite:///./worker.db"),
    ]);
    let url = harness.media.media_url(media::tone_webm(2, 770));
    let (status_id, mark) = request_audio(&harness, CHAT, &url);
    harness.wait_for_final_status(CHAT, status_id);
    let sent: Vec<_> = harness
        .api
        .calls_to("sendAudio")
        .into_iter()
        .filter(|c| c.seq >= mark)
        .collect();
    assert_eq!(sent.len(), 1, "one file, sent once");
    assert!(sent[0].file("audio").expect("upload").filename.ends_with(".mp3"));

    let url = harness.media.media_url(media::tone_webm(2, 880));
    let mark = harness.mark();
    harness.say(CHAT, &url);
    let (message_id, quality) = harness.wait_for_button(CHAT, mark, "Quality");
    harness.tap(CHAT, message_id, &quality);
    let (message_id, mp3) = harness.wait_for_button(CHAT, mark, "MP3 192");
    harness.tap(CHAT, message_id, &mp3);
    let sent = harness.wait_for("sendAudio", mark, |c| c.succeeded());
    let file = sent.file("audio").expect("upload");
    assert_eq!(probe_codec(&file.bytes, harness.dir.path(), "p.mp3"), "mp3");

    let items = [("First", 330), ("Second", 440)]
        .iter()
        .map(|(title, hz)| {
            let tone = media::tone_webm(1, *hz);
            let name = tone.file_name().expect("name").to_string_lossy().into_owned();
            hermes_testkit::http::FeedItem::new(*title, format!("/media/{name}"))
        })
        .collect();
    let feed = harness.media.add_feed("pymix", "Py Mix", items);
    let playlist_start = harness.mark();
    let message_id = harness.playlist_all_as_audio(CHAT, &feed);
    harness.wait_for_final_status(CHAT, message_id);
    let tracks: Vec<String> = harness
        .api
        .calls_to("sendAudio")
        .iter()
        .filter(|c| c.seq >= playlist_start && c.succeeded())
        .map(|c| c.file("audio").expect("upload").filename.clone())
        .collect();
    assert_eq!(tracks.len(), 2, "{tracks:?}");
    assert!(
        tracks[0].contains("First") && tracks[1].contains("Second"),
        "{tracks:?}"
    );
    assert!(
        harness
            .api
            .calls_to("sendDocument")
            .iter()
            .all(|c| c.seq < playlist_start),
        "no ZIP"
    );
    assert!(harness.dir.path().join("worker.db").is_file());
}

// ---------------------------------------------------------------------------------------------
// Issue 11: a host that dies, flood control and server errors, limits a user can hit

/// Waits until `n` status messages sent since `mark` show their task in the queue (a queue
/// position or a progress bar): only then has the bot counted them.
fn wait_until_in_queue(harness: &Harness, mark: usize, n: usize) {
    let counted = hermes_testkit::procs::wait_until(Duration::from_secs(60), || {
        harness
            .api
            .calls_to("sendMessage")
            .iter()
            .filter(|c| c.seq >= mark && c.succeeded() && text_of(c).contains("/cancel"))
            .filter_map(message_id_of)
            .filter(|id| {
                let text = harness.message_text(CHAT, *id);
                text.contains("(#") || text.contains('%')
            })
            .count()
            >= n
    });
    assert!(counted, "{n} downloads queued");
}

#[test]
fn a_huge_retry_after_on_get_updates_is_capped_and_polling_goes_on() {
    let harness = Harness::start(&[("TELEGRAM_MAX_RETRY_WAIT_SECS", "2")]);
    harness
        .api
        .fail_next("getUpdates", Fault::TooManyRequests { retry_after: 3600 });
    harness.wait_for("getUpdates", 0, |c| c.status == 429);
    let mark = harness.mark();
    harness.say(CHAT, "/chatid");
    harness.wait_for_text(CHAT, mark, &CHAT.to_string());
}

#[test]
fn a_reply_refused_with_a_server_error_is_sent_again() {
    let harness = Harness::start(&[]);
    harness.wait_for("setMyCommands", 0, |c| c.succeeded());
    harness
        .api
        .fail_next("sendMessage", Fault::Status(500, "Internal Server Error".into()));
    let mark = harness.mark();
    harness.say(CHAT, "/chatid");
    let refused = harness.wait_for("sendMessage", mark, |c| c.status == 500);
    let sent = harness.wait_for("sendMessage", refused.seq + 1, |c| c.succeeded());
    assert!(text_of(&sent).contains(&CHAT.to_string()), "{}", text_of(&sent));
}

#[test]
fn an_upload_under_flood_control_waits_it_out_and_is_delivered() {
    let harness = Harness::start(&[]);
    // More refusals than the three inline retries a reply gets, and a server error among them.
    for fault in [
        Fault::TooManyRequests { retry_after: 1 },
        Fault::TooManyRequests { retry_after: 1 },
        Fault::Status(502, "Bad Gateway".into()),
        Fault::TooManyRequests { retry_after: 1 },
        Fault::TooManyRequests { retry_after: 2 },
    ] {
        harness.api.fail_next("sendAudio", fault);
    }
    let tone = media::tone_webm(2, 440);
    let url = harness.media.media_url(&tone);
    let (status_id, mark) = request_audio(&harness, CHAT, &url);
    let sent = harness.wait_for("sendAudio", mark, |c| c.succeeded());
    let refused = harness
        .api
        .calls_to("sendAudio")
        .iter()
        .filter(|c| c.seq >= mark && !c.succeeded())
        .count();
    assert_eq!(refused, 5);
    assert!(
        sent.file("audio").is_some_and(|f| !f.bytes.is_empty()),
        "the file was kept until delivered"
    );
    harness.wait_for_message_text(CHAT, status_id, "✅ Completed");
    assert_eq!(task_state(&harness, &url).as_deref(), Some("done"));
    wait_until_empty(&harness.downloads().join(CHAT.to_string()));
}

#[test]
fn a_chat_at_max_queued_per_chat_is_refused_clearly() {
    let harness = Harness::start(&[("MAX_QUEUED_PER_CHAT", "2")]);
    let mark = harness.mark();
    for n in 0..2 {
        harness.say(CHAT, &format!("/audio {}", slow_url(&harness, 1000, n)));
    }
    wait_until_in_queue(&harness, mark, 2);
    let third = slow_url(&harness, 1000, 2);
    harness.say(CHAT, &format!("/audio {third}"));
    let refusal = harness.wait_for_text(CHAT, mark, "You already have 2 downloads");
    assert!(text_of(&refusal).contains("/cancel"), "{}", text_of(&refusal));
    assert_eq!(task_state(&harness, &third), None, "nothing was queued");
}

#[test]
fn status_with_many_tasks_fits_in_one_message() {
    const TASKS: usize = 40;
    let harness = Harness::start(&[("MAX_QUEUED_PER_CHAT", "100")]);
    for n in 0..TASKS {
        let url = format!("{}&padding={}", slow_url(&harness, 1000, n), "p".repeat(40));
        harness.say(CHAT, &format!("/audio {url}"));
    }
    // Ask until every task is in the queue (the bot enqueues each one after recording it).
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    let summary = format!("…and {} more", TASKS - 10);
    loop {
        let asked = harness.mark();
        harness.say(CHAT, "/status");
        // Updates are handled concurrently: an early /status may see none of them yet.
        let status = harness.wait_for("sendMessage", asked, |c| {
            text_of(c).contains("Your downloads") || text_of(c).contains("No downloads")
        });
        assert!(
            status.succeeded(),
            "Telegram refused the /status reply: {}",
            status.response
        );
        let text = text_of(&status);
        assert!(
            text.chars().count() <= 4096,
            "{} characters",
            text.chars().count()
        );
        if text.contains(&summary) {
            assert_eq!(text.matches("/cancel_").count(), 10, "{text}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never saw all {TASKS} tasks: {text}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn one_chat_cannot_use_up_the_searches_of_everyone() {
    let harness = Harness::with_fake_youtube(&[("SEARCHES_PER_CHAT_PER_HOUR", "1")]);
    let other = CHAT + 1;
    let mark = harness.mark();
    harness.say(CHAT, "/search never gonna give you up");
    search_results(&harness, CHAT, mark);
    let again = harness.mark();
    harness.say(CHAT, "/search rick astley");
    harness.wait_for_text(CHAT, again, "searches for this hour");
    harness.say(other, "/search never gonna give you up");
    search_results(&harness, other, again);
}

/// The search results with their number buttons, in `chat` since `after`.
fn search_results(harness: &Harness, chat: i64, after: usize) {
    harness.wait_for("editMessageText", after, |c| {
        c.params["chat_id"] == json!(chat)
            && text_of(c).contains("Never Gonna Give You Up")
            && !buttons(c).is_empty()
    });
}

#[test]
fn a_damaged_bot_database_is_a_clear_start_up_error_and_is_left_untouched() {
    let api = hermes_testkit::telegram::FakeBotApi::start(TOKEN);
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("bot.db");
    let garbage = vec![0x5au8; 16384];
    std::fs::write(&db, &garbage).expect("write garbage");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_hermes-bot"))
        .current_dir(dir.path())
        .env("TELEGRAM_BOT_TOKEN", TOKEN)
        .env("TELEGRAM_API_URL", api.base_url())
        .env("HERMES_WORKER_BIN", worker_bin())
        .env("DOWNLOAD_DIR", dir.path().join("downloads"))
        .env("BOT_DATABASE_URL", format!("sqlite://{}", db.display()))
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("worker.db").display()),
        )
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run hermes-bot");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("is damaged")
            && stderr.contains(&db.display().to_string())
            && stderr.contains("left untouched"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(&db).expect("still there"),
        garbage,
        "never discarded"
    );
    let siblings: Vec<String> = std::fs::read_dir(dir.path())
        .expect("list")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("bot.db."))
        .collect();
    assert!(siblings.is_empty(), "nothing moved aside: {siblings:?}");
}
