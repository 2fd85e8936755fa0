//! Drives a `hermes-worker` binary as a child process over its real stdin/stdout, in a directory
//! of its own: the one harness of the worker's integration tests and of its bench, which only
//! differ in how they react to a failure (a test panics, the bench reports `n/a`).
//!
//! Every stdout line is read by a thread and timestamped the moment it is read, so a measurement
//! never counts the reader's own bookkeeping as worker time.
use std::ffi::{OsStr, OsString};
use std::io::{self, BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hermes_protocol::Event;
use serde::Deserialize;
use serde_json::Value;

/// One line of worker stdout and the moment the reader thread got it.
#[derive(Debug, Clone)]
pub struct Line {
    pub at: Instant,
    pub text: String,
}

/// What happens to the worker's stderr (its log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stderr {
    /// Kept (see [`WorkerProcess::log`]) and echoed as `[worker] …`, visible with `--nocapture`.
    Keep,
    /// Thrown away, so that a measurement does not pay for it.
    Discard,
}

/// The environment that keeps a worker inside `dir`: downloads, temporary files and its SQLite
/// cache, with loopback media allowed through the egress proxy (which stays on the path).
pub fn isolated_env(dir: &Path) -> Vec<(&'static str, OsString)> {
    vec![
        ("DOWNLOAD_DIR", dir.join("downloads").into_os_string()),
        ("TEMP_DIR", dir.join("temp").into_os_string()),
        // Relative to the working directory (`dir`): read the same way by both wire profiles
        // (the python one reads `sqlite:///x` as the relative path `x`).
        ("DATABASE_URL", "sqlite://hermes.db".into()),
        ("EGRESS_ALLOW_CIDRS", "127.0.0.1/32".into()),
    ]
}

/// A running worker. Dropping it kills the process.
pub struct WorkerProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<Line>,
    spawned_at: Instant,
    log: Arc<Mutex<Vec<String>>>,
}

impl WorkerProcess {
    /// Spawns `program` with `args` in `dir`, with [`isolated_env`] and then `env` on top.
    pub fn spawn<K: AsRef<OsStr>, V: AsRef<OsStr>>(
        program: impl AsRef<OsStr>,
        dir: &Path,
        args: &[&str],
        env: impl IntoIterator<Item = (K, V)>,
        stderr: Stderr,
    ) -> io::Result<WorkerProcess> {
        let mut command = Command::new(program);
        command
            .args(args)
            .current_dir(dir)
            .envs(isolated_env(dir))
            .envs(env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(match stderr {
                Stderr::Keep => Stdio::piped(),
                Stderr::Discard => Stdio::null(),
            });
        let spawned_at = Instant::now();
        let mut child = command.spawn()?;
        let stdin = child.stdin.take();
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("no stdout pipe"))?;
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || read_lines(stdout, tx));
        let log = Arc::new(Mutex::new(Vec::new()));
        if let Some(stderr) = child.stderr.take() {
            let log = log.clone();
            // Keeps stderr drained, so the worker never blocks on it.
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    eprintln!("[worker] {line}");
                    log.lock().unwrap_or_else(|p| p.into_inner()).push(line);
                }
            });
        }
        Ok(WorkerProcess {
            child,
            stdin,
            lines,
            spawned_at,
            log,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The moment just before the process was spawned.
    pub fn spawned_at(&self) -> Instant {
        self.spawned_at
    }

    /// Writes `bytes` to stdin; returns the moment just before the write.
    pub fn write(&mut self, bytes: &[u8]) -> io::Result<Instant> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| io::Error::new(io::ErrorKind::BrokenPipe, "stdin already closed"))?;
        let at = Instant::now();
        stdin.write_all(bytes)?;
        stdin.flush()?;
        Ok(at)
    }

    /// Closes stdin: the worker finishes its tasks and exits.
    pub fn close_stdin(&mut self) {
        self.stdin.take();
    }

    /// Takes stdin, to write from another thread (see [`WorkerProcess::restore_stdin`]).
    pub fn take_stdin(&mut self) -> Option<ChildStdin> {
        self.stdin.take()
    }

    pub fn restore_stdin(&mut self, stdin: ChildStdin) {
        self.stdin = Some(stdin);
    }

    /// The next stdout line, waiting up to `timeout`.
    pub fn next_line(&self, timeout: Duration) -> Result<Line, RecvTimeoutError> {
        self.lines.recv_timeout(timeout)
    }

    /// The worker's stderr so far, one line each (empty with [`Stderr::Discard`]).
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Waits up to `timeout` for the process to exit; `None` if it is still running.
    pub fn wait_exit(&mut self, timeout: Duration) -> io::Result<Option<ExitStatus>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(Some(status));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    pub fn signal(&self, signal: nix::sys::signal::Signal) -> nix::Result<()> {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), signal)
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_lines(stdout: ChildStdout, tx: mpsc::Sender<Line>) {
    let mut reader = BufReader::with_capacity(256 * 1024, stdout);
    let mut text = String::new();
    loop {
        text.clear();
        match reader.read_line(&mut text) {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let line = Line {
                    at: Instant::now(),
                    text: text.trim_end().to_owned(),
                };
                if tx.send(line).is_err() {
                    return;
                }
            }
        }
    }
}

/// Whether `event` is the final event of `task_id` ([`Event::is_final`]: anything but `progress`).
pub fn is_final_for(event: &Value, task_id: &str) -> bool {
    event["task_id"] == task_id && Event::deserialize(&event["event"]).map_or(true, Event::is_final)
}
