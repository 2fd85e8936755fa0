//! `WorkerClient` against the real `hermes-worker`, real yt-dlp and media served on 127.0.0.1:
//! routing under concurrency, crash supervision (SIGKILL mid-download → `WORKER_CRASHED` at once,
//! then a respawned worker), shutdown, and a router that survives garbage.
use hermes_host::client::{
    Backoff, ClientError, EventStream, RouteOutcome, Router, WorkerClient, WorkerConfig,
};
use hermes_protocol::{
    download_request, health_check_request, DownloadDone, ErrorCode, Event, HealthOk, ProgressData, Response,
};
use hermes_testkit::http::MediaServer;
use hermes_testkit::{media, procs};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// `hermes-worker` from this test's target directory (see `hermes_testkit::bins`). A library has
/// no `CARGO_BIN_EXE_*`: the test binary runs from `<target>/<profile>/deps/`, and the worker
/// is built into `<target>/<profile>/`, the directory `deps` is in.
fn worker_bin() -> PathBuf {
    let test_exe = std::env::current_exe().expect("the test binary's path");
    let deps = test_exe.parent().expect("the test binary's directory");
    hermes_testkit::bins::worker_binary_beside(deps)
}

/// A worker confined to a temporary directory: downloads, SQLite cache and cwd.
struct Sandbox {
    dir: TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn downloads(&self) -> PathBuf {
        self.dir.path().join("downloads")
    }

    fn config(&self) -> WorkerConfig {
        let mut config = WorkerConfig::new(worker_bin())
            .with_env("DOWNLOAD_DIR", self.downloads().to_string_lossy())
            .with_env(
                "DATABASE_URL",
                format!("sqlite://{}", self.dir.path().join("hermes.db").display()),
            )
            .with_env("LOG_LEVEL", "warn")
            .with_env("EGRESS_ALLOW_CIDRS", "127.0.0.1/32");
        config.current_dir = Some(self.dir.path().to_path_buf());
        config
    }

    fn out_dir(&self, task_id: &str) -> String {
        self.downloads().join(task_id).to_string_lossy().into_owned()
    }
}

/// Reads events until the first `progress` with status `downloading`, checking each is ours.
async fn wait_until_downloading(stream: &mut EventStream) {
    let found = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(event) = stream.next().await {
            assert_eq!(event.task_id, stream.task_id());
            assert!(!event.event.is_final(), "ended before downloading: {event:?}");
            if event.data.get("status").and_then(|s| s.as_str()) == Some("downloading") {
                return;
            }
        }
        panic!("stream ended before downloading");
    });
    found.await.expect("download started within 20 s");
}

/// Collects the rest of a stream, checking that every event carries the stream's task id and
/// that percent never goes down.
async fn drain(stream: &mut EventStream) -> Vec<Response> {
    let mut events = Vec::new();
    let mut last_percent = 0;
    while let Some(event) = stream.next().await {
        assert_eq!(event.task_id, stream.task_id(), "misrouted event");
        if event.event == Event::Progress {
            let progress: ProgressData = event.payload().expect("progress data");
            assert!(
                progress.percent >= last_percent,
                "percent went down in {}",
                stream.task_id()
            );
            last_percent = progress.percent;
        }
        events.push(event);
    }
    events
}

/// Async polling: `procs::wait_until` sleeps the thread, which would stall a current-thread runtime.
async fn eventually(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while !condition() {
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    true
}

fn kill_leftovers(marker: &str) {
    for process in procs::processes_with_cmdline_containing(marker) {
        let _ = kill(Pid::from_raw(process.pid as i32), Signal::SIGKILL);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_health_checks_and_three_downloads_are_routed_by_task_id() {
    let sandbox = Sandbox::new();
    let server = MediaServer::start(media::media_dir());
    let wav = media::big_wav(2);
    let name = wav.file_name().and_then(|n| n.to_str()).expect("name").to_owned();
    let client = WorkerClient::spawn(sandbox.config()).expect("worker starts");

    let mut downloads = Vec::new();
    for n in 0..3 {
        let task_id = format!("dl-{n}");
        // ~1 MB/s each: in flight for about two seconds, long enough to overlap the health checks.
        let url = server.url(&format!("/slow/1000000/{name}"));
        let request = download_request(&task_id, &url, false, &sandbox.out_dir(&task_id));
        downloads.push(client.send(&request).expect("send download"));
    }
    for stream in &mut downloads {
        wait_until_downloading(stream).await;
    }

    let checks = (0..50).map(|n| {
        let client = client.clone();
        tokio::spawn(async move {
            let request = health_check_request(&format!("hc-{n}"));
            let response = client
                .send_and_wait(&request, Duration::from_secs(15))
                .await
                .expect("health_ok");
            (n, response)
        })
    });
    let mut busy_seen = 0;
    for check in checks.collect::<Vec<_>>() {
        let (n, response) = check.await.expect("join");
        assert_eq!(response.task_id, format!("hc-{n}"));
        assert_eq!(response.event, Event::HealthOk, "{response:?}");
        let health: HealthOk = response.payload().expect("health data");
        busy_seen = busy_seen.max(health.active_tasks);
    }
    assert!(
        busy_seen >= 3,
        "the downloads were not in flight during the checks ({busy_seen} active)"
    );

    for stream in &mut downloads {
        let events = drain(stream).await;
        let last = events.last().expect("a final event");
        assert_eq!(last.event, Event::Done, "{last:?}");
        let done: DownloadDone = last.payload().expect("done data");
        let file = Path::new(&done.file_path);
        assert!(
            file.starts_with(sandbox.out_dir(stream.task_id())),
            "{} outside its task dir",
            file.display()
        );
        assert_eq!(
            std::fs::metadata(file).expect("downloaded file").len(),
            wav.metadata().expect("wav").len()
        );
    }
    assert!(client.pending_tasks().is_empty());
    client.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_worker_fails_pending_task_at_once_and_is_respawned() {
    let sandbox = Sandbox::new();
    let server = MediaServer::start(media::media_dir());
    let wav = media::big_wav(4);
    let name = wav.file_name().and_then(|n| n.to_str()).expect("name").to_owned();
    let client = WorkerClient::spawn(sandbox.config()).expect("worker starts");
    let first_pid = client.worker_pid().expect("worker running");

    let task_id = format!("crash-{}", std::process::id());
    let url = server.url(&format!("/slow/200000/{name}"));
    let mut stream = client
        .send(&download_request(
            &task_id,
            &url,
            false,
            &sandbox.out_dir(&task_id),
        ))
        .expect("send");
    wait_until_downloading(&mut stream).await;

    kill(Pid::from_raw(first_pid as i32), Signal::SIGKILL).expect("SIGKILL the worker");
    let killed_at = Instant::now();
    let final_event = tokio::time::timeout(Duration::from_secs(1), stream.final_event())
        .await
        .expect("WORKER_CRASHED within 1 s")
        .expect("a final event");
    let error = final_event.error_data().expect("an error event");
    assert_eq!(error.error_code, ErrorCode::WorkerCrashed);
    assert!(
        error.message.contains("SIGKILL") || error.message.contains("signal: 9"),
        "{}",
        error.message
    );
    assert!(killed_at.elapsed() < Duration::from_secs(1));
    assert!(stream.next().await.is_none(), "nothing after the final event");

    // Sent while the worker is down (backoff 1 s): waits for the respawn instead of failing.
    let health = tokio::time::timeout(Duration::from_secs(10), client.health())
        .await
        .expect("respawned in time");
    assert_eq!(health.expect("health_ok").worker, "hermes-worker");
    let second_pid = client.worker_pid().expect("respawned worker");
    assert_ne!(second_pid, first_pid);
    assert_eq!(client.worker_starts(), 2);

    client.shutdown().await;
    // The killed worker could not stop its yt-dlp; do not leave it running after the test.
    kill_leftovers(&sandbox.out_dir(&task_id));
}

#[tokio::test]
async fn shutdown_stops_the_worker_and_refuses_new_requests() {
    let sandbox = Sandbox::new();
    let client = WorkerClient::spawn(sandbox.config()).expect("worker starts");
    let health = client.health().await.expect("health_ok");
    assert!(health.handlers.iter().any(|h| h == "youtube_dl"));
    let pid = client.worker_pid().expect("running");

    client.shutdown().await;
    assert_eq!(client.worker_pid(), None);
    let gone = procs::wait_until(Duration::from_secs(2), || {
        !Path::new(&format!("/proc/{pid}")).exists()
    });
    assert!(gone, "worker {pid} still exists after shutdown");
    assert!(matches!(
        client.send(&health_check_request("late")),
        Err(ClientError::Closed)
    ));
    client.shutdown().await; // idempotent
}

#[tokio::test]
async fn worker_that_closes_stdout_counts_as_crashed_and_restarts_with_backoff() {
    // A stand-in worker: reads one request line, then closes stdout while staying alive.
    let mut config = WorkerConfig::new("/bin/sh");
    config.args = ["-c", "read line; exec 1>&-; exec sleep 30"]
        .map(Into::into)
        .to_vec();
    config.shutdown_grace = Duration::from_millis(200);
    config.backoff = Backoff {
        initial: Duration::from_millis(100),
        max: Duration::from_millis(200),
        reset_after: Duration::from_secs(60),
    };
    let client = WorkerClient::spawn(config).expect("spawn sh");
    let started = Instant::now();
    let response = client
        .send_and_wait(&health_check_request("h1"), Duration::from_secs(5))
        .await
        .expect("synthetic final event");
    let error = response.error_data().expect("error");
    assert_eq!(error.error_code, ErrorCode::WorkerCrashed);
    assert!(error.message.contains("closed its stdout"), "{}", error.message);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    let restarted = eventually(Duration::from_secs(3), || client.worker_starts() >= 2).await;
    assert!(restarted, "no restart after the crash");
    client.shutdown().await;
}

#[tokio::test]
async fn send_and_wait_times_out_when_no_final_event_comes() {
    // `cat` never answers with an event (it echoes requests, which are not events).
    let client = WorkerClient::spawn(WorkerConfig::new("/bin/cat")).expect("spawn cat");
    let result = client
        .send_and_wait(&health_check_request("slow"), Duration::from_millis(300))
        .await;
    assert!(
        matches!(result, Err(ClientError::Timeout { ref task_id, .. }) if task_id == "slow"),
        "{result:?}"
    );
    assert!(client.pending_tasks().is_empty(), "timed-out task still routed");
    client.shutdown().await;
}

#[test]
fn router_survives_garbage_and_keeps_routing() {
    let router = Router::new();
    let mut stream = router.register("t1").expect("register");
    let garbage: [&[u8]; 5] = [
        b"garbage\n",
        b"\xff\xfe\x00 not utf-8\n",
        b"{\"task_id\": 5}\n",
        b"[1,2,3]\n",
        b"{\"task_id\":\"t1\",\"event\":\"progress\",\"data\":{\"percent\":",
    ];
    for line in garbage {
        assert!(
            matches!(router.route_line(line), RouteOutcome::Invalid { .. }),
            "{line:?}"
        );
    }
    assert_eq!(router.route_line(b"   \n"), RouteOutcome::Blank);
    assert_eq!(
        router.route_line(b"{\"task_id\":\"other\",\"event\":\"done\",\"data\":{}}\n"),
        RouteOutcome::UnknownTask {
            task_id: "other".into(),
            event: Event::Done
        }
    );
    assert_eq!(
        router.route_line(b"{\"task_id\":\"t1\",\"event\":\"error\",\"data\":{\"message\":\"x\",\"error_code\":\"TIMEOUT\"}}"),
        RouteOutcome::Delivered { task_id: "t1".into(), event: Event::Error }
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let event = runtime.block_on(stream.next()).expect("delivered");
    assert_eq!(event.error_data().expect("error").error_code, ErrorCode::Timeout);
    assert!(runtime.block_on(stream.next()).is_none());
    assert!(router.pending().is_empty());
}
