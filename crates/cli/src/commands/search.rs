//! `hermes search QUERY [-n N] [--pick K]`: a numbered table of results; `--pick` downloads
//! result K as mp3.
use std::path::Path;

use hermes_host::client::new_task_id;
use hermes_protocol::{search_request, AudioFormat, DownloadDone, Event, SearchResult, SearchResults};

use super::download::{print_download, single_download};
use crate::args::SearchArgs;
use crate::columns::{clock, pad};
use crate::error::CliError;
use crate::output_dir::required;
use crate::session::Session;
use crate::ui::println_stdout;

const TITLE_WIDTH: usize = 48;
const CHANNEL_WIDTH: usize = 20;

pub(crate) async fn run(
    session: &mut Session<'_>,
    args: &SearchArgs,
    out_dir: Option<&Path>,
) -> Result<(), CliError> {
    let request = search_request(&new_task_id("cli"), &args.query, args.count);
    let found: SearchResults = session
        .run(&request, "Searching", false, Event::SearchResults)
        .await?;
    if !session.ui().json() {
        println_stdout(&search_table(&found.results));
    }
    let Some(pick) = args.pick else { return Ok(()) };
    let chosen = usize::try_from(pick)
        .ok()
        .and_then(|k| found.results.get(k.checked_sub(1)?));
    let Some(chosen) = chosen else {
        return Err(CliError::Usage(format!(
            "--pick {pick}: there are only {} results",
            found.results.len()
        )));
    };
    let request = single_download(&chosen.url, Some(AudioFormat::Mp3), None, required(out_dir)?);
    let done: DownloadDone = session.run(&request, "Downloading", true, Event::Done).await?;
    print_download(session.ui(), &done);
    Ok(())
}

fn search_table(results: &[SearchResult]) -> String {
    if results.is_empty() {
        return "no results".to_owned();
    }
    let mut lines = vec![format!(
        "{:>2}  {}  {}  {:>8}  URL",
        "#",
        pad("Title", TITLE_WIDTH),
        pad("Channel", CHANNEL_WIDTH),
        "Length"
    )];
    for (index, result) in results.iter().enumerate() {
        let channel = result
            .channel
            .as_deref()
            .or(result.artist.as_deref())
            .unwrap_or("");
        lines.push(format!(
            "{:>2}  {}  {}  {:>8}  {}",
            index + 1,
            pad(&result.title, TITLE_WIDTH),
            pad(channel, CHANNEL_WIDTH),
            clock(result.duration_string.as_deref(), result.duration),
            result.url
        ));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_table_numbers_results_from_one() {
        let results = vec![
            SearchResult {
                title: "First".into(),
                url: "u1".into(),
                duration: Some(61),
                ..Default::default()
            },
            SearchResult {
                title: "Second".into(),
                url: "u2".into(),
                channel: Some("Chan".into()),
                ..Default::default()
            },
        ];
        let table = search_table(&results);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[1].starts_with(" 1  First") && lines[1].contains("1:01") && lines[1].ends_with("u1"));
        assert!(lines[2].starts_with(" 2  Second") && lines[2].contains("Chan") && lines[2].contains('?'));
    }
}
