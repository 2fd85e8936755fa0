//! A bench worker: the release `hermes-worker` driven through the testkit's harness
//! ([`hermes_testkit::worker`]), with failures as [`BenchError`]s so that a figure that cannot run
//! is reported as `n/a`, not fatal.
use crate::error::{io_err, BenchError, Result};
use crate::WORKER_BIN;
use hermes_protocol::Request;
pub(crate) use hermes_testkit::worker::is_final_for;
use hermes_testkit::worker::{isolated_env, Line, Stderr, WorkerProcess};
use serde_json::Value;
use std::ffi::OsString;
use std::path::Path;
use std::process::ChildStdin;
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

pub(crate) struct WorkerProc {
    pub(crate) process: WorkerProcess,
}

/// The environment a bench worker runs with: the harness's isolated one (everything it writes
/// stays inside `dir`) and a cookie file there, which does not exist, so no cookies are used.
pub(crate) fn worker_env(dir: &Path) -> Vec<(&'static str, OsString)> {
    let mut env = isolated_env(dir);
    env.push(("YOUTUBE_COOKIE_FILE", dir.join("cookies.txt").into_os_string()));
    env
}

impl WorkerProc {
    pub(crate) fn spawn(dir: &Path, extra_env: &[(&str, OsString)]) -> Result<WorkerProc> {
        let env = worker_env(dir).into_iter().chain(extra_env.iter().cloned());
        let process = WorkerProcess::spawn(WORKER_BIN, dir, &[], env, Stderr::Discard)
            .map_err(io_err(format!("spawn {WORKER_BIN}")))?;
        Ok(WorkerProc { process })
    }

    pub(crate) fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The moment just before the process was spawned.
    pub(crate) fn spawned_at(&self) -> Instant {
        self.process.spawned_at()
    }

    /// Writes one request line; returns the moment just before the write.
    pub(crate) fn send(&mut self, request: &Request) -> Result<Instant> {
        let line = hermes_protocol::to_json_line(request);
        self.process
            .write(line.as_bytes())
            .map_err(io_err("write a request"))
    }

    /// Takes stdin to write from another thread; give it back with [`WorkerProc::restore_stdin`].
    pub(crate) fn take_stdin(&mut self) -> Result<ChildStdin> {
        self.process
            .take_stdin()
            .ok_or_else(|| BenchError::Protocol("stdin already closed".to_owned()))
    }

    pub(crate) fn restore_stdin(&mut self, stdin: ChildStdin) {
        self.process.restore_stdin(stdin);
    }

    pub(crate) fn next_line(&self, timeout: Duration, waiting_for: &str) -> Result<Line> {
        match self.process.next_line(timeout) {
            Ok(line) => Ok(line),
            Err(RecvTimeoutError::Timeout) => Err(BenchError::Timeout(waiting_for.to_owned())),
            Err(RecvTimeoutError::Disconnected) => Err(BenchError::Closed(waiting_for.to_owned())),
        }
    }

    /// The next line if one comes within `timeout`.
    pub(crate) fn try_next_line(&self, timeout: Duration) -> Option<Line> {
        self.process.next_line(timeout).ok()
    }

    /// Lines until the final event of `task_id`; `other` sees every other line on the way.
    pub(crate) fn final_event(
        &self,
        task_id: &str,
        timeout: Duration,
        mut other: impl FnMut(&Value),
    ) -> Result<(Instant, Value)> {
        self.final_event_timed(task_id, timeout, |_, event| other(event))
    }

    /// [`WorkerProc::final_event`], telling `other` when each line was read.
    pub(crate) fn final_event_timed(
        &self,
        task_id: &str,
        timeout: Duration,
        mut other: impl FnMut(Instant, &Value),
    ) -> Result<(Instant, Value)> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.next_line(left, &format!("the final event of {task_id}"))?;
            let event = json_of(&line)?;
            if is_final_for(&event, task_id) {
                return Ok((line.at, event));
            }
            other(line.at, &event);
        }
    }

    /// Closes stdin (the worker finishes its tasks and exits 0) and reaps it.
    pub(crate) fn finish(mut self) -> Result<()> {
        self.process.close_stdin();
        match self
            .process
            .wait_exit(Duration::from_secs(10))
            .map_err(io_err("wait for the worker"))?
        {
            Some(_) => Ok(()),
            None => Err(BenchError::Timeout(
                "the worker to exit after stdin closed".to_owned(),
            )),
        }
    }
}

/// A worker line as JSON.
pub(crate) fn json_of(line: &Line) -> Result<Value> {
    serde_json::from_str(&line.text)
        .map_err(|e| BenchError::Protocol(format!("not JSON ({e}): {}", line.text)))
}

pub(crate) fn event_name(event: &Value) -> &str {
    event["event"].as_str().unwrap_or("")
}

pub(crate) fn expect_event(event: &Value, name: &str) -> Result<()> {
    if event_name(event) == name {
        return Ok(());
    }
    let message = event["data"]["message"].as_str().unwrap_or("");
    Err(BenchError::Protocol(format!(
        "expected `{name}`, got `{}` {message}",
        event_name(event)
    )))
}
