//! Issue 16: playlists downloaded `PLAYLIST_CONCURRENCY` tracks at a time, ZIP parts written
//! while tracks still download, finished files announced in `progress` events, and aria2c as
//! yt-dlp's downloader; with the real yt-dlp, ffmpeg and aria2c against media on 127.0.0.1.
//! Nothing here is timed: speed is measured by `scripts/bench.sh`.
mod common;

use common::{assert_error, file_name, files_under, partial_files_under, Worker};
use hermes_testkit::http::{FeedItem, MediaServer};
use hermes_testkit::media;
use hermes_testkit::procs::{processes_with_cmdline_containing, wait_until};
use hermes_worker::archive::{write_archives, ArchiveOptions};
use hermes_worker::ytdlp::args::audio_format_selector;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const T: Duration = Duration::from_secs(180);

fn server() -> MediaServer {
    MediaServer::start(media::media_dir())
}

fn item(title: &str, route: &str, file: &Path) -> FeedItem {
    FeedItem::new(title, format!("{route}/{}", file_name(file)))
}

/// Entry names of a ZIP read by Python's zipfile (an independent reader, which checks CRCs).
fn zip_names(path: &str) -> Vec<String> {
    let script = "import sys, zipfile, json\nz = zipfile.ZipFile(sys.argv[1])\nassert z.testzip() is None\nprint(json.dumps(z.namelist()))";
    let out = Command::new("python3")
        .args(["-c", script, path])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn run(worker: &mut Worker, task_id: &str, action: &str, url: &str, params: Value) -> (Vec<Value>, Value) {
    worker.send(&json!({"task_id": task_id, "action": action, "url": url, "params": params}));
    let mut events = worker.events_until_final(task_id, T);
    let last = events.pop().unwrap();
    (
        events.into_iter().filter(|e| e["task_id"] == task_id).collect(),
        last,
    )
}

/// The `file` objects of the `progress` events, in order.
fn announced_files(progress: &[Value]) -> Vec<Value> {
    progress
        .iter()
        .filter(|e| e["event"] == "progress")
        .filter_map(|e| e["data"].get("file").cloned())
        .collect()
}

fn lines(path: &Path) -> BTreeSet<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_concurrent_playlist_matches_a_sequential_run_with_a_failing_item() {
    let server = server();
    let items = vec![
        item("Alpha", "/media", &media::tone_webm(1, 330)),
        FeedItem::new("Gone", "/404"),
        item("Same / Title", "/media", &media::tone_webm(1, 440)),
        item("Delta", "/media", &media::tone_webm(1, 550)),
        item("Echo", "/media", &media::tone_webm(1, 660)),
    ];
    let feed = server.add_feed("sequential-twin", "Twin", items);

    // The sequential reference: one bare yt-dlp over the whole feed, as the worker ran it before.
    let reference = tempfile::tempdir().unwrap();
    let out = Command::new("yt-dlp")
        .args([
            "--ignore-config",
            "--no-colors",
            "--no-cache-dir",
            "--yes-playlist",
            "-f",
            &audio_format_selector(15),
        ])
        .args([
            "-x",
            "--audio-format",
            "mp3",
            "--audio-quality",
            "0",
            "--download-archive",
        ])
        .arg(reference.path().join("archive.txt"))
        .arg("-o")
        .arg(
            reference
                .path()
                .join("out/%(playlist_index)03d - %(title)s.%(ext)s"),
        )
        .args(["--", &feed])
        .output()
        .unwrap();
    let errors = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.starts_with("ERROR:"))
        .count();
    let mut expected: Vec<String> = files_under(&reference.path().join("out"))
        .iter()
        .map(|p| file_name(p))
        .collect();
    expected.sort();
    assert_eq!(expected.len(), 4, "{expected:?}");

    let mut worker = Worker::start(&[("PLAYLIST_CONCURRENCY", "3")]);
    let archive = worker.downloads().join("archives/twin.txt");
    let params = json!({"archive_file": archive.to_str().unwrap()});
    let (_, done) = run(&mut worker, "p", "playlist", &feed, params);
    assert_eq!(done["event"], "done", "{done}");
    let data = &done["data"];
    let tracks: Vec<String> = data["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(tracks, expected, "same names, in playlist order");
    assert_eq!(data["total_tracks_downloaded"], 4);
    assert_eq!(
        data["failed_tracks"], errors as u64,
        "failed items counted as the sequential run reports them"
    );
    assert_eq!(zip_names(data["file_path"].as_str().unwrap()), expected);
    assert_eq!(
        lines(&archive),
        lines(&reference.path().join("archive.txt")),
        "the same download-archive lines"
    );

    // With the archive, a second run skips every item that was recorded, as one run would.
    let again_dir = worker.downloads().join("again");
    let (_, again) = run(
        &mut worker,
        "p2",
        "playlist",
        &feed,
        json!({"archive_file": archive.to_str().unwrap(), "output_dir": again_dir.to_str().unwrap()}),
    );
    assert_error(&again, "p2", &["PLAYLIST_ERROR"]);
}

#[test]
fn zip_parts_follow_playlist_order_and_the_size_rule_while_tracks_finish_out_of_order() {
    let server = server();
    // The first item is throttled, so later ones finish first and must wait for it.
    let files: Vec<PathBuf> = (0..4).map(|i| media::tone_webm(60, 310 + 110 * i)).collect();
    let items = files
        .iter()
        .enumerate()
        .map(|(i, file)| {
            item(
                &format!("Long {i}"),
                if i == 0 { "/slow/150000" } else { "/media" },
                file,
            )
        })
        .collect();
    let feed = server.add_feed("ordered-parts", "Ordered", items);
    let mut worker = Worker::start(&[("PLAYLIST_CONCURRENCY", "4")]);
    let (progress, done) = run(
        &mut worker,
        "p",
        "playlist",
        &feed,
        json!({"extract_audio": false, "archive_max_size_mb": 1}),
    );
    assert_eq!(done["event"], "done", "{done}");
    let data = &done["data"];
    let archives = data["archives"].as_array().unwrap();
    assert!(archives.len() >= 2, "{archives:?}");

    let tracks: Vec<PathBuf> = data["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| PathBuf::from(t["path"].as_str().unwrap()))
        .collect();
    let mut entries = Vec::new();
    for (i, part) in archives.iter().enumerate() {
        assert_eq!(part["name"], format!("Ordered.part{}.zip", i + 1));
        let path = part["path"].as_str().unwrap();
        let size = std::fs::metadata(path).unwrap().len();
        assert_eq!(part["size"], size);
        let names = zip_names(path);
        assert!(
            size <= 1024 * 1024 || names.len() == 1,
            "part {path} is {size} bytes with {} entries",
            names.len()
        );
        entries.push(names);
    }
    let flat: Vec<String> = entries.concat();
    assert_eq!(
        flat,
        [
            "001 - Long 0.webm",
            "002 - Long 1.webm",
            "003 - Long 2.webm",
            "004 - Long 3.webm"
        ]
    );

    // The same parts as the whole-set writer makes of the same tracks.
    let reference = tempfile::tempdir().unwrap();
    let options = ArchiveOptions {
        max_part_bytes: 1024 * 1024,
        compression_level: 6,
    };
    let parts = write_archives(&tracks, reference.path(), "Ordered", &options, &mut |_, _| {}).unwrap();
    let reference_entries: Vec<Vec<String>> = parts.iter().map(|p| p.entries.clone()).collect();
    assert_eq!(entries, reference_entries);
    let reference_sizes: Vec<u64> = parts.iter().map(|p| p.size).collect();
    let sizes: Vec<u64> = archives.iter().map(|p| p["size"].as_u64().unwrap()).collect();
    assert_eq!(sizes, reference_sizes);

    // Every part is announced once, after the tracks it holds.
    let announced = announced_files(&progress);
    let position = |path: &str| announced.iter().position(|f| f["path"] == path);
    for (part, names) in archives.iter().zip(&entries) {
        let at = position(part["path"].as_str().unwrap()).unwrap_or_else(|| panic!("{part} not announced"));
        for name in names {
            let track = tracks.iter().find(|t| file_name(t) == *name).unwrap();
            let track_at =
                position(track.to_str().unwrap()).unwrap_or_else(|| panic!("{name} not announced"));
            assert!(track_at < at, "{name} announced after its part");
        }
    }
    assert_eq!(announced.len(), tracks.len() + archives.len(), "{announced:?}");
}

#[test]
fn file_events_come_before_done_and_name_finished_files_in_the_task_dir() {
    let server = server();
    let items = (0..3)
        .map(|i| item(&format!("Song {i}"), "/media", &media::tone_webm(2, 300 + 50 * i)))
        .collect();
    let feed = server.add_feed("announced", "Announced", items);
    let mut worker = Worker::start(&[]);
    let out = worker.downloads().join("task-files");
    let (progress, done) = run(
        &mut worker,
        "p",
        "playlist",
        &feed,
        json!({"output_dir": out.to_str().unwrap()}),
    );
    assert_eq!(done["event"], "done", "{done}");
    let root = out.canonicalize().unwrap();
    let announced = announced_files(&progress);
    for file in &announced {
        let path = PathBuf::from(file["path"].as_str().unwrap());
        assert!(
            path.canonicalize().unwrap().starts_with(&root),
            "{file} outside the task directory"
        );
        assert_eq!(
            file["size"],
            std::fs::metadata(&path).unwrap().len(),
            "{file} changed after it was announced"
        );
        assert_eq!(file["name"], file_name(&path));
    }
    let mut expected: BTreeSet<String> = done["data"]["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["path"].as_str().unwrap().to_owned())
        .collect();
    expected.extend(
        done["data"]["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["path"].as_str().unwrap().to_owned()),
    );
    let paths: BTreeSet<String> = announced
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(paths, expected, "every track and part announced, nothing else");
    // Later events do not repeat the file.
    let last = progress.last().unwrap();
    assert_eq!(
        (last["data"]["percent"].as_u64(), last["data"].get("file")),
        (Some(100), None)
    );

    // A single download announces its file too, before `done`.
    let url = server.media_url(media::tone_webm(1, 770));
    let (progress, done) = run(
        &mut worker,
        "d",
        "youtube_dl",
        &url,
        json!({"extract_audio": true, "output_dir": out.join("single").to_str().unwrap()}),
    );
    assert_eq!(done["event"], "done", "{done}");
    let announced = announced_files(&progress);
    assert_eq!(announced.len(), 1, "{announced:?}");
    assert_eq!(announced[0]["path"], done["data"]["file_path"]);
    assert_eq!(announced[0]["size"], done["data"]["file_size"]);
}

#[test]
fn cancel_mid_playlist_leaves_no_process_and_no_partial() {
    let server = server();
    let big = media::big_wav(4);
    let items = (0..5)
        .map(|i| item(&format!("Slow {i}"), "/slow/100000", &big))
        .collect();
    let feed = server.add_feed("cancel-mid", "Cancel Mid", items);
    let mut worker = Worker::start(&[("PLAYLIST_CONCURRENCY", "3")]);
    let marker = worker.downloads().to_string_lossy().into_owned();
    worker
        .send(&json!({"task_id": "p", "action": "playlist", "url": feed, "params": {"extract_audio": true}}));
    // Wait until several tracks download at once.
    let started = wait_until(Duration::from_secs(90), || {
        processes_with_cmdline_containing(&marker)
            .iter()
            .filter(|p| p.cmdline.contains("--playlist-items"))
            .count()
            >= 2
    });
    assert!(
        started,
        "no concurrent yt-dlp runs: {:?}",
        processes_with_cmdline_containing(&marker)
    );
    assert!(
        wait_until(Duration::from_secs(60), || partial_files_under(
            &worker.downloads()
        )
        .len()
            >= 2),
        "no download began"
    );
    worker.send(&json!({"task_id": "c", "action": "cancel", "params": {"target_task_id": "p"}}));
    let last = worker.final_event("p", T);
    assert_error(&last, "p", &["CANCELLED"]);
    assert!(
        wait_until(Duration::from_secs(10), || processes_with_cmdline_containing(
            &marker
        )
        .is_empty()),
        "left running: {:?}",
        processes_with_cmdline_containing(&marker)
    );
    assert_eq!(partial_files_under(&worker.downloads()), Vec::<PathBuf>::new());
    let zips: Vec<PathBuf> = files_under(&worker.downloads())
        .into_iter()
        .filter(|p| file_name(p).ends_with(".zip"))
        .collect();
    assert!(zips.is_empty(), "{zips:?}");
}

#[test]
fn aria2c_downloads_over_several_connections_through_the_proxy_with_progress() {
    if hermes_worker::program::resolve_program(Path::new("aria2c")).is_none() {
        panic!("aria2c is not installed: run scripts/setup.sh");
    }
    let server = server();
    let big = media::big_wav(8);
    let route = format!("/slow/250000/{}", file_name(&big));
    let url = server.url(&route);
    let mut worker = Worker::start(&[("EXTERNAL_DOWNLOADER", "aria2c")]);
    let marker = worker.downloads().to_string_lossy().into_owned();

    // aria2c's command line, caught while it runs.
    let stop = Arc::new(AtomicBool::new(false));
    let seen: Arc<Mutex<Option<String>>> = Arc::default();
    let watcher = {
        let (stop, seen, marker) = (stop.clone(), seen.clone(), marker.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) && seen.lock().unwrap().is_none() {
                let found = processes_with_cmdline_containing(&marker)
                    .into_iter()
                    .find(|p| p.cmdline.contains("aria2c") && p.cmdline.contains("--out"));
                if let Some(found) = found {
                    *seen.lock().unwrap() = Some(found.cmdline);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let (progress, done) = run(
        &mut worker,
        "d",
        "youtube_dl",
        &url,
        json!({"extract_audio": false}),
    );
    stop.store(true, Ordering::Relaxed);
    watcher.join().unwrap();
    assert_eq!(done["event"], "done", "{done}");
    let path = done["data"]["file_path"].as_str().unwrap();
    assert_eq!(
        std::fs::read(path).unwrap(),
        std::fs::read(&big).unwrap(),
        "identical bytes"
    );

    let cmdline = seen.lock().unwrap().clone().expect("aria2c ran");
    assert!(
        cmdline.contains("--all-proxy http://127.0.0.1:")
            || cmdline.contains("--all-proxy=http://127.0.0.1:"),
        "{cmdline}"
    );
    for option in ["-x8", "-s8", "--file-allocation=none"] {
        assert!(
            cmdline.split(' ').any(|a| a == option),
            "{option} missing: {cmdline}"
        );
    }
    // The generic extractor's probe, then aria2c's ranged connections.
    assert!(server.hits(&route) >= 4, "{} GETs", server.hits(&route));
    // Progress came from aria2c's readout while it downloaded.
    let midway = progress
        .iter()
        .filter(|e| e["data"]["status"] == "downloading")
        .filter_map(|e| e["data"]["percent"].as_u64())
        .filter(|p| (1..100).contains(p))
        .count();
    assert!(midway >= 1, "{progress:?}");
}
