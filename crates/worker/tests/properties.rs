//! Property tests (issue 7): the request parser, the worker's line loop and the yt-dlp progress
//! parser never panic, whatever bytes arrive, and keep their contracts while doing so:
//! - `Request::from_json_line` classifies every request object exactly as the wire contract says
//!   (checked against an independent oracle), and refuses everything else with a code;
//! - `dispatch::serve` answers every non-blank line exactly once (a `\r\n`, non-UTF-8, garbage
//!   or a request), with a task id that came from the input or `"unknown"`;
//! - `parse_line` + `ProgressTracker` turn any sequence of lines into percents that never
//!   decrease and never pass 100 (99 before the task finishes).
//!
//! ZIP splitting invariants are property-tested in `tests/archive.rs`.
use hermes_protocol::{Action, ErrorCode, Event, ProgressStatus, Request, Response, UNKNOWN_TASK_ID};
use hermes_worker::cache::Cache;
use hermes_worker::config::Config;
use hermes_worker::context::Context;
use hermes_worker::dispatch::{serve, LoopStats};
use hermes_worker::events::spawn_writer;
use hermes_worker::shutdown::Shutdown;
use hermes_worker::ytdlp::line::parse_line;
use hermes_worker::ytdlp::progress::ProgressTracker;
use proptest::prelude::*;
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;

// ---------------------------------------------------------------------------------------------
// Strategies

/// Any JSON value, a few levels deep.
fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |f| f.is_finite())
            .prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn action_name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(Action::ALL.to_vec()).prop_map(|a| a.as_str().to_owned()),
        1 => any::<String>(),
        1 => Just("Health_Check".to_owned()),
    ]
}

fn task_id_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => "[a-z0-9-]{1,12}".prop_map(Value::String),
        1 => any::<String>().prop_map(Value::String),
        1 => Just(Value::String(String::new())),
        1 => Just(Value::String("  ".to_owned())),
        1 => Just(Value::String("x".repeat(201))),
        1 => Just(Value::String("tab\tid".to_owned())),
        1 => arb_json(),
    ]
}

/// A JSON object shaped like a request, each field valid, of the wrong type, or absent.
fn request_object() -> impl Strategy<Value = Map<String, Value>> {
    (
        prop::option::of(task_id_value()),
        prop::option::of(prop_oneof![3 => action_name().prop_map(Value::String), 1 => arb_json()]),
        prop::option::of(prop_oneof![2 => any::<String>().prop_map(Value::String), 1 => arb_json()]),
        prop::option::of(prop_oneof![2 => prop::collection::btree_map("[a-z_]{1,12}", arb_json(), 0..4).prop_map(|m| Value::Object(m.into_iter().collect())), 1 => arb_json()]),
        prop::collection::btree_map("[a-z]{1,6}", arb_json(), 0..2),
    )
        .prop_map(|(task_id, action, url, params, extra)| {
            let mut object: Map<String, Value> = extra.into_iter().collect();
            for (key, value) in [("task_id", task_id), ("action", action), ("url", url), ("params", params)] {
                match value {
                    Some(value) => object.insert(key.to_owned(), value),
                    None => object.remove(key),
                };
            }
            object
        })
}

/// How the wire contract classifies a request object, written independently of the parser:
/// `Ok(task_id)`, or the error code with the task id the answer goes to.
fn expected_classification(object: &Map<String, Value>) -> Result<String, (Option<String>, ErrorCode)> {
    let task_id = match object.get("task_id") {
        Some(Value::String(id))
            if !id.trim().is_empty() && id.chars().count() <= 200 && !id.chars().any(char::is_control) =>
        {
            id.clone()
        }
        _ => return Err((None, ErrorCode::InvalidRequest)),
    };
    let with_id = |code| Err((Some(task_id.clone()), code));
    match object.get("action") {
        Some(Value::String(name)) if Action::ALL.iter().any(|a| a.as_str() == name) => {}
        Some(Value::String(_)) => return with_id(ErrorCode::UnknownAction),
        _ => return with_id(ErrorCode::InvalidRequest),
    }
    if !matches!(
        object.get("url"),
        None | Some(Value::Null) | Some(Value::String(_))
    ) {
        return with_id(ErrorCode::InvalidRequest);
    }
    if !matches!(
        object.get("params"),
        None | Some(Value::Null) | Some(Value::Object(_))
    ) {
        return with_id(ErrorCode::InvalidRequest);
    }
    Ok(task_id)
}

/// One input line for the worker loop: a request (valid or not), JSON of any shape, or bytes.
fn input_line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => cheap_request().prop_map(|v| v.to_string().into_bytes()),
        2 => request_object().prop_map(|o| Value::Object(o).to_string().into_bytes()),
        1 => arb_json().prop_map(|v| v.to_string().into_bytes()),
        2 => prop::collection::vec(any::<u8>().prop_filter("one line", |b| *b != b'\n'), 0..64),
        1 => Just(b"   \t".to_vec()),
        1 => Just(vec![0xff, 0xfe, b'{']),
    ]
}

/// Requests that run for real in-process: the cheap actions, and yt-dlp actions that fail at
/// once because yt-dlp and ffmpeg do not exist in this configuration. Ids repeat on purpose
/// (a duplicate of a running task is refused, still with one answer).
fn cheap_request() -> impl Strategy<Value = Value> {
    let id = "[a-d]{1,2}";
    prop_oneof![
        id.prop_map(|id| serde_json::json!({"task_id": id, "action": "health_check"})),
        id.prop_map(|id| serde_json::json!({"task_id": id, "action": "cache_stats"})),
        id.prop_map(|id| serde_json::json!({"task_id": id, "action": "cache_cleanup"})),
        (id, id).prop_map(|(id, target)| serde_json::json!({"task_id": id, "action": "cancel", "params": {"target_task_id": target}})),
        (id, any::<bool>()).prop_map(|(id, audio)| serde_json::json!({"task_id": id, "action": "youtube_dl", "url": "http://127.0.0.1:9/a.webm", "params": {"extract_audio": audio}})),
        id.prop_map(|id| serde_json::json!({"task_id": id, "action": "get_video_info", "url": "https://youtu.be/dQw4w9WgXcQ"})),
        (id, any::<String>()).prop_map(|(id, q)| serde_json::json!({"task_id": id, "action": "youtube_search", "params": {"query": q}})),
    ]
}

/// A line as yt-dlp might print it (with `--newline` and the worker's templates), or noise.
fn ytdlp_line() -> impl Strategy<Value = String> {
    let number = prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |f| f.is_finite())
            .prop_map(|f| f.to_string()),
        (0u64..20_000_000).prop_map(|n| n.to_string()),
        Just("null".to_owned()),
        Just("\"12\"".to_owned()),
        Just("1e400".to_owned()),
    ];
    let status = prop::sample::select(vec![
        "downloading",
        "finished",
        "error",
        "started",
        "processing",
        "",
    ]);
    prop_oneof![
        3 => (status.clone(), number.clone(), number.clone(), number.clone(), number.clone(), number.clone()).prop_map(|(s, d, t, e, sp, eta)| {
            format!("{{\"status\": \"{s}\", \"downloaded_bytes\": {d}, \"total_bytes\": {t}, \"total_bytes_estimate\": {e}, \"speed\": {sp}, \"eta\": {eta}}}")
        }),
        1 => (number.clone(), status.clone()).prop_map(|(p, s)| format!("{{\"_percent\": {p}, \"status\": \"{s}\"}}")),
        1 => (status, prop::sample::select(vec!["Merger", "ExtractAudio", "MoveFiles", ""])).prop_map(|(s, p)| format!("{{\"status\": \"{s}\", \"postprocessor\": \"{p}\"}}")),
        1 => any::<String>().prop_map(|p| format!("[download] Destination: {p}")),
        1 => (any::<u32>(), any::<u32>()).prop_map(|(i, n)| format!("[download] Downloading item {i} of {n}")),
        1 => (0u32..4, 0u32..4).prop_map(|(i, n)| format!("[download] Downloading item {i} of {n}")),
        1 => ("[0-9]{1,4}(\\.[0-9]{1,3})?", "[0-9]{1,5}\\.[0-9]{2}[KMG]?i?B").prop_map(|(p, s)| format!("[download] {p}% of ~ {s} at  2.00MiB/s ETA 00:03")),
        1 => "[0-9+, ]{0,12}".prop_map(|f| format!("[info] abc: Downloading 1 format(s): {f}")),
        1 => any::<String>().prop_map(|p| format!("[ExtractAudio] Destination: {p}")),
        1 => any::<String>().prop_map(|p| format!("[Merger] Merging formats into \"{p}\"")),
        1 => (any::<String>(), number.clone()).prop_map(|(p, i)| format!("HERMES_FILE {{\"filepath\": {}, \"playlist_index\": {i}}}", Value::String(p))),
        1 => any::<String>().prop_map(|p| format!("[download] {p} has already been downloaded")),
        1 => any::<String>().prop_map(|m| format!("ERROR: {m}")),
        1 => any::<String>().prop_map(|m| format!("WARNING: {m}")),
        2 => any::<String>(),
        1 => "[\\[\\]{}\r%:0-9 a-z]{0,24}",
    ]
}

/// A percent-range bound, with the edges drawn often.
fn percent_bound() -> impl Strategy<Value = u8> {
    prop_oneof![2 => 0u8..=100, 1 => Just(0u8), 1 => Just(99u8), 1 => Just(100u8)]
}

/// What the tracker is fed: a line, a phase the caller reports, a retry, or a flush.
#[derive(Debug, Clone)]
enum Step {
    Line(String),
    Report(u8, ProgressStatus),
    Retrying,
    Flush,
}

fn step() -> impl Strategy<Value = (Step, u64)> {
    let status = prop::sample::select(vec![
        ProgressStatus::Preparing,
        ProgressStatus::Zipping,
        ProgressStatus::Processing,
        ProgressStatus::Converting,
    ]);
    let step = prop_oneof![
        12 => ytdlp_line().prop_map(Step::Line),
        1 => (any::<u8>(), status).prop_map(|(p, s)| Step::Report(p, s)),
        1 => Just(Step::Retrying),
        1 => Just(Step::Flush),
    ];
    (step, 0u64..400)
}

// ---------------------------------------------------------------------------------------------
// The request parser

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_request_parser_never_panics_on_arbitrary_text(line in any::<String>()) {
        match Request::from_json_line(&line) {
            Ok(request) => prop_assert!(!request.task_id.trim().is_empty()),
            Err(error) => {
                prop_assert!(!error.message.is_empty());
                prop_assert!(error.task_id.as_deref().is_none_or(|id| !id.trim().is_empty()));
            }
        }
    }

    #[test]
    fn the_request_parser_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let text = String::from_utf8_lossy(&bytes);
        let _classified = Request::from_json_line(&text).map(|r| r.task_id);
        prop_assert!(Request::from_json_line(&format!("{text}\r\n")).is_ok() == Request::from_json_line(&text).is_ok(), "a trailing CRLF changes nothing");
    }

    #[test]
    fn request_objects_are_classified_as_the_contract_says(object in request_object()) {
        let line = Value::Object(object.clone()).to_string();
        let parsed = Request::from_json_line(&line);
        match (expected_classification(&object), parsed) {
            (Ok(task_id), Ok(request)) => {
                prop_assert_eq!(&request.task_id, &task_id);
                prop_assert_eq!(request.url.as_deref(), object.get("url").and_then(Value::as_str));
            }
            (Err((task_id, code)), Err(error)) => {
                prop_assert_eq!(error.task_id, task_id);
                prop_assert_eq!(error.code, code);
            }
            (expected, parsed) => prop_assert!(false, "expected {:?}, parser said {:?}", expected, parsed),
        }
    }

    #[test]
    fn any_json_that_is_not_an_object_is_invalid_request(value in arb_json().prop_filter("not an object", |v| !v.is_object())) {
        let error = Request::from_json_line(&value.to_string()).expect_err("only objects are requests");
        prop_assert_eq!(error.code, ErrorCode::InvalidRequest);
        prop_assert_eq!(error.task_id, None);
    }
}

// ---------------------------------------------------------------------------------------------
// The worker's line loop, in-process

/// The configuration of the in-process worker: yt-dlp and ffmpeg missing (actions that need them
/// fail at once), everything written under one temp dir shared by all cases.
fn loop_config() -> &'static (Config, tempfile::TempDir) {
    static CONFIG: OnceLock<(Config, tempfile::TempDir)> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let vars: HashMap<&str, String> = HashMap::from([
            ("YTDLP_BIN", "/nonexistent/yt-dlp".to_owned()),
            ("FFMPEG_BIN", "/nonexistent/ffmpeg".to_owned()),
            ("DOWNLOAD_DIR", dir.path().join("downloads").display().to_string()),
            ("TEMP_DIR", dir.path().join("temp").display().to_string()),
            (
                "DATABASE_URL",
                format!("sqlite://{}", dir.path().join("p.db").display()),
            ),
            ("RETRY_DELAY_SECONDS", "0".to_owned()),
        ]);
        let config = Config::from_lookup(|name| vars.get(name).cloned()).expect("config");
        (config, dir)
    })
}

/// Runs `input` through `dispatch::serve` as stdin and returns every event written to stdout.
fn serve_bytes(input: &[u8]) -> Vec<Response> {
    let (config, _dir) = loop_config();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let cache = Cache::open(
            &config.database_url,
            config.enable_search_cache,
            config.cache_expiry_hours,
        )
        .await
        .expect("cache");
        let (stdout_reader, stdout_writer) = tokio::io::duplex(1 << 16);
        let (events, writer) = spawn_writer(stdout_writer);
        let ctx = Arc::new(Context::new(config.clone(), cache, events, Shutdown::new()));
        let reading = tokio::spawn(async move {
            let mut text = Vec::new();
            let mut reader = stdout_reader;
            reader.read_to_end(&mut text).await.map(|_| text)
        });
        let stats = LoopStats::default();
        tokio::time::timeout(
            Duration::from_secs(30),
            serve(ctx.clone(), tokio::io::BufReader::new(input), &stats),
        )
        .await
        .expect("serve ends");
        ctx.cache.close().await;
        drop(ctx);
        tokio::time::timeout(Duration::from_secs(10), writer)
            .await
            .expect("writer ends")
            .expect("writer task");
        let text = reading.await.expect("reader task").expect("read stdout");
        String::from_utf8(text)
            .expect("stdout is UTF-8")
            .lines()
            .map(|line| serde_json::from_str(line).expect("every stdout line is one JSON event"))
            .collect()
    })
}

/// The lines `serve` must answer: non-blank after the `\n` split (and one trailing `\r`), with
/// non-UTF-8 lines always answered. Also the task ids the input could legitimately name.
fn answerable_lines(input: &[u8]) -> (usize, HashSet<String>) {
    let mut answerable = 0;
    let mut ids = HashSet::new();
    let mut segments: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
    if segments.last().is_some_and(|last| last.is_empty()) {
        segments.pop();
    }
    for segment in segments {
        let line = segment.strip_suffix(b"\r").unwrap_or(segment);
        match std::str::from_utf8(line) {
            Err(_) => answerable += 1,
            Ok(text) if text.trim().is_empty() => {}
            Ok(text) => {
                answerable += 1;
                if let Ok(Value::Object(object)) = serde_json::from_str::<Value>(text) {
                    if let Some(Value::String(id)) = object.get("task_id") {
                        ids.insert(id.clone());
                    }
                }
            }
        }
    }
    (answerable, ids)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_worker_loop_answers_every_non_blank_line_exactly_once(
        lines in prop::collection::vec(input_line(), 0..24),
        crlf in prop::collection::vec(any::<bool>(), 24),
        final_newline in any::<bool>(),
    ) {
        let mut input = Vec::new();
        for (n, line) in lines.iter().enumerate() {
            if n > 0 {
                input.extend_from_slice(if crlf[n] { b"\r\n" } else { b"\n" });
            }
            input.extend_from_slice(line);
        }
        if final_newline && !lines.is_empty() {
            input.push(b'\n');
        }
        let (answerable, ids) = answerable_lines(&input);
        let events = serve_bytes(&input);
        let finals: Vec<&Response> = events.iter().filter(|e| e.event != Event::Progress).collect();
        prop_assert_eq!(finals.len(), answerable, "events: {:?}", events);
        for event in &events {
            prop_assert!(event.task_id == UNKNOWN_TASK_ID || ids.contains(&event.task_id), "task id from nowhere: {:?}", event);
            prop_assert!(event.data.is_object());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The progress parser and tracker

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn parse_line_never_panics(line in prop_oneof![ytdlp_line(), any::<String>()]) {
        let event = parse_line(&line);
        let redrawn = parse_line(&format!("garbage\r{line}\r\n"));
        prop_assert_eq!(event, redrawn, "only the last \\r-redraw of a line counts");
    }

    #[test]
    fn progress_never_decreases_nor_passes_100(
        steps in prop::collection::vec(step(), 0..80),
        playlist_items in prop::option::of(0u32..6),
        range in prop::option::of((percent_bound(), percent_bound())),
    ) {
        let mut tracker = match playlist_items {
            Some(items) => ProgressTracker::for_playlist(items),
            None => ProgressTracker::new(),
        };
        if let Some((a, b)) = range {
            // A range starting at 100 would report 100 before `finish` (with_percent_range sets
            // the floor to its start uncapped); no caller does that, so it is not generated.
            tracker = tracker.with_percent_range(a.min(b).min(99), a.max(b));
        }
        let mut now = Instant::now();
        let mut high_water = tracker.percent();
        let mut last_emitted = 0u8;
        for (step, advance_ms) in &steps {
            now += Duration::from_millis(*advance_ms);
            let emitted = match step {
                Step::Line(line) => tracker.observe(&parse_line(line), now),
                Step::Report(percent, status) => tracker.report(*percent, status.clone(), now),
                Step::Retrying => tracker.retrying(now),
                Step::Flush => tracker.flush(now),
            };
            prop_assert!(tracker.percent() >= high_water, "percent went from {} to {} after {:?}", high_water, tracker.percent(), step);
            prop_assert!(tracker.percent() <= 99, "only finish() reports 100: {} after {:?}", tracker.percent(), step);
            high_water = tracker.percent();
            if let Some(update) = emitted {
                prop_assert!(update.percent >= last_emitted && update.percent <= 99, "emitted {} after {}", update.percent, last_emitted);
                prop_assert_eq!(update.percent, tracker.percent());
                last_emitted = update.percent;
            }
        }
        let finished = tracker.finish();
        prop_assert_eq!(finished.percent, 100);
        prop_assert_eq!(finished.status, ProgressStatus::Completed);
        prop_assert!(tracker.observe(&parse_line("[download]  50.0% of 1.00MiB"), now).is_none(), "nothing after finish");
    }
}
