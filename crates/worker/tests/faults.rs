//! The fault and bad-input catalogue (issue 7): every case ends in one clear `error` event or a
//! clean exit, nothing is lost, no child process outlives its task, and the worker keeps serving.
//!
//! What other suites already prove is not repeated here:
//! - `fixtures/transcripts/bad_input.ndjson`: invalid JSON, non-objects, bad `task_id`, unknown
//!   action, `params` not an object, non-UTF-8, a 1 MiB line, `\r\n`, blank lines;
//!   `fault_params.ndjson`: `params` fields of the wrong type for every action;
//!   `fault_long_lines.ndjson`: a 4 MiB request answered, a line over the 16 MiB cap refused.
//! - `download.rs`: option-like URLs and outside `output_dir` for `youtube_dl`, missing
//!   yt-dlp/ffmpeg for `youtube_dl`, stdin closed during one download, SIGTERM during a real
//!   download (by marker), a stalled transfer timing out.
//! - `playlist.rs`: a hostile playlist title.
//!
//! Fake yt-dlps that must misbehave *during a download* (the recorded fake only answers `-J`)
//! are tiny Python scripts written into the test's temp dir: test fixtures, not product code.
//! Tests that must prove "no process left" put a unique marker into the child's argv (through
//! `output_dir` or the URL) and look for it in `/proc`, and check the child's process group.
mod common;

use common::{assert_error, fake_ytdlp, file_name, files_under, partial_files_under, unique, Worker, WORKER};
use hermes_testkit::http::{FeedItem, MediaServer};
use hermes_testkit::media;
use hermes_testkit::procs::{process_group_members, processes_with_cmdline_containing, wait_until};
use nix::sys::signal::Signal;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Upper bound for anything that should answer (debug worker, 2 cores, tests in parallel).
const T: Duration = Duration::from_secs(45);

// ---------------------------------------------------------------------------------------------
// Helpers

/// Sends one request and returns its final event, checking that it is the only final event
/// for that task among everything seen on the way.
fn ask(worker: &mut Worker, request: Value) -> Value {
    let task_id = request["task_id"]
        .as_str()
        .expect("request has a task_id")
        .to_owned();
    worker.send(&request);
    let seen = worker.events_until_final(&task_id, T);
    let finals = seen
        .iter()
        .filter(|e| e["task_id"] == task_id.as_str() && e["event"] != "progress")
        .count();
    assert_eq!(finals, 1, "{seen:?}");
    seen.last().cloned().unwrap_or_default()
}

/// The worker still answers: a `health_check` gets `health_ok`.
fn assert_still_serving(worker: &mut Worker) {
    let id = unique("health");
    let health = ask(worker, json!({"task_id": id, "action": "health_check"}));
    assert_eq!(health["event"], "health_ok", "{health}");
}

/// Waits until no live process mentions `marker` in its argv.
fn assert_no_process_with(marker: &str) {
    let gone = wait_until(Duration::from_secs(5), || {
        processes_with_cmdline_containing(marker).is_empty()
    });
    assert!(
        gone,
        "processes still running: {:?}",
        processes_with_cmdline_containing(marker)
    );
}

/// Writes an executable test-only script (a misbehaving yt-dlp) into `dir`.
fn write_script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, body).expect("write script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod script");
    path
}

/// `yt-dlp --version` answered by every test script, so the worker's start-up probe is happy.
const ANSWER_VERSION: &str = "if '--version' in sys.argv:\n    print('2026.10.26')\n    sys.exit(0)\n";

/// The directory of yt-dlp's `-o` template, i.e. the task's output dir.
const OUTPUT_DIR_FROM_ARGV: &str = "out_dir = os.path.dirname(sys.argv[sys.argv.index('-o') + 1])\n";

/// A python child that ignores SIGTERM and sleeps, started with `marker` in its argv: an ffmpeg
/// that does not stop when asked. It stays in its parent's process group.
const STUBBORN_CHILD: &str =
    "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(300)\n";

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// A tmpfs of a given size, unmounted (lazily, in case something still holds it) on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// `None` (with a note on stderr) where mounting is not allowed.
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().ok()?;
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .stderr(Stdio::null())
            .status();
        if status.map(|s| s.success()).unwrap_or(false) {
            Some(Tmpfs { dir })
        } else {
            eprintln!(
                "SKIPPED: cannot mount a {size} tmpfs here (needs root); the disk-full case is not exercised"
            );
            None
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

/// `VmRSS` of a process in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmRSS in /proc status")
}

// ---------------------------------------------------------------------------------------------
// Floods and a host that does not read

#[test]
fn a_thousand_mixed_requests_in_one_burst_are_all_answered_with_their_ids() {
    let mut worker = Worker::start(&[]);
    let mut burst = Vec::new();
    let mut expected: HashMap<String, &str> = HashMap::new();
    for i in 0..1000 {
        let (id, request) = match i % 3 {
            0 => (
                format!("h{i}"),
                json!({"task_id": format!("h{i}"), "action": "health_check"}),
            ),
            1 => (
                format!("s{i}"),
                json!({"task_id": format!("s{i}"), "action": "cache_stats"}),
            ),
            _ => (
                format!("c{i}"),
                json!({"task_id": format!("c{i}"), "action": "cancel", "params": {"target_task_id": format!("nobody-{i}")}}),
            ),
        };
        let event = match i % 3 {
            0 => "health_ok",
            1 => "cache_stats",
            _ => "done",
        };
        expected.insert(id, event);
        burst.extend_from_slice(format!("{request}\n").as_bytes());
    }
    worker.send_raw(&burst);
    worker.close_stdin();
    let events = worker.drain(T);
    assert_eq!(events.len(), 1000, "one answer per request, nothing else");
    let mut answered = HashSet::new();
    for event in &events {
        let id = event["task_id"].as_str().expect("task_id").to_owned();
        assert_eq!(
            Some(&event["event"].as_str().unwrap_or_default()),
            expected.get(&id),
            "{event}"
        );
        if id.starts_with('c') {
            assert_eq!(event["data"]["found"], false, "{event}");
        }
        assert!(answered.insert(id), "answered twice: {event}");
    }
    assert!(worker.wait_exit(T).success());
}

/// Spawns a worker whose stdout the test reads only when it chooses to (the shared harness
/// reads continuously, which is exactly what this case must not do).
fn spawn_unread_worker(dir: &Path) -> Child {
    Command::new(WORKER)
        .current_dir(dir)
        .env("DOWNLOAD_DIR", dir.join("downloads"))
        .env("TEMP_DIR", dir.join("temp"))
        .env("DATABASE_URL", sqlite_url(&dir.join("hermes.db")))
        .env("LOG_LEVEL", "warn")
        .env("EGRESS_ALLOW_CIDRS", "127.0.0.1/32")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn hermes-worker")
}

#[test]
fn a_host_that_stops_reading_costs_bounded_memory_and_loses_nothing() {
    // Enough answers that buffering all of them would take well over the bound (~6 KiB each).
    const REQUESTS: usize = 20_000;
    const RSS_BOUND_KIB: u64 = 64 * 1024;
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_unread_worker(dir.path());
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let burst: String = (0..REQUESTS)
        .map(|i| format!("{{\"task_id\":\"h{i}\",\"action\":\"health_check\"}}\n"))
        .collect();
    // The writes may block once the worker stops reading (that is the back-pressure we want),
    // so they run on their own thread; closing stdin afterwards lets the worker exit.
    let writer = std::thread::spawn(move || {
        stdin.write_all(burst.as_bytes()).expect("write requests");
    });

    std::thread::sleep(Duration::from_secs(3));
    let stalled_rss = rss_kib(child.id());
    eprintln!("worker RSS with {REQUESTS} requests and nobody reading: {stalled_rss} KiB");
    assert!(
        stalled_rss < RSS_BOUND_KIB,
        "RSS {stalled_rss} KiB while the host does not read"
    );

    let mut seen = HashSet::new();
    for line in BufReader::new(stdout).lines() {
        let event: Value = serde_json::from_str(&line.expect("read stdout")).expect("JSON line");
        assert_eq!(event["event"], "health_ok", "{event}");
        assert!(
            seen.insert(event["task_id"].as_str().unwrap_or_default().to_owned()),
            "duplicate {event}"
        );
        if seen.len() == REQUESTS {
            break;
        }
    }
    writer.join().expect("writer thread");
    assert_eq!(
        seen.len(),
        REQUESTS,
        "every request answered once the host reads again"
    );
    drop(child.stdin.take());
    let status = child.wait().expect("wait worker");
    assert!(status.success(), "{status}");
}

// ---------------------------------------------------------------------------------------------
// Hostile URLs and paths

#[test]
fn option_like_urls_are_never_options_for_any_action() {
    let mut worker = Worker::start(&[]);
    let touched = std::env::temp_dir().join(unique("hermes-exec"));
    let written = std::env::temp_dir().join(unique("hermes-o"));
    let urls = [
        format!("--exec=touch {}", touched.display()),
        format!("-o{}/x", written.display()),
        "-J".to_owned(),
    ];
    let actions = ["get_video_info", "get_formats", "playlist_preview", "playlist"];
    for action in actions {
        for (n, url) in urls.iter().enumerate() {
            let id = format!("{action}-{n}");
            let params = if action == "playlist" {
                json!({"extract_audio": false})
            } else {
                json!({})
            };
            let event = ask(
                &mut worker,
                json!({"task_id": id, "action": action, "url": url, "params": params}),
            );
            assert_error(
                &event,
                &id,
                &["INVALID_URL", "YTDLP_ERROR", "INVALID_REQUEST", "PLAYLIST_ERROR"],
            );
        }
    }
    assert!(!touched.exists(), "{} was created", touched.display());
    assert!(!written.exists(), "{} was created", written.display());
    assert!(
        files_under(&worker.downloads()).is_empty(),
        "{:?}",
        files_under(&worker.downloads())
    );
    assert_still_serving(&mut worker);
}

#[test]
fn playlist_paths_outside_download_dir_are_refused_before_any_work() {
    let mut worker = Worker::start(&[]);
    let outside = std::env::temp_dir().join(unique("hermes-outside"));
    let downloads = worker.downloads();
    let cases = [
        json!({"output_dir": "../escaped"}),
        json!({"output_dir": format!("{}/../{}", downloads.display(), unique("escaped"))}),
        json!({"output_dir": outside.display().to_string()}),
        json!({"output_dir": downloads.display().to_string()}),
        json!({"archive_file": "../../archive.txt"}),
        json!({"archive_file": outside.join("archive.txt").display().to_string()}),
    ];
    for (n, params) in cases.iter().enumerate() {
        let id = format!("p{n}");
        // Port 9 (discard) is never served: if the check were missing, yt-dlp would fail on the
        // network instead, with a different code.
        let request = json!({"task_id": id, "action": "playlist", "url": "http://127.0.0.1:9/feed.rss", "params": params});
        worker.send(&request);
        let seen = worker.events_until_final(&id, T);
        assert!(
            seen.iter()
                .all(|e| e["task_id"] != id.as_str() || e["event"] != "progress"),
            "refused before any work: {seen:?}"
        );
        assert_error(seen.last().unwrap(), &id, &["INVALID_REQUEST"]);
    }
    assert!(!outside.exists());
    assert!(!worker.dir.path().join("escaped").exists());
    assert!(
        files_under(&downloads).is_empty(),
        "{:?}",
        files_under(&downloads)
    );
    assert_still_serving(&mut worker);
}

// ---------------------------------------------------------------------------------------------
// Missing tools

#[test]
fn missing_ytdlp_is_reported_by_every_action_that_needs_it() {
    let missing = format!("/nonexistent/{}/yt-dlp", unique("bin"));
    let mut worker = Worker::start(&[("YTDLP_BIN", missing.as_str())]);
    let requests = [
        json!({"task_id": "info", "action": "get_video_info", "url": "https://youtu.be/dQw4w9WgXcQ"}),
        json!({"task_id": "formats", "action": "get_formats", "url": "https://youtu.be/dQw4w9WgXcQ"}),
        json!({"task_id": "preview", "action": "playlist_preview", "url": "http://127.0.0.1:9/feed.rss"}),
        json!({"task_id": "playlist", "action": "playlist", "url": "http://127.0.0.1:9/feed.rss", "params": {"extract_audio": false}}),
        json!({"task_id": "search", "action": "youtube_search", "params": {"query": unique("q")}}),
    ];
    for request in requests {
        let id = request["task_id"].as_str().unwrap().to_owned();
        let event = ask(&mut worker, request);
        assert_error(&event, &id, &["YTDLP_NOT_FOUND"]);
        assert!(
            event["data"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains(&missing),
            "names the path tried: {event}"
        );
    }
    assert_still_serving(&mut worker);
}

#[test]
fn missing_ffmpeg_fails_audio_work_up_front_and_the_rest_keeps_working() {
    let fake = fake_ytdlp().display().to_string();
    let mut worker = Worker::start(&[
        ("FFMPEG_BIN", "/nonexistent/ffmpeg"),
        ("YTDLP_BIN", fake.as_str()),
    ]);
    let event = ask(
        &mut worker,
        json!({"task_id": "p", "action": "playlist", "url": "http://127.0.0.1:9/feed.rss", "params": {"extract_audio": true}}),
    );
    assert_error(&event, "p", &["FFMPEG_NOT_FOUND"]);
    assert!(
        event["data"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("/nonexistent/ffmpeg"),
        "{event}"
    );
    // A look-up needs no ffmpeg and still works.
    let info = ask(
        &mut worker,
        json!({"task_id": "i", "action": "get_video_info", "url": "https://youtu.be/dQw4w9WgXcQ"}),
    );
    assert_eq!(info["event"], "video_info", "{info}");
    assert!(
        files_under(&worker.downloads()).is_empty(),
        "{:?}",
        files_under(&worker.downloads())
    );
}

// ---------------------------------------------------------------------------------------------
// A misbehaving yt-dlp

#[test]
fn ytdlp_dying_of_sigsegv_mid_download_is_one_ytdlp_error_and_leaves_nothing() {
    let scripts = tempfile::tempdir().unwrap();
    let body = format!(
        "#!/usr/bin/env python3\n# Test-only yt-dlp: starts a download, then dies of SIGSEGV (exit 139 in a shell).\n\
         import os, resource, signal, sys\n{ANSWER_VERSION}{OUTPUT_DIR_FROM_ARGV}\
         resource.setrlimit(resource.RLIMIT_CORE, (0, 0))\n\
         dest = os.path.join(out_dir, 'crash.webm')\n\
         print('[download] Destination: ' + dest, flush=True)\n\
         with open(dest + '.part', 'wb') as part:\n    part.write(b'\\0' * 65536)\n\
         print('{{\"status\": \"downloading\", \"downloaded_bytes\": 65536, \"total_bytes\": 1048576, \"speed\": 65536.0, \"eta\": 15}}', flush=True)\n\
         os.kill(os.getpid(), signal.SIGSEGV)\n"
    );
    let crash = write_script(scripts.path(), "yt-dlp-crash", &body);
    let crash = crash.display().to_string();
    let mut worker = Worker::start(&[("YTDLP_BIN", crash.as_str())]);
    let marker = unique("segv");
    let out = worker.downloads().join(&marker);
    worker.send(&json!({"task_id": "d", "action": "youtube_dl", "url": "http://127.0.0.1:9/crash.webm", "params": {"output_dir": out}}));
    let seen = worker.events_until_final("d", T);
    let error = seen.last().unwrap();
    assert_error(error, "d", &["YTDLP_ERROR"]);
    assert!(
        error["data"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("signal 11"),
        "says how it died: {error}"
    );
    assert!(
        seen.iter()
            .any(|e| e["task_id"] == "d" && e["event"] == "progress"),
        "progress came before the crash: {seen:?}"
    );
    assert_no_process_with(&marker);
    assert_eq!(
        partial_files_under(&out),
        Vec::<PathBuf>::new(),
        "the partial file of the crashed run is removed"
    );
    assert_still_serving(&mut worker);
}

#[test]
fn a_silent_ytdlp_times_out_and_its_whole_group_is_killed() {
    let scripts = tempfile::tempdir().unwrap();
    let body = format!(
        "#!/usr/bin/env python3\n# Test-only yt-dlp: starts an ffmpeg-like child that ignores SIGTERM, then goes silent.\n\
         import os, subprocess, sys, time\n{ANSWER_VERSION}{OUTPUT_DIR_FROM_ARGV}\
         subprocess.Popen([sys.executable, '-c', {STUBBORN_CHILD:?}, out_dir])\n\
         print('[download] Destination: ' + os.path.join(out_dir, 'hang.webm'), flush=True)\n\
         time.sleep(300)\n"
    );
    let hang = write_script(scripts.path(), "yt-dlp-hang", &body)
        .display()
        .to_string();
    // 3 s: long enough for Python to start the script and its child on a loaded machine.
    let mut worker = Worker::start(&[("YTDLP_BIN", hang.as_str()), ("YT_TIMEOUT", "3")]);
    let marker = unique("hang");
    let out = worker.downloads().join(&marker);
    worker.send(&json!({"task_id": "d", "action": "youtube_dl", "url": "http://127.0.0.1:9/hang.webm", "params": {"output_dir": out}}));

    // Both the script and its child are up, in one process group led by the script.
    let mut group = None;
    let up = wait_until(Duration::from_secs(10), || {
        let procs = processes_with_cmdline_containing(&marker);
        group = procs.first().map(|p| p.pgid);
        procs.len() >= 2 && procs.iter().all(|p| Some(p.pgid) == group)
    });
    assert!(
        up,
        "script and child should run in one group: {:?}",
        processes_with_cmdline_containing(&marker)
    );
    let pgid = group.unwrap();

    let error = worker.final_event("d", T);
    assert_error(&error, "d", &["NETWORK_TIMEOUT"]);
    assert!(
        wait_until(Duration::from_secs(3), || process_group_members(pgid).is_empty()),
        "group {pgid} left: {:?}",
        process_group_members(pgid)
    );
    assert_no_process_with(&marker);
    assert_still_serving(&mut worker);
}

#[test]
fn the_recorded_fake_hanging_crashing_or_printing_garbage_ends_each_look_up_with_one_error() {
    let fake = fake_ytdlp().display().to_string();
    let mut worker = Worker::start(&[("YTDLP_BIN", fake.as_str()), ("YT_TIMEOUT", "1")]);
    let marker = unique("fakehang");
    let hang = json!({"task_id": "hang", "action": "get_video_info", "url": format!("https://www.youtube.com/watch?v=__hang__&m={marker}")});
    let started = Instant::now();
    let event = ask(&mut worker, hang);
    assert_error(&event, "hang", &["NETWORK_TIMEOUT"]);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "YT_TIMEOUT=1 applies: {:?}",
        started.elapsed()
    );
    assert_no_process_with(&marker);
    assert_still_serving(&mut worker);

    // The fake's own start-up (Python) can take over a second on a busy machine: these runs get
    // the default YT_TIMEOUT so that only what they print decides.
    let mut worker = Worker::start(&[("YTDLP_BIN", fake.as_str())]);
    let garbage = ask(
        &mut worker,
        json!({"task_id": "garbage", "action": "get_video_info", "url": "https://youtu.be/__garbage__"}),
    );
    assert_error(&garbage, "garbage", &["YTDLP_ERROR"]);
    let crash = ask(
        &mut worker,
        json!({"task_id": "crash", "action": "get_video_info", "url": "https://youtu.be/__crash__"}),
    );
    assert_error(&crash, "crash", &["YTDLP_ERROR"]);
    let preview = ask(
        &mut worker,
        json!({"task_id": "pcrash", "action": "playlist_preview", "url": "https://youtu.be/__crash__"}),
    );
    assert_error(&preview, "pcrash", &["YTDLP_ERROR"]);
    assert_still_serving(&mut worker);
}

// ---------------------------------------------------------------------------------------------
// A full disk

#[test]
fn a_disk_filling_up_during_a_download_is_disk_full_and_leaves_no_partial_file() {
    let Some(disk) = Tmpfs::mount("2m") else { return };
    let server = MediaServer::start(media::media_dir());
    let url = server.media_url(media::big_wav(8));
    let downloads = disk.path().display().to_string();
    let mut worker = Worker::start(&[("DOWNLOAD_DIR", downloads.as_str())]);
    let event = ask(
        &mut worker,
        json!({"task_id": "d", "action": "youtube_dl", "url": url}),
    );
    assert_error(&event, "d", &["DISK_FULL"]);
    assert_eq!(
        partial_files_under(disk.path()),
        Vec::<PathBuf>::new(),
        "partial download removed"
    );
    assert_still_serving(&mut worker);
    drop(worker);
}

#[test]
fn a_disk_too_small_for_the_zip_is_disk_full_and_leaves_no_partial_zip() {
    let Some(disk) = Tmpfs::mount("2m") else { return };
    // Three incompressible 500 KiB "mp3" tracks fit on the 2 MiB disk (1.5 MiB); their ZIP
    // (stored, another 1.5 MiB) does not.
    let root = tempfile::tempdir().unwrap();
    let server = MediaServer::start(root.path());
    let feed = noise_feed(&server, root.path(), "full", 3);
    let downloads = disk.path().display().to_string();
    let mut worker = Worker::start(&[("DOWNLOAD_DIR", downloads.as_str())]);
    let event = ask(
        &mut worker,
        json!({"task_id": "p", "action": "playlist", "url": feed, "params": {"extract_audio": false}}),
    );
    assert_error(&event, "p", &["DISK_FULL"]);
    let zips: Vec<PathBuf> = files_under(disk.path())
        .into_iter()
        .filter(|p| file_name(p).ends_with(".zip"))
        .collect();
    assert_eq!(zips, Vec::<PathBuf>::new(), "no partial ZIP");
    assert_eq!(
        partial_files_under(disk.path()),
        Vec::<PathBuf>::new(),
        "no temporary ZIP or partial track"
    );
    assert_still_serving(&mut worker);
    drop(worker);
}

#[test]
fn a_track_that_finds_the_disk_full_fails_the_playlist_as_disk_full() {
    // Two of the three 500 KiB tracks fit, the third cannot: the disk is full for the whole
    // task, not one bad item, so the playlist fails as DISK_FULL instead of ending with a track
    // missing. The python profile has no ZIP step, so only the tracks fill the disk.
    let Some(disk) = Tmpfs::mount("1200k") else { return };
    let root = tempfile::tempdir().unwrap();
    let server = MediaServer::start(root.path());
    let feed = noise_feed(&server, root.path(), "tight", 3);
    let downloads = disk.path().display().to_string();
    let mut worker = Worker::start(&[("DOWNLOAD_DIR", downloads.as_str()), ("WIRE_PROFILE", "python")]);
    let event = ask(
        &mut worker,
        json!({"task_id": "t", "action": "playlist", "url": feed, "params": {"extract_audio": false}}),
    );
    assert_error(&event, "t", &["DISK_FULL"]);
    assert_still_serving(&mut worker);
}

/// A feed of `tracks` incompressible 500 KiB "mp3" files written under `root`, served by `server`.
fn noise_feed(server: &MediaServer, root: &Path, name: &str, tracks: u32) -> String {
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut items = Vec::new();
    for n in 1..=tracks {
        let bytes: Vec<u8> = (0..500 * 1024)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        let file = format!("{name}{n}.mp3");
        std::fs::write(root.join(&file), bytes).unwrap();
        items.push(FeedItem::new(format!("Noise {n}"), format!("/media/{file}")));
    }
    server.add_feed(name, "Full Disk", items)
}

// ---------------------------------------------------------------------------------------------
// Shutdown in the middle of work

#[test]
fn stdin_closed_while_a_task_waits_for_a_slot_still_answers_both_then_exits_zero() {
    let server = MediaServer::start(media::media_dir());
    let url = server.url(&format!("/slow/300000/{}", file_name(&media::big_wav(1))));
    // yt-dlp's own downloader reports `downloading` from its first bytes; aria2c's first readout
    // can come after a 1 MB file is already complete, and then nothing marks the moment to wait for.
    let mut worker = Worker::start(&[("WORKER_CONCURRENCY", "1"), ("EXTERNAL_DOWNLOADER", "none")]);
    worker.send(&json!({"task_id": "first", "action": "youtube_dl", "url": url}));
    worker.send(&json!({"task_id": "queued", "action": "youtube_dl", "url": url}));
    // Wait until the first one transfers bytes, so the second is certainly waiting for the slot.
    let deadline = Instant::now() + T;
    loop {
        let event = worker.next_event(
            deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1)),
        );
        assert!(event["event"] == "progress", "nothing may end yet: {event}");
        if event["task_id"] == "first" && event["data"]["status"] == "downloading" {
            break;
        }
    }
    worker.close_stdin();
    let rest = worker.drain(Duration::from_secs(60));
    for id in ["first", "queued"] {
        let finals: Vec<&Value> = rest
            .iter()
            .filter(|e| e["task_id"] == id && e["event"] != "progress")
            .collect();
        assert_eq!(finals.len(), 1, "{id}: {finals:?}");
        assert_eq!(
            finals[0]["event"], "done",
            "{id} finishes after EOF: {}",
            finals[0]
        );
    }
    assert!(worker.wait_exit(Duration::from_secs(10)).success());
}

#[test]
fn sigterm_mid_download_exits_within_two_seconds_and_empties_the_process_group() {
    // The real yt-dlp does the (slow) download; the wrapper first leaves a child in its group
    // that ignores SIGTERM, like an ffmpeg that does not stop when asked.
    let scripts = tempfile::tempdir().unwrap();
    let body = format!(
        "#!/usr/bin/env python3\n# Test-only wrapper: real yt-dlp, plus a stubborn child in the same process group.\n\
         import os, subprocess, sys\n{ANSWER_VERSION}{OUTPUT_DIR_FROM_ARGV}\
         subprocess.Popen([sys.executable, '-c', {STUBBORN_CHILD:?}, out_dir])\n\
         os.execvp('yt-dlp', ['yt-dlp'] + sys.argv[1:])\n"
    );
    let wrapper = write_script(scripts.path(), "yt-dlp-wrapper", &body)
        .display()
        .to_string();
    let server = MediaServer::start(media::media_dir());
    let url = server.url(&format!("/slow/200000/{}", file_name(&media::big_wav(8))));
    let mut worker = Worker::start(&[("YTDLP_BIN", wrapper.as_str())]);
    let marker = unique("term");
    let out = worker.downloads().join(&marker);
    worker.send(&json!({"task_id": "d", "action": "youtube_dl", "url": url, "params": {"output_dir": out}}));
    let deadline = Instant::now() + T;
    loop {
        let event = worker.next_event(
            deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1)),
        );
        assert!(
            event["event"] == "progress",
            "the download must still run: {event}"
        );
        if event["data"]["status"] == "downloading" {
            break;
        }
    }
    let members = processes_with_cmdline_containing(&marker);
    assert!(members.len() >= 2, "yt-dlp and its child run: {members:?}");
    let pgid = members[0].pgid;
    assert!(members.iter().all(|p| p.pgid == pgid), "one group: {members:?}");
    assert_ne!(pgid, worker.pid(), "the children are not in the worker's group");

    let sent = Instant::now();
    worker.signal(Signal::SIGTERM);
    let status = worker.wait_exit(Duration::from_secs(2));
    assert!(sent.elapsed() < Duration::from_secs(2), "{:?}", sent.elapsed());
    assert!(status.code().is_some(), "exited by itself: {status}");
    assert_eq!(
        process_group_members(pgid),
        Vec::new(),
        "nothing of the group survives the worker"
    );
    assert_no_process_with(&marker);
}

// ---------------------------------------------------------------------------------------------
// The SQLite cache

/// A python3 child that opens `db` and holds `BEGIN EXCLUSIVE` for `seconds`; returns once the
/// lock is held.
fn hold_exclusive_lock(db: &Path, seconds: f64) -> Child {
    let script = "import sqlite3, sys, time\n\
        c = sqlite3.connect(sys.argv[1], isolation_level=None)\n\
        c.execute('CREATE TABLE IF NOT EXISTS holder(x)')\n\
        c.execute('BEGIN EXCLUSIVE')\n\
        print('locked', flush=True)\n\
        time.sleep(float(sys.argv[2]))\n\
        c.execute('COMMIT')\n";
    let mut child = Command::new("python3")
        .args(["-c", script])
        .arg(db)
        .arg(seconds.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn python3");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("read lock holder");
    assert_eq!(line.trim(), "locked");
    child
}

fn run_one_request(db: &Path, request: &str) -> (std::process::Output, Duration) {
    let started = Instant::now();
    let mut child = Command::new(WORKER)
        .env("DATABASE_URL", sqlite_url(db))
        .env("LOG_LEVEL", "warn")
        .env("EGRESS_ALLOW_CIDRS", "127.0.0.1/32")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn worker");
    child.stdin.take().unwrap().write_all(request.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    (output, started.elapsed())
}

/// At start-up the worker switches the file to WAL, which needs the lock: it waits up to the
/// 5 s busy timeout, then stops with a start-up error naming the database (exit 2). A lock
/// released within the timeout only delays the start.
#[test]
fn a_database_locked_at_start_up_waits_the_busy_timeout_then_fails_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let held = dir.path().join("held.db");
    let mut holder = hold_exclusive_lock(&held, 30.0);
    let (output, took) = run_one_request(&held, "{\"task_id\":\"s\",\"action\":\"cache_stats\"}\n");
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(output.status.code(), Some(2), "a start-up failure");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot open the cache database") && stderr.contains(&held.display().to_string()),
        "{stderr}"
    );
    assert!(stderr.contains("locked"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(output.stdout.is_empty(), "nothing on the protocol channel");
    assert!(
        took >= Duration::from_secs(4) && took < Duration::from_secs(20),
        "waited the busy timeout: {took:?}"
    );

    let released = dir.path().join("released.db");
    let mut holder = hold_exclusive_lock(&released, 1.0);
    let (output, _) = run_one_request(&released, "{\"task_id\":\"s\",\"action\":\"cache_stats\"}\n");
    let _ = holder.wait();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answer: Value = serde_json::from_slice(&output.stdout).expect("one JSON line");
    assert_eq!(answer["event"], "cache_stats", "{answer}");
}

/// A WAL database whose write lock another process holds: reads go on, a write waits the busy
/// timeout and becomes one `INTERNAL` error; the worker keeps serving.
#[test]
fn a_write_locked_database_makes_cleanup_an_internal_error_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("wal.db");
    let (created, _) = run_one_request(&db, "{\"task_id\":\"s\",\"action\":\"cache_stats\"}\n");
    assert!(created.status.success());
    let mut holder = hold_exclusive_lock(&db, 30.0);
    let url = sqlite_url(&db);
    let mut worker = Worker::start(&[("DATABASE_URL", url.as_str())]);
    let stats = ask(&mut worker, json!({"task_id": "s", "action": "cache_stats"}));
    assert_eq!(
        stats["event"], "cache_stats",
        "reads are not blocked by a writer: {stats}"
    );
    let cleanup = ask(&mut worker, json!({"task_id": "c", "action": "cache_cleanup"}));
    assert_error(&cleanup, "c", &["INTERNAL"]);
    assert!(
        cleanup["data"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("locked"),
        "{cleanup}"
    );
    let _ = holder.kill();
    let _ = holder.wait();
    let again = ask(&mut worker, json!({"task_id": "c2", "action": "cache_cleanup"}));
    assert_eq!(
        again["event"], "cache_cleanup_done",
        "works again once released: {again}"
    );
}

#[test]
fn a_database_deleted_or_corrupted_under_a_running_worker_is_an_error_not_a_crash() {
    // Deleted: the open connections keep using the unlinked file, so answers stay correct.
    let mut worker = Worker::start(&[]);
    let db = worker.dir.path().join("hermes.db");
    assert_eq!(
        ask(&mut worker, json!({"task_id": "s0", "action": "cache_stats"}))["event"],
        "cache_stats"
    );
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let after_delete = ask(&mut worker, json!({"task_id": "s1", "action": "cache_stats"}));
    assert!(
        after_delete["event"] == "cache_stats" || after_delete["data"]["error_code"] == "INTERNAL",
        "{after_delete}"
    );
    assert_still_serving(&mut worker);

    // Corrupted (database, WAL and shared-memory index overwritten): every cache request is one
    // INTERNAL error, the rest of the worker is unaffected.
    let mut worker = Worker::start(&[]);
    let db = worker.dir.path().join("hermes.db");
    assert_eq!(
        ask(&mut worker, json!({"task_id": "s0", "action": "cache_stats"}))["event"],
        "cache_stats"
    );
    for suffix in ["", "-wal", "-shm"] {
        let path = PathBuf::from(format!("{}{suffix}", db.display()));
        if let Ok(meta) = std::fs::metadata(&path) {
            std::fs::write(&path, vec![0x42u8; meta.len() as usize]).unwrap();
        }
    }
    let stats = ask(&mut worker, json!({"task_id": "s1", "action": "cache_stats"}));
    assert_error(&stats, "s1", &["INTERNAL"]);
    let cleanup = ask(&mut worker, json!({"task_id": "c1", "action": "cache_cleanup"}));
    assert_error(&cleanup, "c1", &["INTERNAL"]);
    assert_still_serving(&mut worker);
    worker.close_stdin();
    assert!(
        worker.wait_exit(T).success(),
        "a broken cache does not make the exit fail"
    );
}

#[test]
fn two_workers_sharing_one_database_both_answer_everything() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir.path().join("shared.db"));
    let fake = fake_ytdlp().display().to_string();
    let env = [("DATABASE_URL", url.as_str()), ("YTDLP_BIN", fake.as_str())];
    let workers = [Worker::start(&env), Worker::start(&env)];
    let ids = ["dQw4w9WgXcQ", "jNQXAC9IVRw", "HtVdAasjOgU"];
    std::thread::scope(|scope| {
        for (w, mut worker) in workers.into_iter().enumerate() {
            scope.spawn(move || {
                // Metadata writes, cleanups (deletes) and reads, interleaved with the other worker.
                let mut batch = Vec::new();
                for round in 0..30 {
                    let id = format!("w{w}-{round}");
                    let request = match round % 3 {
                        0 => json!({"task_id": id, "action": "get_video_info", "url": format!("https://youtu.be/{}", ids[round / 3 % 3])}),
                        1 => json!({"task_id": id, "action": "cache_cleanup"}),
                        _ => json!({"task_id": id, "action": "cache_stats"}),
                    };
                    batch.extend_from_slice(format!("{request}\n").as_bytes());
                }
                worker.send_raw(&batch);
                worker.close_stdin();
                let events = worker.drain(T);
                assert_eq!(events.len(), 30, "worker {w}: {events:?}");
                for event in &events {
                    assert_ne!(event["event"], "error", "worker {w}: {event}");
                }
                assert!(worker.wait_exit(T).success(), "worker {w}");
            });
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Issue 11: control requests behind a backlog, a host that dies, a corrupt cache, disk and names

/// A yt-dlp that answers `--version` and otherwise hangs: every long request it serves stays
/// unanswered for as long as the test wants.
fn hanging_ytdlp(dir: &Path) -> String {
    let body = format!("#!/usr/bin/env python3\n# Test-only: a yt-dlp that never answers.\nimport sys, time\n{ANSWER_VERSION}time.sleep(300)\n");
    write_script(dir, "yt-dlp-hangs", &body).display().to_string()
}

#[test]
fn health_check_and_cancel_are_answered_behind_more_long_requests_than_the_backlog_bound() {
    const OVER: usize = 6;
    let scripts = tempfile::tempdir().unwrap();
    let ytdlp = hanging_ytdlp(scripts.path());
    let mut worker = Worker::start(&[
        ("YTDLP_BIN", ytdlp.as_str()),
        ("WORKER_CONCURRENCY", "1"),
        ("LOG_LEVEL", "warn"),
    ]);
    let total = hermes_worker::dispatch::MAX_UNANSWERED + OVER;
    let mut burst = Vec::new();
    for i in 0..total {
        let request = json!({"task_id": format!("l{i}"), "action": "get_video_info", "url": format!("https://example.com/v{i}")});
        burst.extend_from_slice(format!("{request}\n").as_bytes());
    }
    burst.extend_from_slice(b"{\"task_id\":\"h\",\"action\":\"health_check\"}\n");
    burst.extend_from_slice(
        b"{\"task_id\":\"c\",\"action\":\"cancel\",\"params\":{\"target_task_id\":\"l7\"}}\n",
    );
    worker.send_raw(&burst);

    let mut finals: HashMap<String, Value> = HashMap::new();
    let deadline = Instant::now() + T;
    while !(finals.contains_key("h") && finals.contains_key("c") && finals.contains_key("l7")) {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        let event = worker.next_event(left);
        if event["event"] != "progress" {
            finals.insert(event["task_id"].as_str().unwrap_or_default().to_owned(), event);
        }
    }
    assert_eq!(finals["h"]["event"], "health_ok", "{}", finals["h"]);
    assert_eq!(finals["c"]["event"], "done", "{}", finals["c"]);
    assert_eq!(finals["c"]["data"]["found"], true, "{}", finals["c"]);
    assert_error(&finals["l7"], "l7", &["CANCELLED"]);
    // The requests past the bound were refused at once, not parked; none of the others was.
    let busy: Vec<&String> = finals
        .iter()
        .filter(|(_, e)| e["data"]["error_code"] == "RATE_LIMITED")
        .map(|(id, _)| id)
        .collect();
    assert_eq!(busy.len(), OVER, "{busy:?}");
    for id in busy {
        assert!(
            finals[id.as_str()]["data"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("busy"),
            "{}",
            finals[id.as_str()]
        );
    }
}

/// Spawns the worker with a wrapper yt-dlp that first leaves a SIGTERM-ignoring child (a
/// stand-in for ffmpeg) in its group, then runs the real yt-dlp on a slow download into
/// `downloads/<marker>`; returns once the download transfers bytes.
fn start_slow_download(worker: &mut Worker) -> String {
    let marker = unique("orphan");
    let out = worker.downloads().join(&marker);
    let server = MediaServer::start(media::media_dir());
    let url = server.url(&format!("/slow/100000/{}", file_name(&media::big_wav(8))));
    worker.send(&json!({"task_id": "d", "action": "youtube_dl", "url": url, "params": {"output_dir": out}}));
    let deadline = Instant::now() + T;
    loop {
        let event = worker.next_event(
            deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1)),
        );
        assert!(
            event["event"] == "progress",
            "the download must still run: {event}"
        );
        if event["data"]["status"] == "downloading" {
            break;
        }
    }
    // The server must outlive the download for the test to mean anything.
    std::mem::forget(server);
    let members = processes_with_cmdline_containing(&marker);
    assert!(members.len() >= 2, "yt-dlp and its child run: {members:?}");
    marker
}

fn wrapper_with_stubborn_child(dir: &Path) -> String {
    let body = format!(
        "#!/usr/bin/env python3\n# Test-only wrapper: real yt-dlp, plus a stubborn child in the same process group.\n\
         import os, subprocess, sys\n{ANSWER_VERSION}{OUTPUT_DIR_FROM_ARGV}\
         subprocess.Popen([sys.executable, '-c', {STUBBORN_CHILD:?}, out_dir])\n\
         os.execvp('yt-dlp', ['yt-dlp'] + sys.argv[1:])\n"
    );
    write_script(dir, "yt-dlp-wrapper", &body).display().to_string()
}

/// SIGKILL gives the worker no chance to clean up: yt-dlp dies of its parent-death signal and
/// the rest of its group (the ffmpeg stand-in, which yt-dlp's death does not stop) is killed by
/// the worker's guard process.
#[test]
fn a_sigkilled_worker_leaves_no_ytdlp_and_no_ffmpeg_running() {
    let scripts = tempfile::tempdir().unwrap();
    let wrapper = wrapper_with_stubborn_child(scripts.path());
    let mut worker = Worker::start(&[("YTDLP_BIN", wrapper.as_str())]);
    let marker = start_slow_download(&mut worker);
    worker.signal(Signal::SIGKILL);
    worker.wait_exit(T);
    assert_no_process_with(&marker);
}

/// The host closed its end of stdout but not stdin (no EOF): the next event fails with EPIPE
/// and the worker stops as on SIGTERM, children included.
#[test]
fn a_worker_whose_stdout_is_closed_stops_and_kills_its_children() {
    let scripts = tempfile::tempdir().unwrap();
    let wrapper = wrapper_with_stubborn_child(scripts.path());
    let dir = tempfile::tempdir().unwrap();
    let marker = unique("epipe");
    let out = dir.path().join("downloads").join(&marker);
    let server = MediaServer::start(media::media_dir());
    let url = server.url(&format!("/slow/100000/{}", file_name(&media::big_wav(8))));
    let mut child = Command::new(WORKER)
        .current_dir(dir.path())
        .env("DOWNLOAD_DIR", dir.path().join("downloads"))
        .env("TEMP_DIR", dir.path().join("temp"))
        .env("DATABASE_URL", sqlite_url(&dir.path().join("hermes.db")))
        .env("YTDLP_BIN", &wrapper)
        .env("EGRESS_ALLOW_CIDRS", "127.0.0.1/32")
        .env("LOG_LEVEL", "info")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn hermes-worker");
    let mut stdin = child.stdin.take().unwrap();
    let request = json!({"task_id": "d", "action": "youtube_dl", "url": url, "params": {"output_dir": out}});
    stdin.write_all(format!("{request}\n").as_bytes()).unwrap();
    stdin.flush().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        let line = lines.next().expect("an event").expect("read stdout");
        let event: Value = serde_json::from_str(&line).expect("JSON line");
        assert_eq!(event["event"], "progress", "{event}");
        if event["data"]["status"] == "downloading" {
            break;
        }
    }
    assert!(
        processes_with_cmdline_containing(&marker).len() >= 2,
        "yt-dlp and its child run"
    );
    drop(lines);
    let deadline = Instant::now() + T;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the worker did not stop after its stdout was closed"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.code().is_some(), "exited by itself: {status}");
    assert_no_process_with(&marker);
    drop(stdin);
}

/// A cache database that SQLite cannot read is moved aside (with its bytes intact) and the
/// worker starts on a fresh one; the warning names both files.
#[test]
fn a_garbage_or_truncated_cache_database_is_moved_aside_and_the_worker_starts() {
    let dir = tempfile::tempdir().unwrap();
    // Garbage: not a database at all.
    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, vec![0x5au8; 16384]).unwrap();
    // Truncated: a real database with a few hundred pages, cut in half.
    let truncated = dir.path().join("truncated.db");
    let (created, _) = run_one_request(&truncated, "{\"task_id\":\"s\",\"action\":\"cache_stats\"}\n");
    assert!(created.status.success());
    let fill = "import sqlite3, sys\nc = sqlite3.connect(sys.argv[1])\nc.execute('CREATE TABLE filler(x)')\n\
        c.executemany('INSERT INTO filler VALUES (?)', [('x' * 1000,) for _ in range(2000)])\nc.commit()\n\
        c.execute('PRAGMA wal_checkpoint(TRUNCATE)')\nc.close()\n";
    assert!(Command::new("python3")
        .args(["-c", fill])
        .arg(&truncated)
        .status()
        .unwrap()
        .success());
    let size = std::fs::metadata(&truncated).unwrap().len();
    assert!(size > 1_000_000, "{size}");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&truncated)
        .unwrap()
        .set_len(size / 2)
        .unwrap();

    for db in [&garbage, &truncated] {
        let original = std::fs::read(db).unwrap();
        let (output, _) = run_one_request(db, "{\"task_id\":\"s\",\"action\":\"cache_stats\"}\n");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{}: {stderr}", db.display());
        let answer: Value = serde_json::from_slice(&output.stdout).expect("one JSON line");
        assert_eq!(answer["event"], "cache_stats", "{answer}");
        assert_eq!(answer["data"]["search_entries"], 0, "a fresh cache: {answer}");
        let prefix = format!("{}.corrupt-", file_name(db));
        let aside: Vec<PathBuf> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                file_name(p).starts_with(&prefix)
                    && !file_name(p).ends_with("-wal")
                    && !file_name(p).ends_with("-shm")
            })
            .collect();
        assert_eq!(aside.len(), 1, "moved aside once: {aside:?}");
        assert_eq!(
            std::fs::read(&aside[0]).unwrap(),
            original,
            "the unreadable file is kept as it was"
        );
        assert!(
            stderr.contains("unreadable") && stderr.contains(&aside[0].display().to_string()),
            "{stderr}"
        );
        // The fresh database is a good one: the next start does not move anything.
        let (again, _) = run_one_request(db, "{\"task_id\":\"s\",\"action\":\"cache_stats\"}\n");
        assert!(again.status.success());
        assert!(!String::from_utf8_lossy(&again.stderr).contains("unreadable"));
    }
}

/// yt-dlp reports only "Postprocessing: Conversion failed!" when ffmpeg runs out of space: a
/// small opus download fits the 4 MiB disk, its WAV conversion (~10 MiB) does not.
#[test]
fn a_disk_filling_up_during_the_conversion_is_disk_full_and_names_the_directory() {
    let Some(disk) = Tmpfs::mount("4m") else { return };
    let server = MediaServer::start(media::media_dir());
    let url = server.media_url(media::tone_webm(60, 440));
    let downloads = disk.path().display().to_string();
    let mut worker = Worker::start(&[("DOWNLOAD_DIR", downloads.as_str())]);
    let request = json!({"task_id": "w", "action": "youtube_dl", "url": url, "params": {"extract_audio": true, "audio_format": "wav"}});
    let event = ask(&mut worker, request);
    assert_error(&event, "w", &["DISK_FULL"]);
    assert!(
        event["data"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains(&downloads),
        "{event}"
    );
    assert_eq!(
        partial_files_under(disk.path()),
        Vec::<PathBuf>::new(),
        "partial files removed"
    );
    assert_still_serving(&mut worker);
    drop(worker);
}

#[test]
fn a_read_only_download_dir_is_a_start_up_error_naming_it() {
    let Some(disk) = Tmpfs::mount("1m,ro") else { return };
    let downloads = disk.path().join("downloads");
    for dir in [disk.path().to_path_buf(), downloads] {
        let scratch = tempfile::tempdir().unwrap();
        let output = Command::new(WORKER)
            .current_dir(scratch.path())
            .env("DOWNLOAD_DIR", &dir)
            .env("DATABASE_URL", sqlite_url(&scratch.path().join("hermes.db")))
            .stdin(Stdio::null())
            .output()
            .expect("run worker");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("DOWNLOAD_DIR")
                && stderr.contains(&dir.display().to_string())
                && stderr.contains("not writable"),
            "{stderr}"
        );
        assert!(output.stdout.is_empty());
    }
}

#[test]
fn a_thousand_character_title_still_downloads_under_a_name_the_file_system_takes() {
    let server = MediaServer::start(media::media_dir());
    let title = format!("Long {}", "name ".repeat(199));
    assert!(title.chars().count() >= 1000);
    let tone = media::tone_webm(1, 620);
    let item = FeedItem::new(title.clone(), format!("/media/{}", file_name(&tone)));
    let feed = server.add_feed("long-title", "Long Titles", vec![item]);
    let mut worker = Worker::start(&[]);
    let done = ask(
        &mut worker,
        json!({"task_id": "p", "action": "playlist", "url": feed, "params": {"extract_audio": false}}),
    );
    assert_eq!(done["event"], "done", "{done}");
    assert_eq!(done["data"]["total_tracks_downloaded"], 1, "{done}");
    assert_eq!(done["data"]["failed_tracks"], 0, "{done}");
    for path in files_under(&worker.downloads()) {
        assert!(file_name(&path).len() <= 255, "{}", path.display());
    }
}
