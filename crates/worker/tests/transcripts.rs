//! Replays every `fixtures/transcripts/*.ndjson` against the built `hermes-worker`.
//! The format is documented in `fixtures/transcripts/README.md`.
mod common;

use common::{workspace, Worker};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;

const EVENTS: [&str; 9] = [
    "progress",
    "done",
    "error",
    "search_results",
    "video_info",
    "format_list",
    "health_ok",
    "cache_stats",
    "cache_cleanup_done",
];

/// One step of a conversation: bytes to write, or a pause until a task's final event.
enum Step {
    Send(Vec<u8>),
    WaitFor(String),
}

struct Transcript {
    env: Vec<(String, String)>,
    /// Command-line arguments for the worker (e.g. `["-m", "worker.application"]`).
    args: Vec<String>,
    steps: Vec<Step>,
    expects: Vec<Map<String, Value>>,
    timeout: Duration,
}

/// Placeholders a transcript may use, filled per run.
struct Vars {
    base_url: String,
    fake_ytdlp: String,
}

fn substitute(text: &str, vars: &Vars) -> String {
    text.replace("${BASE_URL}", &vars.base_url)
        .replace("${FAKE_YTDLP}", &vars.fake_ytdlp)
}

fn load(path: &Path, vars: &Vars) -> Transcript {
    let text = std::fs::read_to_string(path).unwrap();
    let mut t = Transcript {
        env: vec![],
        args: vec![],
        steps: vec![],
        expects: vec![],
        timeout: Duration::from_secs(30),
    };
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let line = substitute(line, vars);
        let entry: Map<String, Value> =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("{}:{}: {e}", path.display(), n + 1));
        let (kind, value) = entry
            .iter()
            .next()
            .unwrap_or_else(|| panic!("{}:{}: empty entry", path.display(), n + 1));
        match kind.as_str() {
            "comment" => {}
            "env" => t.env.extend(
                value
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned())),
            ),
            "args" => t.args.extend(
                value
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a.as_str().unwrap().to_owned()),
            ),
            "timeout_s" => t.timeout = Duration::from_secs(value.as_u64().unwrap()),
            "send" => t.steps.push(Step::Send(format!("{value}\n").into_bytes())),
            "send_raw" => t
                .steps
                .push(Step::Send(format!("{}\n", value.as_str().unwrap()).into_bytes())),
            "send_crlf" => t.steps.push(Step::Send(format!("{value}\r\n").into_bytes())),
            "send_hex" => t.steps.push(Step::Send(hex(value.as_str().unwrap()))),
            "send_big" => t.steps.push(Step::Send(big_line(value.as_object().unwrap()))),
            "wait_for" => t.steps.push(Step::WaitFor(value.as_str().unwrap().to_owned())),
            "expect" => t.expects.push(value.as_object().unwrap().clone()),
            other => panic!("{}:{}: unknown entry kind {other}", path.display(), n + 1),
        }
    }
    t
}

fn hex(text: &str) -> Vec<u8> {
    text.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

/// `{"prefix": .., "fill": "x", "count": N, "suffix": ..}` → prefix + fill×N + suffix + `\n`.
fn big_line(spec: &Map<String, Value>) -> Vec<u8> {
    let s = |k: &str| spec.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let count = spec["count"].as_u64().unwrap() as usize;
    format!("{}{}{}\n", s("prefix"), s("fill").repeat(count), s("suffix")).into_bytes()
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_matches(v: &Value, spec: &str) -> bool {
    spec.split('|')
        .any(|t| t == type_name(v) || (t == "number" && type_name(v) == "integer"))
}

/// Checks every rule that holds for any event line, whatever the transcript says.
fn check_generic(event: &Value, progress_seen: &mut HashMap<String, u64>, finished: &HashMap<String, usize>) {
    let task_id = event["task_id"].as_str().expect("task_id string");
    let name = event["event"].as_str().expect("event string");
    assert!(EVENTS.contains(&name), "event outside the closed set: {event}");
    assert!(event["data"].is_object(), "data must be an object: {event}");
    if name == "progress" {
        assert!(task_id != "unknown");
        assert_eq!(
            finished.get(task_id),
            None,
            "progress after the final event: {event}"
        );
        let percent = event["data"]["percent"]
            .as_u64()
            .unwrap_or_else(|| panic!("percent must be an integer: {event}"));
        assert!(percent <= 100);
        let last = progress_seen.entry(task_id.to_owned()).or_insert(0);
        assert!(percent >= *last, "percent decreased: {event}");
        *last = percent;
        assert!(
            event["data"]["speed"].is_string()
                && event["data"]["eta"].is_u64()
                && event["data"]["status"].is_string(),
            "{event}"
        );
    }
}

fn check_expectation(event: &Value, expect: &Map<String, Value>, file: &str) {
    let ctx = || format!("{file}: event {event} vs expectation {expect:?}");
    assert_eq!(event["event"], expect["event"], "{}", ctx());
    let data = event["data"].as_object().unwrap();
    if let Some(keys) = expect.get("keys") {
        for key in keys.as_array().unwrap() {
            assert!(
                data.contains_key(key.as_str().unwrap()),
                "missing key {key}: {}",
                ctx()
            );
        }
    }
    if let Some(types) = expect.get("types") {
        for (key, spec) in types.as_object().unwrap() {
            let value = data.get(key).unwrap_or(&Value::Null);
            assert!(
                type_matches(value, spec.as_str().unwrap()),
                "{key} should be {spec}: {}",
                ctx()
            );
        }
    }
    if let Some(values) = expect.get("data") {
        for (key, want) in values.as_object().unwrap() {
            assert_eq!(data.get(key), Some(want), "{key}: {}", ctx());
        }
    }
    if let Some(absent) = expect.get("absent") {
        for key in absent.as_array().unwrap() {
            assert!(
                !data.contains_key(key.as_str().unwrap()),
                "key {key} must be absent: {}",
                ctx()
            );
        }
    }
    if let Some(lengths) = expect.get("lengths") {
        for (key, want) in lengths.as_object().unwrap() {
            let got = data.get(key).and_then(Value::as_array).map(Vec::len);
            assert_eq!(got.map(|n| n as u64), want.as_u64(), "length of {key}: {}", ctx());
        }
    }
    if let Some(items) = expect.get("each") {
        // {"each": {"files": {"keys": [...], "absent": [...], "data": {...}}}}: every element of an array.
        for (key, rule) in items.as_object().unwrap() {
            for item in data.get(key).and_then(Value::as_array).into_iter().flatten() {
                let item = item
                    .as_object()
                    .unwrap_or_else(|| panic!("{key}: elements must be objects: {}", ctx()));
                for k in rule.get("keys").and_then(Value::as_array).into_iter().flatten() {
                    assert!(
                        item.contains_key(k.as_str().unwrap()),
                        "{key}[] misses {k}: {}",
                        ctx()
                    );
                }
                for k in rule.get("absent").and_then(Value::as_array).into_iter().flatten() {
                    assert!(
                        !item.contains_key(k.as_str().unwrap()),
                        "{key}[] must not have {k}: {}",
                        ctx()
                    );
                }
                for (k, want) in rule.get("data").and_then(Value::as_object).into_iter().flatten() {
                    assert_eq!(item.get(k), Some(want), "{key}[].{k}: {}", ctx());
                }
            }
        }
    }
    if let Some(pointers) = expect.get("at") {
        // {"at": {"/formats/1": {"k": v, ...}}}: the value at a JSON pointer into data; an object
        // is matched key by key (a subset), anything else exactly.
        let data = &event["data"];
        for (pointer, want) in pointers.as_object().unwrap() {
            let got = data
                .pointer(pointer)
                .unwrap_or_else(|| panic!("nothing at {pointer}: {}", ctx()));
            match want.as_object() {
                Some(fields) => {
                    for (k, v) in fields {
                        assert_eq!(got.get(k), Some(v), "{pointer}/{k}: {}", ctx());
                    }
                }
                None => assert_eq!(got, want, "{pointer}: {}", ctx()),
            }
        }
    }
    if let Some(min) = expect.get("min_progress") {
        let _ = min; // counted by the caller
    }
}

fn replay(path: &Path, vars: &Vars) {
    let file = path.file_name().unwrap().to_string_lossy().into_owned();
    let t = load(path, vars);
    let env: Vec<(&str, &str)> = t.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let args: Vec<&str> = t.args.iter().map(String::as_str).collect();
    let mut worker = Worker::start_with_args(&args, &env);
    let mut events = Vec::new();
    for step in &t.steps {
        match step {
            Step::Send(bytes) => worker.send_raw(bytes),
            Step::WaitFor(task_id) => events.extend(worker.events_until_final(task_id, t.timeout)),
        }
    }
    worker.close_stdin();
    events.extend(worker.drain(t.timeout));
    let status = worker.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "{file}: worker exited with {status}");

    let mut progress_seen = HashMap::new();
    let mut finals: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut finished: HashMap<String, usize> = HashMap::new();
    let mut progress_count: HashMap<String, usize> = HashMap::new();
    for event in &events {
        check_generic(event, &mut progress_seen, &finished);
        let task_id = event["task_id"].as_str().unwrap().to_owned();
        if event["event"] == "progress" {
            *progress_count.entry(task_id).or_default() += 1;
        } else {
            *finished.entry(task_id.clone()).or_default() += 1;
            finals.entry(task_id).or_default().push(event.clone());
        }
    }
    let mut expected: BTreeMap<String, Vec<&Map<String, Value>>> = BTreeMap::new();
    for e in &t.expects {
        expected
            .entry(e["task_id"].as_str().unwrap().to_owned())
            .or_default()
            .push(e);
    }
    assert_eq!(
        finals.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "{file}: task ids with final events differ; events: {events:#?}"
    );
    for (task_id, wanted) in &expected {
        let got = &finals[task_id];
        assert_eq!(
            got.len(),
            wanted.len(),
            "{file}: {task_id}: expected {} final event(s), got {got:#?}",
            wanted.len()
        );
        if task_id != "unknown" {
            assert_eq!(
                got.len(),
                1,
                "{file}: {task_id}: exactly one final event per request"
            );
        }
        for (event, expect) in got.iter().zip(wanted) {
            check_expectation(event, expect, &file);
            if let Some(min) = expect.get("min_progress").and_then(Value::as_u64) {
                let n = progress_count.get(task_id).copied().unwrap_or(0) as u64;
                assert!(
                    n >= min,
                    "{file}: {task_id}: {n} progress events, expected at least {min}"
                );
            }
        }
    }
}

/// The media every transcript may rely on: `/media/tone_1s_440hz.webm`, `/media/tone_2s_440hz.webm`,
/// `/media/tone_1s_440hz.m4a`, `/media/video_2s_160x120.mp4`, the feed `/feeds/three.rss`
/// ("Three Tones": 1 s tone, a 404, 2 s tone) and the feed `/feeds/clips.rss` ("Two Clips": the
/// 2 s video twice, as "Clip A" and "Clip B").
fn standard_media_server() -> hermes_testkit::http::MediaServer {
    use hermes_testkit::http::{FeedItem, MediaServer};
    use hermes_testkit::media;
    media::tone_webm(1, 440);
    media::tone_webm(2, 440);
    media::tone_m4a(1, 440);
    media::video_mp4(2);
    let server = MediaServer::start(media::media_dir());
    server.add_feed(
        "clips",
        "Two Clips",
        vec![
            FeedItem::new("Clip A", "/media/video_2s_160x120.mp4"),
            FeedItem::new("Clip B", "/media/video_2s_160x120.mp4"),
        ],
    );
    server.add_feed(
        "three",
        "Three Tones",
        vec![
            FeedItem::new("One", "/media/tone_1s_440hz.webm"),
            FeedItem::new("Missing", "/404"),
            FeedItem::new("Two", "/media/tone_2s_440hz.webm"),
        ],
    );
    server
}

#[test]
fn every_transcript_replays() {
    let media = standard_media_server();
    let vars = Vars {
        base_url: media.base_url().to_owned(),
        fake_ytdlp: common::fake_ytdlp().display().to_string(),
    };
    let dir = workspace().join("fixtures/transcripts");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ndjson"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 5, "expected transcripts in {}", dir.display());
    for path in paths {
        eprintln!("replaying {}", path.display());
        replay(&path, &vars);
    }
}
