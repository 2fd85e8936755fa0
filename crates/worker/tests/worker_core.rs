//! The worker core through the real binary: answers, routing, start-up failures, shutdown.
mod common;

use common::{Worker, WORKER};
use serde_json::json;
use std::collections::HashSet;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(20);

#[test]
fn piped_health_check_prints_exactly_one_line_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(WORKER)
        .current_dir(dir.path())
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("h.db").display()),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"{\"task_id\":\"t1\",\"action\":\"health_check\"}\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    let event: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(
        (event["task_id"].as_str(), event["event"].as_str()),
        (Some("t1"), Some("health_ok"))
    );
    for key in [
        "worker",
        "version",
        "handlers",
        "config",
        "active_tasks",
        "uptime_s",
        "ytdlp",
        "ffmpeg",
    ] {
        assert!(event["data"].get(key).is_some(), "missing {key}");
    }
    let handlers: HashSet<&str> = event["data"]["handlers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect();
    for action in [
        "youtube_dl",
        "youtube_search",
        "get_video_info",
        "get_formats",
        "playlist",
        "cache_cleanup",
        "cache_stats",
        "health_check",
    ] {
        assert!(handlers.contains(action), "handler {action} not registered");
    }
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("worker stopped"),
        "stats are logged on stderr"
    );
}

#[test]
fn a_hundred_health_checks_at_once_get_a_hundred_answers() {
    let mut worker = Worker::start(&[]);
    let burst: String = (0..100)
        .map(|i| format!("{{\"task_id\":\"h{i}\",\"action\":\"health_check\"}}\n"))
        .collect();
    worker.send_raw(burst.as_bytes());
    worker.close_stdin();
    let events = worker.drain(T);
    assert_eq!(events.len(), 100);
    let ids: HashSet<String> = events
        .iter()
        .map(|e| e["task_id"].as_str().unwrap().to_owned())
        .collect();
    let expected: HashSet<String> = (0..100).map(|i| format!("h{i}")).collect();
    assert_eq!(ids, expected);
    assert!(events.iter().all(|e| e["event"] == "health_ok"));
    assert!(worker.wait_exit(T).success());
}

#[test]
fn a_bad_config_value_stops_start_up_naming_the_variable() {
    let output = Command::new(WORKER)
        .env("MAX_RETRIES", "abc")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("MAX_RETRIES") && stderr.contains("abc"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty(), "nothing on the protocol channel");
}

/// A corrupt cache is recovered from (faults.rs); a database that cannot be opened for another
/// reason (here: its directory does not exist) still stops start-up, naming it.
#[test]
fn an_unknown_wire_profile_stops_start_up_naming_the_variable() {
    let output = Command::new(WORKER)
        .args(["-m", "worker.application"])
        .env("WIRE_PROFILE", "pyhton")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("WIRE_PROFILE") && stderr.contains("pyhton"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty(), "nothing on the protocol channel");
}

#[test]
fn an_unopenable_database_is_a_clear_start_up_error() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("missing-dir").join("bad.db");
    let output = Command::new(WORKER)
        .env("DATABASE_URL", format!("sqlite://{}", db.display()))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot open the cache database") && stderr.contains(&db.display().to_string()),
        "{stderr}"
    );
}

#[test]
fn sigterm_while_idle_exits_promptly() {
    let mut worker = Worker::start(&[]);
    worker.send(&json!({"task_id": "h", "action": "health_check"}));
    assert_eq!(worker.next_event(T)["event"], "health_ok");
    let sent = Instant::now();
    worker.signal(nix::sys::signal::Signal::SIGTERM);
    let status = worker.wait_exit(Duration::from_secs(3));
    assert!(status.success(), "{status}");
    assert!(sent.elapsed() < Duration::from_secs(3));
}

#[test]
fn the_database_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shared.db");
    std::fs::create_dir_all(dir.path()).unwrap();
    let url = format!("sqlite://{}", db.display());
    {
        let mut first = Worker::start(&[("DATABASE_URL", url.as_str())]);
        first.send(&json!({"task_id": "s", "action": "cache_stats"}));
        assert_eq!(first.next_event(T)["event"], "cache_stats");
        first.close_stdin();
        assert!(first.wait_exit(T).success());
    }
    assert!(db.exists(), "the database file is created on first start");
}

/// A stand-in yt-dlp that records each run, so the test can count version probes.
fn counting_ytdlp(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let log = dir.join("probes.log");
    let script = dir.join("yt-dlp");
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho \"$*\" >> '{}'\necho 2099.01.01\n", log.display()),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    (script, log)
}

/// `--version` runs (the JavaScript probe, `-v`, is counted in tests/toolchain.rs).
fn probes(log: &std::path::Path) -> usize {
    std::fs::read_to_string(log)
        .map(|t| t.lines().filter(|l| *l == "--version").count())
        .unwrap_or(0)
}

fn health_of(env: &[(&str, &str)]) -> serde_json::Value {
    let mut worker = Worker::start(env);
    worker.send(&json!({"task_id": "h", "action": "health_check"}));
    let event = worker.final_event("h", T);
    worker.close_stdin();
    assert!(worker.wait_exit(T).success());
    event
}

#[test]
fn tool_versions_are_probed_once_per_binary_and_remembered_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let (ytdlp, log) = counting_ytdlp(dir.path());
    let url = format!("sqlite://{}", dir.path().join("tools.db").display());
    let env = [
        ("DATABASE_URL", url.as_str()),
        ("YTDLP_BIN", ytdlp.to_str().unwrap()),
    ];

    assert_eq!(health_of(&env)["data"]["ytdlp"], "2099.01.01");
    assert_eq!(probes(&log), 1);
    assert_eq!(health_of(&env)["data"]["ytdlp"], "2099.01.01", "remembered");
    assert_eq!(
        probes(&log),
        1,
        "a restart with the same binary does not probe again"
    );

    std::thread::sleep(Duration::from_millis(20));
    let script = std::fs::read_to_string(&ytdlp)
        .unwrap()
        .replace("2099.01.01", "2099.02.02");
    std::fs::write(&ytdlp, script).unwrap();
    assert_eq!(
        health_of(&env)["data"]["ytdlp"],
        "2099.02.02",
        "a changed binary is probed"
    );
    assert_eq!(probes(&log), 2);
}
