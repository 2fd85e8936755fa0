//! The child-process runner: the only code in the worker that spawns a program (yt-dlp, and
//! through it ffmpeg).
//!
//! Why it is more than `Command::output()`:
//! - yt-dlp prints progress on stdout and warnings/errors on stderr, and either pipe can fill up
//!   and stall the child if it is not drained, so both are read concurrently, line by line, and
//!   handed to the caller as they arrive.
//! - Titles and paths come from the internet and are not always UTF-8, so lines are decoded
//!   lossily (a `\xff` must never panic, DESIGN.md §6), and a single `--dump-single-json` line can
//!   be many megabytes, so lines are capped at [`RunSpec::max_line_bytes`] instead of buffered
//!   without bound.
//! - yt-dlp starts ffmpeg, and killing yt-dlp alone would orphan it. The child therefore runs in
//!   its own process group and every kill (idle timeout, deadline, cancel, the future being
//!   dropped, worker shutdown via [`kill_all_groups`]) targets the whole group.
//!
//! Process-group ids are process ids, and a pid can be reused once its process has been reaped.
//! Every group signal here is therefore sent while the group leader is still unreaped (alive or a
//! zombie), which pins the id: the leader is only reaped after the group has left the registry
//! and received its last signal.
use std::collections::BTreeSet;
use std::ffi::OsString;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{killpg, Signal};
use nix::sys::wait::{waitid, Id, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, ChildStderr, ChildStdout, Command};
use tokio::signal::unix::{signal, SignalKind};
use tokio::time::{sleep, timeout, Instant};
use tokio_util::sync::CancellationToken;

/// Default for [`RunSpec::idle_timeout`]: `YT_TIMEOUT`'s default of 300 s.
pub(crate) const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// Default for [`RunSpec::deadline`]: `IPC_TIMEOUT`'s default of 600 s.
pub(crate) const DEFAULT_DEADLINE: Duration = Duration::from_secs(600);
/// Default for [`RunSpec::max_line_bytes`]: `--dump-single-json` of a long playlist is one line of
/// several MB, so the cap only guards against a runaway child, not against real output.
pub(crate) const DEFAULT_MAX_LINE_BYTES: usize = 64 * 1024 * 1024;
/// How long a group gets to exit after SIGTERM before it is SIGKILLed: enough for ffmpeg to stop
/// cleanly, short enough that a cancel feels immediate.
pub(crate) const KILL_GRACE: Duration = Duration::from_millis(500);
/// How long to wait for SIGKILLed members to actually die before reaping the leader anyway.
const KILL_SETTLE: Duration = Duration::from_secs(1);
/// How often the group is re-examined while waiting for it to die.
const GROUP_POLL_INTERVAL: Duration = Duration::from_millis(10);
/// Safety net while waiting for SIGCHLD: re-check the leader this often even without a signal.
const LEADER_RECHECK_INTERVAL: Duration = Duration::from_millis(250);
/// Read buffer per pipe; large enough that a multi-MB JSON line needs few reads.
const PIPE_BUFFER_BYTES: usize = 64 * 1024;

/// What to run and the limits to run it under.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// Program to execute (a path, or a bare name looked up on `PATH`).
    pub(crate) program: PathBuf,
    /// Arguments, passed as an argv vector: no shell is ever involved.
    pub(crate) args: Vec<OsString>,
    /// `YT_TIMEOUT`: no output on either stream for this long → the group is killed.
    pub idle_timeout: Duration,
    /// `IPC_TIMEOUT`: the whole run taking longer than this → the group is killed.
    pub deadline: Duration,
    /// Lines longer than this are truncated to this many bytes (the rest is discarded).
    pub max_line_bytes: usize,
    /// Variables set for the child (on top of the worker's environment).
    pub(crate) env: Vec<(OsString, OsString)>,
    /// Variables removed from the child's environment.
    pub(crate) env_remove: Vec<OsString>,
}

impl RunSpec {
    /// A spec with the default timeouts and line cap; adjust the public fields as needed.
    pub fn new<I, S>(program: impl Into<PathBuf>, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        RunSpec {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            deadline: DEFAULT_DEADLINE,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            env: Vec::new(),
            env_remove: Vec::new(),
        }
    }
}

/// One line of the child's output, lossily decoded, without its `\n` / `\r\n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputLine {
    Stdout(String),
    Stderr(String),
}

impl OutputLine {
    /// The line's text, whichever stream it came from.
    pub fn text(&self) -> &str {
        match self {
            OutputLine::Stdout(text) | OutputLine::Stderr(text) => text,
        }
    }
}

/// How the child ended when it ended on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitInfo {
    /// Exit code, when it exited normally.
    pub code: Option<i32>,
    /// Signal number, when a signal killed it.
    pub signal: Option<i32>,
    /// Exit code 0.
    pub success: bool,
}

impl From<ExitStatus> for ExitInfo {
    fn from(status: ExitStatus) -> Self {
        ExitInfo {
            code: status.code(),
            signal: status.signal(),
            success: status.success(),
        }
    }
}

/// Why [`run`] did not deliver an [`ExitInfo`]. In every case but `NotFound`/`Spawn` the child's
/// whole process group has been killed and the child reaped before this is returned.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Spawning failed with ENOENT: the program (or, for a script, its interpreter) is missing.
    #[error("program not found: {}", program.display())]
    NotFound { program: PathBuf },
    #[error("failed to start child process: {0}")]
    Spawn(#[source] io::Error),
    #[error("no output for {0:?}, child killed")]
    IdleTimeout(Duration),
    #[error("still running after {0:?}, child killed")]
    Deadline(Duration),
    #[error("cancelled, child killed")]
    Cancelled,
    #[error("I/O error reading child output: {0}")]
    Io(#[source] io::Error),
}

/// Process groups whose leader has been spawned and not yet reaped. Membership is what makes a
/// group safe to signal from anywhere (see the module doc).
static LIVE_GROUPS: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

/// The registry, even if a thread panicked while holding it: a set of ints cannot be left
/// half-updated in a way that matters.
fn live_groups() -> MutexGuard<'static, BTreeSet<i32>> {
    LIVE_GROUPS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// SIGKILLs every live child process group; returns how many groups were signalled. Used by the
/// worker's SIGTERM/SIGINT path so that no yt-dlp or ffmpeg outlives it. The runs themselves then
/// see their child die and return as usual.
pub fn kill_all_groups() -> usize {
    let groups = live_groups();
    for &pgid in groups.iter() {
        signal_group(Pid::from_raw(pgid), Signal::SIGKILL);
    }
    groups.len()
}

/// How many child process groups are currently alive (spawned and not yet reaped).
pub fn live_group_count() -> usize {
    live_groups().len()
}

/// Sends `sig` to every process of group `pgid`. A group that has already gone is not an error.
fn signal_group(pgid: Pid, sig: Signal) {
    match killpg(pgid, sig) {
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(errno) => tracing::warn!(pgid = pgid.as_raw(), ?sig, %errno, "killpg failed"),
    }
}

/// Membership of one group in [`LIVE_GROUPS`]; dropping it while registered SIGKILLs the group,
/// which is what cleans up when the `run` future is dropped mid-way (e.g. its task is aborted).
struct GroupGuard {
    pgid: Pid,
    registered: bool,
}

impl GroupGuard {
    fn register(pgid: Pid) -> Self {
        live_groups().insert(pgid.as_raw());
        super::orphans::watch(pgid.as_raw());
        GroupGuard {
            pgid,
            registered: true,
        }
    }

    fn signal(&self, sig: Signal) {
        signal_group(self.pgid, sig);
    }

    /// Leaves the registry; must happen before the leader is reaped (see the module doc).
    fn release(&mut self) {
        if self.registered {
            live_groups().remove(&self.pgid.as_raw());
            super::orphans::unwatch(self.pgid.as_raw());
            self.registered = false;
        }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if self.registered {
            tracing::debug!(
                pgid = self.pgid.as_raw(),
                "run dropped mid-way, killing child group"
            );
            self.signal(Signal::SIGKILL);
            self.release();
        }
    }
}

/// A spawned child and its group guard. Field order matters: fields drop in declaration order, so
/// the guard SIGKILLs the group before `Child`'s own drop (kill_on_drop) hands the leader to tokio
/// for reaping, i.e. while the group id is still pinned.
struct RunningChild {
    group: GroupGuard,
    child: Child,
}

impl RunningChild {
    fn spawn(spec: &RunSpec) -> Result<Self, RunError> {
        let mut command = Command::new(&spec.program);
        for name in &spec.env_remove {
            command.env_remove(name);
        }
        command
            .args(&spec.args)
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        // Dies with the worker even when the worker is SIGKILLed (see `orphans`).
        super::orphans::die_with_parent(&mut command, Signal::SIGKILL);
        let child = command.spawn().map_err(|err| spawn_error(&spec.program, err))?;
        let pid = child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .ok_or_else(|| RunError::Spawn(io::Error::other("spawned child has no pid")))?;
        // With process_group(0) the child leads a new group whose id is its pid.
        let group = GroupGuard::register(Pid::from_raw(pid));
        tracing::debug!(program = %spec.program.display(), pid, "spawned child");
        Ok(RunningChild { group, child })
    }

    fn pgid(&self) -> Pid {
        self.group.pgid
    }

    fn take_pipes(&mut self) -> Result<(ChildStdout, ChildStderr), RunError> {
        let missing = || RunError::Io(io::Error::other("child pipe was not captured"));
        let stdout = self.child.stdout.take().ok_or_else(missing)?;
        let stderr = self.child.stderr.take().ok_or_else(missing)?;
        Ok((stdout, stderr))
    }

    /// The child ended on its own and its pipes are closed: leave the registry and reap it.
    async fn reap(&mut self) -> Result<ExitInfo, RunError> {
        self.group.release();
        let status = self.child.wait().await.map_err(RunError::Io)?;
        Ok(ExitInfo::from(status))
    }

    /// SIGTERM to the group, SIGKILL after [`KILL_GRACE`] if any member is still running, then
    /// reap the leader. On return no member of the group runs any more.
    async fn terminate(&mut self, reason: &RunError) {
        let pgid = self.pgid();
        tracing::info!(pgid = pgid.as_raw(), %reason, "terminating child group");
        self.group.signal(Signal::SIGTERM);
        if !wait_until_group_stopped(pgid, KILL_GRACE).await {
            tracing::debug!(
                pgid = pgid.as_raw(),
                "group outlived SIGTERM grace, sending SIGKILL"
            );
            self.group.signal(Signal::SIGKILL);
            if !wait_until_group_stopped(pgid, KILL_SETTLE).await {
                tracing::warn!(pgid = pgid.as_raw(), "group members still running after SIGKILL");
            }
        }
        self.group.release();
        if let Err(err) = self.child.wait().await {
            tracing::warn!(pgid = pgid.as_raw(), %err, "reaping killed child failed");
        }
    }
}

fn spawn_error(program: &Path, err: io::Error) -> RunError {
    if err.kind() == io::ErrorKind::NotFound {
        RunError::NotFound {
            program: program.to_path_buf(),
        }
    } else {
        RunError::Spawn(err)
    }
}

/// Runs `spec.program` to completion, calling `on_line` for every line of its stdout and stderr
/// as it arrives, and returns how it exited.
///
/// Returns once both pipes are closed and the child has exited. Stragglers the child left in its
/// group (anything still there after it exited) are SIGKILLed. On idle timeout, deadline,
/// cancellation or a read error the whole group is terminated ([`KILL_GRACE`]) and reaped before
/// the error is returned; if this future is dropped, the group is SIGKILLed.
pub async fn run(
    spec: RunSpec,
    cancel: &CancellationToken,
    mut on_line: impl FnMut(OutputLine),
) -> Result<ExitInfo, RunError> {
    if cancel.is_cancelled() {
        return Err(RunError::Cancelled);
    }
    let mut running = RunningChild::spawn(&spec)?;
    let (stdout, stderr) = running.take_pipes()?;
    match supervise(&running, stdout, stderr, &spec, cancel, &mut on_line).await {
        Ok(()) => running.reap().await,
        Err(reason) => {
            running.terminate(&reason).await;
            Err(reason)
        }
    }
}

/// Pumps both pipes and watches the leader until all three are finished. `Err` is the reason the
/// group must be killed.
async fn supervise(
    running: &RunningChild,
    stdout: ChildStdout,
    stderr: ChildStderr,
    spec: &RunSpec,
    cancel: &CancellationToken,
    on_line: &mut impl FnMut(OutputLine),
) -> Result<(), RunError> {
    let deadline = sleep(spec.deadline);
    let idle = sleep(spec.idle_timeout);
    let leader_exit = wait_for_leader_exit(running.pgid());
    tokio::pin!(deadline, idle, leader_exit);
    let mut out = LineReader::new(stdout, spec.max_line_bytes);
    let mut err = LineReader::new(stderr, spec.max_line_bytes);
    let (mut out_open, mut err_open, mut leader_running) = (true, true, true);

    while out_open || err_open || leader_running {
        tokio::select! {
            () = cancel.cancelled() => return Err(RunError::Cancelled),
            () = &mut deadline => return Err(RunError::Deadline(spec.deadline)),
            () = &mut idle => return Err(RunError::IdleTimeout(spec.idle_timeout)),
            step = out.step(), if out_open => {
                out_open = deliver(step.map_err(RunError::Io)?, OutputLine::Stdout, on_line);
                idle.as_mut().reset(Instant::now() + spec.idle_timeout);
            }
            step = err.step(), if err_open => {
                err_open = deliver(step.map_err(RunError::Io)?, OutputLine::Stderr, on_line);
                idle.as_mut().reset(Instant::now() + spec.idle_timeout);
            }
            exited = &mut leader_exit, if leader_running => {
                exited.map_err(RunError::Io)?;
                leader_running = false;
                // The leader is a zombie now, so the group id is still pinned. Anything left in
                // the group has no one waiting for it; killing it also closes pipes it may hold.
                // Output already in the pipes stays readable.
                running.group.signal(Signal::SIGKILL);
            }
        }
    }
    Ok(())
}

/// Hands a completed line to the caller; returns whether the stream is still open.
fn deliver(step: ReadStep, wrap: fn(String) -> OutputLine, on_line: &mut impl FnMut(OutputLine)) -> bool {
    match step {
        ReadStep::Line(bytes) => {
            on_line(wrap(decode_lossy(bytes)));
            true
        }
        ReadStep::Partial => true,
        ReadStep::Eof => false,
    }
}

/// UTF-8 without a copy when it already is, U+FFFD for every invalid sequence otherwise.
fn decode_lossy(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes)
        .unwrap_or_else(|invalid| String::from_utf8_lossy(invalid.as_bytes()).into_owned())
}

/// Resolves once the group leader has exited, without reaping it, so the group id stays pinned
/// until the runner has sent its last signal. Woken by SIGCHLD, with a periodic re-check in case
/// a signal listener cannot be installed.
async fn wait_for_leader_exit(leader: Pid) -> io::Result<()> {
    // Listen before checking, so an exit between the check and the wait still wakes us.
    let mut sigchld = signal(SignalKind::child()).ok();
    loop {
        if leader_has_exited(leader)? {
            return Ok(());
        }
        match sigchld.as_mut() {
            Some(listener) => {
                let _ = timeout(LEADER_RECHECK_INTERVAL, listener.recv()).await;
            }
            None => sleep(GROUP_POLL_INTERVAL).await,
        }
    }
}

/// Whether `leader` (our child) has exited, asked with `WNOWAIT` so it stays unreaped.
fn leader_has_exited(leader: Pid) -> io::Result<bool> {
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
    loop {
        match waitid(Id::Pid(leader), flags) {
            Ok(WaitStatus::StillAlive) => return Ok(false),
            Ok(_) => return Ok(true),
            Err(Errno::EINTR) => {}
            // ECHILD: already reaped, so certainly exited. EINVAL: nix could not map the status
            // (e.g. killed by a real-time signal), which it only reports for a changed child.
            Err(Errno::ECHILD | Errno::EINVAL) => return Ok(true),
            Err(errno) => return Err(io::Error::from(errno)),
        }
    }
}

/// Polls until no member of group `pgid` is still running (exited members may linger as zombies
/// until their parent reaps them; they run no code) or `limit` has passed. Returns whether the
/// group stopped.
async fn wait_until_group_stopped(pgid: Pid, limit: Duration) -> bool {
    let give_up = Instant::now() + limit;
    loop {
        if group_has_stopped(pgid).await {
            return true;
        }
        if Instant::now() >= give_up {
            return false;
        }
        sleep(GROUP_POLL_INTERVAL).await;
    }
}

/// Whether group `pgid` has no running member. Read from `/proc` (on a blocking thread: a full
/// process-table scan); without `/proc`, falls back to whether the leader has exited.
async fn group_has_stopped(pgid: Pid) -> bool {
    let raw = pgid.as_raw();
    let scan = tokio::task::spawn_blocking(move || running_group_members(raw)).await;
    match scan {
        Ok(Some(running)) => running == 0,
        _ => leader_has_exited(pgid).unwrap_or(false),
    }
}

/// How many processes of group `pgid` are running (not zombies), or `None` if `/proc` cannot be
/// listed. Processes that vanish during the scan are skipped.
fn running_group_members(pgid: i32) -> Option<usize> {
    let entries = std::fs::read_dir("/proc").ok()?;
    let running = entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| std::fs::read(format!("/proc/{pid}/stat")).ok())
        .filter_map(|stat| parse_state_and_pgrp(&stat))
        .filter(|&(state, pgrp)| pgrp == pgid && !matches!(state, b'Z' | b'X' | b'x'))
        .count();
    Some(running)
}

/// State letter and process group from `/proc/<pid>/stat` (`pid (comm) state ppid pgrp ...`).
/// The command name may contain spaces, `)` and non-UTF-8 bytes, so parsing starts after the last
/// `)`.
fn parse_state_and_pgrp(stat: &[u8]) -> Option<(u8, i32)> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(stat.get(close + 1..)?).ok()?;
    let mut fields = rest.split_ascii_whitespace();
    let state = *fields.next()?.as_bytes().first()?;
    let _ppid = fields.next()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some((state, pgrp))
}

/// What one read from a pipe produced.
enum ReadStep {
    /// A complete line (terminator stripped), or the last unterminated bytes before EOF.
    Line(Vec<u8>),
    /// Bytes of a line that is not finished yet: output happened, nothing to deliver.
    Partial,
    /// The pipe is closed and everything has been delivered.
    Eof,
}

/// Splits a pipe into lines, capping each at `max_line_bytes`. [`LineReader::step`] is
/// cancel-safe (only `fill_buf` awaits; bytes are consumed synchronously after), which is what
/// lets it sit in a `select!` beside timers.
struct LineReader<R> {
    source: BufReader<R>,
    pending: PendingLine,
    closed: bool,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    fn new(pipe: R, max_line_bytes: usize) -> Self {
        LineReader {
            source: BufReader::with_capacity(PIPE_BUFFER_BYTES, pipe),
            pending: PendingLine::new(max_line_bytes),
            closed: false,
        }
    }

    async fn step(&mut self) -> io::Result<ReadStep> {
        if self.closed {
            return Ok(ReadStep::Eof);
        }
        let chunk = self.source.fill_buf().await?;
        if chunk.is_empty() {
            self.closed = true;
            return Ok(match self.pending.take_unterminated() {
                Some(last) => ReadStep::Line(last),
                None => ReadStep::Eof,
            });
        }
        let (used, step) = match chunk.iter().position(|&b| b == b'\n') {
            Some(newline) => {
                self.pending.push(&chunk[..newline]);
                (newline + 1, ReadStep::Line(self.pending.take_terminated()))
            }
            None => {
                self.pending.push(chunk);
                (chunk.len(), ReadStep::Partial)
            }
        };
        self.source.consume(used);
        Ok(step)
    }
}

/// The line being assembled, truncated at its cap.
struct PendingLine {
    bytes: Vec<u8>,
    max_bytes: usize,
    dropped_bytes: usize,
}

impl PendingLine {
    fn new(max_bytes: usize) -> Self {
        PendingLine {
            bytes: Vec::new(),
            max_bytes,
            dropped_bytes: 0,
        }
    }

    fn push(&mut self, data: &[u8]) {
        let room = self.max_bytes.saturating_sub(self.bytes.len());
        let kept = data.len().min(room);
        self.bytes.extend_from_slice(&data[..kept]);
        self.dropped_bytes += data.len() - kept;
    }

    /// The line that just met its `\n`, with a `\r` before that `\n` removed.
    fn take_terminated(&mut self) -> Vec<u8> {
        if self.dropped_bytes == 0 && self.bytes.last() == Some(&b'\r') {
            self.bytes.pop();
        }
        self.take()
    }

    /// What is left at EOF, if anything.
    fn take_unterminated(&mut self) -> Option<Vec<u8>> {
        if self.bytes.is_empty() && self.dropped_bytes == 0 {
            return None;
        }
        Some(self.take())
    }

    fn take(&mut self) -> Vec<u8> {
        if self.dropped_bytes > 0 {
            tracing::warn!(
                kept = self.bytes.len(),
                dropped = self.dropped_bytes,
                "child output line over the length cap, truncated"
            );
            self.dropped_bytes = 0;
        }
        std::mem::take(&mut self.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_parsing_survives_hostile_command_names() {
        let stat = b"4242 (evil) Z 7 (x\xff) R 1 99 99 0 -1";
        assert_eq!(parse_state_and_pgrp(stat), Some((b'R', 99)));
        assert_eq!(parse_state_and_pgrp(b"garbage"), None);
    }

    #[test]
    fn pending_line_truncates_and_strips_crlf() {
        let mut line = PendingLine::new(4);
        line.push(b"abcdef");
        assert_eq!(line.take_terminated(), b"abcd");
        line.push(b"ok\r");
        assert_eq!(line.take_terminated(), b"ok");
        assert_eq!(line.take_unterminated(), None);
    }
}
