//! The child-process runner against real processes: python3 and coreutils stand in for yt-dlp
//! (spawned by argv, never through a shell).
//!
//! All tests share one process, and `kill_all_groups` / `live_group_count` see every test's
//! children, so tests that use them take [`EXCLUSIVE`] for writing; all others take it for reading.
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hermes_worker::ytdlp::runner::{
    kill_all_groups, live_group_count, run, ExitInfo, OutputLine, RunError, RunSpec,
};
use tokio::sync::RwLock;
use tokio_util::sync::CancellationToken;

static EXCLUSIVE: RwLock<()> = RwLock::const_new(());

fn python(script: &str) -> RunSpec {
    RunSpec::new("python3", ["-c", script])
}

fn with_timeouts(mut spec: RunSpec, idle: Duration, deadline: Duration) -> RunSpec {
    spec.idle_timeout = idle;
    spec.deadline = deadline;
    spec
}

/// Runs to completion and returns the result with every line received.
async fn run_collect(spec: RunSpec) -> (Result<ExitInfo, RunError>, Vec<OutputLine>) {
    let mut lines = Vec::new();
    let result = run(spec, &CancellationToken::new(), |line| lines.push(line)).await;
    (result, lines)
}

/// Whether `pid` is running: present in /proc and not a zombie (a zombie has exited; it only
/// waits for its parent, possibly a non-reaping init, to collect it).
fn is_running(pid: u32) -> bool {
    let Ok(stat) = std::fs::read(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let Some(close) = stat.iter().rposition(|&b| b == b')') else {
        return false;
    };
    !matches!(stat.get(close + 2), Some(b'Z' | b'X'))
}

fn eventually_not_running(pid: u32, within: Duration) -> bool {
    let give_up = Instant::now() + within;
    while is_running(pid) {
        if Instant::now() >= give_up {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

fn pids_in(line: &OutputLine) -> Vec<u32> {
    line.text()
        .split_whitespace()
        .filter_map(|word| word.parse().ok())
        .collect()
}

#[tokio::test]
async fn lines_from_both_streams_arrive_in_order_per_stream() {
    let _shared = EXCLUSIVE.read().await;
    let script = "import sys\n\
        print('out one', flush=True)\n\
        print('err one', file=sys.stderr, flush=True)\n\
        print('out two', flush=True)\n\
        sys.stderr.write('err two\\r\\n')";
    let (result, lines) = run_collect(python(script)).await;
    let exit = result.expect("run succeeds");
    assert_eq!(
        exit,
        ExitInfo {
            code: Some(0),
            signal: None,
            success: true
        }
    );
    let stdout: Vec<_> = lines
        .iter()
        .filter(|l| matches!(l, OutputLine::Stdout(_)))
        .collect();
    let stderr: Vec<_> = lines
        .iter()
        .filter(|l| matches!(l, OutputLine::Stderr(_)))
        .collect();
    assert_eq!(
        stdout,
        [
            &OutputLine::Stdout("out one".into()),
            &OutputLine::Stdout("out two".into())
        ]
    );
    assert_eq!(
        stderr,
        [
            &OutputLine::Stderr("err one".into()),
            &OutputLine::Stderr("err two".into())
        ]
    );
}

#[tokio::test]
async fn invalid_utf8_arrives_lossily() {
    let _shared = EXCLUSIVE.read().await;
    let script = "import sys; sys.stdout.buffer.write(b'\\xff\\xfe title\\n'); \
                  sys.stderr.buffer.write(b'bad \\xc3\\n')";
    let (result, lines) = run_collect(python(script)).await;
    assert!(result.expect("run succeeds").success);
    assert!(
        lines.contains(&OutputLine::Stdout("\u{FFFD}\u{FFFD} title".into())),
        "{lines:?}"
    );
    assert!(
        lines.contains(&OutputLine::Stderr("bad \u{FFFD}".into())),
        "{lines:?}"
    );
}

#[tokio::test]
async fn final_line_without_newline_is_delivered() {
    let _shared = EXCLUSIVE.read().await;
    let (result, lines) = run_collect(RunSpec::new("printf", ["first\\nlast"])).await;
    assert!(result.expect("run succeeds").success);
    assert_eq!(
        lines,
        [
            OutputLine::Stdout("first".into()),
            OutputLine::Stdout("last".into())
        ]
    );
}

#[tokio::test]
async fn five_megabyte_line_arrives_whole() {
    let _shared = EXCLUSIVE.read().await;
    let script = "import sys; sys.stdout.write('x' * 5_000_000 + '\\n'); print('after')";
    let (result, lines) = run_collect(python(script)).await;
    assert!(result.expect("run succeeds").success);
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0].text().len(), 5_000_000);
    assert!(lines[0].text().bytes().all(|b| b == b'x'));
    assert_eq!(lines[1], OutputLine::Stdout("after".into()));
}

#[tokio::test]
async fn overlong_line_is_truncated_and_the_next_line_is_intact() {
    let _shared = EXCLUSIVE.read().await;
    let mut spec = python("print('a' * 100_000); print('next')");
    spec.max_line_bytes = 10;
    let (result, lines) = run_collect(spec).await;
    assert!(result.expect("run succeeds").success);
    assert_eq!(
        lines,
        [
            OutputLine::Stdout("a".repeat(10)),
            OutputLine::Stdout("next".into())
        ]
    );
}

#[tokio::test]
async fn idle_timeout_kills_a_silent_child() {
    let _shared = EXCLUSIVE.read().await;
    let spec = with_timeouts(
        RunSpec::new("sleep", ["30"]),
        Duration::from_secs(1),
        Duration::from_secs(20),
    );
    let started = Instant::now();
    let (result, _) = run_collect(spec).await;
    let elapsed = started.elapsed();
    assert!(
        matches!(result, Err(RunError::IdleTimeout(d)) if d == Duration::from_secs(1)),
        "{result:?}"
    );
    assert!(
        elapsed >= Duration::from_secs(1) && elapsed < Duration::from_millis(1800),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn steady_output_is_not_idle_but_the_deadline_still_applies() {
    let _shared = EXCLUSIVE.read().await;
    let script = "import time\nwhile True:\n    print('tick', flush=True)\n    time.sleep(0.2)";
    let spec = with_timeouts(
        python(script),
        Duration::from_secs(1),
        Duration::from_millis(1500),
    );
    let started = Instant::now();
    let (result, lines) = run_collect(spec).await;
    let elapsed = started.elapsed();
    assert!(
        matches!(result, Err(RunError::Deadline(d)) if d == Duration::from_millis(1500)),
        "{result:?}"
    );
    assert!(
        // The upper bound only proves the deadline fired (not the 10 s the script would run).
        elapsed >= Duration::from_millis(1500) && elapsed < Duration::from_secs(8),
        "{elapsed:?}"
    );
    assert!(
        // Ending on the deadline, not the 1 s idle timeout, is the proof; a loaded machine
        // starts Python slowly, so only a few ticks are required.
        lines.len() >= 2,
        "ticks kept the idle timer alive: {lines:?}"
    );
}

#[tokio::test]
async fn cancel_kills_child_and_grandchild_promptly() {
    let _shared = EXCLUSIVE.read().await;
    let script = "import os, subprocess, time\n\
        grandchild = subprocess.Popen(['sleep', '1000'])\n\
        print(os.getpid(), grandchild.pid, flush=True)\n\
        time.sleep(1000)";
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    let mut pids = Vec::new();
    let started = Instant::now();
    let result = run(python(script), &cancel, |line| {
        pids = pids_in(&line);
        trigger.cancel();
    })
    .await;
    assert!(matches!(result, Err(RunError::Cancelled)), "{result:?}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(pids.len(), 2, "child printed its pid and the grandchild's");
    for pid in pids {
        assert!(!is_running(pid), "pid {pid} still running after run returned");
    }
}

#[tokio::test]
async fn an_already_cancelled_token_spawns_nothing() {
    let _shared = EXCLUSIVE.read().await;
    let cancel = CancellationToken::new();
    cancel.cancel();
    let mut called = false;
    let result = run(python("print('never')"), &cancel, |_| called = true).await;
    assert!(matches!(result, Err(RunError::Cancelled)), "{result:?}");
    assert!(!called);
}

#[tokio::test]
async fn a_child_ignoring_sigterm_is_sigkilled_after_the_grace() {
    let _shared = EXCLUSIVE.read().await;
    let script = "import os, signal, time\n\
        signal.signal(signal.SIGTERM, signal.SIG_IGN)\n\
        print(os.getpid(), flush=True)\n\
        time.sleep(30)";
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    let mut pids = Vec::new();
    let started = Instant::now();
    let result = run(python(script), &cancel, |line| {
        pids = pids_in(&line);
        trigger.cancel();
    })
    .await;
    let elapsed = started.elapsed();
    assert!(matches!(result, Err(RunError::Cancelled)), "{result:?}");
    assert!(
        elapsed >= Duration::from_millis(450) && elapsed < Duration::from_secs(2),
        "{elapsed:?}"
    );
    assert_eq!(pids.len(), 1);
    assert!(!is_running(pids[0]));
}

#[tokio::test]
async fn a_missing_program_is_not_found_naming_the_path() {
    let _shared = EXCLUSIVE.read().await;
    let missing = PathBuf::from("/nonexistent/hermes-test/yt-dlp");
    let (result, lines) = run_collect(RunSpec::new(&missing, ["--version"])).await;
    match result {
        Err(err @ RunError::NotFound { .. }) => {
            assert!(
                err.to_string().contains("/nonexistent/hermes-test/yt-dlp"),
                "{err}"
            );
            assert!(matches!(err, RunError::NotFound { program } if program == missing));
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert!(lines.is_empty());
}

#[tokio::test]
async fn exit_code_is_reported() {
    let _shared = EXCLUSIVE.read().await;
    let (result, _) = run_collect(python("import sys; sys.exit(3)")).await;
    assert_eq!(
        result.expect("ran"),
        ExitInfo {
            code: Some(3),
            signal: None,
            success: false
        }
    );
}

#[tokio::test]
async fn death_by_signal_is_reported() {
    let _shared = EXCLUSIVE.read().await;
    let (result, _) = run_collect(python("import os, signal; os.kill(os.getpid(), signal.SIGSEGV)")).await;
    assert_eq!(
        result.expect("ran"),
        ExitInfo {
            code: None,
            signal: Some(11),
            success: false
        }
    );
}

#[tokio::test]
async fn stragglers_left_by_an_exited_child_are_killed() {
    let _shared = EXCLUSIVE.read().await;
    // The grandchild does not hold the pipes, so only the post-exit sweep can catch it.
    let script = "import subprocess\n\
        p = subprocess.Popen(['sleep', '1000'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n\
        print(p.pid, flush=True)";
    let (result, lines) = run_collect(python(script)).await;
    assert!(result.expect("run succeeds").success);
    let grandchild = pids_in(&lines[0]);
    assert_eq!(grandchild.len(), 1);
    assert!(eventually_not_running(grandchild[0], Duration::from_secs(1)));
}

#[tokio::test]
async fn dropping_the_run_future_kills_the_group() {
    let _exclusive = EXCLUSIVE.write().await;
    let script = "import os, subprocess, time\n\
        grandchild = subprocess.Popen(['sleep', '1000'])\n\
        print(os.getpid(), grandchild.pid, flush=True)\n\
        time.sleep(1000)";
    let (pid_tx, mut pid_rx) = tokio::sync::mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        let cancel = CancellationToken::new();
        run(python(script), &cancel, |line| {
            let _ = pid_tx.send(pids_in(&line));
        })
        .await
    });
    let pids = pid_rx.recv().await.expect("child printed its pids");
    assert_eq!(pids.len(), 2);
    assert!(pids.iter().all(|&pid| is_running(pid)));
    assert_eq!(live_group_count(), 1);
    task.abort();
    assert!(task.await.expect_err("aborted").is_cancelled());
    assert_eq!(live_group_count(), 0);
    for pid in pids {
        assert!(
            eventually_not_running(pid, Duration::from_secs(1)),
            "pid {pid} survived the drop"
        );
    }
}

#[tokio::test]
async fn kill_all_groups_kills_two_concurrent_runs() {
    let _exclusive = EXCLUSIVE.write().await;
    let script = "import os, time\nprint(os.getpid(), flush=True)\ntime.sleep(30)";
    let started = Arc::new(Mutex::new(Vec::new()));
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let one_run = || {
        let started = Arc::clone(&started);
        let ready_tx = ready_tx.clone();
        let spec = with_timeouts(python(script), Duration::from_secs(10), Duration::from_secs(10));
        async move {
            run(spec, &CancellationToken::new(), |line| {
                started.lock().expect("pid list").extend(pids_in(&line));
                let _ = ready_tx.send(());
            })
            .await
        }
    };
    let killer = async {
        ready_rx.recv().await.expect("first child ready");
        ready_rx.recv().await.expect("second child ready");
        assert_eq!(live_group_count(), 2);
        kill_all_groups()
    };
    let began = Instant::now();
    let (first, second, signalled) = tokio::join!(one_run(), one_run(), killer);
    assert!(began.elapsed() < Duration::from_secs(2), "{:?}", began.elapsed());
    assert_eq!(signalled, 2);
    for result in [first, second] {
        assert_eq!(
            result.expect("run ends with the child's death"),
            ExitInfo {
                code: None,
                signal: Some(9),
                success: false
            }
        );
    }
    assert_eq!(live_group_count(), 0);
    for &pid in started.lock().expect("pid list").iter() {
        assert!(!is_running(pid));
    }
}
