//! `/search <words>`: one button per result; a tap offers the modes for that result.
use std::sync::Arc;

use hermes_host::client::new_task_id;
use hermes_host::render::{format_clock, shorten};
use hermes_protocol::{search_request, Event, SearchResults};

use super::lookup::ask_worker;
use super::screen::{edit_keyboard, edit_plain, one_choice_per_row, placeholder, BUTTON_TEXT_CHARS};
use crate::app::App;
use crate::callbacks::{Callback, Flow, SearchChoice};
use crate::messages;
use crate::reply::reply;

const SEARCH_RESULTS: u32 = 5;

/// `/search <words>`: one button per result.
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
    let choices: Vec<SearchChoice> = results
        .results
        .iter()
        .filter(|r| !r.url.is_empty())
        .map(|r| SearchChoice {
            url: r.url.clone(),
            title: r.title.clone(),
            channel: r.channel.clone().or_else(|| r.artist.clone()),
        })
        .collect();
    if choices.is_empty() {
        return edit_plain(&app, chat_id, message_id, messages::SEARCH_EMPTY).await;
    }
    let labels: Vec<String> = results
        .results
        .iter()
        .filter(|r| !r.url.is_empty())
        .map(|r| result_label(&r.title, r.duration))
        .collect();
    let key = app.flows.insert(chat_id, Flow::SearchResults { choices });
    let rows = one_choice_per_row(labels, |index| Callback::Pick {
        key: key.clone(),
        index,
    });
    let text = format!("🔎 Results for “{}”:", shorten(query, 60));
    edit_keyboard(&app, chat_id, message_id, &text, rows).await;
}

fn result_label(title: &str, duration: Option<u64>) -> String {
    match duration {
        Some(secs) => {
            let clock = format_clock(secs);
            let room = BUTTON_TEXT_CHARS.saturating_sub(clock.chars().count() + 3);
            format!("{} · {clock}", shorten(title, room))
        }
        None => shorten(title, BUTTON_TEXT_CHARS),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_labels_fit_a_button() {
        assert_eq!(result_label("Song", Some(213)), "Song · 3:33");
        assert_eq!(result_label("Live", None), "Live");
        let long = result_label(&"x".repeat(100), Some(36_000));
        assert!(long.chars().count() <= BUTTON_TEXT_CHARS + 1, "{long}");
        assert!(long.ends_with("10:00:00"));
    }
}
