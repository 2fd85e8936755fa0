//! The host-side TaskQueue: limits how many downloads run at once, overall and per chat, and
//! keeps the state of every task for status messages and `/cancel`.
//!
//! Lifecycle: [`TaskQueue::enqueue`] registers a task (`Queued`), [`TaskQueue::acquire`] waits
//! for a slot (`Running`), then exactly one of [`TaskQueue::complete`], [`TaskQueue::fail`] or
//! [`TaskQueue::cancel`] ends it and frees the slot. A queued task can also be cancelled.
//!
//! Why not a `tokio::sync::Semaphore`: a task may start only when a global slot is free *and*
//! its chat is under its own limit. Taking a semaphore permit first and then waiting for the
//! chat would hold a global slot while blocked, so one busy chat could idle the whole bot. The
//! queue therefore counts slots itself under one lock and hands a slot directly to the first
//! eligible waiter, which makes both limits atomic and the order FIFO-fair.
//!
//! Share one queue behind an `Arc`; every method takes `&self`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::ffi::OsString;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use thiserror::Error;
use tokio::sync::oneshot;

use super::limits::{QueueConfigError, QueueLimits};

/// Finished tasks stay visible (status, duplicate detection) until this many newer tasks have
/// finished; the queue must not grow without bound in a long-running bot.
const FINISHED_HISTORY_LIMIT: usize = 100;

/// Called with the task id when a *running* task is cancelled, so the owner can send the
/// worker a `cancel` request. It runs after the queue's lock is released, so it may call back
/// into the queue.
pub type CancelHook = Arc<dyn Fn(&str) + Send + Sync>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskState {
    Queued,
    Running,
    Done,
    Failed,
    Cancelled,
}

impl TaskState {
    /// Done, Failed and Cancelled are final: no transition leaves them.
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Done | Self::Failed | Self::Cancelled)
    }
}

/// What [`TaskQueue::cancel`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelOutcome {
    WasQueued,
    WasRunning,
    AlreadyFinished,
    NotFound,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum QueueError {
    #[error("unknown task {0}")]
    UnknownTask(String),
    #[error("task was cancelled")]
    Cancelled,
    #[error("task {task_id} cannot be started: it is {state:?}")]
    NotQueued { task_id: String, state: TaskState },
    #[error("task {0} is already waiting for a slot")]
    AlreadyWaiting(String),
}

/// A point-in-time copy of one task, for status messages and listings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskSnapshot {
    pub task_id: String,
    pub chat_id: i64,
    pub kind: String,
    pub state: TaskState,
    pub percent: u8,
    pub speed: String,
    /// 1-based position among all queued tasks (all chats), `None` unless `Queued`.
    pub queue_position: Option<usize>,
    pub enqueued_at: Instant,
    pub started_at: Option<Instant>,
    pub finished_at: Option<Instant>,
    /// The reason given to [`TaskQueue::fail`].
    pub failure: Option<String>,
}

type Grant = Result<(), QueueError>;

struct Entry {
    /// Enqueue order; the FIFO key.
    seq: u64,
    chat_id: i64,
    kind: String,
    state: TaskState,
    percent: u8,
    speed: String,
    enqueued_at: Instant,
    started_at: Option<Instant>,
    finished_at: Option<Instant>,
    failure: Option<String>,
    /// Present while an `acquire` call is waiting for this task.
    waiter: Option<oneshot::Sender<Grant>>,
}

#[derive(Default)]
struct State {
    tasks: HashMap<String, Entry>,
    /// Ids of `Queued` tasks by enqueue order.
    queued: BTreeMap<u64, String>,
    running_total: usize,
    running_per_chat: HashMap<i64, usize>,
    /// Ids of finished tasks, oldest first, for bounded history.
    finished: VecDeque<String>,
    next_seq: u64,
    cancel_hook: Option<CancelHook>,
}

pub struct TaskQueue {
    max_concurrent: usize,
    max_per_chat: usize,
    state: Mutex<State>,
}

impl std::fmt::Debug for TaskQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskQueue")
            .field("max_concurrent", &self.max_concurrent)
            .field("max_per_chat", &self.max_per_chat)
            .finish_non_exhaustive()
    }
}

impl TaskQueue {
    /// Limits below 1 are raised to 1: a zero limit would make every `acquire` wait forever.
    pub fn new(max_concurrent: usize, max_per_chat: usize) -> Self {
        Self {
            max_concurrent: max_concurrent.max(1),
            max_per_chat: max_per_chat.max(1),
            state: Mutex::new(State::default()),
        }
    }

    /// A queue with the limits the environment sets (see the `limits` module).
    pub fn from_env() -> Result<Self, QueueConfigError> {
        Self::from_lookup(|name| std::env::var_os(name))
    }

    pub(super) fn from_lookup(lookup: impl Fn(&str) -> Option<OsString>) -> Result<Self, QueueConfigError> {
        let limits = QueueLimits::from_lookup(lookup)?;
        Ok(Self::new(limits.max_concurrent, limits.max_per_chat))
    }

    #[cfg(test)]
    pub(super) fn max_concurrent(&self) -> usize {
        self.max_concurrent
    }

    #[cfg(test)]
    pub(super) fn max_per_chat(&self) -> usize {
        self.max_per_chat
    }

    pub fn set_cancel_hook(&self, hook: CancelHook) {
        self.lock().cancel_hook = Some(hook);
    }

    /// Registers a task as `Queued`. Returns false if the id is already known, including a
    /// finished task still in the history (task ids double as worker ids and must be unique).
    pub fn enqueue(&self, task_id: &str, chat_id: i64, kind: &str) -> bool {
        let mut state = self.lock();
        if state.tasks.contains_key(task_id) {
            return false;
        }
        let seq = state.next_seq;
        state.next_seq += 1;
        state.tasks.insert(
            task_id.to_owned(),
            Entry {
                seq,
                chat_id,
                kind: kind.to_owned(),
                state: TaskState::Queued,
                percent: 0,
                speed: String::new(),
                enqueued_at: Instant::now(),
                started_at: None,
                finished_at: None,
                failure: None,
                waiter: None,
            },
        );
        state.queued.insert(seq, task_id.to_owned());
        true
    }

    /// Waits until the task may run: a global slot is free and its chat runs fewer than
    /// `max_per_chat` tasks. Waiters are served in enqueue order, except that a waiter whose
    /// chat is at its limit is skipped (not blocking other chats) and keeps its place.
    ///
    /// Returns `Err(Cancelled)` if the task is cancelled before or while waiting. Dropping the
    /// returned future gives up the wait without consuming a slot; the task stays `Queued`.
    pub async fn acquire(&self, task_id: &str) -> Result<(), QueueError> {
        let receiver = self.register_waiter(task_id)?;
        let mut guard = AbandonOnDrop {
            queue: self,
            task_id,
            armed: true,
        };
        let grant = receiver.await;
        guard.armed = false;
        // The sender is only dropped without a message if the task was cancelled.
        grant.unwrap_or(Err(QueueError::Cancelled))
    }

    fn register_waiter(&self, task_id: &str) -> Result<oneshot::Receiver<Grant>, QueueError> {
        let mut state = self.lock();
        let entry = state
            .tasks
            .get_mut(task_id)
            .ok_or_else(|| QueueError::UnknownTask(task_id.to_owned()))?;
        match entry.state {
            TaskState::Queued => {}
            TaskState::Cancelled => return Err(QueueError::Cancelled),
            other => {
                return Err(QueueError::NotQueued {
                    task_id: task_id.to_owned(),
                    state: other,
                })
            }
        }
        if entry.waiter.is_some() {
            return Err(QueueError::AlreadyWaiting(task_id.to_owned()));
        }
        let (sender, receiver) = oneshot::channel();
        entry.waiter = Some(sender);
        state.grant_free_slots(self.max_concurrent, self.max_per_chat);
        Ok(receiver)
    }

    /// Undoes an `acquire` whose future was dropped: forget the waiter, or, if the slot was
    /// granted but the caller never saw it, put the task back in the queue and free the slot.
    fn abandon_wait(&self, task_id: &str) {
        let mut state = self.lock();
        let Some(entry) = state.tasks.get_mut(task_id) else {
            return;
        };
        match entry.state {
            TaskState::Queued => entry.waiter = None,
            TaskState::Running => {
                entry.state = TaskState::Queued;
                entry.started_at = None;
                let (seq, chat_id) = (entry.seq, entry.chat_id);
                state.queued.insert(seq, task_id.to_owned());
                state.release_slot(chat_id);
                state.grant_free_slots(self.max_concurrent, self.max_per_chat);
            }
            _ => {}
        }
    }

    /// Records progress of a running task; false (ignored) in any other state.
    pub fn update_progress(&self, task_id: &str, percent: u8, speed: &str) -> bool {
        let mut state = self.lock();
        match state.tasks.get_mut(task_id) {
            Some(entry) if entry.state == TaskState::Running => {
                entry.percent = percent.min(100);
                entry.speed = speed.to_owned();
                true
            }
            _ => false,
        }
    }

    /// Running → Done, freeing the slot. False (ignored) in any other state.
    pub fn complete(&self, task_id: &str) -> bool {
        self.finish_running(task_id, TaskState::Done, None)
    }

    /// Running → Failed with a reason, freeing the slot. False (ignored) in any other state.
    pub fn fail(&self, task_id: &str, reason: &str) -> bool {
        self.finish_running(task_id, TaskState::Failed, Some(reason.to_owned()))
    }

    fn finish_running(&self, task_id: &str, outcome: TaskState, failure: Option<String>) -> bool {
        let mut state = self.lock();
        let Some(entry) = state.tasks.get_mut(task_id) else {
            return false;
        };
        if entry.state != TaskState::Running {
            return false;
        }
        if outcome == TaskState::Done {
            entry.percent = 100;
        }
        entry.failure = failure;
        let chat_id = entry.chat_id;
        state.release_slot(chat_id);
        state.mark_finished(task_id, outcome);
        state.grant_free_slots(self.max_concurrent, self.max_per_chat);
        true
    }

    /// Cancels a queued or running task. A waiting `acquire` returns `Err(Cancelled)`; a
    /// running task's slot is freed and the cancel hook is called once with its id.
    pub fn cancel(&self, task_id: &str) -> CancelOutcome {
        let (outcome, hook) = self.cancel_locked(task_id);
        if let Some(hook) = hook {
            hook(task_id);
        }
        outcome
    }

    fn cancel_locked(&self, task_id: &str) -> (CancelOutcome, Option<CancelHook>) {
        let mut state = self.lock();
        let Some(entry) = state.tasks.get_mut(task_id) else {
            return (CancelOutcome::NotFound, None);
        };
        match entry.state {
            TaskState::Queued => {
                if let Some(waiter) = entry.waiter.take() {
                    // A dropped receiver just means nobody is waiting any more.
                    let _ = waiter.send(Err(QueueError::Cancelled));
                }
                let seq = entry.seq;
                state.queued.remove(&seq);
                state.mark_finished(task_id, TaskState::Cancelled);
                (CancelOutcome::WasQueued, None)
            }
            TaskState::Running => {
                let chat_id = entry.chat_id;
                state.release_slot(chat_id);
                state.mark_finished(task_id, TaskState::Cancelled);
                state.grant_free_slots(self.max_concurrent, self.max_per_chat);
                (CancelOutcome::WasRunning, state.cancel_hook.clone())
            }
            TaskState::Done | TaskState::Failed | TaskState::Cancelled => {
                (CancelOutcome::AlreadyFinished, None)
            }
        }
    }

    /// Every tracked task (queued, running, and recent finished ones) in enqueue order.
    #[cfg(test)]
    fn snapshot(&self) -> Vec<TaskSnapshot> {
        self.snapshot_where(|_| true)
    }

    pub fn snapshot_for_chat(&self, chat_id: i64) -> Vec<TaskSnapshot> {
        self.snapshot_where(|entry| entry.chat_id == chat_id)
    }

    /// One task, if it is still tracked.
    pub fn task(&self, task_id: &str) -> Option<TaskSnapshot> {
        let state = self.lock();
        let entry = state.tasks.get(task_id)?;
        Some(state.snapshot_of(task_id, entry))
    }

    fn snapshot_where(&self, keep: impl Fn(&Entry) -> bool) -> Vec<TaskSnapshot> {
        let state = self.lock();
        let mut entries: Vec<(&String, &Entry)> = state.tasks.iter().filter(|(_, e)| keep(e)).collect();
        entries.sort_by_key(|(_, entry)| entry.seq);
        entries
            .into_iter()
            .map(|(id, entry)| state.snapshot_of(id, entry))
            .collect()
    }

    /// The state stays consistent at every point a panic could occur (no user code runs under
    /// the lock), so a poisoned lock is safe to keep using.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    /// Hands free slots to waiters, oldest first, skipping waiters whose chat is at its limit.
    fn grant_free_slots(&mut self, max_concurrent: usize, max_per_chat: usize) {
        while self.running_total < max_concurrent {
            let Some((seq, task_id)) = self.next_eligible_waiter(max_per_chat) else {
                return;
            };
            self.grant(seq, &task_id);
        }
    }

    fn next_eligible_waiter(&self, max_per_chat: usize) -> Option<(u64, String)> {
        self.queued
            .iter()
            .find(|(_, task_id)| {
                self.tasks.get(*task_id).is_some_and(|entry| {
                    entry.waiter.is_some() && self.running_in_chat(entry.chat_id) < max_per_chat
                })
            })
            .map(|(seq, task_id)| (*seq, task_id.clone()))
    }

    /// Moves a waiting task to Running. If its `acquire` future is already gone the task
    /// simply stays queued without a waiter and no slot is used.
    fn grant(&mut self, seq: u64, task_id: &str) {
        let Some(entry) = self.tasks.get_mut(task_id) else {
            self.queued.remove(&seq);
            return;
        };
        let Some(waiter) = entry.waiter.take() else {
            return;
        };
        if waiter.send(Ok(())).is_err() {
            return;
        }
        entry.state = TaskState::Running;
        entry.started_at = Some(Instant::now());
        let chat_id = entry.chat_id;
        self.queued.remove(&seq);
        self.running_total += 1;
        *self.running_per_chat.entry(chat_id).or_default() += 1;
    }

    fn running_in_chat(&self, chat_id: i64) -> usize {
        self.running_per_chat.get(&chat_id).copied().unwrap_or(0)
    }

    fn release_slot(&mut self, chat_id: i64) {
        self.running_total = self.running_total.saturating_sub(1);
        if let Some(count) = self.running_per_chat.get_mut(&chat_id) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.running_per_chat.remove(&chat_id);
            }
        }
    }

    /// Sets the final state and records the task in the bounded history, dropping the oldest
    /// finished tasks beyond [`FINISHED_HISTORY_LIMIT`].
    fn mark_finished(&mut self, task_id: &str, outcome: TaskState) {
        if let Some(entry) = self.tasks.get_mut(task_id) {
            entry.state = outcome;
            entry.finished_at = Some(Instant::now());
            entry.waiter = None;
        }
        self.finished.push_back(task_id.to_owned());
        while self.finished.len() > FINISHED_HISTORY_LIMIT {
            if let Some(oldest) = self.finished.pop_front() {
                self.tasks.remove(&oldest);
            }
        }
    }

    /// 1-based: the number of queued tasks enqueued no later than this one.
    fn queue_position(&self, seq: u64) -> Option<usize> {
        if !self.queued.contains_key(&seq) {
            return None;
        }
        Some(self.queued.range(..=seq).count())
    }

    fn snapshot_of(&self, task_id: &str, entry: &Entry) -> TaskSnapshot {
        TaskSnapshot {
            task_id: task_id.to_owned(),
            chat_id: entry.chat_id,
            kind: entry.kind.clone(),
            state: entry.state,
            percent: entry.percent,
            speed: entry.speed.clone(),
            queue_position: self.queue_position(entry.seq),
            enqueued_at: entry.enqueued_at,
            started_at: entry.started_at,
            finished_at: entry.finished_at,
            failure: entry.failure.clone(),
        }
    }
}

/// Makes a dropped `acquire` future (timeout, aborted caller) leave the queue consistent.
struct AbandonOnDrop<'a> {
    queue: &'a TaskQueue,
    task_id: &'a str,
    armed: bool,
}

impl Drop for AbandonOnDrop<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.queue.abandon_wait(self.task_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::task::JoinHandle;

    const CHAT_A: i64 = 1;
    const CHAT_B: i64 = 2;

    fn queue(max_concurrent: usize, max_per_chat: usize) -> Arc<TaskQueue> {
        Arc::new(TaskQueue::new(max_concurrent, max_per_chat))
    }

    fn state_of(queue: &TaskQueue, task_id: &str) -> Option<TaskState> {
        queue.task(task_id).map(|t| t.state)
    }

    fn is_waiting(queue: &TaskQueue, task_id: &str) -> bool {
        queue
            .lock()
            .tasks
            .get(task_id)
            .is_some_and(|e| e.waiter.is_some())
    }

    fn running_total(queue: &TaskQueue) -> usize {
        queue.lock().running_total
    }

    /// Enqueues and acquires at once; the slot must be free.
    async fn start(queue: &TaskQueue, task_id: &str, chat_id: i64) {
        assert!(queue.enqueue(task_id, chat_id, "youtube_dl"));
        tokio::time::timeout(Duration::from_secs(1), queue.acquire(task_id))
            .await
            .expect("slot should be free")
            .expect("acquire should succeed");
    }

    /// Starts a background `acquire` and waits until it is registered as a waiter.
    async fn spawn_waiter(queue: &Arc<TaskQueue>, task_id: &str) -> JoinHandle<Result<(), QueueError>> {
        let (q, id) = (Arc::clone(queue), task_id.to_owned());
        let handle = tokio::spawn(async move { q.acquire(&id).await });
        for _ in 0..1000 {
            if is_waiting(queue, task_id) || handle.is_finished() {
                return handle;
            }
            tokio::task::yield_now().await;
        }
        panic!("{task_id} never started waiting");
    }

    async fn join(handle: JoinHandle<Result<(), QueueError>>) -> Result<(), QueueError> {
        tokio::time::timeout(Duration::from_secs(1), handle)
            .await
            .expect("waiter should finish")
            .expect("waiter task should not panic")
    }

    /// Lets spawned tasks run, then asserts the waiter is still blocked.
    async fn assert_still_waiting(handle: &JoinHandle<Result<(), QueueError>>) {
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert!(!handle.is_finished(), "waiter should still be blocked");
    }

    #[tokio::test]
    async fn happy_path_queued_running_done() {
        let q = queue(3, 2);
        assert!(q.enqueue("t1", CHAT_A, "youtube_dl"));
        let queued = q.task("t1").expect("tracked");
        assert_eq!(queued.state, TaskState::Queued);
        assert_eq!(queued.queue_position, Some(1));
        assert_eq!(queued.started_at, None);

        q.acquire("t1").await.expect("free slot");
        let running = q.task("t1").expect("tracked");
        assert_eq!(running.state, TaskState::Running);
        assert_eq!(running.queue_position, None);
        assert!(running.started_at.is_some());

        assert!(q.update_progress("t1", 45, "1.2MB/s"));
        let progressed = q.task("t1").expect("tracked");
        assert_eq!((progressed.percent, progressed.speed.as_str()), (45, "1.2MB/s"));
        assert!(q.update_progress("t1", 250, ""));
        assert_eq!(q.task("t1").map(|t| t.percent), Some(100));

        assert!(q.complete("t1"));
        let done = q.task("t1").expect("finished tasks stay tracked");
        assert_eq!(done.state, TaskState::Done);
        assert!(done.finished_at.is_some());
        assert_eq!(running_total(&q), 0);
    }

    #[tokio::test]
    async fn illegal_transitions_are_ignored() {
        let q = queue(3, 2);
        assert!(!q.complete("missing"));
        assert!(!q.fail("missing", "x"));
        assert!(!q.update_progress("missing", 1, ""));
        assert_eq!(
            q.acquire("missing").await,
            Err(QueueError::UnknownTask("missing".into()))
        );

        assert!(q.enqueue("t1", CHAT_A, "youtube_dl"));
        assert!(!q.complete("t1"), "Queued → Done is illegal");
        assert!(!q.fail("t1", "boom"), "Queued → Failed is illegal");
        assert!(!q.update_progress("t1", 10, ""), "no progress before running");
        assert_eq!(state_of(&q, "t1"), Some(TaskState::Queued));

        q.acquire("t1").await.expect("free slot");
        assert_eq!(
            q.acquire("t1").await,
            Err(QueueError::NotQueued {
                task_id: "t1".into(),
                state: TaskState::Running
            })
        );
        assert!(q.fail("t1", "yt-dlp exited with code 1"));
        assert!(!q.complete("t1"), "Failed → Done is illegal");
        assert!(!q.fail("t1", "again"));
        assert!(!q.update_progress("t1", 50, ""));
        assert_eq!(q.cancel("t1"), CancelOutcome::AlreadyFinished);
        let failed = q.task("t1").expect("tracked");
        assert_eq!(failed.state, TaskState::Failed);
        assert_eq!(failed.failure.as_deref(), Some("yt-dlp exited with code 1"));
        assert_eq!(
            q.acquire("t1").await,
            Err(QueueError::NotQueued {
                task_id: "t1".into(),
                state: TaskState::Failed
            })
        );
        assert_eq!(q.cancel("missing"), CancelOutcome::NotFound);
    }

    #[tokio::test]
    async fn duplicate_enqueue_is_rejected_even_after_finishing() {
        let q = queue(3, 2);
        assert!(q.enqueue("t1", CHAT_A, "youtube_dl"));
        assert!(!q.enqueue("t1", CHAT_B, "playlist"));
        q.acquire("t1").await.expect("free slot");
        assert!(q.complete("t1"));
        assert!(!q.enqueue("t1", CHAT_A, "youtube_dl"));
        let snapshot = q.snapshot();
        assert_eq!(snapshot.len(), 1);
        assert_eq!(
            (snapshot[0].chat_id, snapshot[0].kind.as_str()),
            (CHAT_A, "youtube_dl")
        );
    }

    #[tokio::test]
    async fn second_concurrent_acquire_of_same_task_is_rejected() {
        let q = queue(1, 1);
        start(&q, "busy", CHAT_A).await;
        assert!(q.enqueue("t1", CHAT_B, "youtube_dl"));
        let waiter = spawn_waiter(&q, "t1").await;
        assert_eq!(
            q.acquire("t1").await,
            Err(QueueError::AlreadyWaiting("t1".into()))
        );
        assert!(q.complete("busy"));
        assert_eq!(join(waiter).await, Ok(()));
    }

    #[tokio::test]
    async fn cancel_while_queued_wakes_waiter_without_consuming_the_slot() {
        let q = queue(1, 1);
        start(&q, "running", CHAT_A).await;
        assert!(q.enqueue("queued", CHAT_B, "youtube_dl"));
        assert!(q.enqueue("next", CHAT_B, "youtube_dl"));
        let waiter = spawn_waiter(&q, "queued").await;

        assert_eq!(q.cancel("queued"), CancelOutcome::WasQueued);
        assert_eq!(join(waiter).await, Err(QueueError::Cancelled));
        assert_eq!(state_of(&q, "queued"), Some(TaskState::Cancelled));
        assert_eq!(q.acquire("queued").await, Err(QueueError::Cancelled));
        assert_eq!(q.cancel("queued"), CancelOutcome::AlreadyFinished);
        assert_eq!(running_total(&q), 1, "only the running task holds a slot");
        assert_eq!(q.task("next").and_then(|t| t.queue_position), Some(1));

        let next = spawn_waiter(&q, "next").await;
        assert_still_waiting(&next).await;
        assert!(q.complete("running"));
        assert_eq!(join(next).await, Ok(()));
        assert_eq!(running_total(&q), 1);
    }

    #[tokio::test]
    async fn cancel_while_running_releases_slot_and_calls_hook_once() {
        let q = queue(1, 1);
        let calls = Arc::new(Mutex::new(Vec::<String>::new()));
        let recorded = Arc::clone(&calls);
        q.set_cancel_hook(Arc::new(move |id: &str| {
            recorded.lock().expect("hook lock").push(id.to_owned());
        }));
        start(&q, "running", CHAT_A).await;
        assert!(q.enqueue("waiting", CHAT_B, "youtube_dl"));
        let waiter = spawn_waiter(&q, "waiting").await;
        assert_still_waiting(&waiter).await;

        assert_eq!(q.cancel("running"), CancelOutcome::WasRunning);
        assert_eq!(join(waiter).await, Ok(()));
        assert_eq!(state_of(&q, "running"), Some(TaskState::Cancelled));
        assert_eq!(state_of(&q, "waiting"), Some(TaskState::Running));

        assert_eq!(q.cancel("running"), CancelOutcome::AlreadyFinished);
        assert!(!q.complete("running"), "Cancelled → Done is illegal");
        assert_eq!(*calls.lock().expect("hook lock"), vec!["running".to_owned()]);

        assert_eq!(q.cancel("waiting"), CancelOutcome::WasRunning);
        assert_eq!(
            *calls.lock().expect("hook lock"),
            vec!["running".to_owned(), "waiting".to_owned()]
        );
        assert_eq!(running_total(&q), 0);
    }

    #[tokio::test]
    async fn cancel_hook_may_call_back_into_the_queue() {
        let q = queue(2, 2);
        let inner = Arc::clone(&q);
        let seen = Arc::new(Mutex::new(None));
        let seen_in_hook = Arc::clone(&seen);
        q.set_cancel_hook(Arc::new(move |id: &str| {
            *seen_in_hook.lock().expect("hook lock") = inner.task(id).map(|t| t.state);
        }));
        start(&q, "t1", CHAT_A).await;
        assert_eq!(q.cancel("t1"), CancelOutcome::WasRunning);
        assert_eq!(*seen.lock().expect("hook lock"), Some(TaskState::Cancelled));
    }

    #[tokio::test]
    async fn per_chat_limit_lets_other_chats_pass() {
        let q = queue(3, 2);
        start(&q, "a1", CHAT_A).await;
        start(&q, "a2", CHAT_A).await;
        assert!(q.enqueue("a3", CHAT_A, "youtube_dl"));
        let a3 = spawn_waiter(&q, "a3").await;
        assert_still_waiting(&a3).await;

        // b1 was enqueued after a3 but must not be starved by chat A's limit.
        start(&q, "b1", CHAT_B).await;
        assert_still_waiting(&a3).await;
        assert!(q.complete("b1"));
        assert_still_waiting(&a3).await;
        assert_eq!(state_of(&q, "a3"), Some(TaskState::Queued));

        assert!(q.complete("a1"));
        assert_eq!(join(a3).await, Ok(()));
        let chat_a: Vec<(String, TaskState)> = q
            .snapshot_for_chat(CHAT_A)
            .into_iter()
            .map(|t| (t.task_id, t.state))
            .collect();
        assert_eq!(
            chat_a,
            vec![
                ("a1".to_owned(), TaskState::Done),
                ("a2".to_owned(), TaskState::Running),
                ("a3".to_owned(), TaskState::Running),
            ]
        );
    }

    #[tokio::test]
    async fn waiters_are_served_in_enqueue_order() {
        let q = queue(1, 5);
        start(&q, "first", CHAT_A).await;
        let ids = ["w1", "w2", "w3", "w4"];
        for (i, id) in ids.iter().enumerate() {
            let chat = if i % 2 == 0 { CHAT_A } else { CHAT_B };
            assert!(q.enqueue(id, chat, "youtube_dl"));
        }
        // Acquire calls arrive in reverse; the order served is still the enqueue order.
        let mut handles = HashMap::new();
        for id in ids.iter().rev() {
            handles.insert(*id, spawn_waiter(&q, id).await);
        }
        let positions: Vec<Option<usize>> = ids
            .iter()
            .map(|id| q.task(id).and_then(|t| t.queue_position))
            .collect();
        assert_eq!(positions, vec![Some(1), Some(2), Some(3), Some(4)]);

        let mut previous = "first";
        for id in ids {
            assert!(q.complete(previous));
            let handle = handles.remove(id).expect("spawned");
            assert_eq!(join(handle).await, Ok(()), "{id}");
            for later in handles.values() {
                assert!(!later.is_finished(), "only {id} may run now");
            }
            previous = id;
        }
    }

    #[tokio::test]
    async fn fail_and_complete_release_the_slot_to_a_waiter() {
        let q = queue(1, 1);
        start(&q, "t1", CHAT_A).await;
        assert!(q.enqueue("t2", CHAT_A, "youtube_dl"));
        let t2 = spawn_waiter(&q, "t2").await;
        assert_still_waiting(&t2).await;
        assert!(q.fail("t1", "network"));
        assert_eq!(join(t2).await, Ok(()));

        assert!(q.enqueue("t3", CHAT_B, "youtube_dl"));
        let t3 = spawn_waiter(&q, "t3").await;
        assert_still_waiting(&t3).await;
        assert!(q.complete("t2"));
        assert_eq!(join(t3).await, Ok(()));
        assert_eq!(state_of(&q, "t2"), Some(TaskState::Done));
        assert_eq!(q.task("t2").map(|t| t.percent), Some(100));
    }

    #[tokio::test]
    async fn dropped_acquire_does_not_hold_a_slot() {
        let q = queue(1, 1);
        start(&q, "running", CHAT_A).await;
        assert!(q.enqueue("impatient", CHAT_B, "youtube_dl"));
        let timed_out = tokio::time::timeout(Duration::from_millis(20), q.acquire("impatient")).await;
        assert!(timed_out.is_err(), "no slot should be free");
        assert!(!is_waiting(&q, "impatient"));
        assert_eq!(state_of(&q, "impatient"), Some(TaskState::Queued));

        assert!(q.complete("running"));
        assert_eq!(running_total(&q), 0, "nobody was waiting, so the slot stays free");
        q.acquire("impatient").await.expect("can wait again later");
        assert_eq!(state_of(&q, "impatient"), Some(TaskState::Running));
    }

    /// In a current-thread runtime a spawned waiter cannot run between the grant (inside
    /// `complete`) and `abort`, so this deterministically drops a granted-but-unseen acquire.
    #[tokio::test(flavor = "current_thread")]
    async fn granted_but_abandoned_acquire_returns_the_slot() {
        let q = queue(1, 1);
        start(&q, "running", CHAT_A).await;
        assert!(q.enqueue("abandoned", CHAT_B, "youtube_dl"));
        let handle = spawn_waiter(&q, "abandoned").await;

        assert!(q.complete("running"));
        assert_eq!(state_of(&q, "abandoned"), Some(TaskState::Running));
        handle.abort();
        let joined = handle.await;
        assert!(joined.is_err_and(|e| e.is_cancelled()));

        assert_eq!(state_of(&q, "abandoned"), Some(TaskState::Queued));
        assert_eq!(q.task("abandoned").and_then(|t| t.started_at), None);
        assert_eq!(running_total(&q), 0);
        start(&q, "other", CHAT_A).await;
    }

    #[tokio::test]
    async fn snapshot_reports_positions_and_chat_filter() {
        let q = queue(1, 1);
        start(&q, "r", CHAT_A).await;
        assert!(q.update_progress("r", 60, "1.2MB/s"));
        assert!(q.enqueue("b", CHAT_B, "playlist"));
        assert!(q.enqueue("a", CHAT_A, "youtube_dl"));
        let all: Vec<(String, TaskState, Option<usize>)> = q
            .snapshot()
            .into_iter()
            .map(|t| (t.task_id, t.state, t.queue_position))
            .collect();
        assert_eq!(
            all,
            vec![
                ("r".to_owned(), TaskState::Running, None),
                ("b".to_owned(), TaskState::Queued, Some(1)),
                ("a".to_owned(), TaskState::Queued, Some(2)),
            ]
        );
        let chat_b = q.snapshot_for_chat(CHAT_B);
        assert_eq!(chat_b.len(), 1);
        assert_eq!(
            (chat_b[0].kind.as_str(), chat_b[0].queue_position),
            ("playlist", Some(1))
        );
        assert_eq!(q.snapshot_for_chat(99), vec![]);

        assert_eq!(q.cancel("b"), CancelOutcome::WasQueued);
        assert_eq!(q.task("a").and_then(|t| t.queue_position), Some(1));
    }

    #[tokio::test]
    async fn finished_history_is_bounded() {
        let q = queue(4, 4);
        let total = FINISHED_HISTORY_LIMIT + 20;
        for i in 0..total {
            let id = format!("t{i}");
            start(&q, &id, CHAT_A).await;
            assert!(q.complete(&id));
        }
        assert!(q.enqueue("live", CHAT_B, "youtube_dl"));
        let snapshot = q.snapshot();
        assert_eq!(snapshot.len(), FINISHED_HISTORY_LIMIT + 1);
        assert_eq!(snapshot[0].task_id, "t20", "oldest finished tasks are dropped");
        assert_eq!(snapshot[FINISHED_HISTORY_LIMIT].task_id, "live");
        assert!(q.task("t19").is_none());
        assert!(
            q.enqueue("t0", CHAT_A, "youtube_dl"),
            "a dropped id is free again"
        );
        assert!(!q.enqueue("t20", CHAT_A, "youtube_dl"), "a kept id is not");
    }

    #[test]
    fn zero_limits_are_raised_to_one() {
        let q = TaskQueue::new(0, 0);
        assert_eq!((q.max_concurrent(), q.max_per_chat()), (1, 1));
    }
}
