//! `WorkerClient`: the host side of the IPC protocol (the guide's "dispatcher") for `hermes-worker`.
//!
//! One client owns one worker process at a time:
//! - a **writer** (the supervisor loop) owns the worker's stdin and writes the requests it receives
//!   through an mpsc channel, so request lines never interleave;
//! - a **reader** task reads stdout line by line and hands each line to the [`Router`], which
//!   delivers it to the channel of its `task_id` (an [`EventStream`]);
//! - a **stderr** task forwards the worker's log lines to `tracing` (target `worker`).
//!
//! **Supervision.** When the worker exits or closes its stdout, every task that was sent to it
//! receives a synthetic `error` event with code `WORKER_CRASHED` at once, so no caller waits for a
//! timeout, and the worker is started again after a backoff (1 s, 2 s, 4 s, … capped at 30 s; the
//! sequence starts over once a worker has stayed up for a minute). Requests sent while no worker
//! runs stay queued and are written to the next one; callers bound the wait with
//! [`WorkerClient::send_and_wait`]'s timeout.
//!
//! The worker runs in its own process group: a Ctrl-C in a terminal signals the whole foreground
//! group, and the host, not the terminal, must decide how the worker stops (cancel the task first,
//! then close stdin), otherwise the host would see a crash instead of a clean cancellation.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use hermes_protocol::{
    cancel_request, from_json_line, health_check_request, to_json_line, CancelDone, ErrorCode, Event,
    HealthOk, Request, Response,
};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use thiserror::Error;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{sleep, timeout, Instant};
use tokio_util::sync::CancellationToken;

/// Environment variable naming the worker binary.
pub const WORKER_BIN_ENV: &str = "HERMES_WORKER_BIN";
/// File name of the worker binary, looked up beside the current executable and on `PATH`.
pub const WORKER_BINARY_NAME: &str = "hermes-worker";
/// How long [`WorkerClient::health`] waits for `health_ok` (it runs `yt-dlp --version`).
pub const HEALTH_TIMEOUT: Duration = Duration::from_secs(15);
/// How long [`WorkerClient::cancel`] waits for the worker's acknowledgement.
pub const CANCEL_TIMEOUT: Duration = Duration::from_secs(5);

/// After the worker process has exited, how long the reader may still take to deliver the lines
/// the worker wrote just before exiting (its stdout pipe is drained, then closes).
const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(300);
/// After stdout closed, how long the process gets to exit on its own before it is killed.
const EXIT_AFTER_STDOUT_CLOSED: Duration = Duration::from_secs(1);
/// Between SIGTERM and SIGKILL at the end of a graceful shutdown: the worker kills its children
/// on SIGTERM, which SIGKILL would not give it the chance to do.
const TERM_GRACE: Duration = Duration::from_secs(2);

#[derive(Debug, Error)]
pub enum ClientError {
    #[error("cannot find the {WORKER_BINARY_NAME} binary: set {WORKER_BIN_ENV}, put it beside this program or on PATH")]
    WorkerNotFound,
    #[error("{WORKER_BIN_ENV}={0} does not name an existing file")]
    WorkerBinMissing(PathBuf),
    #[error("cannot start {program}: {source}")]
    Spawn {
        program: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("task id {0:?} is already pending")]
    DuplicateTaskId(String),
    #[error("the worker client is shut down")]
    Closed,
    #[error("no final event for task {task_id} within {after:?}")]
    Timeout { task_id: String, after: Duration },
    #[error("the event stream of task {0} ended without a final event")]
    StreamEnded(String),
    #[error("worker error [{code}]: {message}")]
    Worker { code: ErrorCode, message: String },
    #[error("expected `{expected}` for task {task_id}, got `{got}`")]
    UnexpectedEvent { task_id: String, expected: Event, got: Event },
    #[error("cannot decode the `{event}` data of task {task_id}: {source}")]
    Payload {
        task_id: String,
        event: Event,
        #[source]
        source: serde_json::Error,
    },
}

/// Restart delays: `initial`, doubled after each crash, capped at `max`; a worker that stayed up
/// for `reset_after` counts as healthy and the next crash starts the sequence over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
    pub reset_after: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(30),
            reset_after: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// The delay before restart number `consecutive_failures` (1 for the first crash).
    pub fn delay(&self, consecutive_failures: u32) -> Duration {
        let doublings = consecutive_failures.saturating_sub(1).min(31);
        self.initial.saturating_mul(1u32 << doublings).min(self.max)
    }
}

/// How to start the worker.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    /// Set on top of the inherited environment (e.g. `DOWNLOAD_DIR`).
    pub env: Vec<(String, String)>,
    pub current_dir: Option<PathBuf>,
    pub backoff: Backoff,
    /// How long [`WorkerClient::shutdown`] lets the worker finish after closing its stdin.
    pub shutdown_grace: Duration,
}

impl WorkerConfig {
    pub fn new(program: impl Into<PathBuf>) -> Self {
        WorkerConfig {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            current_dir: None,
            backoff: Backoff::default(),
            shutdown_grace: Duration::from_secs(5),
        }
    }

    /// A config for the worker binary found by [`locate_worker_binary`].
    pub fn locate() -> Result<Self, ClientError> {
        locate_worker_binary().map(WorkerConfig::new)
    }

    pub fn with_env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }
}

/// Finds `hermes-worker`: `$HERMES_WORKER_BIN` if set, else the binary beside the current
/// executable (how `cargo build` and a release archive lay them out), else the first on `PATH`.
pub fn locate_worker_binary() -> Result<PathBuf, ClientError> {
    if let Some(path) = std::env::var_os(WORKER_BIN_ENV).filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        return if path.is_file() { Ok(path) } else { Err(ClientError::WorkerBinMissing(path)) };
    }
    let beside_exe = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(WORKER_BINARY_NAME)))
        .filter(|candidate| candidate.is_file());
    beside_exe.or_else(find_on_path).ok_or(ClientError::WorkerNotFound)
}

fn find_on_path() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(WORKER_BINARY_NAME))
        .find(|candidate| candidate.is_file())
}

/// A fresh task id, `<prefix>-<uuid>`.
pub fn new_task_id(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// Decodes the data of a final event, turning a worker `error` into [`ClientError::Worker`] and
/// any other event than `expected` into [`ClientError::UnexpectedEvent`].
pub fn expect_event<T: serde::de::DeserializeOwned>(
    response: &Response,
    expected: Event,
) -> Result<T, ClientError> {
    if let Some(error) = response.error_data() {
        return Err(ClientError::Worker { code: error.error_code, message: error.message });
    }
    if response.event != expected {
        return Err(ClientError::UnexpectedEvent {
            task_id: response.task_id.clone(),
            expected,
            got: response.event,
        });
    }
    response.payload().map_err(|source| ClientError::Payload {
        task_id: response.task_id.clone(),
        event: response.event,
        source,
    })
}

// ---------------------------------------------------------------------------------------------
// Routing
// ---------------------------------------------------------------------------------------------

/// Routes worker output lines to the task that asked, by `task_id`. Cheap to clone (shared).
#[derive(Clone, Default)]
pub struct Router {
    inner: Arc<RouterInner>,
}

#[derive(Default)]
struct RouterInner {
    routes: Mutex<HashMap<String, Route>>,
    next_token: AtomicU64,
}

struct Route {
    /// Tells this registration apart from a later one with the same task id, so a dropped
    /// [`EventStream`] never removes its successor's route.
    token: u64,
    sender: mpsc::UnboundedSender<Response>,
    /// The worker generation the request was written to; `None` while it waits to be written.
    generation: Option<u64>,
}

/// What [`Router::route_line`] did with one line.
#[derive(Debug, Clone, PartialEq)]
pub enum RouteOutcome {
    Delivered { task_id: String, event: Event },
    /// Valid event for a task nobody waits for (finished, timed out, or the worker's `"unknown"`).
    UnknownTask { task_id: String, event: Event },
    /// Not a protocol event (not JSON, or missing `task_id` / `event`).
    Invalid { reason: String },
    Blank,
}

impl Router {
    pub fn new() -> Self {
        Router::default()
    }

    /// Registers `task_id` and returns the stream its events will arrive on.
    pub fn register(&self, task_id: &str) -> Result<EventStream, ClientError> {
        let mut routes = self.routes();
        if routes.contains_key(task_id) {
            return Err(ClientError::DuplicateTaskId(task_id.to_owned()));
        }
        let token = self.inner.next_token.fetch_add(1, Ordering::Relaxed);
        let (sender, receiver) = mpsc::unbounded_channel();
        routes.insert(task_id.to_owned(), Route { token, sender, generation: None });
        Ok(EventStream {
            task_id: task_id.to_owned(),
            token,
            receiver,
            router: self.clone(),
            finished: false,
        })
    }

    /// Parses one line of worker stdout (with or without its newline; invalid UTF-8 is replaced,
    /// never fatal) and delivers it. A final event closes the task's route.
    pub fn route_line(&self, line: &[u8]) -> RouteOutcome {
        let text = String::from_utf8_lossy(line);
        let text = text.trim();
        if text.is_empty() {
            return RouteOutcome::Blank;
        }
        let response: Response = match from_json_line(text) {
            Ok(response) => response,
            Err(error) => return RouteOutcome::Invalid { reason: error.to_string() },
        };
        self.deliver(response)
    }

    /// Task ids with a pending request.
    pub fn pending(&self) -> Vec<String> {
        self.routes().keys().cloned().collect()
    }

    fn deliver(&self, response: Response) -> RouteOutcome {
        let task_id = response.task_id.clone();
        let event = response.event;
        let mut routes = self.routes();
        let Some(route) = routes.get(&task_id) else {
            return RouteOutcome::UnknownTask { task_id, event };
        };
        // A send error only means the caller stopped listening; its Drop removes the route.
        let _ = route.sender.send(response);
        if event.is_final() {
            routes.remove(&task_id);
        }
        RouteOutcome::Delivered { task_id, event }
    }

    /// Records that the request was written to worker `generation`. `false` when its caller has
    /// gone away in the meantime, in which case the request is not worth sending.
    fn mark_sent(&self, task_id: &str, token: u64, generation: u64) -> bool {
        match self.routes().get_mut(task_id) {
            Some(route) if route.token == token => {
                route.generation = Some(generation);
                true
            }
            _ => false,
        }
    }

    /// Ends every task sent to `generation` with a synthetic `WORKER_CRASHED` error.
    fn fail_generation(&self, generation: u64, message: &str) -> usize {
        self.fail_where(|route| route.generation == Some(generation), message)
    }

    /// Ends every pending task, sent or not, with a synthetic `WORKER_CRASHED` error.
    fn fail_all(&self, message: &str) -> usize {
        self.fail_where(|_| true, message)
    }

    fn fail_where(&self, mut matches: impl FnMut(&Route) -> bool, message: &str) -> usize {
        let mut routes = self.routes();
        let doomed: Vec<String> =
            routes.iter().filter(|(_, route)| matches(route)).map(|(id, _)| id.clone()).collect();
        for task_id in &doomed {
            if let Some(route) = routes.remove(task_id) {
                let _ = route.sender.send(Response::error(task_id.clone(), ErrorCode::WorkerCrashed, message));
            }
        }
        doomed.len()
    }

    fn unregister(&self, task_id: &str, token: u64) {
        let mut routes = self.routes();
        if routes.get(task_id).is_some_and(|route| route.token == token) {
            routes.remove(task_id);
        }
    }

    fn routes(&self) -> MutexGuard<'_, HashMap<String, Route>> {
        // The map stays consistent even if a holder panicked: every update is a single insert/remove.
        self.inner.routes.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The events of one task, in order, ending after its final (non-`progress`) event. Dropping it
/// stops routing: later events of the task are logged and discarded, and a request not yet
/// written to the worker is not sent at all.
pub struct EventStream {
    task_id: String,
    token: u64,
    receiver: mpsc::UnboundedReceiver<Response>,
    router: Router,
    finished: bool,
}

impl EventStream {
    pub fn task_id(&self) -> &str {
        &self.task_id
    }

    /// The next event, or `None` once the final event has been returned.
    pub async fn next(&mut self) -> Option<Response> {
        if self.finished {
            return None;
        }
        let response = self.receiver.recv().await;
        self.finished = response.as_ref().is_none_or(|r| r.event.is_final());
        response
    }

    /// Skips progress events and returns the final event.
    pub async fn final_event(&mut self) -> Result<Response, ClientError> {
        while let Some(response) = self.next().await {
            if response.event.is_final() {
                return Ok(response);
            }
        }
        Err(ClientError::StreamEnded(self.task_id.clone()))
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        self.router.unregister(&self.task_id, self.token);
    }
}

// ---------------------------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------------------------

/// A request line waiting for the writer.
struct Outgoing {
    task_id: String,
    token: u64,
    line: String,
}

/// Live facts about the supervised worker, readable from any clone of the client.
#[derive(Default)]
struct WorkerStatus {
    /// 0 while no worker runs.
    pid: AtomicU32,
    /// Worker processes started so far (the first one included).
    starts: AtomicU64,
}

struct Shared {
    router: Router,
    outgoing: mpsc::UnboundedSender<Outgoing>,
    status: Arc<WorkerStatus>,
    shutdown: CancellationToken,
    supervisor: Mutex<Option<JoinHandle<()>>>,
}

/// Talks to a supervised `hermes-worker`. Clones share the same worker. Dropping the last clone
/// closes the worker's stdin as [`WorkerClient::shutdown`] does, but without waiting.
#[derive(Clone)]
pub struct WorkerClient {
    shared: Arc<Shared>,
}

impl WorkerClient {
    /// Starts the worker and its supervisor. Must be called inside a tokio runtime. Fails when
    /// the first worker cannot be started; later restarts are retried with backoff instead.
    pub fn spawn(config: WorkerConfig) -> Result<WorkerClient, ClientError> {
        let router = Router::new();
        let status = Arc::new(WorkerStatus::default());
        let first = start_worker(&config, &router, &status)?;
        let (outgoing, requests) = mpsc::unbounded_channel();
        let shutdown = CancellationToken::new();
        let supervisor = Supervisor {
            config,
            router: router.clone(),
            status: status.clone(),
            shutdown: shutdown.clone(),
            requests,
        };
        let handle = tokio::spawn(supervisor.run(first));
        Ok(WorkerClient {
            shared: Arc::new(Shared {
                router,
                outgoing,
                status,
                shutdown,
                supervisor: Mutex::new(Some(handle)),
            }),
        })
    }

    /// Queues `request` for the worker and returns the stream of its events.
    pub fn send(&self, request: &Request) -> Result<EventStream, ClientError> {
        if self.shared.shutdown.is_cancelled() {
            return Err(ClientError::Closed);
        }
        let stream = self.shared.router.register(&request.task_id)?;
        let outgoing = Outgoing {
            task_id: request.task_id.clone(),
            token: stream.token,
            line: to_json_line(request),
        };
        self.shared.outgoing.send(outgoing).map_err(|_| ClientError::Closed)?;
        Ok(stream)
    }

    /// Sends `request` and returns its final event (which may be an `error` event). On timeout a
    /// long action is cancelled in the worker, so it does not keep holding a slot there.
    pub async fn send_and_wait(&self, request: &Request, wait: Duration) -> Result<Response, ClientError> {
        let mut stream = self.send(request)?;
        match timeout(wait, stream.final_event()).await {
            Ok(result) => result,
            Err(_) => {
                if request.action.holds_slot() {
                    self.cancel_in_background(&request.task_id);
                }
                Err(ClientError::Timeout { task_id: request.task_id.clone(), after: wait })
            }
        }
    }

    /// `health_check`: the worker's version, tools and configuration.
    pub async fn health(&self) -> Result<HealthOk, ClientError> {
        let request = health_check_request(&new_task_id("health"));
        let response = self.send_and_wait(&request, HEALTH_TIMEOUT).await?;
        expect_event(&response, Event::HealthOk)
    }

    /// Asks the worker to cancel `task_id`; the task itself then ends with `error` `CANCELLED`.
    pub async fn cancel(&self, task_id: &str) -> Result<CancelDone, ClientError> {
        let request = cancel_request(&new_task_id("cancel"), task_id);
        let response = self.send_and_wait(&request, CANCEL_TIMEOUT).await?;
        expect_event(&response, Event::Done)
    }

    /// The pid of the running worker, `None` while it is down.
    pub fn worker_pid(&self) -> Option<u32> {
        Some(self.shared.status.pid.load(Ordering::SeqCst)).filter(|pid| *pid != 0)
    }

    /// How many worker processes have been started (1 + restarts).
    pub fn worker_starts(&self) -> u64 {
        self.shared.status.starts.load(Ordering::SeqCst)
    }

    /// Task ids still waiting for their final event.
    pub fn pending_tasks(&self) -> Vec<String> {
        self.shared.router.pending()
    }

    /// Graceful stop: closes the worker's stdin (it finishes what runs and exits), waits up to
    /// `shutdown_grace`, then terminates it. Tasks still pending get `WORKER_CRASHED`. Idempotent.
    pub async fn shutdown(&self) {
        self.shared.shutdown.cancel();
        let handle = lock(&self.shared.supervisor).take();
        if let Some(handle) = handle {
            if let Err(error) = handle.await {
                tracing::error!(%error, "worker supervisor failed");
            }
        }
    }

    fn cancel_in_background(&self, task_id: &str) {
        let client = self.clone();
        let task_id = task_id.to_owned();
        tokio::spawn(async move {
            if let Err(error) = client.cancel(&task_id).await {
                tracing::debug!(%task_id, %error, "cancel after timeout failed");
            }
        });
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // The supervisor also sees the request channel close; cancelling makes it stop restarting.
        self.shutdown.cancel();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

// ---------------------------------------------------------------------------------------------
// Supervision
// ---------------------------------------------------------------------------------------------

/// One started worker process and the tasks reading its output.
struct RunningWorker {
    child: Child,
    pid: u32,
    stdin: ChildStdin,
    /// Finishes when stdout reaches EOF.
    reader: JoinHandle<()>,
}

/// Why serving one worker process ended.
enum ServeEnd {
    /// It died (or closed stdout); the text describes how, for the synthetic errors.
    Died(String),
    /// Shutdown was requested (or every client handle is gone) and the worker was stopped.
    Stopped,
}

struct Supervisor {
    config: WorkerConfig,
    router: Router,
    status: Arc<WorkerStatus>,
    shutdown: CancellationToken,
    requests: mpsc::UnboundedReceiver<Outgoing>,
}

impl Supervisor {
    async fn run(mut self, first: RunningWorker) {
        let mut next = Some(first);
        let mut generation = 0u64;
        let mut consecutive_failures = 0u32;
        loop {
            let worker = match next.take() {
                Some(worker) => worker,
                None => match start_worker(&self.config, &self.router, &self.status) {
                    Ok(worker) => worker,
                    Err(error) => {
                        consecutive_failures += 1;
                        let delay = self.config.backoff.delay(consecutive_failures);
                        tracing::error!(%error, ?delay, "cannot restart the worker");
                        if self.sleep_unless_shutdown(delay).await {
                            continue;
                        }
                        break;
                    }
                },
            };
            generation += 1;
            tracing::info!(pid = worker.pid, generation, "worker started");
            let started = Instant::now();
            let end = self.serve(worker, generation).await;
            self.status.pid.store(0, Ordering::SeqCst);
            let ServeEnd::Died(how) = end else { break };

            let message = format!("hermes-worker stopped unexpectedly ({how}); the task was abandoned");
            let failed = self.router.fail_generation(generation, &message);
            if started.elapsed() >= self.config.backoff.reset_after {
                consecutive_failures = 0;
            }
            consecutive_failures += 1;
            let delay = self.config.backoff.delay(consecutive_failures);
            tracing::warn!(%how, failed, ?delay, "worker died; restarting");
            if !self.sleep_unless_shutdown(delay).await {
                break;
            }
        }
        self.requests.close();
        while self.requests.try_recv().is_ok() {}
        self.router.fail_all("the worker client was shut down before the task finished");
    }

    /// Writes requests to one worker until it dies or shutdown is requested.
    async fn serve(&mut self, mut worker: RunningWorker, generation: u64) -> ServeEnd {
        loop {
            tokio::select! {
                _ = self.shutdown.cancelled() => {
                    return self.stop_gracefully(worker).await;
                }
                status = worker.child.wait() => {
                    let _ = timeout(DRAIN_AFTER_EXIT, &mut worker.reader).await;
                    return ServeEnd::Died(describe_exit(status));
                }
                _ = &mut worker.reader => {
                    return ServeEnd::Died(reap_after_stdout_closed(&mut worker.child).await);
                }
                outgoing = self.requests.recv() => {
                    let Some(outgoing) = outgoing else {
                        return self.stop_gracefully(worker).await;
                    };
                    if let Err(how) = self.write_request(&mut worker, outgoing, generation).await {
                        return ServeEnd::Died(how);
                    }
                }
            }
        }
    }

    /// Writes one request line. A write error means the worker is gone: it is killed and reaped,
    /// and the request (already marked as sent) gets `WORKER_CRASHED` with the others.
    async fn write_request(&self, worker: &mut RunningWorker, outgoing: Outgoing, generation: u64) -> Result<(), String> {
        if !self.router.mark_sent(&outgoing.task_id, outgoing.token, generation) {
            tracing::debug!(task_id = %outgoing.task_id, "caller gone before sending; request dropped");
            return Ok(());
        }
        let written = async {
            worker.stdin.write_all(outgoing.line.as_bytes()).await?;
            worker.stdin.flush().await
        };
        if let Err(error) = written.await {
            let _ = worker.child.start_kill();
            let status = worker.child.wait().await;
            let _ = timeout(DRAIN_AFTER_EXIT, &mut worker.reader).await;
            return Err(format!("writing to its stdin failed: {error}; {}", describe_exit(status)));
        }
        Ok(())
    }

    /// Closes stdin, waits `shutdown_grace` for the worker to finish, then SIGTERM, then SIGKILL.
    async fn stop_gracefully(&self, worker: RunningWorker) -> ServeEnd {
        let RunningWorker { mut child, pid, stdin, mut reader } = worker;
        drop(stdin);
        if timeout(self.config.shutdown_grace, child.wait()).await.is_err() {
            tracing::warn!(pid, "worker still running after closing stdin; terminating it");
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGTERM);
            if timeout(TERM_GRACE, child.wait()).await.is_err() {
                let _ = child.start_kill();
                let _ = child.wait().await;
            }
        }
        let _ = timeout(DRAIN_AFTER_EXIT, &mut reader).await;
        tracing::info!(pid, "worker stopped");
        ServeEnd::Stopped
    }

    /// Sleeps for `delay`; `false` if shutdown was requested meanwhile.
    async fn sleep_unless_shutdown(&self, delay: Duration) -> bool {
        tokio::select! {
            _ = self.shutdown.cancelled() => false,
            _ = sleep(delay) => true,
        }
    }
}

fn describe_exit(status: std::io::Result<ExitStatus>) -> String {
    match status {
        Ok(status) => status.to_string(),
        Err(error) => format!("exit status unknown: {error}"),
    }
}

/// stdout closed first: give the process a moment to exit, else kill it, and say what happened.
async fn reap_after_stdout_closed(child: &mut Child) -> String {
    match timeout(EXIT_AFTER_STDOUT_CLOSED, child.wait()).await {
        Ok(status) => describe_exit(status),
        Err(_) => {
            let _ = child.start_kill();
            format!("closed its stdout and was killed, {}", describe_exit(child.wait().await))
        }
    }
}

/// Spawns one worker process with piped stdio, starts its reader and stderr tasks and records
/// its pid (before returning, so `worker_pid()` is right as soon as `spawn` returns).
fn start_worker(config: &WorkerConfig, router: &Router, status: &WorkerStatus) -> Result<RunningWorker, ClientError> {
    let mut command = Command::new(&config.program);
    command
        .args(&config.args)
        .envs(config.env.iter().map(|(key, value)| (key, value)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(dir) = &config.current_dir {
        command.current_dir(dir);
    }
    terminate_with_host(&mut command);
    let spawn_error = |source| ClientError::Spawn { program: config.program.clone(), source };
    let mut child = command.spawn().map_err(spawn_error)?;
    let missing = |what: &str| spawn_error(std::io::Error::other(format!("no {what} pipe")));
    let stdin = child.stdin.take().ok_or_else(|| missing("stdin"))?;
    let stdout = child.stdout.take().ok_or_else(|| missing("stdout"))?;
    let stderr = child.stderr.take().ok_or_else(|| missing("stderr"))?;
    let pid = child.id().ok_or_else(|| missing("pid for the"))?;
    let reader = tokio::spawn(read_events(stdout, router.clone()));
    tokio::spawn(forward_stderr(stderr));
    status.starts.fetch_add(1, Ordering::SeqCst);
    status.pid.store(pid, Ordering::SeqCst);
    Ok(RunningWorker { child, pid, stdin, reader })
}

/// The worker gets SIGTERM from the kernel when its host dies, however it dies (SIGKILL, a
/// crash, the OOM killer): `PR_SET_PDEATHSIG`, the guide's "a worker whose host crashes gets
/// SIGTERM". Without it an orphaned worker only sees stdin EOF, which means "finish the running
/// tasks", and keeps downloading next to the restarted host's new worker.
///
/// The kernel sends the signal when the *thread* that spawned the worker ends, so workers are
/// spawned from runtime threads that live as long as the host (the caller's thread or the
/// supervisor task), never from a `spawn_blocking` thread. A host that died between fork and
/// exec would never send the signal, so the child then refuses to start (its parent changed).
#[cfg(target_os = "linux")]
fn terminate_with_host(command: &mut Command) {
    let host = nix::unistd::getpid();
    // SAFETY: runs between fork and exec; only the prctl and getppid system calls and an
    // io::Error built from an errno (no allocation).
    unsafe {
        command.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(Some(Signal::SIGTERM)).map_err(std::io::Error::from)?;
            if nix::unistd::getppid() != host {
                return Err(std::io::Error::from(nix::errno::Errno::ESRCH));
            }
            Ok(())
        });
    }
}

/// Elsewhere the worker still stops on stdin EOF and on EPIPE when its host is gone.
#[cfg(not(target_os = "linux"))]
fn terminate_with_host(_command: &mut Command) {}

/// Reads worker stdout to EOF, routing each line. Lines are split on bytes and decoded lossily:
/// titles and paths come from the internet and need not be UTF-8.
async fn read_events(stdout: impl AsyncRead + Unpin, router: Router) {
    let mut reader = BufReader::new(stdout);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) => return,
            Ok(_) => log_route_outcome(&router.route_line(&line), &line),
            Err(error) => {
                tracing::warn!(target: "worker", %error, "cannot read worker stdout");
                return;
            }
        }
    }
}

fn log_route_outcome(outcome: &RouteOutcome, line: &[u8]) {
    match outcome {
        RouteOutcome::Delivered { .. } | RouteOutcome::Blank => {}
        RouteOutcome::UnknownTask { task_id, event } => {
            tracing::debug!(target: "worker", %task_id, %event, "event for a task nobody waits for")
        }
        RouteOutcome::Invalid { reason } => tracing::warn!(
            target: "worker",
            %reason,
            line = %String::from_utf8_lossy(line).trim_end(),
            "ignoring a worker stdout line that is not a protocol event"
        ),
    }
}

/// Forwards the worker's log lines to `tracing`, keeping the level the worker logged them at.
async fn forward_stderr(stderr: impl AsyncRead + Unpin) {
    let mut reader = BufReader::new(stderr);
    let mut line = Vec::new();
    while matches!(reader.read_until(b'\n', &mut line).await, Ok(n) if n > 0) {
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end();
        if !text.is_empty() {
            emit_worker_log(text);
        }
        line.clear();
    }
}

/// The worker logs `<timestamp>  LEVEL message`; other stderr text (a panic, a startup error)
/// is shown as a warning because it is unexpected.
fn worker_log_level(text: &str) -> tracing::Level {
    match text.split_whitespace().nth(1).unwrap_or_default() {
        "ERROR" => tracing::Level::ERROR,
        "INFO" => tracing::Level::INFO,
        "DEBUG" => tracing::Level::DEBUG,
        "TRACE" => tracing::Level::TRACE,
        _ => tracing::Level::WARN,
    }
}

fn emit_worker_log(text: &str) {
    match worker_log_level(text) {
        tracing::Level::ERROR => tracing::error!(target: "worker", "{text}"),
        tracing::Level::WARN => tracing::warn!(target: "worker", "{text}"),
        tracing::Level::INFO => tracing::info!(target: "worker", "{text}"),
        _ => tracing::debug!(target: "worker", "{text}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_one_second_and_caps_at_thirty() {
        let backoff = Backoff::default();
        let delays: Vec<u64> = (1..=8).map(|n| backoff.delay(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(backoff.delay(0), Duration::from_secs(1));
        assert_eq!(backoff.delay(u32::MAX), Duration::from_secs(30));
    }

    #[tokio::test]
    async fn final_event_closes_the_route_and_ends_the_stream() {
        let router = Router::new();
        let mut stream = router.register("a").expect("registered");
        let progress = br#"{"task_id":"a","event":"progress","data":{"percent":5}}"#;
        let done = b"{\"task_id\":\"a\",\"event\":\"done\",\"data\":{}}\n";
        assert_eq!(router.route_line(progress), RouteOutcome::Delivered { task_id: "a".into(), event: Event::Progress });
        assert_eq!(router.route_line(done), RouteOutcome::Delivered { task_id: "a".into(), event: Event::Done });
        assert!(router.pending().is_empty());
        assert_eq!(stream.next().await.map(|r| r.event), Some(Event::Progress));
        assert_eq!(stream.next().await.map(|r| r.event), Some(Event::Done));
        assert!(stream.next().await.is_none());
        assert_eq!(router.route_line(done), RouteOutcome::UnknownTask { task_id: "a".into(), event: Event::Done });
    }

    #[test]
    fn duplicate_pending_task_id_is_refused_and_a_dropped_stream_frees_it() {
        let router = Router::new();
        let first = router.register("dup").expect("first");
        assert!(matches!(router.register("dup"), Err(ClientError::DuplicateTaskId(id)) if id == "dup"));
        drop(first);
        let second = router.register("dup").expect("free again");
        assert_eq!(router.pending(), ["dup"]);
        drop(second);
        assert!(router.pending().is_empty());
    }

    #[tokio::test]
    async fn crash_fails_only_the_tasks_sent_to_that_generation() {
        let router = Router::new();
        let mut sent = router.register("sent").expect("sent");
        let waiting = router.register("waiting").expect("waiting");
        assert!(router.mark_sent("sent", sent.token, 7));
        assert_eq!(router.fail_generation(7, "boom"), 1);
        let event = sent.final_event().await.expect("synthetic error");
        let error = event.error_data().expect("error data");
        assert_eq!(error.error_code, ErrorCode::WorkerCrashed);
        assert_eq!(error.message, "boom");
        assert_eq!(router.pending(), ["waiting"]);
        assert!(router.mark_sent("waiting", waiting.token, 8));
        assert!(!router.mark_sent("waiting", waiting.token + 100, 8), "stale token");
    }

    #[test]
    fn worker_log_level_is_read_from_the_second_word() {
        use tracing::Level;
        let cases = [
            ("2026-11-24T19:01:39.658555Z ERROR cannot write", Level::ERROR),
            ("2026-11-24T19:01:39.658555Z  WARN slow", Level::WARN),
            ("2026-11-24T19:01:39.658555Z  INFO cache ready", Level::INFO),
            ("2026-11-24T19:01:39.658555Z DEBUG x", Level::DEBUG),
            ("thread 'main' panicked at src/x.rs", Level::WARN),
            ("hermes-worker: YT_TIMEOUT=0 is invalid", Level::WARN),
            ("", Level::WARN),
        ];
        for (line, level) in cases {
            assert_eq!(worker_log_level(line), level, "{line:?}");
        }
    }
}
