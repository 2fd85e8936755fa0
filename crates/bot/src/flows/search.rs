//! `/search <words>`: the results as a numbered list (full title, channel, duration or live
//! mark, views) with one number button each; a tap offers the modes for that result.
use std::fmt::Write as _;
use std::sync::Arc;

use hermes_host::client::new_task_id;
use hermes_host::render::{format_clock, one_line, shorten};
use hermes_protocol::{search_request, Event, SearchResult, SearchResults};

use super::lookup::ask_worker;
use super::screen::{edit_keyboard, edit_plain, placeholder, Rows};
use crate::app::App;
use crate::callbacks::{Callback, Flow, SearchChoice};
use crate::messages;
use crate::reply::reply;

const SEARCH_RESULTS: u32 = 5;

/// `/search <words>`: a numbered list of the results, a number button each.
pub(crate) async fn search(app: Arc<App>, chat_id: i64, query: &str) {
    let query = query.trim();
    if query.is_empty() {
        reply(&app, chat_id, messages::SEARCH_USAGE).await;
        return;
    }
    if let Err(retry_in) = app.searches.try_acquire(chat_id) {
        let limit = app.config.searches_per_chat_per_hour;
        tracing::info!(
            chat_id,
            limit,
            "search refused: the chat's hourly share is used up"
        );
        reply(&app, chat_id, &messages::searches_used_up(limit, retry_in)).await;
        return;
    }
    let waiting = format!("🔎 Searching for “{}”…", shorten(query, 60));
    let Some(message_id) = placeholder(&app, chat_id, &waiting, None).await else {
        return;
    };
    let request = search_request(&new_task_id("search"), query, SEARCH_RESULTS);
    let results: SearchResults = match ask_worker(&app, &request, Event::SearchResults).await {
        Ok(results) => results,
        Err(text) => return edit_plain(&app, chat_id, message_id, &text).await,
    };
    if results.from_cache {
        // Answered from the worker's cache: it cost no search, so it costs no share either.
        app.searches.give_back(chat_id);
    }
    let hits: Vec<&SearchResult> = results.results.iter().filter(|r| !r.url.is_empty()).collect();
    let choices: Vec<SearchChoice> = hits
        .iter()
        .map(|r| SearchChoice {
            url: r.url.clone(),
            title: r.title.clone(),
            channel: r.channel.clone().or_else(|| r.artist.clone()),
        })
        .collect();
    if choices.is_empty() {
        return edit_plain(&app, chat_id, message_id, messages::SEARCH_EMPTY).await;
    }
    let key = app.flows.insert(chat_id, Flow::SearchResults { choices });
    let rows = number_buttons(hits.len(), |index| Callback::Pick {
        key: key.clone(),
        index,
    });
    let text = results_text(query, &hits);
    edit_keyboard(&app, chat_id, message_id, &text, rows).await;
}

/// Longest title shown in the list: five of them and their lines stay far below Telegram's
/// 4096 characters.
const LIST_TITLE_CHARS: usize = 150;
const LIST_CHANNEL_CHARS: usize = 60;

/// The results as a numbered list: the full title, then channel · duration (or 🔴 live /
/// ⏰ upcoming) · views.
fn results_text(query: &str, hits: &[&SearchResult]) -> String {
    let mut text = format!("🔎 Results for “{}”:", shorten(query, 60));
    for (number, hit) in hits.iter().enumerate() {
        let title = one_line(&hit.title);
        let _ = write!(text, "\n\n{}. {}", number + 1, shorten(&title, LIST_TITLE_CHARS));
        let details = details_of(hit);
        if !details.is_empty() {
            let _ = write!(text, "\n   {details}");
        }
    }
    text
}

/// `Channel · 3:33 · 1.2M views`, leaving out what is unknown (also an inline result's
/// description).
pub(super) fn details_of(hit: &SearchResult) -> String {
    let mut parts = Vec::new();
    if let Some(channel) = hit
        .channel
        .as_deref()
        .or(hit.artist.as_deref())
        .filter(|c| !c.is_empty())
    {
        parts.push(shorten(&one_line(channel), LIST_CHANNEL_CHARS));
    }
    let live = hit.live_status.as_deref();
    match (live, hit.duration) {
        (Some("is_live"), _) => parts.push("🔴 live".to_owned()),
        (Some("is_upcoming"), _) => parts.push("⏰ upcoming".to_owned()),
        (_, Some(secs)) => parts.push(format_clock(secs)),
        (_, None) => {}
    }
    if let Some(views) = hit.view_count {
        // A live stream's count is of the people watching it now.
        let noun = match (live, views) {
            (Some("is_live"), _) => "watching",
            (_, 1) => "view",
            _ => "views",
        };
        parts.push(format!("{} {noun}", compact_count(views)));
    }
    parts.join(" · ")
}

/// `987`, `12.3K`, `4.3M`, `1.7B`: cut (not rounded), as YouTube shows counts.
fn compact_count(n: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1_000_000_000, "B"), (1_000_000, "M"), (1_000, "K")];
    let Some(&(unit, suffix)) = UNITS.iter().find(|(unit, _)| n >= *unit) else {
        return n.to_string();
    };
    let tenths = u128::from(n) * 10 / u128::from(unit);
    if tenths >= 1000 || tenths % 10 == 0 {
        format!("{}{suffix}", tenths / 10)
    } else {
        format!("{}.{}{suffix}", tenths / 10, tenths % 10)
    }
}

/// `[1] [2] [3] …` in one row, button `index` carrying `callback(index)`.
fn number_buttons(count: usize, callback: impl Fn(u16) -> Callback) -> Rows {
    let row = (0..count)
        .map(|index| {
            let index = u16::try_from(index).unwrap_or(u16::MAX);
            ((index + 1).to_string(), callback(index).encode())
        })
        .collect();
    vec![row]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(
        title: &str,
        channel: Option<&str>,
        duration: Option<u64>,
        views: Option<u64>,
        live: Option<&str>,
    ) -> SearchResult {
        SearchResult {
            title: title.to_owned(),
            url: "https://www.youtube.com/watch?v=x".to_owned(),
            channel: channel.map(str::to_owned),
            duration,
            view_count: views,
            live_status: live.map(str::to_owned),
            ..SearchResult::default()
        }
    }

    #[test]
    fn counts_are_compact() {
        let cases = [
            (0, "0"),
            (987, "987"),
            (1_000, "1K"),
            (1_234, "1.2K"),
            (12_345, "12.3K"),
            (123_456, "123K"),
            (999_999, "999K"),
            (1_200_000, "1.2M"),
            (4_321_098, "4.3M"),
            (98_765_432, "98.7M"),
            (1_100_000_000, "1.1B"),
            (1_712_345_678, "1.7B"),
            (u64::MAX, "18446744073B"),
        ];
        for (n, expected) in cases {
            assert_eq!(compact_count(n), expected, "{n}");
        }
    }

    #[test]
    fn results_are_a_numbered_list_with_full_titles() {
        let long_title = format!("A very long title {}", "that goes on ".repeat(5));
        let hits = [
            hit(
                "Radio 📚 beats",
                Some("Lofi Girl"),
                None,
                Some(31_000),
                Some("is_live"),
            ),
            hit(&long_title, Some("Chillhop"), Some(213), Some(4_321_098), None),
            hit("Premiere", None, None, None, Some("is_upcoming")),
            hit(
                "Old stream",
                Some("Someone"),
                Some(3_726),
                Some(1),
                Some("was_live"),
            ),
        ];
        let hits: Vec<&SearchResult> = hits.iter().collect();
        let text = results_text("lofi", &hits);
        assert_eq!(
            text,
            format!(
                "🔎 Results for “lofi”:\n\n\
                 1. Radio 📚 beats\n   Lofi Girl · 🔴 live · 31K watching\n\n\
                 2. {}\n   Chillhop · 3:33 · 4.3M views\n\n\
                 3. Premiere\n   ⏰ upcoming\n\n\
                 4. Old stream\n   Someone · 1:02:06 · 1 view",
                long_title.trim_end()
            )
        );
    }

    #[test]
    fn five_results_with_huge_titles_fit_one_message() {
        let title = "é".repeat(5000);
        let channel = "c".repeat(500);
        let hits: Vec<SearchResult> = (0..5)
            .map(|_| hit(&title, Some(&channel), Some(36_000), Some(u64::MAX), None))
            .collect();
        let hits: Vec<&SearchResult> = hits.iter().collect();
        let text = results_text(&"q".repeat(500), &hits);
        assert!(text.chars().count() < 4096, "{}", text.chars().count());
        assert!(text.contains(&format!("5. {}…", "é".repeat(LIST_TITLE_CHARS))));
    }

    #[test]
    fn one_number_button_per_result() {
        let rows = number_buttons(3, |index| Callback::Pick {
            key: "k".to_owned(),
            index,
        });
        assert_eq!(rows.len(), 1);
        let labels: Vec<&str> = rows[0].iter().map(|(label, _)| label.as_str()).collect();
        assert_eq!(labels, ["1", "2", "3"]);
        assert_eq!(
            rows[0][1].1,
            Callback::Pick {
                key: "k".to_owned(),
                index: 1
            }
            .encode()
        );
    }
}
