//! Issue 17, as a user meets the bot: keyboards that stay truthful and texts that say what really
//! happened (D5, D8). The real binary, worker, yt-dlp and ffmpeg; the fake Bot API; media on
//! 127.0.0.1.

mod bot_support;

use std::time::Duration;

use bot_support::*;
use hermes_testkit::media;
use serde_json::json;

const CHAT: i64 = 7501;

fn quick_tone(harness: &Harness) -> String {
    harness.media.media_url(media::tone_webm(2, 523))
}

/// The status message's text once it no longer shows a running task.
fn final_text(harness: &Harness, status_id: i32) -> String {
    let ended = hermes_testkit::procs::wait_until(WAIT, || {
        let text = harness.message_text(CHAT, status_id);
        !text.contains("/cancel") && (text.contains('❌') || text.contains("✅"))
    });
    let text = harness.message_text(CHAT, status_id);
    assert!(ended, "still running: {text}\nbot log:\n{}", harness.log());
    text
}

#[test]
fn d5_a_second_tap_on_a_used_keyboard_gets_a_toast_and_the_status_stays() {
    let harness = Harness::start(&[]);
    let url = quick_tone(&harness);
    let mark = harness.mark();
    harness.say(CHAT, &url);
    let (message_id, audio) = harness.wait_for_button(CHAT, mark, "Audio");
    harness.tap(CHAT, message_id, &audio);
    let done = harness.wait_for_final_status(CHAT, message_id);
    assert!(done.contains("✅ Completed"), "{done}");
    // The fake shows an edit's text a moment before it records the call: mark after the call.
    harness.wait_for("editMessageText", 0, |c| {
        c.params["message_id"] == json!(message_id) && text_of(c).contains("✅ Completed")
    });

    let mark = harness.mark();
    harness.tap(CHAT, message_id, &audio);
    let toast = harness.wait_for("answerCallbackQuery", mark, |_| true);
    assert!(
        toast.params["text"].as_str().is_some_and(|t| !t.is_empty()),
        "a toast says why: {:?}",
        toast.params
    );
    std::thread::sleep(Duration::from_secs(1));
    let edits_after: Vec<String> = harness
        .api
        .calls_to("editMessageText")
        .into_iter()
        .filter(|c| c.seq >= mark && c.params["message_id"] == json!(message_id))
        .map(|c| format!("{} {}", c.status, c.params))
        .collect();
    assert!(
        edits_after.is_empty(),
        "the status message is not overwritten: {edits_after:#?}\nall: {:#?}",
        summarize(&harness.api.calls())
    );
    assert!(harness.message_text(CHAT, message_id).contains("✅ Completed"));
}

#[test]
fn d8_texts_say_what_really_happened() {
    let harness = Harness::start(&[]);

    // /playlist without a link: the playlist's usage, not an /audio example.
    let mark = harness.mark();
    harness.say(CHAT, "/playlist");
    let usage = text_of(&harness.wait_for_text(CHAT, mark, "Usage"));
    assert!(
        usage.contains("/playlist <link>") && !usage.contains("/audio"),
        "{usage}"
    );

    // A page that is no playlist: the preview says it could not read a playlist.
    let mark = harness.mark();
    harness.say(CHAT, &format!("/playlist {}", harness.media.url("/nomedia.html")));
    let preview = harness.wait_for("editMessageText", mark, |c| {
        c.params["chat_id"] == json!(CHAT) && !text_of(c).contains('⏳')
    });
    let preview = text_of(&preview);
    assert!(preview.contains("couldn't read a playlist"), "{preview}");
    assert!(!preview.contains("download failed"), "{preview}");

    // A 404: nothing at the link, not "removed or blocked".
    let (status_id, _) = request_audio(&harness, CHAT, &harness.media.url("/media/missing.wav"));
    let text = final_text(&harness, status_id);
    assert!(text.contains("404") && !text.contains("removed"), "{text}");

    // Nothing listens: a network error, not "took too long".
    let (status_id, _) = request_audio(&harness, CHAT, "http://127.0.0.1:9/never.wav");
    let text = final_text(&harness, status_id);
    assert!(
        text.contains("couldn't reach the site") && !text.contains("too long"),
        "{text}"
    );
}

#[test]
fn d8_a_telegram_413_says_the_file_was_too_large_for_telegram() {
    let harness = Harness::start(&[]);
    harness.api.set_upload_limit(2_000);
    let (status_id, _) = request_audio(&harness, CHAT, &quick_tone(&harness));
    let text = final_text(&harness, status_id);
    assert!(text.contains("Telegram refused the file as too large"), "{text}");
    assert!(!text.contains("on my side"), "{text}");
}

#[test]
fn d3_d4_status_messages_carry_their_own_cancel_and_the_live_queue_position() {
    let harness = Harness::start(&[("MAX_CONCURRENT_TASKS", "1"), ("MAX_TASKS_PER_CHAT", "1")]);
    let ids: Vec<i32> = (0..3)
        .map(|n| request_audio(&harness, CHAT, &slow_url(&harness, 20_000, 500 + n)).0)
        .collect();
    harness.wait_for_message_text(CHAT, ids[0], "%");
    harness.wait_for_message_text(CHAT, ids[1], "next in line");
    harness.wait_for_message_text(CHAT, ids[2], "1 ahead of you");

    // A bare /cancel with several downloads asks which one, and cancels nothing.
    let mark = harness.mark();
    harness.say(CHAT, "/cancel");
    let which = harness.wait_for_text(CHAT, mark, "Which download");
    assert_eq!(buttons(&which).len(), 3, "{:?}", buttons(&which));
    std::thread::sleep(Duration::from_secs(1));
    assert!(harness.message_text(CHAT, ids[0]).contains('%'), "still running");

    // ✖ Cancel under the first status cancels that task, whichever is newest.
    let with_button = harness.wait_for("editMessageText", 0, |c| {
        message_id_of(c) == Some(ids[0]) && button(c, "Cancel").is_some()
    });
    let cancel_first = button(&with_button, "Cancel").expect("✖ Cancel button");
    harness.tap(CHAT, ids[0], &cancel_first);
    // Waited for as a recorded call: the fake shows a text a moment before it records the call.
    let over = harness.wait_for("editMessageText", 0, |c| {
        message_id_of(c) == Some(ids[0]) && text_of(c).contains("Cancelled")
    });
    assert!(buttons(&over).is_empty(), "no buttons once over");
    // The queue moved: the second runs, the third is next, its message says so by itself.
    harness.wait_for_message_text(CHAT, ids[1], "%");
    harness.wait_for_message_text(CHAT, ids[2], "next in line");

    // The hint is one tappable command naming the task; the reply names the title.
    let text = harness.message_text(CHAT, ids[2]);
    let hint = text
        .lines()
        .find(|l| l.starts_with("/cancel_"))
        .expect("hint")
        .to_owned();
    let mark = harness.mark();
    harness.say(CHAT, &hint);
    let reply = text_of(&harness.wait_for_text(CHAT, mark, "Cancelling"));
    assert!(reply.contains("slow/20000"), "names the download: {reply}");
    harness.wait_for_message_text(CHAT, ids[2], "Cancelled");
    assert!(
        harness.message_text(CHAT, ids[1]).contains('%'),
        "the second still runs"
    );

    // A tap on a finished task's button only gets a toast.
    let mark = harness.mark();
    harness.tap(CHAT, ids[0], &cancel_first);
    let toast = harness.wait_for("answerCallbackQuery", mark, |_| true);
    assert!(toast.params["text"]
        .as_str()
        .unwrap_or_default()
        .contains("already ended"));
}

#[test]
fn d1_a_feed_sent_as_a_bare_link_goes_to_the_playlist_preview() {
    let harness = Harness::start(&[]);
    let feed = harness.tone_feed("show", "Evening Show", "Episode", 2, &[440, 550, 660]);
    for request in [feed.clone(), format!("/audio {feed}")] {
        let mark = harness.mark();
        harness.say(CHAT, &request);
        let (message_id, _all) = harness.wait_for_button(CHAT, mark, "All");
        let preview = harness.message_text(CHAT, message_id);
        assert!(
            preview.contains("Evening Show") && preview.contains("3 items") && preview.contains("Episode 3"),
            "{request}: {preview}"
        );
        std::thread::sleep(Duration::from_millis(500));
        let sent: Vec<String> = harness
            .api
            .calls()
            .into_iter()
            .filter(|c| c.seq >= mark && c.method.starts_with("send") && c.method != "sendMessage")
            .map(|c| c.method)
            .collect();
        assert!(
            sent.is_empty(),
            "{request}: nothing downloaded before a choice: {sent:?}"
        );
    }

    // A page with one video is one media: the mode keyboard, as before.
    let page = harness.media.media_url(media::video_page(
        "One Clip",
        &media::video_mp4(2),
        &media::poster_png(64, 36),
    ));
    let mark = harness.mark();
    harness.say(CHAT, &page);
    let (message_id, _) = harness.wait_for_button(CHAT, mark, "Audio");
    assert!(!harness.message_text(CHAT, message_id).contains("items"));
}

#[test]
fn d11_the_same_link_asked_twice_at_once_is_downloaded_and_uploaded_once() {
    let harness = Harness::start(&[]);
    let url = slow_url(&harness, 200_000, 11);
    let other = CHAT + 1;
    let (first, _) = request_audio(&harness, CHAT, &url);
    harness.wait_for_message_text(CHAT, first, "%");
    let (second, _) = request_audio(&harness, other, &url);
    harness.wait_for_message_text(other, second, "same file");
    harness.wait_for_final_status(CHAT, first);
    harness.wait_for_final_status(other, second);
    let sends = harness.api.calls_to("sendAudio");
    assert_eq!(sends.len(), 2, "{:#?}", summarize(&harness.api.calls()));
    let uploaded: Vec<&hermes_testkit::telegram::Call> =
        sends.iter().filter(|c| !c.files.is_empty()).collect();
    assert_eq!(uploaded.len(), 1, "one upload");
    let file_id = uploaded[0].result().expect("result")["audio"]["file_id"].clone();
    let by_id = sends
        .iter()
        .find(|c| c.files.is_empty())
        .expect("a send by file_id");
    assert_eq!(by_id.params["chat_id"], json!(other));
    assert_eq!(by_id.params["audio"], file_id);
    assert!(by_id.succeeded(), "{}", by_id.response);
}

#[test]
fn d2_quality_offers_only_tiers_that_fit_and_says_which_were_left_out() {
    let harness = Harness::with_fake_youtube(&[]);
    let mark = harness.mark();
    harness.say(CHAT, "https://www.youtube.com/watch?v=dQw4w9WgXcQ");
    let (message_id, quality) = harness.wait_for_button(CHAT, mark, "Quality");
    let mark = harness.mark();
    harness.tap(CHAT, message_id, &quality);
    let (_, _) = harness.wait_for_button(CHAT, mark, "720p");
    let screen = harness.wait_for("editMessageText", mark, |c| !buttons(c).is_empty());
    let labels: Vec<String> = buttons(&screen).into_iter().map(|(label, _)| label).collect();
    for too_big in ["2160p", "1440p", "1080p"] {
        assert!(
            !labels.iter().any(|l| l.contains(too_big)),
            "{too_big} (over 50 MB) is not offered: {labels:?}"
        );
    }
    let text = text_of(&screen);
    assert!(
        text.contains("Left out, over the 50 MB upload limit: ") && text.contains("2160p"),
        "{text}"
    );
}
