//! The request loop: read a line, parse it into a [`Command`], run it as its own task, and make
//! sure exactly one final event answers it.
use crate::actions::Command;
use crate::context::Context;
use crate::error::WorkerError;
use crate::tasks::Task;
use hermes_protocol::{ErrorCode, Event, RawResponse, Request, UNKNOWN_TASK_ID};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufRead, AsyncBufReadExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::task::TaskTracker;

/// Lines longer than this are refused (and skipped without being buffered whole).
pub(crate) const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// Long requests (those that hold a `WORKER_CONCURRENCY` slot: downloads, searches, look-ups)
/// read but not yet answered, at most. Past it a long request is answered at once with `error`
/// `RATE_LIMITED` ("worker busy") instead of being parked, so the backlog (~6 KiB a request)
/// cannot grow without bound and the read loop never stops for it (see [`serve`]).
pub const MAX_UNANSWERED: usize = 1024;

/// Control requests (`health_check`, `cache_*`, `cancel`) in flight, at most. They finish in
/// moments and free their place as soon as their answer is queued for stdout.
pub(crate) const MAX_CONTROL_IN_FLIGHT: usize = 1024;

/// Extra time past `IPC_TIMEOUT` before dispatch gives up on an action that did not stop itself.
const DEADLINE_GRACE: Duration = Duration::from_secs(5);

/// What the loop saw, for the shutdown log.
#[derive(Debug, Default)]
pub struct LoopStats {
    pub(crate) requests: AtomicU64,
    pub(crate) rejected: AtomicU64,
}

/// Reads requests until EOF (or termination) and runs them; returns once every task it started
/// has sent its final event.
///
/// Memory stays bounded whatever the host does, and control requests are never stuck behind a
/// backlog of long ones:
/// - the loop keeps reading however many long requests wait for a slot: past
///   [`MAX_UNANSWERED`] they are refused at once (`RATE_LIMITED`, "worker busy"), so a `cancel`
///   or `health_check` sent after 10 000 downloads is still read and answered;
/// - the only thing the loop ever waits for (besides input) is room for an answer: the stdout
///   queue (bounded, see `events.rs`) and [`MAX_CONTROL_IN_FLIGHT`]. Both fill up only when the
///   host stops reading stdout, and then no answer could reach it anyway: the loop stops reading
///   stdin, the pipe pushes back on the host, and nothing is lost once it reads again. A host
///   that stops reading stdout while it keeps sending `health_check`s therefore costs at most
///   the two bounded queues, not one answer per line.
pub async fn serve<R: AsyncBufRead + Unpin>(ctx: Arc<Context>, mut input: R, stats: &LoopStats) {
    let tracker = TaskTracker::new();
    let limits = Limits {
        long: Arc::new(Semaphore::new(MAX_UNANSWERED)),
        control: Arc::new(Semaphore::new(MAX_CONTROL_IN_FLIGHT)),
    };
    let mut line = Vec::with_capacity(4096);
    loop {
        let read = tokio::select! {
            read = read_line_capped(&mut input, &mut line, MAX_LINE_BYTES) => read,
            _ = ctx.shutdown.terminated() => break,
        };
        match read {
            Ok(LineRead::Eof) => break,
            Ok(LineRead::TooLong) => {
                stats.rejected.fetch_add(1, Ordering::Relaxed);
                let message = format!("request line longer than {MAX_LINE_BYTES} bytes");
                ctx.events
                    .send(RawResponse::error(
                        UNKNOWN_TASK_ID,
                        ErrorCode::InvalidRequest,
                        message,
                    ))
                    .await;
            }
            Ok(LineRead::Line) => {
                if !handle_line(&ctx, &line, &tracker, stats, &limits).await {
                    break;
                }
            }
            Err(error) => {
                tracing::error!(%error, "cannot read stdin; no further requests");
                break;
            }
        }
    }
    tracker.close();
    tracker.wait().await;
}

/// The two bounds of [`serve`].
struct Limits {
    long: Arc<Semaphore>,
    control: Arc<Semaphore>,
}

/// Answers or starts one line; false when the worker is terminating.
async fn handle_line(
    ctx: &Arc<Context>,
    line: &[u8],
    tracker: &TaskTracker,
    stats: &LoopStats,
    limits: &Limits,
) -> bool {
    let Ok(text) = std::str::from_utf8(line) else {
        stats.rejected.fetch_add(1, Ordering::Relaxed);
        let error = RawResponse::error(
            UNKNOWN_TASK_ID,
            ErrorCode::InvalidJson,
            "request is not valid UTF-8",
        );
        ctx.events.send(error).await;
        return true;
    };
    if text.trim().is_empty() {
        return true;
    }
    stats.requests.fetch_add(1, Ordering::Relaxed);
    let (request_id, command) = match parse(text) {
        Ok(parsed) => parsed,
        Err((task_id, error)) => {
            stats.rejected.fetch_add(1, Ordering::Relaxed);
            let task_id = task_id.unwrap_or_else(|| UNKNOWN_TASK_ID.to_owned());
            ctx.events
                .send(RawResponse::error(task_id, error.code(), error.message()))
                .await;
            return true;
        }
    };
    let answer_slot = if command.holds_slot() {
        match limits.long.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                stats.rejected.fetch_add(1, Ordering::Relaxed);
                let busy = WorkerError::RateLimited(format!(
                    "worker busy: {MAX_UNANSWERED} requests are already waiting; try again later"
                ));
                ctx.events
                    .send(RawResponse::error(request_id, busy.code(), busy.message()))
                    .await;
                return true;
            }
        }
    } else {
        let permit = tokio::select! {
            permit = limits.control.clone().acquire_owned() => permit,
            _ = ctx.shutdown.terminated() => return false,
        };
        let Ok(permit) = permit else { return false };
        permit
    };
    start(ctx, request_id, command, tracker, answer_slot).await;
    true
}

fn parse(text: &str) -> Result<(String, Command), (Option<String>, WorkerError)> {
    let request = Request::from_json_line(text).map_err(|e| (e.task_id.clone(), WorkerError::from(e)))?;
    let task_id = request.task_id.clone();
    let command = Command::from_request(request).map_err(|e| (Some(task_id.clone()), e))?;
    Ok((task_id, command))
}

async fn start(
    ctx: &Arc<Context>,
    task_id: String,
    command: Command,
    tracker: &TaskTracker,
    answer_slot: OwnedSemaphorePermit,
) {
    let Some(cancel) = ctx.tasks.register(&task_id, ctx.shutdown.token()) else {
        let message = format!("task {task_id} is already running");
        return ctx
            .events
            .send(RawResponse::error(task_id, ErrorCode::InvalidRequest, message))
            .await;
    };
    let task = Task::new(task_id, cancel, ctx.events.clone());
    tracker.spawn(run_to_final_event(ctx.clone(), task, command, answer_slot));
}

/// Runs one command and sends its single final event, whatever happens: an error, a timeout,
/// cancellation while waiting for a slot, or even a panic inside the action.
async fn run_to_final_event(
    ctx: Arc<Context>,
    task: Task,
    command: Command,
    answer_slot: OwnedSemaphorePermit,
) {
    let task = Arc::new(task);
    let deadline = ctx.config.ipc_timeout() + DEADLINE_GRACE;
    let action = tokio::spawn({
        let (ctx, task) = (ctx.clone(), task.clone());
        async move { tokio::time::timeout(deadline, run_in_slot(&ctx, &task, command)).await }
    });
    let result = match action.await {
        Ok(Ok(result)) => result,
        Ok(Err(_elapsed)) => Err(WorkerError::Timeout(format!(
            "task exceeded IPC_TIMEOUT ({}s)",
            ctx.config.ipc_timeout_secs
        ))),
        Err(join_error) => {
            tracing::error!(task_id = %task.id, %join_error, "action panicked");
            Err(WorkerError::Internal(
                "internal error while running the action".to_owned(),
            ))
        }
    };
    let response = result.unwrap_or_else(|error| {
        tracing::info!(task_id = %task.id, code = %error.code(), %error, "task failed");
        RawResponse::new(task.id.clone(), Event::Error, &error.data())
    });
    // Forget the id before answering, so a host that re-uses it right after the answer is served.
    ctx.tasks.remove(&task.id);
    ctx.events.send(response).await;
    drop(answer_slot);
}

async fn run_in_slot(ctx: &Context, task: &Task, command: Command) -> Result<RawResponse, WorkerError> {
    if !command.holds_slot() {
        return command.apply(ctx, task).await;
    }
    let _permit = tokio::select! {
        permit = ctx.slots.acquire() => permit.map_err(|_| WorkerError::Internal("worker is shutting down".into()))?,
        _ = task.cancel.cancelled() => return Err(WorkerError::cancelled(&ctx.shutdown)),
    };
    command.apply(ctx, task).await
}

enum LineRead {
    Line,
    TooLong,
    Eof,
}

/// Reads one `\n`-terminated line into `line` (without the terminator or a trailing `\r`),
/// refusing to buffer more than `max` bytes: the rest of an over-long line is skipped.
async fn read_line_capped<R: AsyncBufRead + Unpin>(
    input: &mut R,
    line: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<LineRead> {
    line.clear();
    let mut too_long = false;
    loop {
        let available = input.fill_buf().await?;
        if available.is_empty() {
            return Ok(match (too_long, line.is_empty()) {
                (true, _) => LineRead::TooLong,
                (false, true) => LineRead::Eof,
                (false, false) => LineRead::Line,
            });
        }
        let (chunk, found_newline) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (&available[..i], true),
            None => (available, false),
        };
        if !too_long && line.len() + chunk.len() <= max {
            line.extend_from_slice(chunk);
        } else {
            too_long = true;
            line.clear();
        }
        let consumed = chunk.len() + usize::from(found_newline);
        input.consume(consumed);
        if found_newline {
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return Ok(if too_long {
                LineRead::TooLong
            } else {
                LineRead::Line
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn lines(input: &[u8], max: usize) -> Vec<String> {
        let mut reader = tokio::io::BufReader::with_capacity(7, input);
        let mut line = Vec::new();
        let mut out = Vec::new();
        loop {
            match read_line_capped(&mut reader, &mut line, max).await.unwrap() {
                LineRead::Eof => return out,
                LineRead::TooLong => out.push("<too long>".into()),
                LineRead::Line => out.push(String::from_utf8_lossy(&line).into_owned()),
            }
        }
    }

    #[tokio::test]
    async fn splits_lines_strips_crlf_and_caps_length() {
        assert_eq!(lines(b"a\r\nbb\n\nlast", 100).await, ["a", "bb", "", "last"]);
        assert_eq!(
            lines(b"short\n0123456789abcdef\nok\n", 10).await,
            ["short", "<too long>", "ok"]
        );
        assert_eq!(lines(b"0123456789abcdef", 10).await, ["<too long>"]);
    }
}
