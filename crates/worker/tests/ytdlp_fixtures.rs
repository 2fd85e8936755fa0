//! The yt-dlp knowledge of the worker against real yt-dlp output.
//!
//! - Recorded fixtures (`fixtures/ytdlp/*.txt`, written by `scripts/record-ytdlp-fixtures.sh`;
//!   format documented there): each one's argv must still be what `args.rs` builds, and its lines
//!   must parse into the right events in the right order, drive the progress tracker within the
//!   wire rules, and classify its errors.
//! - Live runs: the default selectors of `args.rs` must actually download from the loopback media
//!   server with the installed yt-dlp (generic extractor), not just look right.
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use hermes_protocol::{AudioFormat, ProgressData, ProgressStatus};
use hermes_testkit::http::MediaServer;
use hermes_testkit::media;
use hermes_worker::ytdlp::args::{
    download_argv, DownloadSpec, MediaMode, PlaylistSpec, YtdlpEnv, PLAYLIST_OUTPUT_TEMPLATE,
    SINGLE_OUTPUT_TEMPLATE,
};
use hermes_worker::ytdlp::classify::{classify, first_error_message, YtdlpErrorKind};
use hermes_worker::ytdlp::line::{parse_line, LineEvent};
use hermes_worker::ytdlp::progress::{ProgressTracker, MIN_EMIT_INTERVAL, PERCENT_JUMP};

// ---------------------------------------------------------------------------------------------
// Fixture files

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    Out,
    Err,
}

#[derive(Debug)]
struct Fixture {
    name: String,
    output_dir: PathBuf,
    argv: Vec<String>,
    exit: i32,
    lines: Vec<(Stream, String)>,
}

impl Fixture {
    fn load(name: &str) -> Fixture {
        let path = fixtures_dir().join(format!("{name}.txt"));
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let text = String::from_utf8_lossy(&bytes);
        let mut fixture = Fixture {
            name: name.to_string(),
            output_dir: PathBuf::new(),
            argv: vec![],
            exit: -1,
            lines: vec![],
        };
        for line in text.lines() {
            if let Some(header) = line.strip_prefix("# ") {
                fixture.read_header(header);
            } else if let Some(out) = line.strip_prefix("OUT ") {
                fixture.lines.push((Stream::Out, out.to_string()));
            } else if let Some(err) = line.strip_prefix("ERR ") {
                fixture.lines.push((Stream::Err, err.to_string()));
            } else {
                panic!("{name}: line without OUT/ERR prefix: {line:?}");
            }
        }
        assert!(
            !fixture.argv.is_empty() && fixture.exit >= 0,
            "{name}: incomplete header"
        );
        fixture
    }

    fn read_header(&mut self, header: &str) {
        let Some((key, value)) = header.split_once(": ") else {
            return;
        };
        match key {
            "output_dir" => self.output_dir = PathBuf::from(value),
            "argv" => self.argv = serde_json::from_str(value).expect("argv header is a JSON array"),
            "exit" => self.exit = value.parse().expect("exit header is a number"),
            _ => {}
        }
    }

    fn url(&self) -> &str {
        self.argv.last().map(String::as_str).unwrap_or_default()
    }

    fn events(&self) -> Vec<LineEvent> {
        self.lines.iter().map(|(_, line)| parse_line(line)).collect()
    }

    fn error_lines(&self) -> Vec<String> {
        self.lines
            .iter()
            .filter(|(s, _)| *s == Stream::Err)
            .map(|(_, l)| l.clone())
            .collect()
    }

    /// Every event but `Other`, as a short word, consecutive progress updates collapsed into one
    /// `progress` (the number of updates depends on timing; their order does not).
    fn event_words(&self) -> Vec<String> {
        let mut words: Vec<String> = Vec::new();
        for event in self.events() {
            let word = match &event {
                LineEvent::Progress(raw) if raw.is_finished() => "finished".to_string(),
                LineEvent::Progress(_) => "progress".to_string(),
                LineEvent::Postprocess {
                    postprocessor,
                    status,
                } => format!("pp:{postprocessor}:{status}"),
                LineEvent::FormatsSelected { streams } => format!("formats:{streams}"),
                LineEvent::Destination(p) => format!("dest:{}", self.relative(p)),
                LineEvent::ExtractAudio(p) => format!("extract:{}", self.relative(p)),
                LineEvent::Merger(p) => format!("merge:{}", self.relative(p)),
                LineEvent::PlaylistItem { index, count } => format!("item:{index}/{count}"),
                LineEvent::AlreadyDownloaded(p) => format!("already:{}", self.relative(p)),
                LineEvent::ArchiveSkip(id) => format!("archived:{id}"),
                LineEvent::FinalFile(f) => format!("final:{}", self.relative(&f.filepath)),
                LineEvent::Title(title) => format!("title:{title}"),
                LineEvent::Error(_) => "error".to_string(),
                LineEvent::Warning(_) => "warning".to_string(),
                LineEvent::Other => continue,
            };
            if word == "progress" && words.last().is_some_and(|w| w == "progress") {
                continue;
            }
            words.push(word);
        }
        words
    }

    /// A path yt-dlp printed, relative to the download directory (which is a temp dir).
    fn relative(&self, path: &Path) -> String {
        let relative = path.strip_prefix(&self.output_dir).unwrap_or(path);
        relative.to_string_lossy().into_owned()
    }

    /// Feeds every line to `tracker`, 40 ms apart, flushing held-back updates before each line as
    /// the driver's timer does, and returns what it emitted plus `finish()`.
    fn track(&self, mut tracker: ProgressTracker) -> Vec<(Instant, ProgressData)> {
        let start = Instant::now();
        let mut sent = Vec::new();
        for (i, event) in self.events().iter().enumerate() {
            let now = start + Duration::from_millis(40 * i as u64);
            if let Some(update) = tracker.flush(now) {
                sent.push((now, update));
            }
            if let Some(update) = tracker.observe(event, now) {
                sent.push((now, update));
            }
        }
        let end = start + Duration::from_millis(40 * self.lines.len() as u64);
        sent.push((end, tracker.finish()));
        sent
    }
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/ytdlp")
}

fn words(expected: &[&str]) -> Vec<String> {
    expected.iter().map(|w| w.to_string()).collect()
}

fn statuses(sent: &[(Instant, ProgressData)]) -> Vec<ProgressStatus> {
    let mut statuses: Vec<ProgressStatus> = Vec::new();
    for (_, update) in sent {
        if statuses.last() != Some(&update.status) {
            statuses.push(update.status.clone());
        }
    }
    statuses
}

/// The wire rules of DESIGN.md §2 on what a tracker emitted.
fn assert_wire_rules(name: &str, sent: &[(Instant, ProgressData)]) {
    let (last_at, last) = sent.last().expect("finish() is always there");
    assert_eq!(
        (last.percent, &last.status),
        (100, &ProgressStatus::Completed),
        "{name}"
    );
    for pair in sent.windows(2) {
        let ((t0, a), (t1, b)) = (&pair[0], &pair[1]);
        assert!(
            b.percent >= a.percent,
            "{name}: percent went down: {a:?} -> {b:?}"
        );
        let spaced = t1.duration_since(*t0) >= MIN_EMIT_INTERVAL;
        let jumped = b.percent >= a.percent + PERCENT_JUMP;
        assert!(
            spaced || jumped || t1 == last_at,
            "{name}: throttle broken: {a:?} -> {b:?}"
        );
    }
    for (_, update) in &sent[..sent.len() - 1] {
        assert!(update.percent <= 99, "{name}: 100 before finish: {update:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// The argv each fixture was recorded with is the one args.rs builds today.

const ALL_FIXTURES: [&str; 10] = [
    "download_progress",
    "audio_extract",
    "already_downloaded",
    "http404",
    "unsupported",
    "format_unavailable",
    "playlist",
    "playlist_archived",
    "playlist_partial",
    "merge",
];

fn mp3() -> MediaMode {
    MediaMode::Audio {
        format: AudioFormat::Mp3,
        quality: "0".to_string(),
    }
}

/// The `DownloadSpec` each scenario of the recording script stands for.
fn expected_argv(fixture: &Fixture) -> Vec<String> {
    let archive = fixture.output_dir.join("archive.txt");
    let (mode, format, playlist) = match fixture.name.as_str() {
        "download_progress" | "merge" => (MediaMode::Video, None, None),
        "format_unavailable" => (MediaMode::Video, Some("bv[height>=2160]"), None),
        "audio_extract" | "already_downloaded" | "http404" | "unsupported" => (mp3(), None, None),
        "playlist" | "playlist_archived" | "playlist_partial" => (
            mp3(),
            None,
            Some(PlaylistSpec {
                end: None,
                archive_file: Some(archive),
                items: Vec::new(),
            }),
        ),
        other => panic!("fixture {other} has no spec in this test: add one"),
    };
    let template = if playlist.is_some() {
        PLAYLIST_OUTPUT_TEMPLATE
    } else {
        SINGLE_OUTPUT_TEMPLATE
    };
    let final_files_log = PathBuf::from(format!("{}.final-files.jsonl", fixture.output_dir.display()));
    let spec = DownloadSpec {
        url: fixture.url(),
        output_dir: &fixture.output_dir,
        output_template: template,
        mode,
        format,
        best_audio_limit_mb: 15,
        playlist,
        final_files_log: &final_files_log,
        max_filesize_mb: 2000,
        shape: Default::default(),
    };
    download_argv(&YtdlpEnv::default(), &spec)
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

#[test]
fn every_fixture_was_recorded_with_the_current_argv() {
    let on_disk: BTreeSet<String> = std::fs::read_dir(fixtures_dir())
        .expect("fixtures/ytdlp exists")
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(".txt").map(str::to_string))
        .collect();
    assert_eq!(
        on_disk,
        ALL_FIXTURES.iter().map(|s| s.to_string()).collect(),
        "fixture set changed"
    );
    for name in ALL_FIXTURES {
        let fixture = Fixture::load(name);
        assert_eq!(
            fixture.argv,
            expected_argv(&fixture),
            "{name}: args.rs changed since this fixture was recorded: run scripts/record-ytdlp-fixtures.sh"
        );
    }
}

#[test]
fn stderr_carries_only_warnings_and_errors() {
    for name in ALL_FIXTURES {
        let fixture = Fixture::load(name);
        for (stream, line) in &fixture.lines {
            let event = parse_line(line);
            if *stream == Stream::Err {
                assert!(
                    matches!(event, LineEvent::Error(_) | LineEvent::Warning(_)),
                    "{name}: {line}"
                );
            } else {
                assert!(
                    !matches!(event, LineEvent::Error(_) | LineEvent::Warning(_)),
                    "{name}: {line}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Events, tracker and errors of each scenario

#[test]
fn download_progress_fixture() {
    let fixture = Fixture::load("download_progress");
    assert_eq!(fixture.exit, 0);
    assert_eq!(
        fixture.event_words(),
        words(&[
            "formats:1",
            "title:big",
            "dest:big.wav",
            "progress",
            "finished",
            "pp:MoveFiles:started",
            "pp:MoveFiles:finished",
            "final:big.wav",
        ])
    );
    let updates: Vec<_> = fixture
        .events()
        .into_iter()
        .filter_map(|e| match e {
            LineEvent::Progress(raw) => Some(raw),
            _ => None,
        })
        .collect();
    assert!(updates.len() >= 10, "only {} progress lines", updates.len());
    assert!(
        updates.windows(2).all(|w| w[0].downloaded <= w[1].downloaded),
        "bytes go up"
    );
    assert!(
        updates.iter().all(|u| u.total == Some(20_971_598)),
        "the 20 MiB wav and its header"
    );
    let LineEvent::FinalFile(file) = fixture
        .events()
        .into_iter()
        .rfind(|e| matches!(e, LineEvent::FinalFile(_)))
        .expect("final")
    else {
        unreachable!()
    };
    assert_eq!(file.filepath, fixture.output_dir.join("big.wav"));
    assert_eq!(
        (
            file.title.as_deref(),
            file.id.as_deref(),
            file.duration,
            file.playlist_index
        ),
        (Some("big"), Some("big"), None, None)
    );

    let sent = fixture.track(ProgressTracker::new());
    assert_wire_rules("download_progress", &sent);
    assert!(
        sent.len() >= 4 && sent.len() < fixture.lines.len(),
        "{} events sent",
        sent.len()
    );
    // The title arrives before the download starts (status still `preparing`, the tracker's
    // initial one) and stays on every later event.
    assert_eq!(
        statuses(&sent),
        [
            ProgressStatus::Preparing,
            ProgressStatus::Downloading,
            ProgressStatus::Completed
        ]
    );
    assert!(
        sent.iter().all(|(_, p)| p.title.as_deref() == Some("big")),
        "{sent:?}"
    );
    let mid = sent
        .iter()
        .find(|(_, p)| p.percent > 30 && p.percent < 99)
        .expect("a mid-download update");
    assert!(mid.1.speed.ends_with("MB/s"), "{:?}", mid.1);
    assert_eq!(mid.1.total, Some(20_971_598));
}

#[test]
fn audio_extract_fixture() {
    let fixture = Fixture::load("audio_extract");
    assert_eq!(fixture.exit, 0);
    assert_eq!(
        fixture.event_words(),
        words(&[
            "formats:1",
            "title:tone",
            "dest:tone.webm",
            "progress",
            "finished",
            "pp:ExtractAudio:started",
            "extract:tone.mp3",
            "pp:ExtractAudio:finished",
            "pp:MoveFiles:started",
            "pp:MoveFiles:finished",
            "final:tone.mp3",
        ])
    );
    let sent = fixture.track(ProgressTracker::new());
    assert_wire_rules("audio_extract", &sent);
    assert_eq!(
        statuses(&sent),
        [
            ProgressStatus::Preparing,
            ProgressStatus::Downloading,
            ProgressStatus::Converting,
            ProgressStatus::Completed
        ]
    );
    let converting = sent
        .iter()
        .find(|(_, p)| p.status == ProgressStatus::Converting)
        .expect("converting");
    assert_eq!(
        (
            converting.1.percent,
            converting.1.speed.as_str(),
            converting.1.eta
        ),
        (99, "", 0)
    );
}

#[test]
fn already_downloaded_fixture() {
    let fixture = Fixture::load("already_downloaded");
    assert_eq!(fixture.exit, 0);
    assert_eq!(
        fixture.event_words(),
        words(&[
            "formats:1",
            "title:tone",
            "already:tone.mp3",
            "pp:ExtractAudio:started",
            "pp:ExtractAudio:finished",
            "pp:MoveFiles:started",
            "pp:MoveFiles:finished",
            "final:tone.mp3",
        ])
    );
    let sent = fixture.track(ProgressTracker::new());
    assert_wire_rules("already_downloaded", &sent);
}

#[test]
fn http404_fixture() {
    let fixture = Fixture::load("http404");
    assert_eq!(fixture.exit, 1);
    assert_eq!(fixture.event_words(), words(&["error"]));
    let errors = fixture.error_lines();
    assert_eq!(classify(&errors), YtdlpErrorKind::Removed);
    assert_eq!(
        first_error_message(&errors),
        "Unable to download webpage: HTTP Error 404: File not found"
    );
}

#[test]
fn unsupported_fixture() {
    let fixture = Fixture::load("unsupported");
    assert_eq!(fixture.exit, 1);
    assert_eq!(fixture.event_words(), words(&["warning", "error"]));
    let errors = fixture.error_lines();
    assert_eq!(classify(&errors), YtdlpErrorKind::UnsupportedUrl);
    let base = fixture.url().trim_end_matches("/page.html");
    assert_eq!(
        first_error_message(&errors),
        format!("Unsupported URL: {base}/page.html")
    );
}

#[test]
fn format_unavailable_fixture() {
    let fixture = Fixture::load("format_unavailable");
    assert_eq!(fixture.exit, 1);
    assert_eq!(fixture.event_words(), words(&["error"]));
    let errors = fixture.error_lines();
    assert_eq!(classify(&errors), YtdlpErrorKind::NoSuitableFormat);
    assert!(!classify(&errors).is_transient());
    assert_eq!(
        first_error_message(&errors),
        "Requested format is not available. Use --list-formats for a list of available formats"
    );
}

fn playlist_item_words(index: u32, count: u32) -> Vec<String> {
    words(&[
        &format!("item:{index}/{count}"),
        "formats:1",
        &format!("dest:{index:03} - Tone {index}.webm"),
        "progress",
        "finished",
        "pp:ExtractAudio:started",
        &format!("extract:{index:03} - Tone {index}.mp3"),
        "pp:ExtractAudio:finished",
        "pp:MoveFiles:started",
        "pp:MoveFiles:finished",
        &format!("final:{index:03} - Tone {index}.mp3"),
    ])
}

#[test]
fn playlist_fixture() {
    let fixture = Fixture::load("playlist");
    assert_eq!(fixture.exit, 0);
    let mut expected = words(&["warning"]);
    for index in 1..=3 {
        expected.extend(playlist_item_words(index, 3));
    }
    expected.extend(words(&["pp:Concat:started", "pp:Concat:finished"]));
    assert_eq!(fixture.event_words(), expected);

    let finals: Vec<_> = fixture
        .events()
        .into_iter()
        .filter_map(|e| match e {
            LineEvent::FinalFile(f) => Some((f.playlist_index, f.title, f.id)),
            _ => None,
        })
        .collect();
    assert_eq!(
        finals,
        (1..=3)
            .map(|i| (Some(i), Some(format!("Tone {i}")), Some(format!("tone-{i}"))))
            .collect::<Vec<_>>()
    );

    let sent = fixture.track(ProgressTracker::for_playlist(3));
    assert_wire_rules("playlist", &sent);
    assert_eq!(
        statuses(&sent),
        [ProgressStatus::DownloadingPlaylist, ProgressStatus::Completed]
    );
    for (threshold, item) in [(33, "item:2/3"), (66, "item:3/3")] {
        // By the time item N starts, the earlier items count as done.
        let line = format!(
            "[download] Downloading {}",
            item.replace(':', " ").replace('/', " of ")
        );
        let position = fixture
            .lines
            .iter()
            .position(|(_, l)| *l == line)
            .expect("item line");
        let mut tracker = ProgressTracker::for_playlist(3);
        let start = Instant::now();
        for (i, (_, line)) in fixture.lines.iter().enumerate().take(position + 1) {
            tracker.observe(&parse_line(line), start + Duration::from_millis(40 * i as u64));
        }
        assert_eq!(tracker.percent(), threshold, "at {item}");
    }
}

#[test]
fn playlist_archived_fixture() {
    let fixture = Fixture::load("playlist_archived");
    assert_eq!(fixture.exit, 0);
    assert_eq!(
        fixture.event_words(),
        words(&[
            "warning",
            "item:1/3",
            "archived:tone-1",
            "item:2/3",
            "archived:tone-2",
            "item:3/3",
            "archived:tone-3",
            "pp:Concat:started",
            "pp:Concat:finished",
        ])
    );
    let sent = fixture.track(ProgressTracker::for_playlist(3));
    assert_wire_rules("playlist_archived", &sent);
}

#[test]
fn playlist_partial_fixture() {
    let fixture = Fixture::load("playlist_partial");
    assert_eq!(
        fixture.exit, 1,
        "a failed item fails the run after the others downloaded"
    );
    let mut expected = words(&["warning"]);
    expected.extend(playlist_item_words(1, 3));
    expected.extend(words(&["item:2/3", "error"]));
    expected.extend(playlist_item_words(3, 3));
    expected.extend(words(&["pp:Concat:started", "pp:Concat:finished"]));
    assert_eq!(fixture.event_words(), expected);
    // The driver classifies the ERROR messages (prefix stripped by the parser).
    let messages: Vec<String> = fixture
        .events()
        .into_iter()
        .filter_map(|e| match e {
            LineEvent::Error(message) => Some(message),
            _ => None,
        })
        .collect();
    assert_eq!(classify(&messages), YtdlpErrorKind::Removed);
    assert_eq!(
        first_error_message(&messages),
        "Unable to download webpage: HTTP Error 404: File not found"
    );
    assert_wire_rules(
        "playlist_partial",
        &fixture.track(ProgressTracker::for_playlist(3)),
    );
}

#[test]
fn merge_fixture() {
    let fixture = Fixture::load("merge");
    assert_eq!(fixture.exit, 0);
    assert_eq!(
        fixture.event_words(),
        words(&[
            "warning",
            "formats:2",
            "title:manifest",
            "dest:manifest.f0.mp4",
            "progress",
            "finished",
            "dest:manifest.f1.m4a",
            "progress",
            "finished",
            "pp:Merger:started",
            "merge:manifest.mp4",
            "pp:Merger:finished",
            "pp:MoveFiles:started",
            "pp:MoveFiles:finished",
            "final:manifest.mp4",
        ])
    );
    let sent = fixture.track(ProgressTracker::new());
    assert_wire_rules("merge", &sent);
    assert_eq!(
        statuses(&sent),
        [
            ProgressStatus::Preparing,
            ProgressStatus::Downloading,
            ProgressStatus::Processing,
            ProgressStatus::Completed
        ]
    );
    // Two streams: the video alone is half the download.
    let mut tracker = ProgressTracker::new();
    let start = Instant::now();
    let second = fixture
        .lines
        .iter()
        .position(|(_, l)| l.contains("Destination:") && l.ends_with(".f1.m4a"))
        .expect("audio");
    for (i, (_, line)) in fixture.lines.iter().enumerate().take(second + 1) {
        tracker.observe(&parse_line(line), start + Duration::from_millis(40 * i as u64));
    }
    assert_eq!(tracker.percent(), 50);
}

// ---------------------------------------------------------------------------------------------
// Live: the default selectors download for real from the loopback server.

struct LiveRun {
    exit: i32,
    events: Vec<LineEvent>,
    stderr: String,
}

fn run_ytdlp(argv: &[std::ffi::OsString]) -> LiveRun {
    let output = Command::new("yt-dlp")
        .args(argv)
        .output()
        .unwrap_or_else(|e| panic!("cannot run yt-dlp (install it with pip): {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    LiveRun {
        exit: output.status.code().unwrap_or(-1),
        events: stdout.lines().map(parse_line).collect(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn final_files(run: &LiveRun) -> Vec<PathBuf> {
    run.events
        .iter()
        .filter_map(|e| match e {
            LineEvent::FinalFile(f) => Some(f.filepath.clone()),
            _ => None,
        })
        .collect()
}

fn live_download(url: &str, mode: MediaMode, out: &Path) -> LiveRun {
    let final_files_log = out.join("final-files.jsonl");
    let spec = DownloadSpec {
        url,
        output_dir: out,
        output_template: SINGLE_OUTPUT_TEMPLATE,
        mode,
        format: None,
        best_audio_limit_mb: 15,
        playlist: None,
        final_files_log: &final_files_log,
        max_filesize_mb: 2000,
        shape: Default::default(),
    };
    let env = YtdlpEnv {
        ffmpeg_location: Some(ffmpeg_on_path()),
        cookie_file: None,
        ..YtdlpEnv::default()
    };
    run_ytdlp(&download_argv(&env, &spec))
}

fn ffmpeg_on_path() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("ffmpeg"))
        .find(|candidate| candidate.is_file())
        .expect("ffmpeg on PATH")
}

#[test]
fn live_audio_selector_extracts_mp3_and_m4a_from_a_direct_link() {
    let server = MediaServer::start(media::media_dir());
    let url = server.media_url(media::tone_webm(2, 440));
    for (format, ext) in [(AudioFormat::Mp3, "mp3"), (AudioFormat::M4a, "m4a")] {
        let out = tempfile::tempdir().expect("temp dir");
        let mode = MediaMode::Audio {
            format,
            quality: "5".to_string(),
        };
        let run = live_download(&url, mode, out.path());
        assert_eq!(run.exit, 0, "{}", run.stderr);
        let files = final_files(&run);
        assert_eq!(files.len(), 1, "{:?}", run.events);
        assert_eq!(files[0].extension().and_then(|e| e.to_str()), Some(ext));
        assert!(
            files[0].starts_with(out.path()) && files[0].is_file(),
            "{:?}",
            files[0]
        );
        assert!(run.events.iter().any(|e| matches!(e, LineEvent::ExtractAudio(_))));
        assert!(
            run.events.contains(&LineEvent::Title("tone_2s_440hz".into())),
            "a direct link's title is its file stem: {:?}",
            run.events
        );
        assert!(run
            .events
            .iter()
            .any(|e| matches!(e, LineEvent::Progress(p) if p.is_finished())));
    }
}

#[test]
fn live_video_selector_downloads_an_mp4_of_unknown_height() {
    let server = MediaServer::start(media::media_dir());
    let url = server.media_url(media::video_mp4(1));
    let out = tempfile::tempdir().expect("temp dir");
    let run = live_download(&url, MediaMode::Video, out.path());
    assert_eq!(run.exit, 0, "{}", run.stderr);
    let files = final_files(&run);
    assert_eq!(files.len(), 1, "{:?}", run.events);
    assert_eq!(files[0].extension().and_then(|e| e.to_str()), Some("mp4"));
    assert!(files[0].is_file());
}

#[test]
fn live_output_dir_with_percent_is_taken_literally() {
    let server = MediaServer::start(media::media_dir());
    let url = server.media_url(media::tone_webm(2, 440));
    let root = tempfile::tempdir().expect("temp dir");
    let out = root.path().join("100%(id)s done");
    let mode = MediaMode::Audio {
        format: AudioFormat::Mp3,
        quality: "0".to_string(),
    };
    let run = live_download(&url, mode, &out);
    assert_eq!(run.exit, 0, "{}", run.stderr);
    let files = final_files(&run);
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].parent(), Some(out.as_path()), "{:?}", files[0]);
}
