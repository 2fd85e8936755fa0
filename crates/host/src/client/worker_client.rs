//! [`WorkerClient`], the handle every front end holds: send a request and read its events, wait
//! for a final event with a timeout, `health_check`, `cancel`, shutdown. Clones share one worker,
//! which the `supervisor` module runs.
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use hermes_protocol::{
    cancel_request, health_check_request, to_json_line, CancelDone, Event, HealthOk, Request, Response,
};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

use super::config::WorkerConfig;
use super::error::{expect_event, ClientError};
use super::router::{EventStream, Router};
use super::supervisor::{start_worker, Outgoing, Supervisor, WorkerStatus};

/// How long [`WorkerClient::health`] waits for `health_ok` (it runs `yt-dlp --version`).
const HEALTH_TIMEOUT: Duration = Duration::from_secs(15);
/// How long [`WorkerClient::cancel`] waits for the worker's acknowledgement.
const CANCEL_TIMEOUT: Duration = Duration::from_secs(5);

/// A fresh task id, `<prefix>-<uuid>`.
pub fn new_task_id(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
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
        let supervisor = Supervisor::new(config, router.clone(), status.clone(), shutdown.clone(), requests);
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
            token: stream.token(),
            line: to_json_line(request),
        };
        self.shared
            .outgoing
            .send(outgoing)
            .map_err(|_| ClientError::Closed)?;
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
                Err(ClientError::Timeout {
                    task_id: request.task_id.clone(),
                    after: wait,
                })
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
