//! Inline mode end to end: `@bot words` answered with `answerInlineQuery` (checked by the fake
//! as Telegram checks it), cached uploads offered as files, the `t.me/<bot>?start=dl_<id>` deep
//! link starting a download, and strangers getting nothing.

mod bot_support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use bot_support::*;
use hermes_testkit::media;
use serde_json::Value;

const CHAT: i64 = 7001;
const STRANGER: i64 = 9009;
const QUERY: &str = "never gonna give you up";
const VIDEO_ID: &str = "dQw4w9WgXcQ";

/// Pushes an inline query from `from` and returns the answer the fake accepted.
fn ask_inline(harness: &Harness, from: i64, query: &str) -> Value {
    let update = harness
        .api
        .inline_query_update(from.unsigned_abs(), query, Some("sender"));
    let id = update["inline_query"]["id"]
        .as_str()
        .expect("inline query id")
        .to_owned();
    let mark = harness.mark();
    harness.api.push_update(update);
    let call = harness.wait_for("answerInlineQuery", mark, |c| {
        c.params["inline_query_id"].as_str() == Some(id.as_str())
    });
    harness.api.inline_answer(&id).unwrap_or_else(|| {
        panic!(
            "answerInlineQuery refused: {}\nparams: {:#}",
            call.response, call.params
        )
    })
}

fn results_of(answer: &Value) -> Vec<Value> {
    answer["results"].as_array().cloned().unwrap_or_default()
}

/// The `start` parameter of the button above the results (the fake checked its charset).
fn top_button(answer: &Value) -> (String, String) {
    let text = answer["button"]["text"].as_str().unwrap_or_default();
    let start = answer["button"]["start_parameter"].as_str().unwrap_or_default();
    (text.to_owned(), start.to_owned())
}

#[test]
fn inline_queries_are_answered_with_results_that_open_the_bot() {
    let harness = Harness::with_fake_youtube(&[]);
    let username = harness.api.bot_user()["username"]
        .as_str()
        .expect("bot username")
        .to_owned();

    // Nothing typed yet: an empty answer, at once.
    let empty = ask_inline(&harness, CHAT, "");
    assert!(results_of(&empty).is_empty(), "{empty:#}");

    let answer = ask_inline(&harness, CHAT, QUERY);
    assert_eq!(answer["is_personal"], true, "{answer:#}");
    let (text, start) = top_button(&answer);
    assert!(!text.is_empty() && !start.is_empty(), "{answer:#}");
    let results = results_of(&answer);
    assert_eq!(results.len(), 10, "{answer:#}");
    let mut ids = HashSet::new();
    for result in &results {
        let id = result["id"].as_str().expect("result id");
        assert!(!id.is_empty() && id.len() <= 64, "{id}");
        assert!(ids.insert(id.to_owned()), "duplicate id {id}");
        assert_eq!(result["type"], "article", "nothing is cached yet: {result:#}");
        let video_id = id.split_once(':').map(|(_, v)| v).expect("index:video id");
        let link = result["input_message_content"]["message_text"]
            .as_str()
            .unwrap_or_default();
        assert!(
            link.starts_with("https://www.youtube.com/") && link.contains(video_id),
            "{result:#}"
        );
        let button = &result["reply_markup"]["inline_keyboard"][0][0];
        assert!(
            button["text"].as_str().unwrap_or_default().contains("Download"),
            "{result:#}"
        );
        assert_eq!(
            button["url"],
            format!("https://t.me/{username}?start=dl_{video_id}").as_str(),
            "{result:#}"
        );
    }
    let first = &results[0];
    assert!(
        first["title"]
            .as_str()
            .unwrap_or_default()
            .contains("Never Gonna Give You Up"),
        "{first:#}"
    );
    assert!(
        first["description"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Rick Astley · 3:33 · "),
        "{first:#}"
    );

    // Choosing a result (inline feedback on) needs nothing and breaks nothing.
    let chosen_id = results[0]["id"].as_str().expect("id").to_owned();
    let chosen = harness
        .api
        .chosen_inline_result_update(CHAT.unsigned_abs(), &chosen_id, QUERY, None);
    harness.api.push_update(chosen);
    let after = ask_inline(&harness, CHAT, "");
    assert!(results_of(&after).is_empty());
    // Confirmed by the next poll's offset, which may come a moment after the answer.
    let confirmed = hermes_testkit::procs::wait_until(WAIT, || harness.api.pending_updates() == 0);
    assert!(
        confirmed,
        "{} updates never confirmed",
        harness.api.pending_updates()
    );
    assert!(!harness.log().contains("cannot decode"), "{}", harness.log());
}

#[test]
fn a_deep_link_starts_the_download_and_the_file_is_then_offered_inline() {
    let harness = Harness::with_fake_youtube(&[]);
    // The dispatcher downloads YouTube watch URLs from this local tone instead.
    harness.serve_youtube_from(&media::tone_webm(2, 880));
    let watch_url = format!("https://www.youtube.com/watch?v={VIDEO_ID}");

    // Not `dl_` and a video id: the plain /start.
    let mark = harness.mark();
    harness.say(CHAT, "/start dl_../x");
    harness.wait_for_text(CHAT, mark, "Your chat id");

    let mark = harness.mark();
    harness.say(CHAT, &format!("/start dl_{VIDEO_ID}"));
    harness.wait_for_text(CHAT, mark, &watch_url);
    let sent = harness.wait_for("sendAudio", mark, |c| c.succeeded());
    let file_id = sent.result().expect("result")["audio"]["file_id"]
        .as_str()
        .expect("audio file_id")
        .to_owned();
    let deadline = Instant::now() + WAIT;
    while task_state(&harness, &watch_url).as_deref() != Some("done") {
        assert!(
            Instant::now() < deadline,
            "the job never ended:\n{}",
            harness.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // One job: the one of the deep link, none of `/start dl_../x`.
    assert_eq!(tasks_for(&harness, &watch_url).len(), 1);
    let texts: Vec<String> = harness.api.calls_to("sendMessage").iter().map(text_of).collect();
    assert!(!texts.iter().any(|t| t.contains("../x")), "{texts:#?}");

    // The delivered file is offered as itself; the other results stay articles.
    let answer = ask_inline(&harness, CHAT, QUERY);
    let results = results_of(&answer);
    let cached: Vec<&Value> = results.iter().filter(|r| r["type"] != "article").collect();
    assert_eq!(cached.len(), 1, "{answer:#}");
    assert_eq!(cached[0]["type"], "audio", "{answer:#}");
    assert_eq!(cached[0]["audio_file_id"], file_id.as_str(), "{answer:#}");
    assert!(
        cached[0]["id"].as_str().unwrap_or_default().ends_with(VIDEO_ID),
        "{answer:#}"
    );
    assert_eq!(results.len(), 10);
}

#[test]
fn strangers_get_no_inline_results_and_no_deep_link_downloads() {
    let harness = Harness::start(&[("ALLOWED_CHAT_IDS", &CHAT.to_string())]);
    let answer = ask_inline(&harness, STRANGER, QUERY);
    assert!(results_of(&answer).is_empty(), "{answer:#}");
    let (text, start) = top_button(&answer);
    assert!(text.contains("private"), "{answer:#}");
    assert!(!start.is_empty(), "{answer:#}");

    let mark = harness.mark();
    harness.say(STRANGER, &format!("/start dl_{VIDEO_ID}"));
    harness.wait_for_text(STRANGER, mark, &format!("ALLOWED_CHAT_IDS={STRANGER}"));
    let watch_url = format!("https://www.youtube.com/watch?v={VIDEO_ID}");
    assert!(tasks_for(&harness, &watch_url).is_empty());
    assert!(harness.api.calls_to("sendAudio").is_empty());
}

#[test]
fn typing_and_repeating_a_query_does_not_use_up_the_search_share() {
    let harness = Harness::with_fake_youtube(&[("SEARCHES_PER_CHAT_PER_HOUR", "2")]);
    // The first letters typed: no search at all.
    for typed in ["n", "ne"] {
        assert!(
            results_of(&ask_inline(&harness, CHAT, typed)).is_empty(),
            "{typed}"
        );
    }
    // The same words again and again (Telegram asks at every pause): the worker answers from its
    // cache, which costs no share of the two searches this chat has per hour.
    for round in 0..4 {
        let answer = ask_inline(&harness, CHAT, QUERY);
        assert_eq!(results_of(&answer).len(), 10, "round {round}: {answer:#}");
    }
    // And /search still has its share.
    let mark = harness.mark();
    harness.say(CHAT, "/search rick astley");
    harness.wait_for("editMessageText", mark, |c| {
        c.params["chat_id"] == serde_json::json!(CHAT) && text_of(c).contains("1.")
    });
}
