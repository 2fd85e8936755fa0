//! `hermes` end to end: the built binary drives the real `hermes-worker`, real yt-dlp and ffmpeg,
//! on media served from 127.0.0.1 (and the recorded fake yt-dlp for YouTube search and info).
use hermes_protocol::{from_json_line, ErrorCode, Event, Response};
use hermes_testkit::http::MediaServer;
use hermes_testkit::{media, procs};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tempfile::TempDir;

const RUN_LIMIT: Duration = Duration::from_secs(30);

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `hermes-worker` beside this package's binaries (see `hermes_testkit::bins`).
fn worker_bin() -> PathBuf {
    hermes_testkit::bins::worker_binary_beside(Path::new(env!("CARGO_BIN_EXE_hermes")))
}

/// `hermes` run inside a temporary directory (its cwd, cache and default downloads).
struct Sandbox {
    dir: TempDir,
}

struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Sandbox {
    fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_hermes"));
        command
            .args(args)
            .current_dir(self.dir.path())
            .env("HERMES_WORKER_BIN", worker_bin())
            .env("XDG_CACHE_HOME", self.path("cache"))
            .env("LOG_LEVEL", "warn")
            .env("EGRESS_ALLOW_CIDRS", "127.0.0.1/32")
            .env_remove("DATABASE_URL")
            .env_remove("DOWNLOAD_DIR")
            .env_remove("HERMES_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    fn run(&self, args: &[&str]) -> Outcome {
        self.run_command(self.command(args))
    }

    fn run_command(&self, mut command: Command) -> Outcome {
        let mut child = command.spawn().expect("start hermes");
        let stdout = read_all_in_background(child.stdout.take());
        let stderr = read_all_in_background(child.stderr.take());
        let code = wait_with_limit(&mut child, RUN_LIMIT);
        Outcome {
            code,
            stdout: joined(stdout),
            stderr: joined(stderr),
        }
    }
}

fn read_all_in_background(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_string(&mut text);
        }
        text
    })
}

fn joined(handle: std::thread::JoinHandle<String>) -> String {
    handle.join().expect("reader thread")
}

/// Waits for `child`, killing it (and failing the test) past `limit`.
fn wait_with_limit(child: &mut Child, limit: Duration) -> Option<i32> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status.code();
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("hermes did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn ffprobe_format(path: &Path) -> String {
    let output = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=format_name",
            "-of",
            "default=nw=1:nk=1",
        ])
        .arg(path)
        .output()
        .expect("run ffprobe");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Whether `pid` is a live (non-zombie) process.
fn is_alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat
        .rfind(')')
        .and_then(|end| stat[end + 1..].split_whitespace().next());
    !matches!(state, None | Some("Z") | Some("X"))
}

fn parse_events(stdout: &str) -> Vec<Response> {
    stdout
        .lines()
        .map(|line| from_json_line::<Response>(line).unwrap_or_else(|e| panic!("not an event ({e}): {line}")))
        .collect()
}

fn files_named_like(dir: &Path, suffixes: &[&str]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for path in entries.filter_map(Result::ok).map(|e| e.path()) {
            if path.is_dir() {
                pending.push(path);
            } else if path
                .to_str()
                .is_some_and(|p| suffixes.iter().any(|s| p.ends_with(s)))
            {
                found.push(path);
            }
        }
    }
    found
}

#[test]
fn download_audio_mp3_exits_zero_and_writes_an_mp3() {
    let sandbox = Sandbox::new();
    let server = MediaServer::start(media::media_dir());
    let url = server.media_url(media::tone_webm(3, 440));
    let out = sandbox.path("music");
    let outcome = sandbox.run(&[
        "download",
        &url,
        "--audio",
        "mp3",
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert_eq!(outcome.code, Some(0), "stderr: {}", outcome.stderr);

    let printed = PathBuf::from(outcome.stdout.lines().last().expect("a printed path"));
    assert_eq!(printed.extension().and_then(|e| e.to_str()), Some("mp3"));
    assert!(
        printed.starts_with(std::fs::canonicalize(&out).expect("out exists")),
        "{}",
        printed.display()
    );
    assert!(printed.is_file(), "{} missing", printed.display());
    assert_eq!(ffprobe_format(&printed), "mp3");
    assert!(
        files_named_like(&out, &[".part", ".webm"]).is_empty(),
        "leftovers beside the mp3"
    );
}

#[test]
fn json_output_is_the_protocol_event_stream_ending_in_done() {
    let sandbox = Sandbox::new();
    let server = MediaServer::start(media::media_dir());
    let url = server.media_url(media::tone_webm(2, 440));
    let outcome = sandbox.run(&["--json", "download", &url, "--out", "videos"]);
    assert_eq!(outcome.code, Some(0), "stderr: {}", outcome.stderr);

    let events = parse_events(&outcome.stdout);
    assert!(events.len() >= 2, "{}", outcome.stdout);
    let task_id = &events[0].task_id;
    assert!(events
        .iter()
        .all(|e| &e.task_id == task_id && e.event != Event::Unknown));
    let (last, progress) = events.split_last().expect("events");
    assert!(progress.iter().all(|e| e.event == Event::Progress));
    assert_eq!(last.event, Event::Done);
    let path = last.data["file_path"].as_str().expect("file_path");
    assert!(Path::new(path).starts_with(sandbox.path("videos").canonicalize().expect("dir")));
}

#[test]
fn missing_url_exits_one_with_the_error_code_on_stderr() {
    let sandbox = Sandbox::new();
    let server = MediaServer::start(media::media_dir());
    let outcome = sandbox.run(&["download", &server.url("/404"), "--audio", "--out", "x"]);
    assert_eq!(outcome.code, Some(1), "stderr: {}", outcome.stderr);
    assert!(outcome.stdout.is_empty(), "stdout: {}", outcome.stdout);

    let line = outcome
        .stderr
        .lines()
        .find(|l| l.starts_with("error ["))
        .expect("an error line");
    let code = line
        .trim_start_matches("error [")
        .split(']')
        .next()
        .expect("code");
    let parsed: ErrorCode = serde_json::from_value(serde_json::json!(code)).expect("code");
    assert!(
        !matches!(parsed, ErrorCode::Other(_)),
        "not a protocol code: {line}"
    );
    assert!(line.contains("404"), "{line}");
}

#[test]
fn sigint_cancels_the_download_and_leaves_no_process_or_part_file() {
    let sandbox = Sandbox::new();
    let server = MediaServer::start(media::media_dir());
    let wav = media::big_wav(8);
    let name = wav.file_name().and_then(|n| n.to_str()).expect("name");
    let marker = format!("sigint-{}", uuid::Uuid::new_v4().simple());
    let out = sandbox.path(&marker);
    let url = server.url(&format!("/slow/200000/{name}"));
    let mut child = sandbox
        .command(&["--json", "download", &url, "--out", out.to_str().expect("utf-8")])
        .spawn()
        .expect("start hermes");

    let (lines_tx, lines) = mpsc::channel();
    let stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let stderr = read_all_in_background(child.stderr.take());

    let mut seen = Vec::new();
    let started = loop {
        let Ok(line) = lines.recv_timeout(Duration::from_secs(20)) else {
            break false;
        };
        let event: Response = from_json_line(&line).expect("event");
        seen.push(event.clone());
        if event.data.get("status").and_then(|s| s.as_str()) == Some("downloading")
            && event.data.get("downloaded").is_some()
        {
            break true;
        }
    };
    assert!(started, "no download progress; events: {seen:?}");
    let family = procs::descendants(child.id());
    assert!(
        family.iter().any(|p| p.cmdline.contains(&marker)),
        "yt-dlp not running: {family:?}"
    );

    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).expect("SIGINT");
    let code = wait_with_limit(&mut child, Duration::from_secs(10));
    reader.join().expect("reader");
    let stderr = joined(stderr);
    assert_eq!(code, Some(130), "stderr: {stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");

    seen.extend(
        lines
            .try_iter()
            .map(|line| from_json_line::<Response>(&line).expect("event")),
    );
    let last = seen.last().expect("events");
    let error = last.error_data().expect("the task's final event is an error");
    assert_eq!(error.error_code, ErrorCode::Cancelled, "{last:?}");

    // The worker and yt-dlp (recorded while running) and anything naming the output directory.
    let all_gone = procs::wait_until(Duration::from_secs(5), || {
        procs::processes_with_cmdline_containing(&marker).is_empty()
            && !family.iter().any(|p| is_alive(p.pid))
    });
    let survivors: Vec<_> = family.iter().filter(|p| is_alive(p.pid)).collect();
    assert!(all_gone, "left behind: {survivors:?}");
    assert!(
        files_named_like(&out, &[".part", ".ytdl"]).is_empty(),
        "partial files left in {}",
        out.display()
    );
}

#[test]
fn health_prints_the_worker_and_tool_versions() {
    let sandbox = Sandbox::new();
    let outcome = sandbox.run(&["health"]);
    assert_eq!(outcome.code, Some(0), "stderr: {}", outcome.stderr);
    let ytdlp = Command::new("yt-dlp")
        .arg("--version")
        .output()
        .expect("yt-dlp --version");
    let ytdlp_version = String::from_utf8_lossy(&ytdlp.stdout).trim().to_owned();
    assert!(outcome.stdout.starts_with("hermes-worker "), "{}", outcome.stdout);
    assert!(
        outcome.stdout.contains(&format!("yt-dlp   {ytdlp_version}")),
        "{}",
        outcome.stdout
    );
    assert!(
        outcome
            .stdout
            .lines()
            .any(|l| l.starts_with("ffmpeg   ") && !l.contains("not found")),
        "{}",
        outcome.stdout
    );
    assert!(
        sandbox.path("cache/hermes/hermes.db").is_file(),
        "cache not in XDG_CACHE_HOME"
    );
    assert!(
        !sandbox.path("hermes.db").exists(),
        "cache written into the working directory"
    );
}

/// The toolchain `scripts/setup.sh` installs (scripts/test.sh runs it first): `hermes health`
/// names its JavaScript runtime and yt-dlp-ejs, as the worker finds them under `HERMES_HOME`.
#[test]
fn health_shows_the_js_runtime_and_ejs_of_the_managed_yt_dlp() {
    let home = workspace_root().join(".hermes");
    assert!(
        home.join("venv/bin/yt-dlp").is_file(),
        "no managed yt-dlp under {}: run scripts/setup.sh",
        home.display()
    );
    let sandbox = Sandbox::new();
    let mut command = sandbox.command(&["health"]);
    command
        .env("HERMES_HOME", &home)
        .env_remove("YTDLP_BIN")
        .env_remove("DENO_BIN");
    let outcome = sandbox.run_command(command);
    assert_eq!(outcome.code, Some(0), "stderr: {}", outcome.stderr);
    let js = outcome
        .stdout
        .lines()
        .find(|l| l.starts_with("JS       "))
        .unwrap_or_default();
    assert!(
        js.starts_with("JS       deno ") && js.contains(" · yt-dlp-ejs "),
        "{}",
        outcome.stdout
    );
}

#[test]
fn usage_errors_exit_two() {
    let sandbox = Sandbox::new();
    for args in [
        &[][..],
        &["download"],
        &["search", "q", "-n", "0"],
        &["download", "http://x/", "--audio", "wav"],
        &["cache", "purge"],
    ] {
        let outcome = sandbox.run(args);
        assert_eq!(outcome.code, Some(2), "{args:?}: {}", outcome.stderr);
        // clap: "error: ..." for a bad argument, the help text (with "Usage:") for no command.
        let explained = outcome.stderr.starts_with("error:") || outcome.stderr.contains("Usage: hermes");
        assert!(explained, "{args:?}: {}", outcome.stderr);
        assert!(outcome.stdout.is_empty(), "{args:?}: {}", outcome.stdout);
    }
}

fn with_fake_ytdlp(mut command: Command) -> Command {
    command.env("YTDLP_BIN", workspace_root().join("scripts/fake-yt-dlp"));
    command
}

#[test]
fn search_prints_a_numbered_table_and_rejects_a_pick_out_of_range() {
    let sandbox = Sandbox::new();
    let outcome = sandbox.run_command(with_fake_ytdlp(sandbox.command(&[
        "search",
        "never gonna give you up",
        "-n",
        "3",
    ])));
    assert_eq!(outcome.code, Some(0), "stderr: {}", outcome.stderr);
    let lines: Vec<&str> = outcome.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", outcome.stdout);
    for (n, line) in lines[1..].iter().enumerate() {
        assert!(line.starts_with(&format!("{:>2}  ", n + 1)), "{line}");
        assert!(line.contains("https://"), "{line}");
    }
    assert!(
        lines[1].contains("Rick Astley") && lines[1].contains("3:33"),
        "{}",
        lines[1]
    );

    let picked = sandbox.run_command(with_fake_ytdlp(sandbox.command(&[
        "search",
        "never gonna give you up",
        "-n",
        "3",
        "--pick",
        "9",
    ])));
    assert_eq!(picked.code, Some(2), "stderr: {}", picked.stderr);
    assert!(picked.stderr.contains("--pick 9"), "{}", picked.stderr);
}

#[test]
fn info_prints_title_channel_and_duration() {
    let sandbox = Sandbox::new();
    let url = "https://www.youtube.com/watch?v=dQw4w9WgXcQ";
    let outcome = sandbox.run_command(with_fake_ytdlp(sandbox.command(&["info", url])));
    assert_eq!(outcome.code, Some(0), "stderr: {}", outcome.stderr);
    assert!(
        outcome
            .stdout
            .contains("Title:     Rick Astley - Never Gonna Give You Up"),
        "{}",
        outcome.stdout
    );
    assert!(
        outcome.stdout.contains("Channel:   Rick Astley"),
        "{}",
        outcome.stdout
    );
    assert!(outcome.stdout.contains("Duration:  3:33"), "{}", outcome.stdout);
}

#[test]
fn playlist_downloads_the_feed_into_a_zip_and_prints_its_path() {
    use hermes_testkit::http::FeedItem;
    let sandbox = Sandbox::new();
    let server = MediaServer::start(media::media_dir());
    let items = [(330, "One"), (550, "Two"), (880, "Three")]
        .map(|(hz, title)| {
            let file = media::tone_webm(1, hz);
            let name = file
                .file_name()
                .and_then(|n| n.to_str())
                .expect("name")
                .to_owned();
            FeedItem::new(title, format!("/media/{name}"))
        })
        .to_vec();
    let feed = server.add_feed("cli-mix", "CLI Mix", items);
    let out = sandbox.path("mixes");
    let outcome = sandbox.run(&[
        "playlist",
        &feed,
        "--limit",
        "2",
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert_eq!(outcome.code, Some(0), "stderr: {}", outcome.stderr);

    // Each finished track is printed as the worker reports it, then the ZIP; nothing twice.
    let printed: Vec<&str> = outcome.stdout.lines().collect();
    assert_eq!(printed.len(), 3, "{}", outcome.stdout);
    for track in &printed[..2] {
        assert!(
            track.ends_with(".mp3") && PathBuf::from(track).is_file(),
            "{track}"
        );
    }
    let zip = PathBuf::from(outcome.stdout.lines().last().expect("a printed path"));
    assert_eq!(
        zip.extension().and_then(|e| e.to_str()),
        Some("zip"),
        "{}",
        outcome.stdout
    );
    assert!(
        zip.is_file() && zip.starts_with(out.canonicalize().expect("out")),
        "{}",
        zip.display()
    );
    assert!(
        outcome.stderr.contains("CLI Mix: 2 tracks, 0 failed"),
        "{}",
        outcome.stderr
    );
}

/// `hermes` reads the python wire profile's shapes too: a download's `done` with only
/// `file_path`, a playlist's `files` that are the tracks (no ZIP).
#[test]
fn against_a_python_profile_worker_download_and_playlist_print_their_files() {
    use hermes_testkit::http::FeedItem;
    let sandbox = Sandbox::new();
    let server = MediaServer::start(media::media_dir());
    let url = server.media_url(media::tone_webm(2, 440));
    let out = sandbox.path("py");
    let mut command = sandbox.command(&[
        "download",
        &url,
        "--audio",
        "mp3",
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    command.env("WIRE_PROFILE", "python");
    let outcome = sandbox.run_command(command);
    assert_eq!(outcome.code, Some(0), "stderr: {}", outcome.stderr);
    let printed: Vec<&str> = outcome.stdout.lines().collect();
    assert_eq!(printed.len(), 1, "{}", outcome.stdout);
    assert!(
        printed[0].ends_with(".mp3") && Path::new(printed[0]).is_file(),
        "{}",
        printed[0]
    );

    let items = [(330, "One"), (550, "Two")]
        .map(|(hz, title)| {
            let file = media::tone_webm(1, hz);
            let name = file
                .file_name()
                .and_then(|n| n.to_str())
                .expect("name")
                .to_owned();
            FeedItem::new(title, format!("/media/{name}"))
        })
        .to_vec();
    let feed = server.add_feed("cli-py", "Py Mix", items);
    let mut command = sandbox.command(&["playlist", &feed, "--out", out.to_str().expect("utf-8")]);
    command.env("WIRE_PROFILE", "python");
    let outcome = sandbox.run_command(command);
    assert_eq!(outcome.code, Some(0), "stderr: {}", outcome.stderr);
    let printed: Vec<&str> = outcome.stdout.lines().collect();
    assert_eq!(printed.len(), 2, "{}", outcome.stdout);
    assert!(
        printed[0].ends_with("001 - One.mp3") && printed[1].ends_with("002 - Two.mp3"),
        "{}",
        outcome.stdout
    );
    assert!(files_named_like(&out, &[".zip"]).is_empty(), "no ZIP");
    assert!(outcome.stderr.contains("Py Mix: 2 tracks"), "{}", outcome.stderr);
}

/// Every host started through `WorkerClient` gives its worker a parent-death signal: a host
/// that is SIGKILLed takes the worker with it, even a worker that never reads stdin (so never
/// sees EOF) and never writes (so never meets EPIPE). The stand-in worker only sleeps.
#[test]
fn a_sigkilled_host_takes_its_worker_down() {
    let sandbox = Sandbox::new();
    let marker = format!("silent-worker-{}", std::process::id());
    let script = sandbox.path(&marker);
    let started = sandbox.path("started");
    std::fs::write(
        &script,
        format!(
            "#!/usr/bin/env python3\n# Test-only: a worker that neither reads nor writes.\nimport time\nopen({:?}, 'w').close()\ntime.sleep(300)\n",
            started.display().to_string()
        ),
    )
    .expect("write script");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let mut host = sandbox
        .command(&["health"])
        .env("HERMES_WORKER_BIN", &script)
        .spawn()
        .expect("spawn hermes");
    assert!(
        procs::wait_until(RUN_LIMIT, || started.exists()),
        "the worker never started"
    );
    assert!(
        !procs::processes_with_cmdline_containing(&marker).is_empty(),
        "the worker runs"
    );
    kill(Pid::from_raw(host.id() as i32), Signal::SIGKILL).expect("SIGKILL the host");
    let _ = host.wait();
    let gone = procs::wait_until(Duration::from_secs(10), || {
        procs::processes_with_cmdline_containing(&marker).is_empty()
    });
    assert!(
        gone,
        "orphaned worker still running: {:?}",
        procs::processes_with_cmdline_containing(&marker)
    );
}
