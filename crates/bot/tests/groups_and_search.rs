//! Issue 17 (D13, D15, point 5): search results as a numbered list with number buttons, the bot
//! in group chats (commands and mentions only, `GROUP_LINKS`), and status edits in groups at
//! most every 5 s. The real binary, worker, yt-dlp and ffmpeg; the fake Bot API; media on
//! 127.0.0.1.

mod bot_support;

use std::time::Duration;

use bot_support::*;
use hermes_testkit::media;
use hermes_testkit::telegram::Call;
use serde_json::json;

const CHAT: i64 = 7601;
/// A plain group (negative id); the fake makes it `"type": "group"`.
const GROUP: i64 = -7602;
/// A supergroup (`-100…`).
const SUPERGROUP: i64 = -1_001_234_567_603;

fn bot_username(harness: &Harness) -> String {
    harness.api.bot_user()["username"]
        .as_str()
        .expect("bot username")
        .to_owned()
}

/// Calls of the bot into `chat` since `after` (any method but `getUpdates`).
fn calls_into(harness: &Harness, chat: i64, after: usize) -> Vec<Call> {
    harness
        .api
        .calls()
        .into_iter()
        .filter(|c| c.seq >= after && c.method != "getUpdates" && c.params["chat_id"] == json!(chat))
        .collect()
}

#[test]
fn d13_search_results_are_a_numbered_list_with_number_buttons() {
    let harness = Harness::with_fake_youtube(&[]);

    let mark = harness.mark();
    harness.say(CHAT, "/search lofi hip hop");
    let results = harness.wait_for("editMessageText", mark, |c| {
        c.params["chat_id"] == json!(CHAT) && !buttons(c).is_empty()
    });
    let text = text_of(&results);
    // Full titles (the second is 64 characters: no cut at a button's width), channels, marks.
    for needle in [
        "1. lofi hip hop radio 📚 beats to relax/study to",
        "2. lofi hip hop mix 2025 — beats to chill / study to [no copyright]",
        "3. 1 A.M Study Session 📚 [lofi hip hop/chill beats]",
        "4. lofi hip hop premiere — rainy night beats (Premieres soon)",
        "Lofi Girl · 🔴 live",
        "Chillhop Music · 1:01:14 · 4.3M views",
        "Lofi Girl · 1:02:06 · 98.7M views",
        "the bootleg boy · ⏰ upcoming",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
    assert!(!text.contains('…'), "nothing is cut:\n{text}");
    let numbered = text
        .lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_digit()))
        .count();

    // One number button per result, all in one row.
    let rows = results.params["reply_markup"]["inline_keyboard"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(rows.len(), 1, "one row: {rows:?}");
    let all = buttons(&results);
    let labels: Vec<&str> = all.iter().map(|(label, _)| label.as_str()).collect();
    let expected: Vec<String> = (1..=numbered).map(|n| n.to_string()).collect();
    assert_eq!(labels, expected, "a number per listed result:\n{text}");
    assert_eq!(numbered, 5, "{text}");
    for (label, data) in &all {
        assert!(data.len() <= 64 && !data.contains("http"), "{label}: {data}");
    }

    // "2" offers the modes for result 2.
    let message_id = message_id_of(&results).expect("results message");
    let second = all
        .iter()
        .find(|(label, _)| label == "2")
        .map(|(_, data)| data.clone())
        .expect("button 2");
    let after_pick = harness.mark();
    harness.tap(CHAT, message_id, &second);
    let (choice_id, _audio) = harness.wait_for_button(CHAT, after_pick, "Audio");
    let offer = harness.message_text(CHAT, choice_id);
    assert!(
        offer.contains("lofi hip hop mix 2025 — beats to chill / study to [no copyright]"),
        "{offer}"
    );
    assert!(!offer.contains("radio"), "not result 1: {offer}");
}

#[test]
fn point5_in_groups_only_commands_and_mentions_start_flows_unless_group_links() {
    let harness = Harness::start(&[]);
    let bot = bot_username(&harness);
    let url = harness.media.media_url(media::tone_webm(2, 523));

    // A mention with a link: the mode keyboard (also proves the bot is up and polling).
    let mark = harness.mark();
    harness.say(GROUP, &format!("@{bot} {url}"));
    let (_, audio) = harness.wait_for_button(GROUP, mark, "Audio");
    assert!(!audio.is_empty());

    // A mention without a link: the short hint.
    let mark = harness.mark();
    harness.say(SUPERGROUP, &format!("hey @{bot}"));
    harness.wait_for_text(SUPERGROUP, mark, "Send me a link");

    // A bare link, and bare text: nothing at all, while a command after them is answered.
    let mark = harness.mark();
    harness.say(GROUP, &url);
    harness.say(SUPERGROUP, &url);
    harness.say(GROUP, "nice song, everyone");
    // Other bots' commands: addressed to them, or unknown to this one.
    harness.say(GROUP, &format!("/audio@other_bot {url}"));
    harness.say(SUPERGROUP, "/weather berlin");
    std::thread::sleep(Duration::from_secs(2));
    let chatid = harness.mark();
    harness.say(GROUP, "/chatid");
    harness.wait_for_text(GROUP, chatid, &GROUP.to_string());
    std::thread::sleep(Duration::from_millis(500));
    let in_group: Vec<String> = calls_into(&harness, GROUP, mark)
        .into_iter()
        .chain(calls_into(&harness, SUPERGROUP, mark))
        .filter(|c| !text_of(c).contains(&GROUP.to_string()))
        .map(|c| format!("{} {}", c.method, c.params))
        .collect();
    assert!(
        in_group.is_empty(),
        "a bare link, chatter and other bots' commands in a group are ignored: {in_group:#?}"
    );

    // In a private chat a bare link still gets the keyboard.
    let mark = harness.mark();
    harness.say(CHAT, &url);
    harness.wait_for_button(CHAT, mark, "Audio");
    drop(harness);

    // GROUP_LINKS=true: a bare link in a group gets the keyboard too; bare text stays ignored.
    let harness = Harness::start(&[("GROUP_LINKS", "true")]);
    let url = harness.media.media_url(media::tone_webm(2, 523));
    let mark = harness.mark();
    harness.say(GROUP, "nice song, everyone");
    harness.say(GROUP, &url);
    let (message_id, _) = harness.wait_for_button(GROUP, mark, "Audio");
    let others: Vec<String> = calls_into(&harness, GROUP, mark)
        .into_iter()
        .filter(|c| message_id_of(c) != Some(message_id))
        .map(|c| format!("{} {}", c.method, c.params))
        .collect();
    assert!(others.is_empty(), "bare text is still ignored: {others:#?}");
}

#[test]
fn d15_status_edits_in_groups_are_at_least_five_seconds_apart() {
    let harness = Harness::start(&[]);
    // About 20 s of download: several edits at 5 s (every 2 s in a private chat).
    let url = slow_url(&harness, 60_000, 1701);
    let mark = harness.mark();
    harness.say(GROUP, &format!("/audio {url}"));
    let opened = harness.wait_for("sendMessage", mark, |c| c.params["chat_id"] == json!(GROUP));
    let status_id = message_id_of(&opened).expect("status message");
    let done = harness.wait_for_final_status(GROUP, status_id);
    assert!(done.contains("✅ Completed"), "{done}");
    // The fake shows an edit's text a moment before it records the call.
    harness.wait_for("editMessageText", mark, |c| {
        message_id_of(c) == Some(status_id)
            && text_of(c).contains("✅ Completed")
            && !text_of(c).contains("/cancel")
    });

    let edits: Vec<Call> = harness
        .api
        .calls_to("editMessageText")
        .into_iter()
        .filter(|c| {
            c.seq >= mark && c.params["chat_id"] == json!(GROUP) && message_id_of(c) == Some(status_id)
        })
        .collect();
    let times: Vec<_> = std::iter::once(opened.at)
        .chain(edits.iter().map(|c| c.at))
        .collect();
    let gaps: Vec<Duration> = times.windows(2).map(|w| w[1].duration_since(w[0])).collect();
    let shown: Vec<String> = edits
        .iter()
        .zip(&gaps)
        .map(|(c, gap)| format!("+{:.1}s {:?}", gap.as_secs_f64(), text_of(c)))
        .collect();
    assert!(edits.len() >= 3, "several edits to look at: {shown:#?}");
    assert!(
        gaps.iter().all(|gap| *gap >= Duration::from_millis(4500)),
        "every status edit in a group is ≥ 5 s after the one before: {shown:#?}"
    );
}
