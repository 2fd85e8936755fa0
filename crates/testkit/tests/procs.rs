//! The /proc helpers against real process trees: a parent in its own process group with a child,
//! killed as a group; and a zombie, which the helpers must not report.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hermes_testkit::procs::{
    descendants, process_group_members, processes_with_cmdline_containing, wait_until,
};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

/// A marker no other process on the machine mentions: the test name plus this process id.
fn unique_marker(test: &str) -> String {
    format!("hermes-testkit-{test}-{}", std::process::id())
}

/// `python3 -c <parent> <marker>`: a parent that starts a sleeping child with the same marker,
/// both in a new process group led by the parent (as the worker runs yt-dlp and its ffmpeg).
fn spawn_parent_and_child(marker: &str) -> Child {
    let parent = "import subprocess, sys, time\n\
                  subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', sys.argv[1]])\n\
                  time.sleep(60)";
    Command::new("python3")
        .args(["-c", parent, marker])
        .stdin(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("python3 runs")
}

#[test]
fn finds_a_process_tree_by_marker_descendants_and_group_then_sees_it_gone() {
    let marker = unique_marker("tree");
    let mut parent = spawn_parent_and_child(&marker);
    let parent_pid = parent.id();

    let both_up = wait_until(Duration::from_secs(10), || {
        processes_with_cmdline_containing(&marker).len() == 2
    });
    let by_marker = processes_with_cmdline_containing(&marker);
    let below = descendants(parent_pid);
    let group = process_group_members(parent_pid);
    let mine = descendants(std::process::id());

    let _ = killpg(Pid::from_raw(parent_pid as i32), Signal::SIGKILL);
    let _ = parent.wait();

    assert!(both_up, "parent and child never both showed up: {by_marker:?}");
    let child = below.first().expect("the parent has a descendant");
    assert_eq!(below.len(), 1, "{below:?}");
    assert_eq!(child.ppid, parent_pid);
    assert_eq!(child.pgid, parent_pid, "the child inherits the new group");
    assert!(
        child.cmdline.contains(&marker) && child.cmdline.contains("time.sleep(60)"),
        "{child:?}"
    );

    let mut marked: Vec<u32> = by_marker.iter().map(|p| p.pid).collect();
    marked.sort_unstable();
    let mut expected = vec![parent_pid, child.pid];
    expected.sort_unstable();
    assert_eq!(marked, expected);

    let mut grouped: Vec<u32> = group.iter().map(|p| p.pid).collect();
    grouped.sort_unstable();
    assert_eq!(
        grouped, expected,
        "the group holds exactly the parent and its child"
    );
    assert!(mine.iter().any(|p| p.pid == parent_pid) && mine.iter().any(|p| p.pid == child.pid));

    let gone = wait_until(Duration::from_secs(5), || {
        processes_with_cmdline_containing(&marker).is_empty()
    });
    assert!(
        gone,
        "killed processes still listed: {:?}",
        processes_with_cmdline_containing(&marker)
    );
    assert!(process_group_members(parent_pid).is_empty());
}

#[test]
fn zombies_and_the_calling_process_are_not_reported() {
    let marker = unique_marker("zombie");
    let mut child = Command::new("python3")
        .args(["-c", "import time; time.sleep(60)", &marker])
        .stdin(Stdio::null())
        .spawn()
        .expect("python3 runs");
    let pid = child.id();
    assert!(wait_until(Duration::from_secs(10), || {
        !processes_with_cmdline_containing(&marker).is_empty()
    }));

    let _ = child.kill(); // not waited for yet: it stays a zombie until `wait`
    let is_zombie = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|stat| {
                stat.rsplit(')')
                    .next()
                    .unwrap_or_default()
                    .trim_start()
                    .starts_with('Z')
            })
            .unwrap_or(false)
    };
    let became_zombie = wait_until(Duration::from_secs(5), is_zombie);
    let listed = processes_with_cmdline_containing(&marker);
    let _ = child.wait();

    assert!(became_zombie, "the killed child should be a zombie until reaped");
    assert!(listed.is_empty(), "a zombie must not be reported: {listed:?}");
    assert!(
        processes_with_cmdline_containing("")
            .iter()
            .all(|p| p.pid != std::process::id()),
        "the calling process is never reported"
    );
}

#[test]
fn wait_until_polls_until_true_or_timeout() {
    let started = Instant::now();
    assert!(wait_until(Duration::from_secs(5), || started.elapsed()
        >= Duration::from_millis(200)));
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_millis(600),
        "took {took:?}"
    );

    let started = Instant::now();
    let mut calls = 0;
    assert!(!wait_until(Duration::from_millis(300), || {
        calls += 1;
        false
    }));
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_millis(800),
        "took {took:?}"
    );
    assert!(
        (4..=10).contains(&calls),
        "polled {calls} times in 300 ms at a 50 ms interval"
    );

    let mut checked = false;
    assert!(!wait_until(Duration::ZERO, || {
        checked = true;
        false
    }));
    assert!(checked, "a zero timeout still checks once");
}
