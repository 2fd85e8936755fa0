//! Figure 3, worker overhead: one loopback webm → mp3 job through the worker, beside bare yt-dlp
//! run with the same argv.
use crate::error::{io_err, BenchError, Result};
use crate::options::Reps;
use crate::report::{Report, Row, Target, Unit};
use crate::scratch::Scratch;
use crate::stats::millis;
use crate::worker::{expect_event, worker_env, WorkerProc};
use hermes_protocol::{download_request, AudioFormat};
use hermes_testkit::http::MediaServer;
use hermes_testkit::media;
use hermes_worker::config::Config;
use hermes_worker::egress::EgressProxy;
use hermes_worker::ffprobe::probe_duration;
use hermes_worker::ytdlp::args::{
    download_argv, with_proxy, DownloadSpec, MediaMode, YtdlpEnv, SINGLE_OUTPUT_TEMPLATE,
};
use hermes_worker::ytdlp::env::ytdlp_env;
use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Length of the tone converted in the worker-overhead figure.
const JOB_TONE_SECONDS: u32 = 60;
const JOB_TIMEOUT: Duration = Duration::from_secs(120);

pub(crate) fn figure_overhead(scratch: &Scratch, reps: &Reps, report: &mut Report) -> Result<()> {
    let server = MediaServer::start(media::media_dir());
    let url = server.media_url(media::tone_webm(JOB_TONE_SECONDS, 440));
    let dir = scratch.subdir("overhead")?;
    let config = bench_config(&dir)?;
    let by_hand = ByHand::new(&config, &url)?;
    let mut worker = WorkerProc::spawn(&dir, &[])?;
    // One of each first, not counted: Python's imports, ffmpeg's libraries and the file are then
    // in the page cache for both sides alike.
    // The worker's egress proxy, run by hand beside bare yt-dlp (its own runtime thread serves
    // it while yt-dlp runs), to show what the proxy alone costs.
    let proxy_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(io_err("start the proxy runtime"))?;
    let proxy = proxy_runtime
        .block_on(EgressProxy::start(config.egress.clone(), None))
        .map_err(io_err("start the egress proxy"))?;
    worker_job(&mut worker, &dir, &url, "warm")?;
    by_hand.run(&dir.join("by-hand-warm"))?;
    by_hand.run_via(&dir.join("by-hand-proxied-warm"), Some(&proxy.url()))?;
    let (mut ours, mut bare, mut bare_probed, mut proxied) = (vec![], vec![], vec![], vec![]);
    for rep in 0..reps.jobs {
        let mut by_hand_rep = || -> Result<()> {
            let timing = by_hand.run(&dir.join(format!("by-hand-{rep}")))?;
            bare.push(timing.ytdlp_ms);
            bare_probed.push(timing.ytdlp_ms + timing.ffprobe_ms);
            let timing = by_hand.run_via(&dir.join(format!("by-hand-proxied-{rep}")), Some(&proxy.url()))?;
            proxied.push(timing.ytdlp_ms);
            Ok(())
        };
        // Alternate which side goes first, so a drift in machine load hits both equally.
        if rep % 2 == 0 {
            ours.push(worker_job(&mut worker, &dir, &url, &format!("job{rep}"))?);
            by_hand_rep()?;
        } else {
            by_hand_rep()?;
            ours.push(worker_job(&mut worker, &dir, &url, &format!("job{rep}"))?);
        }
    }
    worker.finish()?;
    report.push_rows([
        Row::new(
            format!("3a {JOB_TONE_SECONDS} s webm→mp3 job vs bare yt-dlp"),
            Unit::Ms,
            &ours,
            &bare,
            Target::RatioAtMost(1.03),
        ),
        Row::new(
            "3b  … vs bare yt-dlp + the worker's ffprobe",
            Unit::Ms,
            &ours,
            &bare_probed,
            Target::Info("info (diagnosis)"),
        ),
        Row::new(
            "3c bare yt-dlp via the egress proxy vs without",
            Unit::Ms,
            &proxied,
            &bare,
            Target::RatioAtMost(1.01),
        ),
    ]);
    report.notes.push(format!(
        "3: `youtube_dl` extract_audio mp3 of a {JOB_TONE_SECONDS} s Opus/WebM tone from 127.0.0.1, request written → `done` read, \
         {} reps alternating with yt-dlp run by hand (same argv from `download_argv`, same process-group setup, both pipes read) \
         → exit. A direct link has no duration (DESIGN.md §3), so the worker runs ffprobe on the downloaded source \
         as soon as ffmpeg starts converting it (in parallel with the conversion); 3b adds that same call \
         (`ffprobe::probe_duration`) after the by-hand run, i.e. what the worker would cost if it probed afterwards. \
         The worker sends every connection through its egress proxy (so 3a includes it); 3c runs the same bare yt-dlp \
         through that proxy (`--proxy`, started in-process) against the same run without it: the proxy's own cost.",
        reps.jobs
    ));
    Ok(())
}

/// The configuration the bench workers run with, read the way the worker reads it.
pub(crate) fn bench_config(dir: &Path) -> Result<Config> {
    let env = worker_env(dir);
    Config::from_lookup(|name| {
        env.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string_lossy().into_owned())
            .or_else(|| std::env::var(name).ok())
    })
    .map_err(|e| BenchError::Protocol(e.to_string()))
}

/// yt-dlp run by hand exactly as the worker's `youtube_dl` runs it.
struct ByHand {
    pub(crate) program: PathBuf,
    pub(crate) ffmpeg: PathBuf,
    pub(crate) env: YtdlpEnv,
    pub(crate) url: String,
    pub(crate) best_audio_limit_mb: u64,
    /// For the worker's own async `ffprobe::probe_duration`.
    runtime: tokio::runtime::Runtime,
}

/// One by-hand run: yt-dlp alone, and then the ffprobe the worker adds.
struct ByHandTiming {
    ytdlp_ms: f64,
    ffprobe_ms: f64,
}

impl ByHand {
    pub(crate) fn new(config: &Config, url: &str) -> Result<ByHand> {
        let env = ytdlp_env(config);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(io_err("start a tokio runtime"))?;
        Ok(ByHand {
            program: config.ytdlp_bin.clone(),
            ffmpeg: config.ffmpeg_bin.clone(),
            env,
            url: url.to_owned(),
            best_audio_limit_mb: config.best_audio_limit_mb,
            runtime,
        })
    }

    pub(crate) fn argv(&self, output_dir: &Path, proxy: Option<&str>) -> Vec<OsString> {
        let spec = DownloadSpec {
            url: &self.url,
            output_dir,
            output_template: SINGLE_OUTPUT_TEMPLATE,
            mode: MediaMode::Audio {
                format: AudioFormat::Mp3,
                quality: "0".to_owned(),
            },
            format: None,
            best_audio_limit_mb: self.best_audio_limit_mb,
            playlist: None,
            final_files_log: &output_dir.join(".final-files.jsonl"),
            max_filesize_mb: 2000,
            shape: Default::default(),
        };
        let argv = download_argv(&self.env, &spec);
        match proxy {
            Some(url) => with_proxy(argv, url),
            None => argv,
        }
    }

    /// Wall time in ms from spawn to exit with both pipes drained, then of the ffprobe.
    pub(crate) fn run(&self, output_dir: &Path) -> Result<ByHandTiming> {
        self.run_via(output_dir, None)
    }

    /// [`ByHand::run`], with every connection through the egress proxy at `proxy` when given.
    fn run_via(&self, output_dir: &Path, proxy: Option<&str>) -> Result<ByHandTiming> {
        std::fs::create_dir_all(output_dir).map_err(io_err("create the by-hand output directory"))?;
        let argv = self.argv(output_dir, proxy);
        let started = Instant::now();
        let output = Command::new(&self.program)
            .args(&argv)
            .stdin(Stdio::null())
            .process_group(0)
            .output()
            .map_err(io_err(format!("run {}", self.program.display())))?;
        let elapsed = millis(started.elapsed());
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(BenchError::Protocol(format!(
                "bare yt-dlp failed ({}): {}",
                output.status,
                stderr.trim()
            )));
        }
        let mp3 = require_mp3(output_dir)?;
        let started = Instant::now();
        let duration = self.runtime.block_on(probe_duration(&self.ffmpeg, &mp3));
        let ffprobe_ms = millis(started.elapsed());
        if duration.is_none() {
            return Err(BenchError::Protocol(format!(
                "ffprobe found no duration in {}",
                mp3.display()
            )));
        }
        Ok(ByHandTiming {
            ytdlp_ms: elapsed,
            ffprobe_ms,
        })
    }
}

/// One `youtube_dl` through the worker; ms from the request write to the `done` line.
fn worker_job(worker: &mut WorkerProc, dir: &Path, url: &str, task_id: &str) -> Result<f64> {
    let out = dir.join("downloads").join(task_id);
    let request = download_request(task_id, url, true, &out.to_string_lossy());
    let sent = worker.send(&request)?;
    let (at, event) = worker.final_event(task_id, JOB_TIMEOUT, |_| {})?;
    expect_event(&event, "done")?;
    require_mp3(&out)?;
    Ok(millis(at - sent))
}

/// The mp3 the job left in `dir`.
fn require_mp3(dir: &Path) -> Result<PathBuf> {
    let entries = std::fs::read_dir(dir).map_err(io_err(format!("list {}", dir.display())))?;
    let found = entries
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "mp3"));
    found.ok_or_else(|| BenchError::Protocol(format!("no mp3 in {}", dir.display())))
}
