//! No yt-dlp or ffmpeg outlives a worker that dies without running any code of its own
//! (SIGKILL, the OOM killer, a host that crashed and took it down): DESIGN.md §3 "Shutdown".
//!
//! Two mechanisms, because one is not enough:
//! - yt-dlp is started with a parent-death signal (`PR_SET_PDEATHSIG`, SIGKILL): the kernel kills
//!   it the moment the worker dies. The setting belongs to one process and is not inherited by
//!   the processes yt-dlp starts, so it does not reach ffmpeg.
//! - ffmpeg does not die with yt-dlp either. Verified here (ffmpeg 5+, yt-dlp 2026.10.26): yt-dlp
//!   runs ffmpeg with stdin closed and stdout/stderr piped to itself; when yt-dlp is SIGKILLed,
//!   ffmpeg ignores the SIGPIPE and EOF and keeps converting until its input ends. So the worker
//!   also starts one small **guard** process (this same binary, argv [`GUARD_ARG`]) that holds the
//!   read end of a pipe and is told the id of every child process group as it starts and ends.
//!   When the worker dies by any means, the kernel closes the write end, the guard reads EOF,
//!   SIGKILLs every group still listed (ffmpeg is in yt-dlp's group), and exits. A group id stays
//!   unusable for a new group while any member (ffmpeg) is still alive, so the guard cannot hit
//!   an unrelated group that way.
//!
//! Without a guard (e.g. the runner used as a library in tests) [`watch`]/[`unwatch`] do nothing.
use std::collections::BTreeSet;
use std::io::{BufRead, Write};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::{Mutex, PoisonError};

use nix::sys::signal::{killpg, signal, SigHandler, Signal};
use nix::unistd::Pid;

/// argv\[1\] that makes `hermes-worker` run as the guard instead of the worker.
pub const GUARD_ARG: &str = "--hermes-group-guard";

/// The write end of the guard's stdin, once started.
static GUARD: Mutex<Option<ChildStdin>> = Mutex::new(None);

/// Starts the guard (the current executable with [`GUARD_ARG`]). A worker that cannot start it
/// still works; it only loses the clean-up after its own sudden death.
pub fn start_guard() -> std::io::Result<()> {
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe)
        .arg(GUARD_ARG)
        // It needs nothing from the worker's environment (and should not look like the worker
        // to anything that finds processes by their environment).
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()?;
    let stdin = child
        .stdin
        .take()
        .ok_or_else(|| std::io::Error::other("guard has no stdin"))?;
    // The guard exits when our end closes; it stays our (unreaped) child until then.
    std::mem::forget(child);
    *GUARD.lock().unwrap_or_else(PoisonError::into_inner) = Some(stdin);
    Ok(())
}

/// Tells the guard about a new child group.
pub(crate) fn watch(pgid: i32) {
    tell(&format!("+{pgid}\n"));
}

/// Tells the guard a group is gone (called before its leader is reaped).
pub(crate) fn unwatch(pgid: i32) {
    tell(&format!("-{pgid}\n"));
}

fn tell(line: &str) {
    let mut guard = GUARD.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(stdin) = guard.as_mut() {
        if let Err(error) = stdin.write_all(line.as_bytes()) {
            tracing::warn!(%error, "the orphan guard is gone; children may outlive a killed worker");
            *guard = None;
        }
    }
}

/// The guard's whole life: collect group ids until stdin ends, then SIGKILL those left.
/// SIGINT/SIGTERM are ignored: a Ctrl-C or a `kill` aimed at the worker must not remove the
/// guard before the worker is gone; the guard ends when the worker does.
pub fn run_guard() -> i32 {
    // SAFETY: setting a signal to SIG_IGN installs no handler code.
    unsafe {
        let _ = signal(Signal::SIGINT, SigHandler::SigIgn);
        let _ = signal(Signal::SIGTERM, SigHandler::SigIgn);
    }
    let mut groups = BTreeSet::new();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let (sign, id) = line.split_at(line.len().min(1));
        match (sign, id.parse::<i32>()) {
            ("+", Ok(id)) if id > 1 => {
                groups.insert(id);
            }
            ("-", Ok(id)) => {
                groups.remove(&id);
            }
            _ => {}
        }
    }
    for &pgid in &groups {
        let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
    }
    if !groups.is_empty() {
        eprintln!(
            "hermes-worker guard: the worker died; killed {} orphaned child process group(s)",
            groups.len()
        );
    }
    0
}

/// Makes `command`'s child receive `signal` when the thread that spawns it dies (the worker's
/// runtime threads live as long as the worker), and refuses to start it when the worker already
/// died between fork and exec (the parent-death signal would then never come).
pub(crate) fn die_with_parent(command: &mut tokio::process::Command, signal: Signal) {
    let parent = nix::unistd::getpid();
    // SAFETY: the closure runs between fork and exec and only makes two system calls (prctl,
    // getppid) and builds an io::Error from an errno, which does not allocate.
    unsafe {
        command.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(Some(signal)).map_err(std::io::Error::from)?;
            if nix::unistd::getppid() != parent {
                return Err(std::io::Error::from(nix::errno::Errno::ESRCH));
            }
            Ok(())
        });
    }
}
