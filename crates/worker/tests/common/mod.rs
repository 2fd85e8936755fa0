//! Drives the real `hermes-worker` binary for integration tests: spawn with an isolated
//! environment (temp DOWNLOAD_DIR and database), write request lines, read event lines with
//! timeouts.
#![allow(dead_code)]
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

pub const WORKER: &str = env!("CARGO_BIN_EXE_hermes-worker");

/// The workspace root (for fixtures/ and scripts/).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

pub fn fake_ytdlp() -> PathBuf {
    workspace().join("scripts/fake-yt-dlp")
}

pub struct Worker {
    pub child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    pub dir: tempfile::TempDir,
    /// Every stderr line so far (the worker's log).
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Worker {
    /// A worker with DOWNLOAD_DIR, TEMP_DIR and DATABASE_URL inside a fresh temp dir, plus `env`.
    pub fn start(env: &[(&str, &str)]) -> Worker {
        let dir = tempfile::tempdir().unwrap();
        Worker::start_in(dir, env)
    }

    pub fn start_in(dir: tempfile::TempDir, env: &[(&str, &str)]) -> Worker {
        Worker::start_in_with_args(dir, &[], env)
    }

    /// Like [`Worker::start`], with command-line arguments (e.g. `-m worker.application`).
    pub fn start_with_args(args: &[&str], env: &[(&str, &str)]) -> Worker {
        Worker::start_in_with_args(tempfile::tempdir().unwrap(), args, env)
    }

    /// The one place that spawns the worker for tests: every test's environment is set here.
    pub fn start_in_with_args(dir: tempfile::TempDir, args: &[&str], env: &[(&str, &str)]) -> Worker {
        let mut command = Command::new(WORKER);
        command
            .args(args)
            .current_dir(dir.path())
            .env("DOWNLOAD_DIR", dir.path().join("downloads"))
            .env("TEMP_DIR", dir.path().join("temp"))
            // Relative to the working directory (the temp dir): read the same way by both wire
            // profiles (the python one reads `sqlite:///x` as the relative path `x`).
            .env("DATABASE_URL", "sqlite://hermes.db")
            .env("LOG_LEVEL", "debug")
            // Media is served on loopback; the egress proxy stays on the path (DESIGN.md §4).
            .env("EGRESS_ALLOW_CIDRS", "127.0.0.1/32")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("spawn hermes-worker");
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Keep stderr drained (and visible with --nocapture) so the worker never blocks on it.
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log_lines = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[worker] {line}");
                log_lines.lock().unwrap().push(line);
            }
        });
        let stdin = child.stdin.take();
        Worker { child, stdin, lines, dir, log }
    }

    /// The worker's stderr so far, one line each.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    pub fn downloads(&self) -> PathBuf {
        self.dir.path().join("downloads")
    }

    pub fn send(&mut self, request: &Value) {
        self.send_raw(format!("{request}\n").as_bytes());
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).unwrap();
        stdin.flush().unwrap();
    }

    pub fn close_stdin(&mut self) {
        self.stdin.take();
    }

    /// The next event line, parsed; panics after `timeout`.
    pub fn next_event(&self, timeout: Duration) -> Value {
        match self.lines.recv_timeout(timeout) {
            Ok(line) => serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")),
            Err(RecvTimeoutError::Timeout) => panic!("no event within {timeout:?}"),
            Err(RecvTimeoutError::Disconnected) => panic!("worker stdout closed"),
        }
    }

    /// The next event line if one comes within `timeout`.
    pub fn try_next_event(&self, timeout: Duration) -> Option<Value> {
        self.lines.recv_timeout(timeout).ok().map(|l| serde_json::from_str(&l).unwrap())
    }

    /// Events until the final (non-progress) one for `task_id`, collecting everything seen.
    pub fn events_until_final(&self, task_id: &str, timeout: Duration) -> Vec<Value> {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let event = self.next_event(left.max(Duration::from_millis(1)));
            let is_final = event["task_id"] == task_id && event["event"] != "progress";
            seen.push(event);
            if is_final {
                return seen;
            }
        }
    }

    /// The final event for `task_id` (other tasks' events are skipped).
    pub fn final_event(&self, task_id: &str, timeout: Duration) -> Value {
        self.events_until_final(task_id, timeout).pop().unwrap()
    }

    /// Every remaining event until stdout closes.
    pub fn drain(&self, timeout: Duration) -> Vec<Value> {
        let deadline = Instant::now() + timeout;
        let mut out = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => out.push(serde_json::from_str(&line).unwrap()),
                Err(RecvTimeoutError::Disconnected) => return out,
                Err(RecvTimeoutError::Timeout) => panic!("stdout still open after {timeout:?}; got {out:?}"),
            }
        }
    }

    /// Waits for the process to exit; panics after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "worker did not exit within {timeout:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), signal).unwrap();
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A name no other test (or earlier run) uses: marks this test's files and child processes.
pub fn unique(label: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{label}-{}-{}-{nanos}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// Asserts a final `error` event for `task_id` with one of `codes` and a non-empty message.
pub fn assert_error(event: &Value, task_id: &str, codes: &[&str]) {
    assert_eq!(event["task_id"], task_id, "{event}");
    assert_eq!(event["event"], "error", "{event}");
    let code = event["data"]["error_code"].as_str().unwrap_or_default();
    assert!(codes.contains(&code), "error_code {code} not one of {codes:?}: {event}");
    assert!(event["data"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{event}");
}

pub fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Every file below `dir` (none when it does not exist).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir).into_iter().filter_map(Result::ok).filter(|e| e.file_type().is_file()).map(|e| e.into_path()).collect()
}

/// What a failed or cancelled task must not leave below `dir`: yt-dlp's partial downloads
/// (`.part`, fragments, `.ytdl`, `.temp.`) and the ZIP writer's temporary parts.
pub fn partial_files_under(dir: &Path) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|p| {
            let name = file_name(p);
            name.ends_with(".part") || name.ends_with(".aria2") || name.contains(".part-Frag") || name.ends_with(".ytdl") || name.contains(".temp.") || name.starts_with(".hermes-zip-")
        })
        .collect()
}
