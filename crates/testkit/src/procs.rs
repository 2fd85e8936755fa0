//! Linux `/proc` helpers for "no child process left behind" assertions.
//!
//! The worker runs yt-dlp, which runs ffmpeg; cancellation, timeouts and shutdown must kill the whole
//! tree. A test makes the child argv unique (a unique URL path or output directory), triggers the
//! kill, and then asserts with [`wait_until`] that no process mentions that marker any more:
//!
//! ```no_run
//! use hermes_testkit::procs::{processes_with_cmdline_containing, wait_until};
//! use std::time::Duration;
//! let marker = "/stall/cancel-test-7f3a.wav";
//! // ... start the download of a URL containing `marker`, then cancel it ...
//! assert!(wait_until(Duration::from_secs(5), || processes_with_cmdline_containing(marker).is_empty()));
//! ```
//!
//! Zombies are skipped everywhere: a zombie has already exited and holds no resources; its entry
//! only lingers until its parent reaps it, and the parent may be the very test that asks (a
//! `std::process::Child` not yet waited for). Processes that vanish while the table is read are
//! skipped too, which is the normal race of reading `/proc`.

use std::path::Path;
use std::time::{Duration, Instant};

/// How often [`wait_until`] re-checks its condition.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// One live (non-zombie) process as `/proc` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcInfo {
    pub pid: u32,
    pub ppid: u32,
    /// Process group id: the worker puts each yt-dlp in its own group, so its ffmpeg shares it.
    pub pgid: u32,
    /// The argv joined with single spaces (NULs in `/proc/<pid>/cmdline` replaced); empty for
    /// kernel threads.
    pub cmdline: String,
}

/// Every live process whose command line contains `marker`, except the calling process (whose own
/// argv may contain the marker, e.g. as a test-name filter).
pub fn processes_with_cmdline_containing(marker: &str) -> Vec<ProcInfo> {
    let me = std::process::id();
    all_processes()
        .into_iter()
        .filter(|p| p.pid != me && p.cmdline.contains(marker))
        .collect()
}

/// Every live process below `pid` (children, grandchildren, ...), not including `pid` itself,
/// in breadth-first order.
pub fn descendants(pid: u32) -> Vec<ProcInfo> {
    let table = all_processes();
    let mut found: Vec<ProcInfo> = Vec::new();
    let mut frontier = vec![pid];
    while let Some(parent) = frontier.pop() {
        for child in table.iter().filter(|p| p.ppid == parent && p.pid != pid) {
            if !found.iter().any(|f| f.pid == child.pid) {
                frontier.push(child.pid);
                found.push(child.clone());
            }
        }
    }
    found
}

/// Every live process in process group `pgid` (the group leader included while it is alive).
pub fn process_group_members(pgid: u32) -> Vec<ProcInfo> {
    all_processes().into_iter().filter(|p| p.pgid == pgid).collect()
}

/// Polls `condition` every 50 ms until it returns true (→ `true`) or `timeout` has passed
/// (→ `false`). The condition is checked once more at the deadline, so a zero timeout still checks
/// it once.
pub fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        std::thread::sleep(POLL_INTERVAL.min(deadline - now));
    }
}

/// A snapshot of every live process. Entries that cannot be read (the process exited meanwhile)
/// are skipped.
fn all_processes() -> Vec<ProcInfo> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(read_process)
        .collect()
}

/// Reads one process, or `None` if it is gone or a zombie.
fn read_process(pid: u32) -> Option<ProcInfo> {
    let dir = Path::new("/proc").join(pid.to_string());
    let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
    let fields = parse_stat(&stat)?;
    if fields.state == 'Z' || fields.state == 'X' {
        return None;
    }
    let raw_cmdline = std::fs::read(dir.join("cmdline")).ok()?;
    Some(ProcInfo {
        pid,
        ppid: fields.ppid,
        pgid: fields.pgid,
        cmdline: join_cmdline(&raw_cmdline),
    })
}

struct StatFields {
    state: char,
    ppid: u32,
    pgid: u32,
}

/// Parses `pid (comm) state ppid pgrp ...`. The command name may itself contain spaces and
/// parentheses, so the fields are read after the *last* `)`.
fn parse_stat(stat: &str) -> Option<StatFields> {
    let after_comm = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_comm.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    let pgid = fields.next()?.parse().ok()?;
    Some(StatFields { state, ppid, pgid })
}

/// `/proc/<pid>/cmdline` is the argv separated (and terminated) by NULs.
fn join_cmdline(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw)
        .split('\0')
        .filter(|arg| !arg.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_parentheses_and_spaces_in_comm() {
        let stat = "4242 (evil) name (x)) S 17 4242 4242 0 -1 4194560 0 0";
        let fields = parse_stat(stat).expect("parses");
        assert_eq!(fields.state, 'S');
        assert_eq!(fields.ppid, 17);
        assert_eq!(fields.pgid, 4242);
    }

    #[test]
    fn joins_nul_separated_argv() {
        assert_eq!(
            join_cmdline(b"yt-dlp\0--newline\0--\0http://x/\0"),
            "yt-dlp --newline -- http://x/"
        );
        assert_eq!(join_cmdline(b""), "");
    }
}
