//! Supervision of the worker process: the writer loop that owns its stdin, the reader that
//! routes its stdout, restarts with backoff after a crash (tasks sent to the dead worker get
//! `WORKER_CRASHED` at once), and the graceful stop (close stdin, SIGTERM, SIGKILL).
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{sleep, timeout, Instant};
use tokio_util::sync::CancellationToken;

use super::config::WorkerConfig;
use super::error::ClientError;
use super::router::{RouteOutcome, Router};
use super::worker_log::forward_stderr;

/// After the worker process has exited, how long the reader may still take to deliver the lines
/// the worker wrote just before exiting (its stdout pipe is drained, then closes).
const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(300);
/// After stdout closed, how long the process gets to exit on its own before it is killed.
const EXIT_AFTER_STDOUT_CLOSED: Duration = Duration::from_secs(1);
/// Between SIGTERM and SIGKILL at the end of a graceful shutdown: the worker kills its children
/// on SIGTERM, which SIGKILL would not give it the chance to do.
const TERM_GRACE: Duration = Duration::from_secs(2);

/// A request line waiting for the writer.
pub(super) struct Outgoing {
    pub(super) task_id: String,
    /// The route's registration token (see [`Router::register`]).
    pub(super) token: u64,
    pub(super) line: String,
}

/// Live facts about the supervised worker, readable from any clone of the client.
#[derive(Default)]
pub(super) struct WorkerStatus {
    /// 0 while no worker runs.
    pub(super) pid: AtomicU32,
    /// Worker processes started so far (the first one included).
    pub(super) starts: AtomicU64,
}

/// One started worker process and the tasks reading its output.
pub(super) struct RunningWorker {
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

pub(super) struct Supervisor {
    config: WorkerConfig,
    router: Router,
    status: Arc<WorkerStatus>,
    shutdown: CancellationToken,
    requests: mpsc::UnboundedReceiver<Outgoing>,
}

impl Supervisor {
    pub(super) fn new(
        config: WorkerConfig,
        router: Router,
        status: Arc<WorkerStatus>,
        shutdown: CancellationToken,
        requests: mpsc::UnboundedReceiver<Outgoing>,
    ) -> Supervisor {
        Supervisor {
            config,
            router,
            status,
            shutdown,
            requests,
        }
    }

    /// Serves `first`, then each restarted worker, until shutdown; then fails what is left.
    pub(super) async fn run(mut self, first: RunningWorker) {
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
        self.router
            .fail_all("the worker client was shut down before the task finished");
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
    async fn write_request(
        &self,
        worker: &mut RunningWorker,
        outgoing: Outgoing,
        generation: u64,
    ) -> Result<(), String> {
        if !self
            .router
            .mark_sent(&outgoing.task_id, outgoing.token, generation)
        {
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
            return Err(format!(
                "writing to its stdin failed: {error}; {}",
                describe_exit(status)
            ));
        }
        Ok(())
    }

    /// Closes stdin, waits `shutdown_grace` for the worker to finish, then SIGTERM, then SIGKILL.
    async fn stop_gracefully(&self, worker: RunningWorker) -> ServeEnd {
        let RunningWorker {
            mut child,
            pid,
            stdin,
            mut reader,
        } = worker;
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
            format!(
                "closed its stdout and was killed, {}",
                describe_exit(child.wait().await)
            )
        }
    }
}

/// Spawns one worker process with piped stdio, starts its reader and stderr tasks and records
/// its pid (before returning, so `worker_pid()` is right as soon as `spawn` returns).
pub(super) fn start_worker(
    config: &WorkerConfig,
    router: &Router,
    status: &WorkerStatus,
) -> Result<RunningWorker, ClientError> {
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
    let spawn_error = |source| ClientError::Spawn {
        program: config.program.clone(),
        source,
    };
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
    Ok(RunningWorker {
        child,
        pid,
        stdin,
        reader,
    })
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
