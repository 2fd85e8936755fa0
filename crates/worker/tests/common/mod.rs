//! The worker's integration tests drive the real `hermes-worker` binary through the testkit's
//! harness ([`hermes_testkit::worker`]); this adds what tests want of it: panics instead of
//! errors, event lines parsed as JSON, and file helpers.
#![allow(dead_code)]
use hermes_testkit::worker::{is_final_for, Stderr, WorkerProcess};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

pub const WORKER: &str = env!("CARGO_BIN_EXE_hermes-worker");

/// The workspace root (for fixtures/ and scripts/).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

pub fn fake_ytdlp() -> PathBuf {
    workspace().join("scripts/fake-yt-dlp")
}

/// A worker under test: [`WorkerProcess`] with a test's reactions (a failure panics) and its
/// temporary directory.
pub struct Worker {
    process: WorkerProcess,
    pub dir: tempfile::TempDir,
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

    /// The one place that spawns the worker for tests: every test's environment is set here (on
    /// top of [`hermes_testkit::worker::isolated_env`]).
    pub fn start_in_with_args(dir: tempfile::TempDir, args: &[&str], env: &[(&str, &str)]) -> Worker {
        let env = [("LOG_LEVEL", "debug")].iter().chain(env).copied();
        let process =
            WorkerProcess::spawn(WORKER, dir.path(), args, env, Stderr::Keep).expect("spawn hermes-worker");
        Worker { process, dir }
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The worker's stderr so far, one line each.
    pub fn log(&self) -> Vec<String> {
        self.process.log()
    }

    pub fn downloads(&self) -> PathBuf {
        self.dir.path().join("downloads")
    }

    pub fn send(&mut self, request: &Value) {
        self.send_raw(format!("{request}\n").as_bytes());
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.process.write(bytes).expect("write to the worker's stdin");
    }

    pub fn close_stdin(&mut self) {
        self.process.close_stdin();
    }

    /// The next event line, parsed; panics after `timeout`.
    pub fn next_event(&self, timeout: Duration) -> Value {
        match self.process.next_line(timeout) {
            Ok(line) => {
                serde_json::from_str(&line.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", line.text))
            }
            Err(RecvTimeoutError::Timeout) => panic!("no event within {timeout:?}"),
            Err(RecvTimeoutError::Disconnected) => panic!("worker stdout closed"),
        }
    }

    /// The next event line if one comes within `timeout`.
    pub fn try_next_event(&self, timeout: Duration) -> Option<Value> {
        self.process
            .next_line(timeout)
            .ok()
            .map(|l| serde_json::from_str(&l.text).unwrap())
    }

    /// Events until the final (non-progress) one for `task_id`, collecting everything seen.
    pub fn events_until_final(&self, task_id: &str, timeout: Duration) -> Vec<Value> {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let event = self.next_event(left.max(Duration::from_millis(1)));
            let is_final = is_final_for(&event, task_id);
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
            match self.process.next_line(left) {
                Ok(line) => out.push(serde_json::from_str(&line.text).unwrap()),
                Err(RecvTimeoutError::Disconnected) => return out,
                Err(RecvTimeoutError::Timeout) => panic!("stdout still open after {timeout:?}; got {out:?}"),
            }
        }
    }

    /// Waits for the process to exit; panics after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        match self.process.wait_exit(timeout).unwrap() {
            Some(status) => status,
            None => panic!("worker did not exit within {timeout:?}"),
        }
    }

    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        self.process.signal(signal).unwrap();
    }
}

/// A name no other test (or earlier run) uses: marks this test's files and child processes.
pub fn unique(label: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{label}-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Asserts a final `error` event for `task_id` with one of `codes` and a non-empty message.
pub fn assert_error(event: &Value, task_id: &str, codes: &[&str]) {
    assert_eq!(event["task_id"], task_id, "{event}");
    assert_eq!(event["event"], "error", "{event}");
    let code = event["data"]["error_code"].as_str().unwrap_or_default();
    assert!(
        codes.contains(&code),
        "error_code {code} not one of {codes:?}: {event}"
    );
    assert!(
        event["data"]["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{event}"
    );
}

pub fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Every file below `dir` (none when it does not exist).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect()
}

/// What a failed or cancelled task must not leave below `dir`: yt-dlp's partial downloads
/// (`.part`, fragments, `.ytdl`, `.temp.`) and the ZIP writer's temporary parts.
pub fn partial_files_under(dir: &Path) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|p| {
            let name = file_name(p);
            name.ends_with(".part")
                || name.ends_with(".aria2")
                || name.contains(".part-Frag")
                || name.ends_with(".ytdl")
                || name.contains(".temp.")
                || name.starts_with(".hermes-zip-")
        })
        .collect()
}

/// `ffprobe -show_streams -show_format` as JSON.
pub fn ffprobe(path: &Path) -> Value {
    let out = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_streams",
            "-show_format",
        ])
        .arg(path)
        .output()
        .expect("run ffprobe");
    assert!(
        out.status.success(),
        "ffprobe {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("ffprobe JSON")
}
