//! The real yt-dlp against the loopback media server: the behaviour the worker's tests build on,
//! checked here so a yt-dlp upgrade that changes it fails in one obvious place.

mod common;

use std::fs::File;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use hermes_testkit::http::{FeedItem, MediaServer, STALL_PREFIX_BYTES};
use hermes_testkit::media::{big_wav, media_dir, tone_m4a, tone_webm};
use hermes_testkit::procs::{processes_with_cmdline_containing, wait_until};

/// yt-dlp with the user's configuration files ignored, so the machine's config cannot change what
/// these tests see.
fn yt_dlp() -> Command {
    let mut cmd = Command::new("yt-dlp");
    cmd.arg("--ignore-config");
    cmd
}

fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|err| panic!("cannot run yt-dlp (pip install yt-dlp): {err}"))
}

fn describe(output: &Output) -> String {
    format!(
        "status {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .expect("file name")
        .to_string_lossy()
        .into_owned()
}

fn sorted_dir_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn flat_playlist_lists_the_feed_items_under_the_feed_title() {
    let server = MediaServer::start(media_dir());
    let first = format!("/media/{}", file_name(&tone_webm(2, 440)));
    let second = format!("/media/{}", file_name(&tone_m4a(2, 660)));
    let feed = server.add_feed(
        "flat",
        "Loopback Flat Feed",
        vec![
            FeedItem::new("First tone", first.as_str()),
            FeedItem::new("Second tone", second.as_str()),
        ],
    );
    let output = run(yt_dlp().args(["--flat-playlist", "-J", "--", &feed]));
    assert!(output.status.success(), "{}", describe(&output));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("-J prints JSON");

    assert_eq!(json["_type"], "playlist");
    assert_eq!(json["title"], "Loopback Flat Feed");
    assert_eq!(json["extractor"], "generic");
    let entries = json["entries"].as_array().expect("entries");
    let titles: Vec<_> = entries
        .iter()
        .map(|e| e["title"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(titles, ["First tone", "Second tone"]);
    assert!(
        entries.iter().all(|e| e.get("id").is_none()),
        "flat RSS entries carry no id"
    );
    // Each entry URL is the enclosure URL plus a `#__youtubedl_smuggle=` fragment carrying the guid
    // as the future id; yt-dlp unsmuggles it itself, and a fragment never reaches the server.
    for (entry, path) in entries.iter().zip([&first, &second]) {
        let url = entry["url"].as_str().unwrap_or_default();
        assert!(url.starts_with(&server.url(path)), "entry url {url}");
    }
    assert_eq!(server.hits("/feeds/flat.rss"), 1);
    assert_eq!(server.hits(&first), 0, "a flat listing does not touch the items");
}

#[test]
fn direct_media_url_downloads_and_converts_to_mp3_via_the_generic_extractor() {
    let server = MediaServer::start(media_dir());
    let source = tone_webm(2, 440);
    let url = server.media_url(&source);
    let out = tempfile::tempdir().expect("temp dir");
    let template = format!("{}/%(title)s.%(ext)s", out.path().display());
    let output = run(yt_dlp().args(["-x", "--audio-format", "mp3", "-o", &template, "--", &url]));
    assert!(output.status.success(), "{}", describe(&output));

    assert_eq!(
        sorted_dir_names(out.path()),
        ["tone_2s_440hz.mp3"],
        "title = file stem, source deleted"
    );
    let (codecs, duration) = common::probe(&out.path().join("tone_2s_440hz.mp3"));
    assert_eq!(codecs, ["mp3"]);
    assert!((duration - 2.0).abs() < 0.2, "duration {duration}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("[ExtractAudio] Destination:"),
        "{}",
        describe(&output)
    );
    assert_eq!(
        server.hits(&url),
        2,
        "one GET to extract (content-type probe), one to download"
    );
}

#[test]
fn feed_with_a_404_item_downloads_the_others_and_exits_1() {
    let server = MediaServer::start(media_dir());
    let webm = tone_webm(1, 440);
    let m4a = tone_m4a(1, 440);
    let feed = server.add_feed(
        "broken",
        "Partly Broken Feed",
        vec![
            FeedItem::new("Good one", format!("/media/{}", file_name(&webm))),
            FeedItem::new("Missing one", "/404"),
            FeedItem::new("Good two", format!("/media/{}", file_name(&m4a))),
        ],
    );
    let out = tempfile::tempdir().expect("temp dir");
    let template = format!("{}/%(title)s.%(ext)s", out.path().display());
    let output = run(yt_dlp().args(["-o", &template, "--", &feed]));

    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    assert_eq!(
        sorted_dir_names(out.path()),
        ["Good one.webm", "Good two.m4a"],
        "{}",
        describe(&output)
    );
    assert_eq!(
        std::fs::read(out.path().join("Good one.webm")).ok(),
        std::fs::read(&webm).ok()
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("ERROR:") && stderr.contains("HTTP Error 404"),
        "{}",
        describe(&output)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("Downloading item 3 of 3"),
        "{}",
        describe(&output)
    );
    assert!(
        stdout.contains("[generic] broken-1:"),
        "the <guid> is the entry id: {}",
        describe(&output)
    );
    assert_eq!(server.hits("/404"), 1);
}

#[test]
fn page_without_media_is_an_unsupported_url() {
    let server = MediaServer::start(media_dir());
    let output = run(yt_dlp().args(["--", &server.url("/nomedia.html")]));
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("ERROR: Unsupported URL"),
        "{}",
        describe(&output)
    );
}

#[test]
fn stall_endpoint_makes_ytdlp_hang_until_killed() {
    let server = MediaServer::start(media_dir());
    let url = server.url(&format!("/stall/{}", file_name(&big_wav(1))));
    let out = tempfile::tempdir().expect("temp dir");
    // The unique output directory is the marker that finds this yt-dlp in /proc.
    let marker = out.path().join("stall-marker");
    let template = format!("{}/%(title)s.%(ext)s", marker.display());
    let log_path = out.path().join("stdout.log");
    let log = File::create(&log_path).expect("log file");
    let mut child = yt_dlp()
        .args(["--newline", "-o", &template, "--", &url])
        .stdout(Stdio::from(log))
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|err| panic!("cannot run yt-dlp: {err}"));

    // yt-dlp reads in blocks and keeps the last, incomplete one in memory, so the .part file holds
    // a little less than the 64 KiB prefix (63 KiB with 2026.10.26).
    let part = marker.join("big_1mb.wav.part");
    let part_len = || std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
    let got_prefix = wait_until(Duration::from_secs(10), || part_len() >= STALL_PREFIX_BYTES / 2);
    let log_len = || std::fs::metadata(&log_path).map(|m| m.len()).unwrap_or(0);
    let (log_before, part_before) = (log_len(), part_len());
    std::thread::sleep(Duration::from_secs(2));
    let still_running = child.try_wait().expect("try_wait").is_none();
    let (log_after, part_after) = (log_len(), part_len());
    let marker_text = marker.to_string_lossy().into_owned();
    let listed = processes_with_cmdline_containing(&marker_text);

    let _ = child.kill();
    let _ = child.wait();
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    assert!(got_prefix, "yt-dlp never wrote the 64 KiB prefix\n{log}");
    assert!(still_running, "yt-dlp must still be waiting for data\n{log}");
    assert_eq!(log_before, log_after, "no output while stalled\n{log}");
    assert_eq!(part_before, part_after, "no data while stalled");
    assert!(part_after <= STALL_PREFIX_BYTES);
    assert_eq!(
        listed.iter().map(|p| p.pid).collect::<Vec<_>>(),
        [child.id()],
        "found by marker"
    );
    assert!(
        wait_until(Duration::from_secs(5), || {
            processes_with_cmdline_containing(&marker_text).is_empty()
        }),
        "the killed yt-dlp is gone"
    );
}
