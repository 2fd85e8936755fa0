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
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// Requests read but not yet answered, at most. When the host stops reading stdout, answers
/// wait in their tasks; without this bound the loop would keep reading stdin and spawning tasks,
/// and memory would grow with every line (~6 KiB each). At the bound the loop stops reading, so
/// the stdin pipe pushes back on the host instead; nothing is lost once it reads again.
pub const MAX_UNANSWERED: usize = 1024;

/// Extra time past `IPC_TIMEOUT` before dispatch gives up on an action that did not stop itself.
const DEADLINE_GRACE: Duration = Duration::from_secs(5);

/// What the loop saw, for the shutdown log.
#[derive(Debug, Default)]
pub struct LoopStats {
    pub requests: AtomicU64,
    pub rejected: AtomicU64,
}

/// Reads requests until EOF (or termination) and runs them; returns once every task it started
/// has sent its final event.
pub async fn serve<R: AsyncBufRead + Unpin>(ctx: Arc<Context>, mut input: R, stats: &LoopStats) {
    let tracker = TaskTracker::new();
    let unanswered = Arc::new(Semaphore::new(MAX_UNANSWERED));
    let mut line = Vec::with_capacity(4096);
    loop {
        // Taken before reading, so a line is only read when it can be answered.
        let answer_slot = tokio::select! {
            permit = unanswered.clone().acquire_owned() => permit,
            _ = ctx.shutdown.terminated() => break,
        };
        let Ok(answer_slot) = answer_slot else { break };
        let read = tokio::select! {
            read = read_line_capped(&mut input, &mut line, MAX_LINE_BYTES) => read,
            _ = ctx.shutdown.terminated() => break,
        };
        match read {
            Ok(LineRead::Eof) => break,
            Ok(LineRead::TooLong) => {
                stats.rejected.fetch_add(1, Ordering::Relaxed);
                let message = format!("request line longer than {MAX_LINE_BYTES} bytes");
                ctx.events.send(RawResponse::error(UNKNOWN_TASK_ID, ErrorCode::InvalidRequest, message)).await;
            }
            Ok(LineRead::Line) => handle_line(&ctx, &line, &tracker, stats, answer_slot).await,
            Err(error) => {
                tracing::error!(%error, "cannot read stdin; no further requests");
                break;
            }
        }
    }
    tracker.close();
    tracker.wait().await;
}

/// `answer_slot` is held until the line's answer is queued (see [`MAX_UNANSWERED`]).
async fn handle_line(ctx: &Arc<Context>, line: &[u8], tracker: &TaskTracker, stats: &LoopStats, answer_slot: OwnedSemaphorePermit) {
    let Ok(text) = std::str::from_utf8(line) else {
        stats.rejected.fetch_add(1, Ordering::Relaxed);
        let error = RawResponse::error(UNKNOWN_TASK_ID, ErrorCode::InvalidJson, "request is not valid UTF-8");
        return ctx.events.send(error).await;
    };
    if text.trim().is_empty() {
        return;
    }
    stats.requests.fetch_add(1, Ordering::Relaxed);
    match parse(text) {
        Ok((request_id, command)) => start(ctx, request_id, command, tracker, answer_slot).await,
        Err((task_id, error)) => {
            stats.rejected.fetch_add(1, Ordering::Relaxed);
            let task_id = task_id.unwrap_or_else(|| UNKNOWN_TASK_ID.to_owned());
            ctx.events.send(RawResponse::error(task_id, error.code(), error.message())).await;
        }
    }
}

fn parse(text: &str) -> Result<(String, Command), (Option<String>, WorkerError)> {
    let request = Request::from_json_line(text).map_err(|e| (e.task_id.clone(), WorkerError::from(e)))?;
    let task_id = request.task_id.clone();
    let command = Command::from_request(request).map_err(|e| (Some(task_id.clone()), e))?;
    Ok((task_id, command))
}

async fn start(ctx: &Arc<Context>, task_id: String, command: Command, tracker: &TaskTracker, answer_slot: OwnedSemaphorePermit) {
    let Some(cancel) = ctx.tasks.register(&task_id, ctx.shutdown.token()) else {
        let message = format!("task {task_id} is already running");
        return ctx.events.send(RawResponse::error(task_id, ErrorCode::InvalidRequest, message)).await;
    };
    let task = Task::new(task_id, cancel, ctx.events.clone());
    tracker.spawn(run_to_final_event(ctx.clone(), task, command, answer_slot));
}

/// Runs one command and sends its single final event, whatever happens: an error, a timeout,
/// cancellation while waiting for a slot, or even a panic inside the action.
async fn run_to_final_event(ctx: Arc<Context>, task: Task, command: Command, answer_slot: OwnedSemaphorePermit) {
    let task = Arc::new(task);
    let deadline = ctx.config.ipc_timeout() + DEADLINE_GRACE;
    let action = tokio::spawn({
        let (ctx, task) = (ctx.clone(), task.clone());
        async move { tokio::time::timeout(deadline, run_in_slot(&ctx, &task, command)).await }
    });
    let result = match action.await {
        Ok(Ok(result)) => result,
        Ok(Err(_elapsed)) => Err(WorkerError::Timeout(format!("task exceeded IPC_TIMEOUT ({}s)", ctx.config.ipc_timeout_secs))),
        Err(join_error) => {
            tracing::error!(task_id = %task.id, %join_error, "action panicked");
            Err(WorkerError::Internal("internal error while running the action".to_owned()))
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
        _ = task.cancel.cancelled() => return Err(cancelled(ctx)),
    };
    command.apply(ctx, task).await
}

/// The error for a task cancelled by `cancel` or by worker termination.
pub fn cancelled(ctx: &Context) -> WorkerError {
    if ctx.shutdown.is_terminating() {
        WorkerError::Cancelled("the worker is shutting down".to_owned())
    } else {
        WorkerError::Cancelled("by request".to_owned())
    }
}

enum LineRead {
    Line,
    TooLong,
    Eof,
}

/// Reads one `\n`-terminated line into `line` (without the terminator or a trailing `\r`),
/// refusing to buffer more than `max` bytes: the rest of an over-long line is skipped.
async fn read_line_capped<R: AsyncBufRead + Unpin>(input: &mut R, line: &mut Vec<u8>, max: usize) -> std::io::Result<LineRead> {
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
            return Ok(if too_long { LineRead::TooLong } else { LineRead::Line });
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
        assert_eq!(lines(b"short\n0123456789abcdef\nok\n", 10).await, ["short", "<too long>", "ok"]);
        assert_eq!(lines(b"0123456789abcdef", 10).await, ["<too long>"]);
    }
}
