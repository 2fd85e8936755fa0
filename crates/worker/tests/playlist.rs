//! `playlist` and `playlist_preview` with the real yt-dlp and ffmpeg on RSS feeds served from
//! 127.0.0.1 (yt-dlp's generic extractor lists an RSS feed's enclosures as a playlist).
mod common;

use common::{files_under, Worker};
use hermes_testkit::http::{FeedItem, MediaServer};
use hermes_testkit::media;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const T: Duration = Duration::from_secs(90);

fn server() -> MediaServer {
    MediaServer::start(media::media_dir())
}

fn media_item(title: &str, file: &Path) -> FeedItem {
    FeedItem::new(
        title,
        format!("/media/{}", file.file_name().unwrap().to_str().unwrap()),
    )
}

/// Entry names of a ZIP, checked with Python's zipfile (an independent reader): `testzip()`
/// finds no corrupt member.
fn zip_names(path: &str) -> Vec<String> {
    let script = "import sys, zipfile, json\nz = zipfile.ZipFile(sys.argv[1])\nassert z.testzip() is None\nprint(json.dumps(z.namelist()))";
    let out = Command::new("python3")
        .args(["-c", script, path])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn run_playlist(worker: &mut Worker, task_id: &str, url: &str, params: Value) -> (Vec<Value>, Value) {
    worker.send(&json!({"task_id": task_id, "action": "playlist", "url": url, "params": params}));
    let mut events = worker.events_until_final(task_id, T);
    let last = events.pop().unwrap();
    (
        events.into_iter().filter(|e| e["task_id"] == task_id).collect(),
        last,
    )
}

#[test]
fn three_audio_items_become_one_zip() {
    let server = server();
    let items = vec![
        media_item("First", &media::tone_webm(1, 330)),
        media_item("Second", &media::tone_webm(1, 440)),
        media_item("Third", &media::tone_webm(1, 550)),
    ];
    let feed = server.add_feed("three", "Road Trip", items);
    let mut worker = Worker::start(&[]);
    let (progress, done) = run_playlist(&mut worker, "p", &feed, json!({}));
    assert_eq!(done["event"], "done", "{done}");
    let data = &done["data"];
    assert_eq!(data["playlist_name"], "Road Trip");
    assert_eq!(data["total_tracks_downloaded"], 3);
    assert_eq!(data["failed_tracks"], 0);
    assert_eq!(data["filename"], "Road Trip.zip");
    assert_eq!(data["archives"].as_array().unwrap().len(), 1);
    assert_eq!(data["files"][0]["name"], "Road Trip.zip");
    let names = zip_names(data["file_path"].as_str().unwrap());
    assert_eq!(names, ["001 - First.mp3", "002 - Second.mp3", "003 - Third.mp3"]);
    for track in data["tracks"].as_array().unwrap() {
        assert!(Path::new(track["path"].as_str().unwrap()).is_file());
    }
    let statuses: Vec<&str> = progress
        .iter()
        .map(|e| e["data"]["status"].as_str().unwrap())
        .collect();
    assert!(
        statuses.contains(&"downloading_playlist") && statuses.contains(&"zipping"),
        "{statuses:?}"
    );
    let percents: Vec<u64> = progress
        .iter()
        .map(|e| e["data"]["percent"].as_u64().unwrap())
        .collect();
    assert!(percents.windows(2).all(|w| w[0] <= w[1]), "{percents:?}");
    assert_eq!(percents.last(), Some(&100));
}

#[test]
fn a_small_limit_splits_into_parts_that_each_fit() {
    let server = server();
    let items = (0..3)
        .map(|i| media_item(&format!("Long {i}"), &media::tone_webm(60, 300 + 100 * i)))
        .collect();
    let feed = server.add_feed("long", "Long Mix", items);
    let mut worker = Worker::start(&[]);
    let (_, done) = run_playlist(
        &mut worker,
        "p",
        &feed,
        json!({"extract_audio": false, "archive_max_size_mb": 1}),
    );
    assert_eq!(done["event"], "done", "{done}");
    let archives = done["data"]["archives"].as_array().unwrap();
    assert!(archives.len() >= 2, "{archives:?}");
    let mut all_names = Vec::new();
    for (i, part) in archives.iter().enumerate() {
        assert_eq!(part["name"], format!("Long Mix.part{}.zip", i + 1));
        let path = part["path"].as_str().unwrap();
        let size = std::fs::metadata(path).unwrap().len();
        assert_eq!(part["size"], size);
        let names = zip_names(path);
        assert!(
            size <= 1024 * 1024 || names.len() == 1,
            "part {path} is {size} bytes with {} entries",
            names.len()
        );
        all_names.extend(names);
    }
    assert_eq!(
        all_names,
        ["001 - Long 0.webm", "002 - Long 1.webm", "003 - Long 2.webm"]
    );
}

#[test]
fn playlist_end_limits_the_items() {
    let server = server();
    let items = vec![
        media_item("A", &media::tone_webm(1, 330)),
        media_item("B", &media::tone_webm(1, 440)),
        media_item("C", &media::tone_webm(1, 550)),
    ];
    let feed = server.add_feed("end", "Ends", items);
    let mut worker = Worker::start(&[]);
    let (_, done) = run_playlist(&mut worker, "p", &feed, json!({"playlist_end": 2}));
    assert_eq!(done["data"]["total_tracks_downloaded"], 2, "{done}");
    assert_eq!(
        zip_names(done["data"]["file_path"].as_str().unwrap()),
        ["001 - A.mp3", "002 - B.mp3"]
    );
}

#[test]
fn a_failing_item_does_not_fail_the_playlist() {
    let server = server();
    let items = vec![
        media_item("Good", &media::tone_webm(1, 330)),
        FeedItem::new("Gone", "/404"),
        media_item("Also good", &media::tone_webm(1, 550)),
    ];
    let feed = server.add_feed("holes", "Holes", items);
    let mut worker = Worker::start(&[]);
    let (_, done) = run_playlist(&mut worker, "p", &feed, json!({}));
    assert_eq!(done["event"], "done", "{done}");
    assert_eq!(done["data"]["total_tracks_downloaded"], 2);
    assert_eq!(done["data"]["failed_tracks"], 1);
}

#[test]
fn no_downloadable_item_is_a_playlist_error_and_leaves_no_zip() {
    let server = server();
    let feed = server.add_feed(
        "dead",
        "Dead",
        vec![FeedItem::new("x", "/404"), FeedItem::new("y", "/404")],
    );
    let mut worker = Worker::start(&[("MAX_RETRIES", "0")]);
    let (_, done) = run_playlist(&mut worker, "p", &feed, json!({}));
    assert_eq!(done["event"], "error", "{done}");
    assert_eq!(done["data"]["error_code"], "PLAYLIST_ERROR");
    let zips: Vec<_> = files_under(&worker.downloads())
        .into_iter()
        .map(|p| p.display().to_string())
        .filter(|p| p.ends_with(".zip") || p.ends_with(".part"))
        .collect();
    assert!(zips.is_empty(), "{zips:?}");
}

#[test]
fn a_hostile_title_stays_inside_the_output_dir() {
    let server = server();
    let feed = server.add_feed(
        "hostile",
        "../../etc/passwd a\\b",
        vec![media_item("t", &media::tone_webm(1, 330))],
    );
    let mut worker = Worker::start(&[]);
    let (_, done) = run_playlist(&mut worker, "p", &feed, json!({}));
    assert_eq!(done["event"], "done", "{done}");
    let zip = Path::new(done["data"]["file_path"].as_str().unwrap())
        .canonicalize()
        .unwrap();
    assert!(
        zip.starts_with(worker.downloads().canonicalize().unwrap()),
        "{}",
        zip.display()
    );
    let name = done["data"]["playlist_name"].as_str().unwrap();
    assert!(
        !name.contains('/') && !name.contains("..") && !name.contains('\\'),
        "{name}"
    );
}

#[test]
fn preview_lists_title_count_and_first_items() {
    let server = server();
    let items = (0..4)
        .map(|i| media_item(&format!("Song {i}"), &media::tone_webm(1, 330)))
        .collect();
    let feed = server.add_feed("preview", "Preview Me", items);
    let mut worker = Worker::start(&[]);
    worker.send(
        &json!({"task_id": "v", "action": "playlist_preview", "url": feed, "params": {"preview_count": 2}}),
    );
    let done = worker.final_event("v", T);
    assert_eq!(done["event"], "done", "{done}");
    assert_eq!(done["data"]["playlist_title"], "Preview Me");
    assert_eq!(done["data"]["playlist_count"], 4);
    let tracks = done["data"]["tracks"].as_array().unwrap();
    assert_eq!(tracks.len(), 2);
    assert_eq!(
        (tracks[0]["index"].as_u64(), tracks[0]["title"].as_str()),
        (Some(1), Some("Song 0"))
    );
    assert!(
        !tracks[1]["url"].as_str().unwrap().contains('#'),
        "smuggled fragment removed"
    );
    assert!(
        files_under(&worker.downloads()).is_empty(),
        "a preview downloads nothing"
    );
}
