//! The attacks of the security review, replayed against the real worker, yt-dlp and ffmpeg with
//! media and feeds on 127.0.0.1 (DESIGN.md §3 "Trust boundary", "Egress", "Size cap").
//!
//! Each test plants a victim file outside `DOWNLOAD_DIR` (in the worker's temp root) and makes
//! yt-dlp print remote-controlled text that names it: a feed title or an item title with a newline
//! and a forged `HERMES_FILE {...}` / `[download] Destination: ...` line, or a URL whose
//! percent-encoded name decodes to such lines. The victim must never be reported, zipped or
//! deleted. The egress tests run with the default policy (nothing private reachable) or with only
//! `127.0.0.1/32` opened and a second server on `127.0.0.2` playing the internal host.
mod common;

use common::{assert_error, files_under, partial_files_under, Worker};
use hermes_testkit::http::{FeedItem, MediaServer};
use hermes_testkit::media;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;

const T: Duration = Duration::from_secs(60);

fn server() -> MediaServer {
    MediaServer::start(media::media_dir())
}

fn tone_path() -> String {
    format!(
        "/media/{}",
        media::tone_webm(2, 440).file_name().unwrap().to_string_lossy()
    )
}

/// A victim file (and a `.part` sibling) next to DOWNLOAD_DIR, outside it.
fn plant_victim(worker: &Worker) -> PathBuf {
    let victim = worker.dir.path().join("victim-secret");
    std::fs::write(&victim, b"TOP SECRET").unwrap();
    std::fs::write(worker.dir.path().join("victim-secret.part"), b"PARTIAL SECRET").unwrap();
    victim
}

fn assert_victim_untouched(victim: &Path) {
    assert_eq!(
        std::fs::read(victim).unwrap(),
        b"TOP SECRET",
        "victim changed or deleted"
    );
    let part = PathBuf::from(format!("{}.part", victim.display()));
    assert_eq!(
        std::fs::read(part).unwrap(),
        b"PARTIAL SECRET",
        "victim .part changed or deleted"
    );
}

/// Lines an attacker appends after a newline in any text yt-dlp prints.
fn forged_lines(victim: &Path) -> String {
    format!(
        "\nHERMES_FILE {{\"filepath\": \"{v}\", \"title\": \"pwned\", \"playlist_index\": 1}}\n[download] Destination: {v}\n[ExtractAudio] Destination: {v}",
        v = victim.display()
    )
}

/// Every string anywhere in a JSON value.
fn strings_in(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().flat_map(strings_in).collect(),
        Value::Object(map) => map.values().flat_map(strings_in).collect(),
        _ => vec![],
    }
}

fn assert_not_mentioned(event: &Value, victim: &Path) {
    let victim = victim.to_string_lossy();
    for text in strings_in(&event["data"]) {
        assert!(!text.contains(victim.as_ref()), "victim path reported: {event}");
    }
}

/// Names of the entries of a ZIP, read by an independent reader (`unzip -Z1`).
fn zip_entries(zip: &str) -> Vec<String> {
    let out = std::process::Command::new("unzip")
        .arg("-Z1")
        .arg(zip)
        .output()
        .expect("unzip");
    assert!(
        out.status.success(),
        "unzip -Z1 {zip}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn loopback_worker(extra: &[(&str, &str)]) -> Worker {
    Worker::start(extra)
}

#[test]
fn forged_file_lines_in_feed_and_item_titles_are_neither_reported_nor_zipped() {
    let mut worker = loopback_worker(&[]);
    let victim = plant_victim(&worker);
    let server = server();
    let forged = forged_lines(&victim);
    // The item title is kept under the file-name length limit (it becomes `001 - <title>.mp3`).
    let forged_item = format!("\nHERMES_FILE {{\"filepath\": \"{}\"}}", victim.display());
    let feed = server.add_feed(
        "hostile",
        &format!("Tones{forged}"),
        vec![
            FeedItem::new(format!("One{forged_item}"), tone_path()),
            FeedItem::new("Two", tone_path()),
        ],
    );

    worker.send(
        &json!({"task_id": "pl", "action": "playlist", "url": feed, "params": {"extract_audio": true}}),
    );
    let done = worker.final_event("pl", T);
    assert_eq!(done["event"], "done", "{done}");
    assert_not_mentioned(&done, &victim);
    assert_eq!(done["data"]["total_tracks_downloaded"], 2, "{done}");
    for track in done["data"]["tracks"].as_array().unwrap() {
        let path = Path::new(track["path"].as_str().unwrap());
        assert!(path.starts_with(worker.downloads()), "{track}");
    }
    for part in done["data"]["files"].as_array().unwrap() {
        let entries = zip_entries(part["path"].as_str().unwrap());
        assert_eq!(entries.len(), 2, "{entries:?}");
        // Titles may quote the forged text; the entries are still the two real tracks.
        assert!(
            entries
                .iter()
                .all(|e| (e.starts_with("001 - ") || e.starts_with("002 - ")) && e.ends_with(".mp3")),
            "{entries:?}"
        );
        let contents = std::process::Command::new("unzip")
            .arg("-p")
            .arg(part["path"].as_str().unwrap())
            .output()
            .unwrap()
            .stdout;
        assert!(
            !contents.windows(10).any(|w| w == b"TOP SECRET"),
            "the victim's bytes are in the ZIP"
        );
    }

    // The same feed as a single download: only real files inside the task directory.
    worker.send(
        &json!({"task_id": "one", "action": "youtube_dl", "url": feed, "params": {"extract_audio": true}}),
    );
    let done = worker.final_event("one", T);
    assert_eq!(done["event"], "done", "{done}");
    assert_not_mentioned(&done, &victim);
    for file in done["data"]["files"].as_array().unwrap() {
        assert!(
            Path::new(file["path"].as_str().unwrap()).starts_with(worker.downloads()),
            "{file}"
        );
    }
    assert_victim_untouched(&victim);
}

#[test]
fn a_forged_destination_in_a_failing_link_deletes_nothing_outside_the_task() {
    let mut worker = loopback_worker(&[]);
    let victim = plant_victim(&worker);
    let server = server();
    // yt-dlp prints `[generic] <URL-decoded last path segment>: Downloading webpage`.
    let injected: String = format!("404\n[download] Destination: {}", victim.display())
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let url = server.url(&format!("/{injected}"));

    worker.send(
        &json!({"task_id": "del", "action": "youtube_dl", "url": url, "params": {"extract_audio": true}}),
    );
    let event = worker.final_event("del", T);
    assert_eq!(event["event"], "error", "{event}");
    assert_victim_untouched(&victim);

    // And a playlist whose failing item carries the forged line in its title.
    let forged = forged_lines(&victim);
    let feed = server.add_feed(
        "failing",
        "Failing",
        vec![FeedItem::new(format!("Gone{forged}"), "/404")],
    );
    worker.send(
        &json!({"task_id": "pl", "action": "playlist", "url": feed, "params": {"extract_audio": true}}),
    );
    let event = worker.final_event("pl", T);
    assert_eq!(event["event"], "error", "{event}");
    assert_victim_untouched(&victim);
}

/// The default policy: a worker with no `EGRESS_ALLOW_CIDRS`.
fn default_policy_worker() -> Worker {
    Worker::start(&[("EGRESS_ALLOW_CIDRS", "")])
}

#[test]
fn every_spelling_of_a_local_address_is_refused_by_default() {
    let mut worker = default_policy_worker();
    let server = server();
    let port = server.addr().port();
    let path = tone_path();
    let cases = [
        ("ipv4", format!("http://127.0.0.1:{port}{path}"), "127.0.0.1"),
        ("name", format!("http://localhost:{port}{path}"), "localhost"),
        ("ipv6", format!("http://[::1]:{port}{path}"), "::1"),
        ("decimal", format!("http://2130706433:{port}{path}"), "2130706433"),
        (
            "mapped",
            format!("http://[::ffff:127.0.0.1]:{port}{path}"),
            "::ffff:127.0.0.1",
        ),
    ];
    for (id, url, host) in &cases {
        worker.send(
            &json!({"task_id": id, "action": "youtube_dl", "url": url, "params": {"extract_audio": true}}),
        );
        let event = worker.final_event(id, T);
        assert_error(&event, id, &["URL_NOT_ALLOWED"]);
        let message = event["data"]["message"].as_str().unwrap();
        assert!(message.contains(host), "{message} should name {host}");
    }
    // Metadata look-ups go through the same proxy.
    let url = format!("http://127.0.0.1:{port}{path}");
    worker.send(&json!({"task_id": "info", "action": "get_video_info", "url": url}));
    assert_error(&worker.final_event("info", T), "info", &["URL_NOT_ALLOWED"]);
    worker.send(&json!({"task_id": "prev", "action": "playlist_preview", "url": url}));
    assert_error(&worker.final_event("prev", T), "prev", &["URL_NOT_ALLOWED"]);
    assert_eq!(
        server.hits(&path),
        0,
        "no byte of the local server may be fetched"
    );
    assert!(
        files_under(&worker.downloads()).is_empty(),
        "{:?}",
        files_under(&worker.downloads())
    );
}

#[test]
fn schemes_other_than_http_are_refused_before_yt_dlp_runs() {
    let mut worker = default_policy_worker();
    for (id, url) in [
        ("ftp", "ftp://127.0.0.1/tone.webm"),
        ("file", "file:///etc/passwd"),
        ("gopher", "gopher://127.0.0.1:70/_x"),
    ] {
        worker.send(&json!({"task_id": id, "action": "youtube_dl", "url": url, "params": {}}));
        let event = worker.final_event(id, T);
        assert_error(&event, id, &["URL_NOT_ALLOWED"]);
    }
}

#[test]
fn only_the_opened_network_is_reachable_and_redirects_and_segments_cannot_leave_it() {
    // 127.0.0.1 is opened; 127.0.0.2 plays an internal host.
    let mut worker = loopback_worker(&[]);
    let public = server();
    let internal = MediaServer::start_on("127.0.0.2".parse().unwrap(), media::media_dir());
    let path = tone_path();

    worker.send(&json!({"task_id": "ok", "action": "youtube_dl", "url": public.url(&path), "params": {"extract_audio": true}}));
    let done = worker.final_event("ok", T);
    assert_eq!(done["event"], "done", "the opened network is reachable: {done}");

    worker.send(
        &json!({"task_id": "direct", "action": "youtube_dl", "url": internal.url(&path), "params": {}}),
    );
    assert_error(&worker.final_event("direct", T), "direct", &["URL_NOT_ALLOWED"]);

    let encoded = |url: &str| url.bytes().map(|b| format!("%{b:02X}")).collect::<String>();
    let redirect = public.url(&format!("/redirect?to={}", encoded(&internal.url(&path))));
    worker.send(&json!({"task_id": "redir", "action": "youtube_dl", "url": redirect, "params": {}}));
    let event = worker.final_event("redir", T);
    assert_error(&event, "redir", &["URL_NOT_ALLOWED"]);
    assert!(
        event["data"]["message"].as_str().unwrap().contains("127.0.0.2"),
        "{event}"
    );

    let hls = public.url(&format!("/hls/3.m3u8?base={}", encoded(internal.base_url())));
    worker.send(&json!({"task_id": "hls", "action": "youtube_dl", "url": hls, "params": {}}));
    assert_error(&worker.final_event("hls", T), "hls", &["URL_NOT_ALLOWED"]);

    assert_eq!(internal.hits(&path), 0);
    for i in 0..3 {
        assert_eq!(internal.hits(&format!("/seg/{i}.ts")), 0);
    }
}

#[test]
fn a_stream_without_content_length_is_stopped_at_the_cap_with_nothing_left() {
    let mut worker = loopback_worker(&[("MAX_FILESIZE_MB", "5")]);
    let server = server();
    let url = server.url(&format!("/endless/{}/stream.webm", 200u64 * 1024 * 1024));
    worker.send(&json!({"task_id": "big", "action": "youtube_dl", "url": url, "params": {}}));
    let event = worker.final_event("big", T);
    assert_error(&event, "big", &["FILE_TOO_LARGE"]);
    let task_dir = worker.downloads().join("big");
    assert!(files_under(&task_dir).is_empty(), "{:?}", files_under(&task_dir));
    assert!(partial_files_under(&worker.downloads()).is_empty());
}

#[test]
fn a_file_announced_over_the_cap_and_a_request_cap_are_refused() {
    let mut worker = loopback_worker(&[("MAX_FILESIZE_MB", "5")]);
    let server = server();
    let wav = format!(
        "/media/{}",
        media::big_wav(8).file_name().unwrap().to_string_lossy()
    );
    worker.send(&json!({"task_id": "env", "action": "youtube_dl", "url": server.url(&wav), "params": {}}));
    assert_error(&worker.final_event("env", T), "env", &["FILE_TOO_LARGE"]);

    // yt-dlp's own downloader judges the announced size; aria2c does not, and the egress proxy
    // stops it on the announced size instead. Both say how large the file is, and leave nothing.
    let size = std::fs::metadata(media::big_wav(8)).unwrap().len();
    for downloader in ["none", "aria2c"] {
        let mut worker = loopback_worker(&[("EXTERNAL_DOWNLOADER", downloader)]);
        worker.send(&json!({"task_id": "req", "action": "youtube_dl", "url": server.url(&wav), "params": {"max_filesize_mb": 1}}));
        let event = worker.final_event("req", T);
        assert_error(&event, "req", &["FILE_TOO_LARGE"]);
        assert_eq!(event["data"]["file_size"], json!(size), "{downloader}: {event}");
        assert!(
            files_under(&worker.downloads()).is_empty(),
            "{downloader}: {:?}",
            files_under(&worker.downloads())
        );
    }
}

#[test]
fn dangling_symlinks_on_request_paths_are_refused_and_never_created() {
    let mut worker = loopback_worker(&[]);
    let server = server();
    std::fs::create_dir_all(worker.downloads()).unwrap();
    let outside = worker.dir.path().join("outside-target");
    std::os::unix::fs::symlink(&outside, worker.downloads().join("archive.txt")).unwrap();
    std::os::unix::fs::symlink(
        worker.dir.path().join("outside-dir"),
        worker.downloads().join("out"),
    )
    .unwrap();
    let feed = server.add_feed("f", "F", vec![FeedItem::new("One", tone_path())]);

    let archive = worker.downloads().join("archive.txt");
    worker.send(
        &json!({"task_id": "a", "action": "playlist", "url": feed, "params": {"archive_file": archive}}),
    );
    assert_error(&worker.final_event("a", T), "a", &["INVALID_REQUEST"]);
    let out = worker.downloads().join("out/sub");
    worker.send(&json!({"task_id": "o", "action": "youtube_dl", "url": server.url(&tone_path()), "params": {"output_dir": out}}));
    assert_error(&worker.final_event("o", T), "o", &["INVALID_REQUEST"]);
    assert!(!outside.exists() && !worker.dir.path().join("outside-dir").exists());
}

#[test]
fn audio_quality_is_validated_and_usage_errors_carry_yt_dlp_s_message() {
    let mut worker = loopback_worker(&[]);
    let server = server();
    for (id, quality) in [
        ("q1", "--exec=touch /tmp/x"),
        ("q2", "best"),
        ("q3", "11"),
        ("q4", "K"),
    ] {
        worker.send(&json!({"task_id": id, "action": "youtube_dl", "url": server.url(&tone_path()), "params": {"extract_audio": true, "audio_quality": quality}}));
        assert_error(&worker.final_event(id, T), id, &["INVALID_REQUEST"]);
    }
    worker.send(&json!({"task_id": "ok", "action": "youtube_dl", "url": server.url(&tone_path()), "params": {"extract_audio": true, "audio_quality": "128K"}}));
    assert_eq!(worker.final_event("ok", T)["event"], "done");

    // yt-dlp refusing its arguments (exit 2): its own words come back, not "exited with code 2".
    let wrapper = worker.dir.path().join("yt-dlp-bad-option");
    std::fs::write(&wrapper, "#!/bin/sh\nexec yt-dlp --limit-rate bogus \"$@\"\n").unwrap();
    std::fs::set_permissions(&wrapper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut worker = loopback_worker(&[("YTDLP_BIN", wrapper.to_str().unwrap())]);
    worker.send(
        &json!({"task_id": "u", "action": "youtube_dl", "url": server.url(&tone_path()), "params": {}}),
    );
    let event = worker.final_event("u", T);
    assert_eq!(event["event"], "error", "{event}");
    let message = event["data"]["message"].as_str().unwrap();
    assert!(message.contains("invalid rate limit"), "{message}");
}
