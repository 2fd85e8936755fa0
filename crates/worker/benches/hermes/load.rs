//! Figure 2, `health_check` round trips while three downloads run, beside the same worker idle
//! (and figure 6's peak memory under that load).
use crate::error::{BenchError, Result};
use crate::memory::{memory_of, mib};
use crate::options::Reps;
use crate::report::{three_digits, Report, Row, Target, Unit};
use crate::scratch::Scratch;
use crate::stats::{millis, percentile, summarize};
use crate::worker::{event_name, expect_event, json_of, WorkerProc};
use crate::LINE_TIMEOUT;
use hermes_protocol::{cancel_request, download_request, health_check_request};
use hermes_testkit::http::MediaServer;
use hermes_testkit::media;
use serde_json::Value;
use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

/// Loopback rate of the downloads that load the worker: slow enough that they outlast the
/// measurement (30 MiB at 1 MB/s ≈ 31 s; they are cancelled once it is done).
const LOAD_RATE_BYTES_PER_SEC: u32 = 1_000_000;
const LOAD_FILE_MIB: u32 = 30;
const LOAD_DOWNLOADS: usize = 3;
/// The loaded phase lasts at least this long, so the memory peak covers steady downloading.
const MIN_LOADED_PHASE: Duration = Duration::from_secs(3);
/// Pause between two `health_check` round trips: requests from a bot are sporadic, so each one
/// should meet a worker that went idle (threads parked) rather than one spinning on the previous
/// request, and the samples should spread over the downloads instead of bunching up in 20 ms.
const RTT_GAP: Duration = Duration::from_millis(5);

#[derive(Default)]
struct LoadSamples {
    idle_p50: Vec<f64>,
    idle_p99: Vec<f64>,
    load_p50: Vec<f64>,
    load_p99: Vec<f64>,
    idle_hwm_mib: Vec<f64>,
    load_hwm_mib: Vec<f64>,
    load_rss_max_mib: Vec<f64>,
}

/// What the bench saw of the background downloads while it measured.
#[derive(Default)]
struct DownloadWatch {
    pub(crate) downloading: HashSet<String>,
    ended: Vec<String>,
    progress_events: usize,
}

impl DownloadWatch {
    pub(crate) fn observe(&mut self, event: &Value) {
        let Some(task) = event["task_id"].as_str().filter(|t| t.starts_with("dl")) else {
            return;
        };
        if event_name(event) == "progress" {
            self.progress_events += 1;
            if event["data"]["status"] == "downloading" {
                self.downloading.insert(task.to_owned());
            }
        } else {
            self.ended.push(format!("{task}: {}", event_name(event)));
        }
    }
}

pub(crate) fn figure_load_and_memory(scratch: &Scratch, reps: &Reps, report: &mut Report) -> Result<()> {
    let server = MediaServer::start(media::media_dir());
    let wav = media::big_wav(LOAD_FILE_MIB);
    let name = wav
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let url = server.url(&format!("/slow/{LOAD_RATE_BYTES_PER_SEC}/{name}"));
    let mut samples = LoadSamples::default();
    for session in 0..reps.load_sessions {
        let dir = scratch.subdir(&format!("load-{session}"))?;
        load_session(&dir, &url, reps, &mut samples)?;
    }
    report.push_rows([
        Row::new(
            "2a health_check RTT p50, 3 downloads vs idle",
            Unit::Ms,
            &samples.load_p50,
            &samples.idle_p50,
            Target::Below(5.0),
        ),
        Row::new(
            "2b health_check RTT p99, 3 downloads vs idle",
            Unit::Ms,
            &samples.load_p99,
            &samples.idle_p99,
            Target::Below(5.0),
        ),
        Row::new(
            "6c VmHWM, 3 downloads vs idle (same worker)",
            Unit::MiB,
            &samples.load_hwm_mib,
            &samples.idle_hwm_mib,
            Target::Info("info"),
        ),
    ]);
    report.notes.push(format!(
        "2: {} rounds × {} sequential `health_check`s ({} ms apart) per session, {} session(s); each round gives a p50 and a p99, \
         the table shows median (min–max) over rounds. Load: {LOAD_DOWNLOADS} `youtube_dl` of a {LOAD_FILE_MIB} MiB WAV \
         from 127.0.0.1 at {LOAD_RATE_BYTES_PER_SEC} B/s each, all in `downloading` state before the first loaded round \
         and still running after the last (then cancelled). Highest VmRSS seen under load: {} MiB.",
        reps.rtt_rounds,
        reps.rtt_per_round,
        RTT_GAP.as_millis(),
        reps.load_sessions,
        summarize(&samples.load_rss_max_mib).map_or("n/a".to_owned(), |s| three_digits(s.max)),
    ));
    Ok(())
}

fn load_session(dir: &Path, url: &str, reps: &Reps, samples: &mut LoadSamples) -> Result<()> {
    let mut worker = WorkerProc::spawn(dir, &[])?;
    let mut watch = DownloadWatch::default();
    worker.send(&health_check_request("warm"))?;
    let (_, warm) = worker.final_event("warm", LINE_TIMEOUT, |_| {})?;
    expect_event(&warm, "health_ok")?;
    std::thread::sleep(Duration::from_millis(200));
    samples.idle_hwm_mib.push(mib(memory_of(worker.pid())?.hwm_kib));
    for round in 0..reps.rtt_rounds {
        let rtts = health_round_trips(
            &mut worker,
            &format!("idle{round}-"),
            reps.rtt_per_round,
            &mut watch,
        )?;
        samples.idle_p50.push(percentile(&rtts, 50.0));
        samples.idle_p99.push(percentile(&rtts, 99.0));
    }

    let loaded_since = Instant::now();
    start_downloads(&mut worker, dir, url, &mut watch)?;
    let mut rss_max = 0u64;
    for round in 0..reps.rtt_rounds {
        let rtts = health_round_trips(
            &mut worker,
            &format!("load{round}-"),
            reps.rtt_per_round,
            &mut watch,
        )?;
        samples.load_p50.push(percentile(&rtts, 50.0));
        samples.load_p99.push(percentile(&rtts, 99.0));
        rss_max = rss_max.max(memory_of(worker.pid())?.rss_kib);
    }
    while loaded_since.elapsed() < MIN_LOADED_PHASE {
        drain_for(&worker, Duration::from_millis(100), &mut watch);
        rss_max = rss_max.max(memory_of(worker.pid())?.rss_kib);
    }
    samples.load_hwm_mib.push(mib(memory_of(worker.pid())?.hwm_kib));
    samples.load_rss_max_mib.push(mib(rss_max));
    if !watch.ended.is_empty() {
        return Err(BenchError::Protocol(format!(
            "a download ended during the measurement: {:?}",
            watch.ended
        )));
    }
    cancel_downloads(&mut worker, &mut watch)?;
    worker.finish()
}

/// `count` sequential `health_check` round trips, in ms (request written → answer read).
fn health_round_trips(
    worker: &mut WorkerProc,
    prefix: &str,
    count: usize,
    watch: &mut DownloadWatch,
) -> Result<Vec<f64>> {
    let mut rtts = Vec::with_capacity(count);
    for i in 0..count {
        let id = format!("{prefix}{i}");
        let sent = worker.send(&health_check_request(&id))?;
        let (at, event) = worker.final_event(&id, LINE_TIMEOUT, |other| watch.observe(other))?;
        expect_event(&event, "health_ok")?;
        rtts.push(millis(at - sent));
        std::thread::sleep(RTT_GAP);
    }
    Ok(rtts)
}

fn start_downloads(worker: &mut WorkerProc, dir: &Path, url: &str, watch: &mut DownloadWatch) -> Result<()> {
    for n in 0..LOAD_DOWNLOADS {
        let out = dir.join("downloads").join(format!("dl{n}"));
        worker.send(&download_request(
            &format!("dl{n}"),
            url,
            false,
            &out.to_string_lossy(),
        ))?;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while watch.downloading.len() < LOAD_DOWNLOADS {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = worker.next_line(left, "all downloads to be downloading")?;
        watch.observe(&json_of(&line)?);
        if !watch.ended.is_empty() {
            return Err(BenchError::Protocol(format!(
                "a download ended before the measurement: {:?}",
                watch.ended
            )));
        }
    }
    Ok(())
}

fn drain_for(worker: &WorkerProc, period: Duration, watch: &mut DownloadWatch) {
    let until = Instant::now() + period;
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        match worker.try_next_line(left) {
            Some(line) => {
                if let Ok(event) = json_of(&line) {
                    watch.observe(&event);
                }
            }
            None => return,
        }
    }
}

fn cancel_downloads(worker: &mut WorkerProc, watch: &mut DownloadWatch) -> Result<()> {
    for n in 0..LOAD_DOWNLOADS {
        worker.send(&cancel_request(&format!("cancel{n}"), &format!("dl{n}")))?;
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut finals = 0;
    while finals < 2 * LOAD_DOWNLOADS {
        let left = deadline.saturating_duration_since(Instant::now());
        let event = json_of(&worker.next_line(left, "the cancelled downloads to end")?)?;
        let task = event["task_id"].as_str().unwrap_or("");
        if (task.starts_with("dl") || task.starts_with("cancel")) && event_name(&event) != "progress" {
            finals += 1;
        }
    }
    watch.ended.clear();
    Ok(())
}
