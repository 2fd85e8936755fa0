//! The yt-dlp toolchain as the worker sees it (issue 13): the JavaScript runtime and yt-dlp-ejs
//! in `health_check` (probed once per binary, remembered across restarts, probed again when the
//! binary changes), the warning at start when YouTube would be degraded, the runtimes and
//! pass-through options on a real run's argv, and the private cookie copy each run gets.
//!
//! yt-dlp is a stand-in script here: what is tested is what the worker hands it and reads from
//! it; the real yt-dlp's header is parsed by the unit tests of `hermes_protocol::JsSupport` and
//! checked end to end by `hermes health` in crates/bot/tests/cli.rs.
mod common;

use common::Worker;
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

const T: Duration = Duration::from_secs(30);
const DEGRADED: &str = "YouTube will be degraded";

/// A yt-dlp stand-in: logs its argv (one line per run), answers `--version`, prints a verbose
/// header naming Deno only when it was given `--js-runtimes deno:…`, and answers any look-up
/// with a small JSON document. Given `--cookies FILE`, it logs the path and the content, then
/// appends to the file, as yt-dlp rewrites its jar.
fn stand_in(dir: &Path, version: &str) -> (PathBuf, PathBuf) {
    let log = dir.join("runs.log");
    let script = dir.join("yt-dlp");
    let text = format!(
        r#"#!/bin/sh
log='{log}'
printf '%s\n' "$*" >> "$log"
prev=
for a in "$@"; do
  if [ "$prev" = --cookies ]; then printf 'cookies=%s\n' "$a" >> "$log"; cat "$a" >> "$log"; echo '# rewritten' >> "$a"; fi
  prev=$a
done
case " $* " in
  *" --version "*) echo {version}; exit 0 ;;
  *" -v "*)
    echo '[debug] Optional libraries: certifi-2026.10.19, yt_dlp_ejs-0.8.0' >&2
    case " $* " in
      *" --js-runtimes deno:"*) echo '[debug] JS runtimes: deno-2.9.8' >&2 ;;
      *) echo '[debug] JS runtimes: none' >&2 ;;
    esac
    echo 'yt-dlp: error: You must provide at least one URL.' >&2
    exit 2 ;;
esac
echo '{{"id": "abc", "title": "Stand-in", "duration": 3, "webpage_url": "https://www.youtube.com/watch?v=abc"}}'
"#,
        log = log.display()
    );
    std::fs::write(&script, text).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    (script, log)
}

fn fake_deno(dir: &Path) -> PathBuf {
    let deno = dir.join("deno-bin").join("deno");
    std::fs::create_dir_all(deno.parent().unwrap()).unwrap();
    std::fs::write(&deno, "#!/bin/sh\necho 'deno 2.9.8'\n").unwrap();
    std::fs::set_permissions(&deno, std::fs::Permissions::from_mode(0o755)).unwrap();
    deno
}

fn runs(log: &Path, matching: impl Fn(&str) -> bool) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| matching(l))
        .map(str::to_owned)
        .collect()
}

fn health(worker: &mut Worker, id: &str) -> Value {
    worker.send(&json!({"task_id": id, "action": "health_check"}));
    let event = worker.final_event(id, T);
    assert_eq!(event["event"], "health_ok", "{event}");
    event["data"].clone()
}

fn stop(mut worker: Worker) -> Vec<String> {
    worker.close_stdin();
    assert!(worker.wait_exit(T).success());
    worker.log()
}

#[test]
fn health_reports_the_runtime_and_ejs_probed_with_deno_bin_and_remembers_them() {
    let dir = tempfile::tempdir().unwrap();
    let (ytdlp, log) = stand_in(dir.path(), "2099.01.01");
    let deno = fake_deno(dir.path());
    let db = format!("sqlite://{}", dir.path().join("tools.db").display());
    let env = [
        ("DATABASE_URL", db.as_str()),
        ("YTDLP_BIN", ytdlp.to_str().unwrap()),
        ("DENO_BIN", deno.to_str().unwrap()),
    ];

    let mut worker = Worker::start(&env);
    let data = health(&mut worker, "h1");
    assert_eq!(
        data["js_runtime"],
        json!({"name": "deno", "version": "2.9.8"}),
        "{data}"
    );
    assert_eq!(data["ejs"], "0.8.0");
    assert_eq!(data["ytdlp"], "2099.01.01");
    let probes = runs(&log, |l| l.ends_with(" -v"));
    assert_eq!(probes.len(), 1, "{probes:?}");
    assert!(
        probes[0].contains(&format!(
            "--js-runtimes deno:{}",
            deno.canonicalize().unwrap().display()
        )),
        "{probes:?}"
    );
    let log_lines = stop(worker);
    assert!(
        !log_lines.iter().any(|l| l.contains(DEGRADED)),
        "a ready toolchain is not warned about"
    );

    // A restart with the same binaries answers from the database: no probe at all.
    let mut worker = Worker::start(&env);
    assert_eq!(health(&mut worker, "h2")["js_runtime"]["name"], "deno");
    stop(worker);
    assert_eq!(
        runs(&log, |l| l.ends_with(" -v")).len(),
        1,
        "remembered across restarts"
    );
}

#[test]
fn no_runtime_is_null_in_health_and_one_warning_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let (ytdlp, _log) = stand_in(dir.path(), "2099.01.01");
    let mut worker = Worker::start(&[
        ("YTDLP_BIN", ytdlp.to_str().unwrap()),
        ("DENO_BIN", "/nonexistent/deno"),
    ]);
    let data = health(&mut worker, "h");
    assert_eq!(data["js_runtime"], Value::Null, "{data}");
    assert_eq!(data["ejs"], "0.8.0");
    let log_lines = stop(worker);
    let warnings: Vec<&String> = log_lines.iter().filter(|l| l.contains(DEGRADED)).collect();
    assert_eq!(warnings.len(), 1, "{log_lines:#?}");
    assert!(
        warnings[0].contains("no JavaScript runtime") && warnings[0].contains("hermes update-ytdlp"),
        "{warnings:?}"
    );
}

#[test]
fn a_yt_dlp_switched_while_the_worker_runs_is_probed_again() {
    let dir = tempfile::tempdir().unwrap();
    let (ytdlp, log) = stand_in(dir.path(), "2099.01.01");
    let mut worker = Worker::start(&[
        ("YTDLP_BIN", ytdlp.to_str().unwrap()),
        ("DENO_BIN", "/nonexistent/deno"),
    ]);
    assert_eq!(health(&mut worker, "h1")["ytdlp"], "2099.01.01");
    std::thread::sleep(Duration::from_millis(20));
    stand_in(dir.path(), "2099.02.02");
    assert_eq!(health(&mut worker, "h2")["ytdlp"], "2099.02.02");
    assert_eq!(health(&mut worker, "h3")["ytdlp"], "2099.02.02");
    stop(worker);
    assert_eq!(runs(&log, |l| l == "--version").len(), 2, "one probe per binary");
}

#[test]
fn a_run_gets_node_deno_extractor_args_plugin_dirs_and_a_private_cookie_copy() {
    let dir = tempfile::tempdir().unwrap();
    let (ytdlp, log) = stand_in(dir.path(), "2099.01.01");
    let deno = fake_deno(dir.path());
    let cookies = dir.path().join("cookies.txt");
    let jar = "# Netscape HTTP Cookie File\n.youtube.com\tTRUE\t/\tTRUE\t2000000000\tSID\tsecret\n";
    std::fs::write(&cookies, jar).unwrap();
    let plugins = dir.path().join("plugins");
    let mut worker = Worker::start(&[
        ("YTDLP_BIN", ytdlp.to_str().unwrap()),
        ("DENO_BIN", deno.to_str().unwrap()),
        ("NODE_BIN", "/opt/node/bin/node"),
        (
            "YTDLP_EXTRACTOR_ARGS",
            "youtube:player_client=default youtubepot-bgutilhttp:base_url=http://127.0.0.1:4416",
        ),
        ("YTDLP_PLUGIN_DIRS", plugins.to_str().unwrap()),
        ("YOUTUBE_COOKIE_FILE", cookies.to_str().unwrap()),
        ("ENABLE_SEARCH_CACHE", "false"),
    ]);
    for id in ["i1", "i2"] {
        worker.send(
            &json!({"task_id": id, "action": "get_video_info", "url": "https://www.youtube.com/watch?v=abc"}),
        );
        let event = worker.final_event(id, T);
        assert_eq!(event["event"], "video_info", "{event}");
    }
    stop(worker);

    let run = runs(&log, |l| l.ends_with("-- https://www.youtube.com/watch?v=abc"));
    assert_eq!(run.len(), 2, "{run:?}");
    let argv = &run[0];
    for expected in [
        format!("--js-runtimes deno:{}", deno.canonicalize().unwrap().display()),
        "--js-runtimes node:/opt/node/bin/node".to_owned(),
        "--extractor-args youtube:player_client=default --extractor-args youtubepot-bgutilhttp:base_url=http://127.0.0.1:4416".to_owned(),
        format!("--plugin-dirs {}", plugins.display()),
    ] {
        assert!(argv.contains(&expected), "{expected} missing from {argv}");
    }

    // Each run had its own copy of the jar, with the operator's content, gone after the run;
    // what yt-dlp wrote into its copy never reached the operator's file.
    let copies: Vec<PathBuf> = runs(&log, |l| l.starts_with("cookies="))
        .iter()
        .map(|l| PathBuf::from(&l["cookies=".len()..]))
        .collect();
    assert_eq!(copies.len(), 2, "{copies:?}");
    assert_ne!(copies[0], copies[1]);
    for copy in &copies {
        assert_ne!(copy, &cookies);
        assert!(!copy.exists(), "{} left behind", copy.display());
    }
    let logged = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        logged.matches("\tSID\tsecret").count(),
        2,
        "each copy carried the jar"
    );
    assert_eq!(
        std::fs::read_to_string(&cookies).unwrap(),
        jar,
        "the operator's file is untouched"
    );
}

#[test]
fn a_missing_runtime_and_a_bot_check_tell_the_operator_what_to_do() {
    let fake = common::fake_ytdlp();
    let mut worker = Worker::start(&[
        ("YTDLP_BIN", fake.to_str().unwrap()),
        ("ENABLE_SEARCH_CACHE", "false"),
        ("MAX_RETRIES", "0"),
    ]);
    worker.send(&json!({"task_id": "nojs", "action": "get_video_info", "url": "https://youtu.be/__nojs__"}));
    let event = worker.final_event("nojs", T);
    common::assert_error(&event, "nojs", &["NO_SUITABLE_FORMAT"]);
    let message = event["data"]["message"].as_str().unwrap();
    assert!(
        message.contains("no JavaScript runtime") && message.contains("hermes update-ytdlp"),
        "{message}"
    );
    assert!(
        message.contains("Requested format is not available"),
        "yt-dlp's own words stay: {message}"
    );

    worker.send(&json!({"task_id": "bot", "action": "get_video_info", "url": "https://youtu.be/__bot__"}));
    let event = worker.final_event("bot", T);
    common::assert_error(&event, "bot", &["BOT_DETECTION"]);
    let message = event["data"]["message"].as_str().unwrap();
    assert!(
        message.contains("cookies") && message.contains("YOUTUBE_COOKIE_FILE"),
        "{message}"
    );
    stop(worker);
}
