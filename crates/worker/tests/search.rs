//! `youtube_search` end to end: the real `hermes-worker` binary against `scripts/fake-yt-dlp`
//! (recorded `ytsearch` output, simulated failures). The fake appends one line per spawn to
//! `FAKE_YTDLP_LOG`, which is how these tests see whether yt-dlp was reached at all.
mod common;

use common::{fake_ytdlp, Worker};
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(30);

/// Every key of one search hit (DESIGN.md §2, `youtube_search` row).
const RESULT_KEYS: [&str; 10] = [
    "video_id",
    "title",
    "url",
    "duration",
    "thumbnail",
    "channel",
    "view_count",
    "videoId",
    "artist",
    "duration_string",
];

/// A worker wired to the fake yt-dlp, with quick retries and its own invocation log.
struct Searcher {
    worker: Worker,
    log: PathBuf,
    next_id: usize,
}

impl Searcher {
    fn start(extra: &[(&str, &str)]) -> Searcher {
        Searcher::start_in(tempfile::tempdir().unwrap(), extra)
    }

    fn start_in(dir: tempfile::TempDir, extra: &[(&str, &str)]) -> Searcher {
        let log = dir.path().join("fake-yt-dlp.log");
        let fake = fake_ytdlp().display().to_string();
        let log_text = log.display().to_string();
        let mut env = vec![
            ("YTDLP_BIN", fake.as_str()),
            ("FAKE_YTDLP_LOG", log_text.as_str()),
            ("MAX_RETRIES", "1"),
            ("RETRY_DELAY_SECONDS", "0"),
        ];
        env.extend_from_slice(extra);
        Searcher {
            worker: Worker::start_in(dir, &env),
            log,
            next_id: 0,
        }
    }

    fn db_url(&self) -> String {
        format!("sqlite://{}", self.worker.dir.path().join("hermes.db").display())
    }

    fn fresh_id(&mut self) -> String {
        self.next_id += 1;
        format!("s{}", self.next_id)
    }

    /// Sends a search and returns its task id (without waiting).
    fn send_search(&mut self, params: Value) -> String {
        let id = self.fresh_id();
        self.worker
            .send(&json!({"task_id": id, "action": "youtube_search", "params": params}));
        id
    }

    /// Searches and returns every event of the task, the final one last.
    fn search_events(&mut self, params: Value) -> Vec<Value> {
        let id = self.send_search(params);
        self.worker
            .events_until_final(&id, T)
            .into_iter()
            .filter(|e| e["task_id"] == id.as_str())
            .collect()
    }

    fn search(&mut self, params: Value) -> Value {
        self.search_events(params).pop().unwrap()
    }

    fn query(&mut self, query: &str) -> Value {
        self.search(json!({"query": query}))
    }

    /// The final events of `ids` (sent concurrently), in the order of `ids`.
    fn finals(&self, ids: &[String]) -> Vec<Value> {
        let deadline = Instant::now() + T;
        let mut finals: HashMap<String, Value> = HashMap::new();
        while finals.len() < ids.len() {
            let event = self.worker.next_event(
                deadline
                    .saturating_duration_since(Instant::now())
                    .max(Duration::from_millis(1)),
            );
            let id = event["task_id"].as_str().unwrap_or_default().to_owned();
            if event["event"] != "progress" && ids.contains(&id) {
                assert!(finals.insert(id, event).is_none(), "one final event per task");
            }
        }
        ids.iter().map(|id| finals.remove(id).unwrap()).collect()
    }

    fn request(&mut self, action: &str) -> Value {
        let id = self.fresh_id();
        self.worker.send(&json!({"task_id": id, "action": action}));
        self.worker.final_event(&id, T)
    }

    /// The targets yt-dlp was spawned with so far, one per spawn.
    fn calls(&self) -> Vec<String> {
        match std::fs::read_to_string(&self.log) {
            Ok(text) => text.lines().map(str::to_owned).collect(),
            Err(_) => vec![],
        }
    }

    fn stop(&mut self) {
        self.worker.close_stdin();
        assert!(self.worker.wait_exit(T).success(), "the worker exits 0 on EOF");
    }
}

fn assert_search_results(event: &Value) -> &Value {
    assert_eq!(event["event"], "search_results", "{event}");
    &event["data"]
}

fn error_code(event: &Value) -> &str {
    assert_eq!(event["event"], "error", "{event}");
    event["data"]["error_code"].as_str().unwrap()
}

fn results(event: &Value) -> &Vec<Value> {
    assert_search_results(event)["results"].as_array().unwrap()
}

fn ids(event: &Value) -> Vec<&str> {
    results(event)
        .iter()
        .map(|r| r["video_id"].as_str().unwrap())
        .collect()
}

fn from_cache(event: &Value) -> bool {
    assert_search_results(event)["from_cache"].as_bool().unwrap()
}

fn is_null_or(value: &Value, check: fn(&Value) -> bool) -> bool {
    value.is_null() || check(value)
}

/// yt-dlp's `live_status` values; the key is there only when yt-dlp gave one.
const LIVE_STATUSES: [&str; 5] = ["is_live", "is_upcoming", "was_live", "post_live", "not_live"];

fn assert_result_shape(result: &Value) {
    let keys: BTreeSet<&str> = result
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .filter(|k| *k != "live_status")
        .collect();
    assert_eq!(keys, RESULT_KEYS.into_iter().collect(), "{result}");
    if let Some(status) = result.get("live_status") {
        assert!(
            status.as_str().is_some_and(|s| LIVE_STATUSES.contains(&s)),
            "live_status is absent or one of yt-dlp's values: {result}"
        );
    }
    assert!(
        result["video_id"].as_str().is_some_and(|id| !id.is_empty()),
        "{result}"
    );
    assert_eq!(result["videoId"], result["video_id"]);
    assert!(
        result["title"].is_string()
            && result["url"]
                .as_str()
                .unwrap()
                .starts_with("https://www.youtube.com/"),
        "{result}"
    );
    assert!(
        result["thumbnail"]
            .as_str()
            .unwrap()
            .starts_with("https://i.ytimg.com/vi/"),
        "{result}"
    );
    assert!(
        is_null_or(&result["duration"], Value::is_u64),
        "duration is whole seconds: {result}"
    );
    assert!(
        is_null_or(&result["duration_string"], Value::is_string),
        "{result}"
    );
    assert_eq!(
        result["duration"].is_null(),
        result["duration_string"].is_null(),
        "{result}"
    );
    assert!(is_null_or(&result["view_count"], Value::is_u64), "{result}");
    assert!(
        is_null_or(&result["channel"], Value::is_string) && is_null_or(&result["artist"], Value::is_string),
        "{result}"
    );
}

#[test]
fn results_carry_every_key_with_its_type_after_a_searching_progress() {
    let mut s = Searcher::start(&[]);
    let events = s.search_events(json!({"query": "  Never Gonna Give You Up  ", "max_results": 10}));
    let (last, progress) = events.split_last().unwrap();
    assert_eq!(progress.len(), 1, "one progress before the answer: {events:?}");
    assert_eq!(
        (
            progress[0]["event"].as_str(),
            progress[0]["data"]["status"].as_str()
        ),
        (Some("progress"), Some("searching"))
    );
    assert_eq!(progress[0]["data"]["percent"], 0);

    let data = assert_search_results(last);
    assert_eq!(
        data["query"], "Never Gonna Give You Up",
        "the query as given, trimmed"
    );
    assert_eq!(
        (data["total_results"].as_u64(), data["from_cache"].as_bool()),
        (Some(10), Some(false))
    );
    let hits = results(last);
    hits.iter().for_each(assert_result_shape);
    let rick = &hits[0];
    assert_eq!(
        (rick["video_id"].as_str(), rick["duration"].as_u64()),
        (Some("dQw4w9WgXcQ"), Some(213)),
        "float 213.0 becomes 213"
    );
    assert_eq!(
        (
            rick["duration_string"].as_str(),
            rick["channel"].as_str(),
            rick["artist"].as_str()
        ),
        (Some("3:33"), Some("Rick Astley"), Some("Rick Astley"))
    );
    assert_eq!(rick["url"], "https://www.youtube.com/watch?v=dQw4w9WgXcQ");
    assert_eq!(
        hits[5]["url"], "https://www.youtube.com/shorts/Z_OUWnNCer4",
        "a short keeps its own URL"
    );
    assert_eq!(hits[7]["duration_string"], "10:00:01");
    assert!(hits[9]["view_count"].is_null());
    assert_eq!(s.calls(), ["ytsearch10:Never Gonna Give You Up"]);
}

#[test]
fn live_streams_premieres_and_missing_thumbnails_keep_the_shape() {
    let mut s = Searcher::start(&[]);
    let event = s.search(json!({"query": "lofi hip hop", "max_results": 6}));
    let hits = results(&event);
    assert_eq!(hits.len(), 6);
    hits.iter().for_each(assert_result_shape);
    let live = &hits[0];
    assert!(
        live["duration"].is_null() && live["duration_string"].is_null() && live["view_count"].is_null(),
        "{live}"
    );
    assert!(hits[3]["duration"].is_null(), "a premiere has no duration yet");
    assert_eq!(
        hits[2]["thumbnail"], "https://i.ytimg.com/vi/n0_sZQNGZJT/hqdefault.jpg",
        "thumbnails: [] falls back to hqdefault"
    );
}

#[test]
fn live_streams_and_premieres_are_marked_and_the_mark_survives_the_cache() {
    let mut s = Searcher::start(&[]);
    let statuses = |event: &Value| -> Vec<Option<String>> {
        results(event)
            .iter()
            .map(|hit| {
                hit.get("live_status")
                    .map(|v| v.as_str().expect("a string").to_owned())
            })
            .collect()
    };
    let want: Vec<Option<String>> = [Some("is_live"), None, None, Some("is_upcoming"), None, None]
        .map(|s| s.map(String::from))
        .into();
    let first = s.search(json!({"query": "lofi hip hop", "max_results": 6}));
    assert!(!from_cache(&first));
    assert_eq!(statuses(&first), want, "{first}");
    let hits = results(&first);
    assert_eq!(
        (hits[0]["channel"].as_str(), hits[0]["view_count"].as_u64()),
        (Some("Lofi Girl"), None),
        "a live stream has a channel and no view count: {}",
        hits[0]
    );
    assert_eq!(
        (hits[1]["channel"].as_str(), hits[1]["view_count"].as_u64()),
        (Some("Chillhop Music"), Some(4_321_098)),
        "{}",
        hits[1]
    );
    let again = s.search(json!({"query": "lofi hip hop", "max_results": 6}));
    assert!(from_cache(&again));
    assert_eq!(statuses(&again), want, "{again}");
    assert_eq!(s.calls().len(), 1);
}

#[test]
fn the_count_is_max_results_else_limit_else_five_and_at_most_twenty() {
    let mut s = Searcher::start(&[]);
    let cases = [
        (json!({"query": "music mix", "max_results": 3}), 3),
        (json!({"query": "music mix", "limit": 7}), 7),
        (json!({"query": "music mix", "max_results": 2, "limit": 9}), 2),
        (json!({"query": "music mix"}), 5),
        (json!({"query": "music mix", "max_results": 50}), 20),
        (json!({"query": "music mix", "max_results": 0}), 1),
    ];
    for (params, expected) in cases {
        let event = s.search(params.clone());
        assert_eq!(results(&event).len(), expected, "{params}");
        assert_eq!(event["data"]["total_results"], expected, "{params}");
    }
    assert_eq!(
        s.calls(),
        [
            "ytsearch3:music mix",
            "ytsearch7:music mix",
            "ytsearch2:music mix",
            "ytsearch5:music mix",
            "ytsearch20:music mix",
            "ytsearch1:music mix"
        ]
    );
}

#[test]
fn a_repeated_search_is_answered_from_the_cache_without_yt_dlp() {
    let mut s = Searcher::start(&[]);
    let first = s.search(json!({"query": "Never gonna give you up", "max_results": 4}));
    let again = s.search(json!({"query": "  NEVER GONNA give you UP ", "max_results": 4}));
    assert!(!from_cache(&first) && from_cache(&again));
    assert_eq!(
        results(&again),
        results(&first),
        "the cached answer is the same answer"
    );
    assert_eq!(
        again["data"]["query"], "NEVER GONNA give you UP",
        "the query echoed is this request's"
    );
    let events = s.search_events(json!({"query": "never gonna give you up", "limit": 4}));
    assert_eq!(events.len(), 1, "a cache hit sends no progress: {events:?}");
    assert_eq!(s.calls().len(), 1, "yt-dlp ran once for three identical searches");

    let other_count = s.search(json!({"query": "never gonna give you up", "max_results": 3}));
    assert!(!from_cache(&other_count), "the count is part of the cache key");
    assert_eq!(s.calls().len(), 2);

    let stats = s.request("cache_stats");
    assert_eq!(stats["event"], "cache_stats");
    let data = &stats["data"];
    assert_eq!(
        (
            data["hits"].as_u64(),
            data["misses"].as_u64(),
            data["search_entries"].as_u64()
        ),
        (Some(2), Some(2), Some(2)),
        "{stats}"
    );
    s.stop();
}

#[test]
fn with_the_cache_disabled_every_search_reaches_yt_dlp() {
    let mut s = Searcher::start(&[("ENABLE_SEARCH_CACHE", "false")]);
    assert!(!from_cache(&s.query("lofi hip hop")));
    assert!(!from_cache(&s.query("lofi hip hop")));
    assert_eq!(s.calls().len(), 2);
    let stats = s.request("cache_stats");
    assert_eq!(
        (
            stats["data"]["cache_enabled"].as_bool(),
            stats["data"]["search_entries"].as_u64()
        ),
        (Some(false), Some(0)),
        "{stats}"
    );
}

#[test]
fn five_concurrent_identical_searches_spawn_yt_dlp_once() {
    let mut s = Searcher::start(&[("FAKE_YTDLP_DELAY_MS", "800")]);
    let ids: Vec<String> = (0..5)
        .map(|_| s.send_search(json!({"query": "music mix", "max_results": 4})))
        .collect();
    let answers = s.finals(&ids);
    let mut fresh = 0;
    for answer in &answers {
        assert_eq!(
            results(answer),
            results(&answers[0]),
            "everyone gets the same results"
        );
        fresh += usize::from(!from_cache(answer));
    }
    assert_eq!(fresh, 1, "only the search that ran yt-dlp says from_cache: false");
    assert_eq!(s.calls(), ["ytsearch4:music mix"]);
}

#[test]
fn followers_of_a_failed_search_get_the_same_error() {
    let mut s = Searcher::start(&[("FAKE_YTDLP_DELAY_MS", "800")]);
    let ids: Vec<String> = (0..3)
        .map(|_| s.send_search(json!({"query": "__bot__"})))
        .collect();
    let answers = s.finals(&ids);
    for answer in &answers {
        assert_eq!(error_code(answer), "BOT_DETECTION");
        assert_eq!(answer["data"]["message"], answers[0]["data"]["message"]);
    }
    assert_eq!(s.calls().len(), 1);
    assert_eq!(error_code(&s.query("__bot__")), "BOT_DETECTION");
    assert_eq!(s.calls().len(), 2, "a failure is not cached");
}

#[test]
fn a_cancelled_leader_does_not_fail_its_followers() {
    let mut s = Searcher::start(&[("FAKE_YTDLP_DELAY_MS", "1500")]);
    let leader = s.send_search(json!({"query": "music mix"}));
    wait_until(|| s.calls().len() == 1, "the leader reaches yt-dlp");
    let follower = s.send_search(json!({"query": "music mix"}));
    std::thread::sleep(Duration::from_millis(300));
    s.worker
        .send(&json!({"task_id": "c", "action": "cancel", "params": {"target_task_id": leader}}));
    assert_eq!(error_code(&s.worker.final_event(&leader, T)), "CANCELLED");
    let answer = s.worker.final_event(&follower, T);
    assert!(!from_cache(&answer), "the follower ran the search itself");
    assert_eq!(results(&answer).len(), 5);
    assert_eq!(s.calls().len(), 2);
}

#[test]
fn the_rate_limit_counts_only_searches_that_reach_yt_dlp() {
    let mut s = Searcher::start(&[("RATE_LIMIT_SEARCHES_PER_HOUR", "2")]);
    assert!(!from_cache(&s.query("lofi hip hop")));
    assert!(from_cache(&s.query("LOFI hip hop")), "a hit does not count");
    assert!(!from_cache(&s.query("music mix")));
    let refused = s.query("AC/DC & friends");
    assert_eq!(error_code(&refused), "RATE_LIMITED");
    assert!(
        refused["data"]["message"]
            .as_str()
            .unwrap()
            .contains("2 searches per hour"),
        "{refused}"
    );
    assert!(
        from_cache(&s.query("music mix")),
        "cached searches still answer past the limit"
    );
    assert_eq!(error_code(&s.query("never gonna give you up")), "RATE_LIMITED");
    assert_eq!(s.calls().len(), 2);
}

#[test]
fn a_second_worker_on_the_same_database_sees_the_cache() {
    let mut first = Searcher::start(&[]);
    let original = first.query("AC/DC & friends");
    first.stop();
    let db_url = first.db_url();
    let mut second = Searcher::start(&[("DATABASE_URL", db_url.as_str())]);
    let answer = second.query("ac/dc & friends");
    assert!(from_cache(&answer));
    assert_eq!(results(&answer), results(&original));
    assert!(
        second.calls().is_empty(),
        "the second worker never spawned yt-dlp"
    );
}

#[test]
fn expired_entries_miss_and_are_removed_by_cache_cleanup() {
    let mut s = Searcher::start(&[("CACHE_EXPIRY_HOURS", "0")]);
    assert!(!from_cache(&s.query("lofi hip hop")));
    assert!(
        !from_cache(&s.query("lofi hip hop")),
        "an entry with a zero TTL is expired at once"
    );
    assert_eq!(s.calls().len(), 2);
    let stats = s.request("cache_stats");
    assert_eq!(stats["data"]["search_entries"], 0, "{stats}");
    let cleanup = s.request("cache_cleanup");
    assert_eq!(cleanup["event"], "cache_cleanup_done");
    assert!(
        cleanup["data"]["removed_search"].as_u64().unwrap() >= 1,
        "{cleanup}"
    );
    let again = s.request("cache_cleanup");
    assert_eq!(
        again["data"]["removed_search"], 0,
        "nothing left to remove: {again}"
    );
}

#[test]
fn shell_characters_are_just_part_of_the_query() {
    let mut s = Searcher::start(&[]);
    let answer = s.query("AC/DC & friends");
    assert_eq!(
        ids(&answer),
        [
            "ogi5_smebB3",
            "314Gp9FHWzS",
            "Ry-sxViGjyW",
            "sGapcSGqd3I",
            "zLxLNSCLGKS"
        ]
    );
    assert_eq!(answer["data"]["query"], "AC/DC & friends");
    let odd = "$(touch pwned); `id` | cat > x && rm -rf ~ ; -- --exec=sh";
    assert_eq!(
        results(&s.query(odd)).len(),
        5,
        "answered from the default fixture"
    );
    assert_eq!(
        s.calls(),
        ["ytsearch5:AC/DC & friends".to_owned(), format!("ytsearch5:{odd}")]
    );
    assert!(!s.worker.dir.path().join("pwned").exists() && !s.worker.dir.path().join("x").exists());
}

#[test]
fn bad_queries_are_invalid_requests_and_never_reach_yt_dlp() {
    let mut s = Searcher::start(&[]);
    let long = "x".repeat(201);
    for params in [
        json!({"query": ""}),
        json!({"query": "   "}),
        json!({}),
        json!({"query": long}),
        json!({"query": "a\u{0}b"}),
        json!({"query": "ok", "max_results": "ten"}),
        json!({"query": 5}),
    ] {
        let event = s.search(params.clone());
        assert_eq!(error_code(&event), "INVALID_REQUEST", "{params}");
    }
    assert!(s.calls().is_empty());
    assert_eq!(
        results(&s.query(&"y".repeat(200))).len(),
        5,
        "200 characters is still fine"
    );
}

#[test]
fn the_url_field_is_used_when_the_query_is_empty() {
    let mut s = Searcher::start(&[]);
    s.worker.send(&json!({"task_id": "u1", "action": "youtube_search", "url": " lofi hip hop ", "params": {"query": "", "max_results": 2}}));
    let answer = s.worker.final_event("u1", T);
    assert_eq!(answer["data"]["query"], "lofi hip hop");
    assert_eq!(ids(&answer), ["jfKfPfyJRdk", "h3q3o2Gwkwo"]);
}

#[test]
fn yt_dlp_failures_map_to_their_error_codes() {
    let mut s = Searcher::start(&[]);
    let cases = [
        ("__error__", "NETWORK_TIMEOUT", 2),
        ("__429__", "RATE_LIMITED", 2),
        ("__bot__", "BOT_DETECTION", 1),
        ("__private__", "VIDEO_PRIVATE", 1),
        ("__garbage__", "YTDLP_ERROR", 1),
        ("__crash__", "YTDLP_ERROR", 1),
    ];
    for (query, code, spawns) in cases {
        let before = s.calls().len();
        let event = s.query(query);
        assert_eq!(error_code(&event), code, "{query}: {event}");
        assert!(!event["data"]["message"].as_str().unwrap().is_empty());
        assert_eq!(
            s.calls().len() - before,
            spawns,
            "{query}: transient failures are retried MAX_RETRIES times"
        );
    }
    assert_eq!(
        s.query("__bot__")["data"]["message"]
            .as_str()
            .map(|m| m.contains("not a bot")),
        Some(true)
    );
    assert_eq!(
        s.request("cache_stats")["data"]["search_entries"],
        0,
        "no failure was cached"
    );
}

#[test]
fn a_hanging_yt_dlp_is_killed_after_yt_timeout() {
    let mut s = Searcher::start(&[("YT_TIMEOUT", "1")]);
    let worker_pid = s.worker.pid();
    let started = Instant::now();
    let id = s.send_search(json!({"query": "__hang__"}));
    wait_until(
        || processes_logging_to(&s.log).iter().any(|&pid| pid != worker_pid),
        "the fake yt-dlp is running",
    );
    let event = s.worker.final_event(&id, T);
    assert_eq!(error_code(&event), "NETWORK_TIMEOUT", "{event}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "stopped by YT_TIMEOUT, not by a test timeout"
    );
    wait_until(
        || processes_logging_to(&s.log).iter().all(|&pid| pid == worker_pid),
        "no fake yt-dlp left behind",
    );
}

#[test]
fn a_database_broken_under_a_running_worker_costs_only_the_cache() {
    let mut s = Searcher::start(&[]);
    assert!(!from_cache(&s.query("lofi hip hop")));
    let db = s.worker.dir.path().join("hermes.db");
    for suffix in ["", "-wal", "-shm"] {
        overwrite_with_garbage(&PathBuf::from(format!("{}{suffix}", db.display())));
    }
    let answer = s.query("music mix");
    assert!(!from_cache(&answer), "the search falls back to yt-dlp");
    assert_eq!(results(&answer).len(), 5);
    let stats = s.request("cache_stats");
    assert_eq!(error_code(&stats), "INTERNAL");
    assert!(
        stats["data"]["message"].as_str().unwrap().contains("database"),
        "{stats}"
    );
    s.stop();
}

fn overwrite_with_garbage(path: &Path) {
    if let Ok(meta) = std::fs::metadata(path) {
        std::fs::write(path, vec![0x42u8; meta.len() as usize]).unwrap();
    }
}

fn wait_until(mut done: impl FnMut() -> bool, what: &str) {
    let deadline = Instant::now() + T;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Live processes whose environment names `log` as their `FAKE_YTDLP_LOG`: this test's worker
/// and the fakes it spawned.
fn processes_logging_to(log: &Path) -> Vec<u32> {
    let needle = format!("FAKE_YTDLP_LOG={}", log.display());
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return vec![];
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .filter(|pid| {
            let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
                return false;
            };
            let is_zombie =
                std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| stat.contains(") Z "));
            !is_zombie && environ.split(|&b| b == 0).any(|var| var == needle.as_bytes())
        })
        .collect()
}
