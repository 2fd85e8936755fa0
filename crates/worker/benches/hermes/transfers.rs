//! Figure 8, concurrent playlists, files announced as they finish, several connections per file,
//! beside the sequential runs they replace.
use crate::error::{io_err, BenchError, Result};
use crate::options::Reps;
use crate::overhead::bench_config;
use crate::report::{Report, Row, Target, Unit};
use crate::scratch::Scratch;
use crate::stats::millis;
use crate::worker::{expect_event, WorkerProc};
use hermes_protocol::{download_request, playlist_request_opts, AudioFormat};
use hermes_testkit::http::{FeedItem, MediaServer};
use hermes_testkit::media;
use hermes_worker::ytdlp::args::{
    download_argv, DownloadSpec, MediaMode, PlaylistSpec, PLAYLIST_OUTPUT_TEMPLATE, SINGLE_OUTPUT_TEMPLATE,
};
use hermes_worker::ytdlp::env::ytdlp_env;
use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The issue-16 setup: 8 tracks of 90 s Opus in an RSS feed, each connection served at 500 kB/s.
const PLAYLIST_TRACKS: u32 = 8;
const PLAYLIST_TRACK_SECONDS: u32 = 90;
const PLAYLIST_RATE: u32 = 500_000;
/// Single large file and HLS stream: ~20 MB each, 1 MB/s per connection (DESIGN.md §5 facts).
const BIG_FILE_MIB: u32 = 20;
const BIG_RATE: u32 = 1_000_000;
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(300);

pub(crate) fn figure_transfers(scratch: &Scratch, reps: &Reps, report: &mut Report) -> Result<()> {
    let dir = scratch.subdir("transfers")?;
    let config = bench_config(&dir)?;
    let env = ytdlp_env(&config);
    let server = MediaServer::start(media::media_dir());
    let items: Vec<FeedItem> = (0..PLAYLIST_TRACKS)
        .map(|i| {
            let file = media::tone_webm(PLAYLIST_TRACK_SECONDS, 300 + 40 * i);
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            FeedItem::new(
                format!("Track {}", i + 1),
                format!("/slow/{PLAYLIST_RATE}/{name}"),
            )
        })
        .collect();
    let track_bytes: u64 = (0..PLAYLIST_TRACKS)
        .map(|i| {
            std::fs::metadata(media::tone_webm(PLAYLIST_TRACK_SECONDS, 300 + 40 * i)).map_or(0, |m| m.len())
        })
        .sum();
    let feed = server.add_feed("bench-eight", "Bench Eight", items);
    let big = media::big_wav(BIG_FILE_MIB);
    let big_url = server.url(&format!(
        "/slow/{BIG_RATE}/{}",
        big.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    ));
    let hls_root = dir.join("hls-root");
    let hls_bytes = generate_hls(&hls_root.join("hls"))?;
    let hls_server = MediaServer::start(&hls_root);
    let hls_url = hls_server.url(&format!("/slow/{BIG_RATE}/hls/index.m3u8"));

    let mut worker = WorkerProc::spawn(&dir, &[])?;
    let (mut wall, mut first, mut sequential) = (vec![], vec![], vec![]);
    let (mut big_ours, mut big_one, mut hls_ours, mut hls_one, mut gaps) =
        (vec![], vec![], vec![], vec![], vec![]);
    for rep in 0..reps.transfers {
        // Inside the worker's DOWNLOAD_DIR, which every `output_dir` must be.
        let run = |tag: &str| dir.join("downloads").join(format!("{tag}-{rep}"));
        let bare_playlist = || -> Result<f64> {
            let spec = bench_spec(
                &feed,
                &run("bare-playlist"),
                PLAYLIST_OUTPUT_TEMPLATE,
                true,
                Some(PlaylistSpec::default()),
            );
            time_bare(&config.ytdlp_bin, download_argv(&env, &spec.spec()), true)
        };
        let ours_playlist = |worker: &mut WorkerProc| -> Result<(f64, f64)> {
            let out = run("playlist");
            let request =
                playlist_request_opts(&format!("pl{rep}"), &feed, &out.to_string_lossy(), None, true);
            let sent = worker.send(&request)?;
            let mut first_file: Option<Instant> = None;
            let (at, event) =
                worker.final_event_timed(&format!("pl{rep}"), TRANSFER_TIMEOUT, |line_at, event| {
                    if first_file.is_none() && event["data"].get("file").is_some() {
                        first_file = Some(line_at);
                    }
                })?;
            expect_event(&event, "done")?;
            if event["data"]["total_tracks_downloaded"] != PLAYLIST_TRACKS {
                return Err(BenchError::Protocol(format!("playlist: {}", event["data"])));
            }
            let first_file =
                first_file.ok_or_else(|| BenchError::Protocol("no file announced".to_owned()))?;
            Ok((millis(at - sent), millis(first_file - sent)))
        };
        // Alternate the order so a drift in machine load hits both sides.
        if rep % 2 == 0 {
            let (w, f) = ours_playlist(&mut worker)?;
            wall.push(w);
            first.push(f);
            sequential.push(bare_playlist()?);
        } else {
            sequential.push(bare_playlist()?);
            let (w, f) = ours_playlist(&mut worker)?;
            wall.push(w);
            first.push(f);
        }

        let spec = bench_spec(&big_url, &run("bare-big"), SINGLE_OUTPUT_TEMPLATE, false, None);
        big_one.push(time_bare(
            &config.ytdlp_bin,
            download_argv(&env, &spec.spec()),
            false,
        )?);
        let (ms, gap) = worker_download(&mut worker, &big_url, &run("big"), &format!("big{rep}"))?;
        big_ours.push(ms);
        gaps.push(gap);
        let spec = bench_spec(&hls_url, &run("bare-hls"), SINGLE_OUTPUT_TEMPLATE, false, None);
        hls_one.push(time_bare(
            &config.ytdlp_bin,
            download_argv(&env, &spec.spec()),
            false,
        )?);
        hls_ours.push(worker_download(&mut worker, &hls_url, &run("hls"), &format!("hls{rep}"))?.0);
    }
    worker.finish()?;
    let aria2c = config
        .transfer
        .args()
        .aria2c
        .map_or("not installed".to_owned(), |p| p.display().to_string());
    report.push_rows([
        Row::new(
            "8a playlist 8×90 s → mp3 vs sequential bare yt-dlp",
            Unit::Ms,
            &wall,
            &sequential,
            Target::RatioAtMost(0.25),
        ),
        Row::new(
            "8b first file announced vs sequential bare yt-dlp",
            Unit::Ms,
            &first,
            &sequential,
            Target::RatioAtMost(0.2),
        ),
        Row::new(
            "8c first file announced vs our playlist wall",
            Unit::Ms,
            &first,
            &wall,
            Target::Info("info (see note)"),
        ),
        Row::new(
            format!("8d {BIG_FILE_MIB} MiB file vs one connection"),
            Unit::Ms,
            &big_ours,
            &big_one,
            Target::RatioAtMost(0.25),
        ),
        Row::new(
            "8e HLS stream vs one fragment at a time",
            Unit::Ms,
            &hls_ours,
            &hls_one,
            Target::RatioAtMost(0.25),
        ),
        Row::new(
            "8f longest progress gap in 8d vs 1 s",
            Unit::Ms,
            &gaps,
            &[1000.0],
            Target::Info("info (≤ ~1 s)"),
        ),
    ]);
    report.notes.push(format!(
        "8: a: `playlist` (extract_audio mp3, defaults PLAYLIST_CONCURRENCY={}, CONCURRENT_FRAGMENTS={}, aria2c: {aria2c}) of an RSS \
         feed of {PLAYLIST_TRACKS} Opus/WebM tones of {PLAYLIST_TRACK_SECONDS} s ({track_bytes} bytes in all), every item at \
         /slow/{PLAYLIST_RATE}/ (each HTTP response paced at {PLAYLIST_RATE} B/s; Range honoured, so each connection gets that \
         rate), request → `done`, against one bare yt-dlp over the feed (the worker's former sequential argv, `download_argv`, \
         no proxy) → exit, {} rep(s) alternating. b/c: request → the first `progress` event carrying a finished `file`; the \
         issue's ratio is taken against the sequential wall (what a user waited for before: the first file came with the last), \
         c shows it against our own wall (with 8 tracks 4 at a time the first batch ends about half-way, by construction). \
         d: `youtube_dl` (video, i.e. the file as is) of a {BIG_FILE_MIB} MiB WAV at /slow/{BIG_RATE}/ vs bare yt-dlp with its \
         own single-connection downloader; e: the same for an HLS stream of {hls_bytes} bytes (mpeg2 video in 2 s TS segments) \
         at /slow/{BIG_RATE}/, bare yt-dlp fetching one fragment at a time. f: the longest gap between two `progress` events \
         of 8d while downloading (aria2c prints its readout once a second).",
        config.transfer.playlist_concurrency,
        config.transfer.concurrent_fragments,
        reps.transfers,
    ));
    Ok(())
}

/// The argv inputs of one by-hand run.
struct BenchSpec {
    pub(crate) url: String,
    pub(crate) out: PathBuf,
    template: &'static str,
    audio: bool,
    pub(crate) playlist: Option<PlaylistSpec>,
    log: PathBuf,
}

impl BenchSpec {
    pub(crate) fn spec(&self) -> DownloadSpec<'_> {
        DownloadSpec {
            url: &self.url,
            output_dir: &self.out,
            output_template: self.template,
            mode: if self.audio {
                MediaMode::Audio {
                    format: AudioFormat::Mp3,
                    quality: "0".to_owned(),
                }
            } else {
                MediaMode::Video
            },
            format: None,
            best_audio_limit_mb: 15,
            playlist: self.playlist.clone(),
            final_files_log: &self.log,
            max_filesize_mb: 2000,
            shape: Default::default(),
        }
    }
}

fn bench_spec(
    url: &str,
    out: &Path,
    template: &'static str,
    audio: bool,
    playlist: Option<PlaylistSpec>,
) -> BenchSpec {
    BenchSpec {
        url: url.to_owned(),
        out: out.to_path_buf(),
        template,
        audio,
        playlist,
        log: out.join(".final-files.jsonl"),
    }
}

/// Wall ms of one bare yt-dlp run (own process group, both pipes drained); a playlist with a
/// failed item would exit 1, which this setup never has.
fn time_bare(program: &Path, argv: Vec<OsString>, _playlist: bool) -> Result<f64> {
    let started = Instant::now();
    let output = Command::new(program)
        .args(&argv)
        .stdin(Stdio::null())
        .process_group(0)
        .output()
        .map_err(io_err(format!("run {}", program.display())))?;
    let elapsed = millis(started.elapsed());
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(BenchError::Protocol(format!(
            "bare yt-dlp failed ({}): {}",
            output.status,
            stderr.trim()
        )));
    }
    Ok(elapsed)
}

/// One `youtube_dl` (the file as is) through the worker: ms to `done`, and the longest gap
/// between `progress` events while it downloaded.
fn worker_download(worker: &mut WorkerProc, url: &str, out: &Path, task_id: &str) -> Result<(f64, f64)> {
    let request = download_request(task_id, url, false, &out.to_string_lossy());
    let sent = worker.send(&request)?;
    let mut downloading: Vec<Instant> = Vec::new();
    let (at, event) = worker.final_event_timed(task_id, TRANSFER_TIMEOUT, |line_at, event| {
        if event["data"]["status"] == "downloading" {
            downloading.push(line_at);
        }
    })?;
    expect_event(&event, "done")?;
    let gap = downloading
        .windows(2)
        .map(|w| millis(w[1] - w[0]))
        .fold(0.0, f64::max);
    Ok((millis(at - sent), gap))
}

/// A ~20 MB HLS stream (mpeg2 video at a constant 4 Mbit/s, 2 s segments) in `dir`; returns
/// its segments' total size.
fn generate_hls(dir: &Path) -> Result<u64> {
    std::fs::create_dir_all(dir).map_err(io_err("create the HLS directory"))?;
    let playlist = dir.join("index.m3u8");
    if !playlist.is_file() {
        let status = Command::new("ffmpeg")
            .args([
                "-loglevel",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                "testsrc=size=640x360:rate=25",
                "-t",
                "40",
            ])
            .args([
                "-c:v",
                "mpeg2video",
                "-b:v",
                "4M",
                "-minrate",
                "4M",
                "-maxrate",
                "4M",
                "-bufsize",
                "2M",
            ])
            .args([
                "-f",
                "hls",
                "-hls_time",
                "2",
                "-hls_playlist_type",
                "vod",
                "-hls_segment_filename",
            ])
            .arg(dir.join("seg%03d.ts"))
            .arg(&playlist)
            .status()
            .map_err(io_err("run ffmpeg"))?;
        if !status.success() {
            return Err(BenchError::Protocol(format!(
                "ffmpeg could not make the HLS stream: {status}"
            )));
        }
    }
    let entries = std::fs::read_dir(dir).map_err(io_err("list the HLS directory"))?;
    Ok(entries
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "ts"))
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum())
}
