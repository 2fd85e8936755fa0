//! Routing worker output to the task that asked: each stdout line goes, by `task_id`, to that
//! task's [`EventStream`]; a final event closes the route. The supervisor also ends routes here
//! (synthetic `WORKER_CRASHED`) when a worker dies.
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use hermes_protocol::{from_json_line, ErrorCode, Event, Response};
use tokio::sync::mpsc;

use super::error::ClientError;

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
    Delivered {
        task_id: String,
        event: Event,
    },
    /// Valid event for a task nobody waits for (finished, timed out, or the worker's `"unknown"`).
    UnknownTask {
        task_id: String,
        event: Event,
    },
    /// Not a protocol event (not JSON, or missing `task_id` / `event`).
    Invalid {
        reason: String,
    },
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
        routes.insert(
            task_id.to_owned(),
            Route {
                token,
                sender,
                generation: None,
            },
        );
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
            Err(error) => {
                return RouteOutcome::Invalid {
                    reason: error.to_string(),
                }
            }
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
    pub(super) fn mark_sent(&self, task_id: &str, token: u64, generation: u64) -> bool {
        match self.routes().get_mut(task_id) {
            Some(route) if route.token == token => {
                route.generation = Some(generation);
                true
            }
            _ => false,
        }
    }

    /// Ends every task sent to `generation` with a synthetic `WORKER_CRASHED` error.
    pub(super) fn fail_generation(&self, generation: u64, message: &str) -> usize {
        self.fail_where(|route| route.generation == Some(generation), message)
    }

    /// Ends every pending task, sent or not, with a synthetic `WORKER_CRASHED` error.
    pub(super) fn fail_all(&self, message: &str) -> usize {
        self.fail_where(|_| true, message)
    }

    fn fail_where(&self, mut matches: impl FnMut(&Route) -> bool, message: &str) -> usize {
        let mut routes = self.routes();
        let doomed: Vec<String> = routes
            .iter()
            .filter(|(_, route)| matches(route))
            .map(|(id, _)| id.clone())
            .collect();
        for task_id in &doomed {
            if let Some(route) = routes.remove(task_id) {
                let _ = route.sender.send(Response::error(
                    task_id.clone(),
                    ErrorCode::WorkerCrashed,
                    message,
                ));
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
    /// Tells this registration apart from an earlier or later one with the same task id.
    pub(super) fn token(&self) -> u64 {
        self.token
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn final_event_closes_the_route_and_ends_the_stream() {
        let router = Router::new();
        let mut stream = router.register("a").expect("registered");
        let progress = br#"{"task_id":"a","event":"progress","data":{"percent":5}}"#;
        let done = b"{\"task_id\":\"a\",\"event\":\"done\",\"data\":{}}\n";
        assert_eq!(
            router.route_line(progress),
            RouteOutcome::Delivered {
                task_id: "a".into(),
                event: Event::Progress
            }
        );
        assert_eq!(
            router.route_line(done),
            RouteOutcome::Delivered {
                task_id: "a".into(),
                event: Event::Done
            }
        );
        assert!(router.pending().is_empty());
        assert_eq!(stream.next().await.map(|r| r.event), Some(Event::Progress));
        assert_eq!(stream.next().await.map(|r| r.event), Some(Event::Done));
        assert!(stream.next().await.is_none());
        assert_eq!(
            router.route_line(done),
            RouteOutcome::UnknownTask {
                task_id: "a".into(),
                event: Event::Done
            }
        );
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
        assert!(
            !router.mark_sent("waiting", waiting.token + 100, 8),
            "stale token"
        );
    }
}
