//! `youtube_search`: `ytsearch{N}:{query}` through yt-dlp (`--flat-playlist --dump-single-json`),
//! answered from the SQLite search cache when possible.
//!
//! Order of the checks, and why:
//! 1. single-flight on the cache key, so identical concurrent searches do all of the following
//!    once and share the answer (followers report `from_cache: true`: they did not reach yt-dlp);
//! 2. the cache: a hit costs nothing upstream, so it neither spawns yt-dlp nor counts against
//!    the rate limit;
//! 3. `RATE_LIMIT_SEARCHES_PER_HOUR`, which only counts searches that will reach yt-dlp;
//! 4. `progress` `searching`, yt-dlp, then the cache write.
//!
//! A cache that cannot be read or written (file deleted or corrupted under a running worker) only
//! costs the cache: the search falls back to yt-dlp and the problem is logged as a warning.
use crate::cache::{SearchHits, SearchKey};
use crate::context::{Context, SearchOutcome};
use crate::error::{SharedError, WorkerError};
use crate::single_flight::Joined;
use crate::tasks::Task;
use crate::ytdlp::{args, driver, env, info};
use hermes_protocol::{
    Event, ProgressData, ProgressStatus, RawResponse, Request, SearchParams, SearchResult,
};
use serde::Serialize;
use std::sync::Arc;

/// Longest query accepted, in characters. YouTube's own search box stops well before this;
/// longer input is a pasted text, not a search.
pub(crate) const MAX_QUERY_CHARS: usize = 200;

pub(crate) struct YoutubeSearch {
    /// Trimmed, as the user typed it (case kept: it is echoed back and sent to YouTube).
    query: String,
    count: u32,
}

impl YoutubeSearch {
    pub(crate) fn parse(request: Request) -> Result<YoutubeSearch, WorkerError> {
        let params: SearchParams = request.params_as()?;
        let query = validated_query(&params.query, request.url.as_deref())?;
        Ok(YoutubeSearch {
            query,
            count: params.result_count(),
        })
    }

    pub(crate) async fn apply(self, ctx: &Context, task: &Task) -> Result<RawResponse, WorkerError> {
        let key = SearchKey::new(&self.query, self.count);
        let (results, from_cache) = Search {
            ctx,
            task,
            query: &self.query,
            count: self.count,
            key,
        }
        .run()
        .await?;
        let payload = SearchResultsView {
            results: &results,
            query: &self.query,
            total_results: results.len(),
            from_cache,
        };
        Ok(RawResponse::new(task.id.clone(), Event::SearchResults, &payload))
    }
}

/// `hermes_protocol::SearchResults` over borrowed results: a cache hit is answered without
/// copying the shared results (the protocol test suite checks the owned type's keys; this one
/// has the same fields and serde names).
#[derive(Serialize)]
struct SearchResultsView<'a> {
    results: &'a [SearchResult],
    query: &'a str,
    total_results: usize,
    from_cache: bool,
}

/// The query to search for: `params.query`, or the request's `url` when the query is empty (the
/// Python host sometimes sent it there), trimmed. Every printable character is allowed — the
/// query is one argv element after `--` — but control characters are refused: a NUL cannot be
/// passed to a process at all, and the rest are never part of a real search.
pub(crate) fn validated_query(query: &str, url: Option<&str>) -> Result<String, WorkerError> {
    let query = match query.trim() {
        "" => url.unwrap_or_default().trim(),
        given => given,
    };
    if query.is_empty() {
        return Err(WorkerError::InvalidRequest(
            "youtube_search needs a non-empty `query`".to_owned(),
        ));
    }
    let chars = query.chars().count();
    if chars > MAX_QUERY_CHARS {
        return Err(WorkerError::InvalidRequest(format!(
            "query is too long ({chars} characters, at most {MAX_QUERY_CHARS})"
        )));
    }
    if query.chars().any(char::is_control) {
        return Err(WorkerError::InvalidRequest(
            "query must not contain control characters".to_owned(),
        ));
    }
    Ok(query.to_owned())
}

/// One search request being answered.
struct Search<'a> {
    ctx: &'a Context,
    task: &'a Task,
    query: &'a str,
    count: u32,
    /// Identifies the search for the cache and for single-flight.
    key: SearchKey,
}

impl Search<'_> {
    /// The results and whether they came without this task reaching yt-dlp.
    async fn run(&self) -> Result<(SearchHits, bool), WorkerError> {
        let mut announced = false;
        loop {
            match self.ctx.search_flights.join(self.key.as_str()) {
                Joined::Leader(leader) => {
                    let outcome = self.lead().await;
                    match &outcome {
                        // This task was cancelled, not the search: followers start over.
                        Err(WorkerError::Cancelled(_)) => drop(leader),
                        Ok((results, _)) => leader.publish(Ok(results.clone())),
                        Err(error) => leader.publish(Err(SharedError::from(error))),
                    }
                    return outcome;
                }
                Joined::Follower(follower) => {
                    if !announced {
                        announced = true;
                        self.announce_searching().await;
                    }
                    let outcome = tokio::select! {
                        outcome = follower.outcome() => outcome,
                        _ = self.task.cancel.cancelled() => return Err(WorkerError::cancelled(&self.ctx.shutdown)),
                    };
                    match outcome {
                        Some(shared) => return follow(shared),
                        // The leader was cancelled or timed out: try again, maybe as leader.
                        None => continue,
                    }
                }
            }
        }
    }

    /// The leader's work: the cache, else the rate limiter and yt-dlp.
    async fn lead(&self) -> Result<(SearchHits, bool), WorkerError> {
        if let Some(results) = self.cached().await {
            return Ok((results, true));
        }
        self.ctx
            .search_rate
            .try_acquire()
            .map_err(|refused| WorkerError::RateLimited(refused.to_string()))?;
        self.announce_searching().await;
        let results = Arc::new(self.ask_ytdlp().await?);
        self.remember(&results).await;
        Ok((results, false))
    }

    async fn ask_ytdlp(&self) -> Result<Vec<SearchResult>, WorkerError> {
        let argv = args::search_argv(&env::ytdlp_env(&self.ctx.config), self.query, self.count);
        let playlist = driver::run_json(self.ctx, self.task, argv).await?;
        Ok(info::search_results(&playlist, self.count as usize))
    }

    /// A live cache entry, if the cache has one and can be read.
    async fn cached(&self) -> Option<SearchHits> {
        match self.ctx.cache.search_get(&self.key).await {
            Ok(stored) => stored,
            Err(error) => {
                tracing::warn!(task_id = %self.task.id, %error, "search cache unreadable; searching without it");
                None
            }
        }
    }

    /// Caches the results. An empty answer is not kept: it is as likely a YouTube hiccup as a
    /// real "nothing found", and remembering it would hide results for `CACHE_EXPIRY_HOURS`.
    async fn remember(&self, results: &SearchHits) {
        if results.is_empty() {
            return;
        }
        if let Err(error) = self.ctx.cache.search_put(&self.key, results).await {
            tracing::warn!(task_id = %self.task.id, %error, "cannot cache search results");
        }
    }

    async fn announce_searching(&self) {
        self.task
            .progress(ProgressData {
                status: ProgressStatus::Searching,
                ..ProgressData::default()
            })
            .await;
    }
}

/// A follower's answer: the leader's results (not fetched by this task, hence `from_cache`), or
/// the leader's error, code and message unchanged.
fn follow(shared: SearchOutcome) -> Result<(SearchHits, bool), WorkerError> {
    match shared {
        Ok(results) => Ok((results, true)),
        Err(error) => Err(error.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hermes_protocol::ErrorCode;

    fn code(result: Result<String, WorkerError>) -> ErrorCode {
        result.err().map(|e| e.code()).expect("must be refused")
    }

    #[test]
    fn the_borrowed_payload_serializes_exactly_like_the_protocol_type() {
        let results = vec![SearchResult {
            video_id: "a".into(),
            video_id_compat: "a".into(),
            title: "t".into(),
            ..Default::default()
        }];
        let owned = hermes_protocol::SearchResults {
            results: results.clone(),
            query: "q".into(),
            total_results: 1,
            from_cache: true,
        };
        let view = SearchResultsView {
            results: &results,
            query: "q",
            total_results: 1,
            from_cache: true,
        };
        assert_eq!(
            serde_json::to_value(&view).unwrap(),
            serde_json::to_value(&owned).unwrap()
        );
    }

    #[test]
    fn query_is_trimmed_and_falls_back_to_the_url() {
        assert_eq!(
            validated_query("  AC/DC & friends ", None).unwrap(),
            "AC/DC & friends"
        );
        assert_eq!(
            validated_query(" ", Some(" lofi hip hop ")).unwrap(),
            "lofi hip hop"
        );
        assert_eq!(validated_query("given", Some("ignored")).unwrap(), "given");
        assert_eq!(
            validated_query("$(rm -rf /); echo `x` | y && z", None).unwrap(),
            "$(rm -rf /); echo `x` | y && z"
        );
    }

    #[test]
    fn empty_over_long_and_control_queries_are_invalid_requests() {
        assert_eq!(code(validated_query("", None)), ErrorCode::InvalidRequest);
        assert_eq!(
            code(validated_query(" \t ", Some("  "))),
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            code(validated_query(&"x".repeat(201), None)),
            ErrorCode::InvalidRequest
        );
        assert_eq!(code(validated_query("a\0b", None)), ErrorCode::InvalidRequest);
        assert_eq!(code(validated_query("a\nb", None)), ErrorCode::InvalidRequest);
        // The limit counts characters, not bytes.
        assert_eq!(
            validated_query(&"é".repeat(200), None).unwrap().chars().count(),
            200
        );
    }
}
