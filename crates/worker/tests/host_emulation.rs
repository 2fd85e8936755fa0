//! The existing host (pgwiz/telegram-ultra's bot) emulated by its reading rules, taken literally
//! (DESIGN.md §2.1), against both wire profiles, with the real yt-dlp and ffmpeg on loopback media:
//!
//! - for each `done` it sends `file_path` first if the key is there, then every entry of `files`
//!   if that key exists (named by the entry's `name`, `"track"` when absent; audio or video by
//!   that name's extension); only when there is no `files` key does it fall back to `archives`;
//! - it takes `extract_audio` from the chosen `format_list` row (false when absent) and sends
//!   `"audio_format": "mp4"` whenever `extract_audio` is false;
//! - of `playlist_preview` it reads the first event only.
//!
//! The python profile (started as `hermes-worker -m worker.application`, as the host starts its
//! worker) must deliver exactly one file per single download and the tracks of a playlist; the
//! guide profile's superset is what made the host deliver every file twice.
mod common;

use common::{fake_ytdlp, Worker};
use hermes_testkit::http::{FeedItem, MediaServer};
use hermes_testkit::media;
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

const T: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Profile {
    Guide,
    Python,
}

const PROFILES: [Profile; 2] = [Profile::Guide, Profile::Python];

/// What the host would send to the user.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Delivery {
    path: String,
    /// The name the host gives it (file name of `file_path`, or the entry's `name`).
    name: String,
    kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Audio,
    Video,
    Document,
}

fn kind_of(name: &str) -> Kind {
    let ext = Path::new(name)
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "mp3" | "m4a" | "opus" | "ogg" | "flac" | "wav" | "aac" => Kind::Audio,
        "mp4" | "webm" | "mkv" | "mov" => Kind::Video,
        _ => Kind::Document,
    }
}

/// The host's reading of one `done`, rule by rule.
fn deliveries(done: &Value) -> Vec<Delivery> {
    let data = &done["data"];
    let mut out = Vec::new();
    if let Some(path) = data.get("file_path").and_then(Value::as_str) {
        let name = Path::new(path)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        out.push(Delivery {
            path: path.to_owned(),
            kind: kind_of(&name),
            name,
        });
    }
    if let Some(files) = data.get("files") {
        for entry in files.as_array().into_iter().flatten() {
            let name = entry
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("track")
                .to_owned();
            let path = entry
                .get("path")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            out.push(Delivery {
                path,
                kind: kind_of(&name),
                name,
            });
        }
    } else if let Some(archives) = data.get("archives") {
        for entry in archives.as_array().into_iter().flatten() {
            let name = entry
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("archive")
                .to_owned();
            let path = entry
                .get("path")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            out.push(Delivery {
                path,
                kind: Kind::Document,
                name,
            });
        }
    }
    out
}

struct Host {
    worker: Worker,
    next_id: u32,
}

impl Host {
    fn start(profile: Profile, env: &[(&str, &str)]) -> Host {
        let worker = match profile {
            // Exactly how the host starts its worker: `$PYTHON_BIN -m worker.application`.
            Profile::Python => Worker::start_with_args(&["-m", "worker.application"], env),
            Profile::Guide => Worker::start(env),
        };
        Host { worker, next_id: 0 }
    }

    fn task_id(&mut self) -> String {
        self.next_id += 1;
        format!("host-{}", self.next_id)
    }

    /// Sends a request and returns the task's events, the final one last.
    fn request(&mut self, action: &str, url: Option<&str>, params: Value) -> Vec<Value> {
        let task_id = self.task_id();
        let mut request = json!({"task_id": task_id, "action": action, "params": params});
        if let Some(url) = url {
            request["url"] = json!(url);
        }
        self.worker.send(&request);
        self.worker
            .events_until_final(&task_id, T)
            .into_iter()
            .filter(|e| e["task_id"] == task_id.as_str())
            .collect()
    }

    fn final_of(&mut self, action: &str, url: Option<&str>, params: Value) -> Value {
        self.request(action, url, params).pop().unwrap()
    }

    /// A single download the way the host asks for it.
    fn download(
        &mut self,
        url: &str,
        extract_audio: bool,
        format: Option<&str>,
        audio_format: &str,
        audio_quality: &str,
    ) -> Value {
        let output_dir = self.worker.downloads().join(format!("chat-{}", self.next_id + 1));
        let mut params = json!({
            "extract_audio": extract_audio,
            "audio_format": if extract_audio { audio_format } else { "mp4" },
            "audio_quality": audio_quality,
            "output_dir": output_dir.display().to_string(),
            "user_chat_id": 4242,
        });
        if let Some(format) = format {
            params["format"] = json!(format);
        }
        self.final_of("youtube_dl", Some(url), params)
    }

    fn playlist(&mut self, url: &str, extract_audio: bool, archive_max_size_mb: u64) -> Value {
        let output_dir = self.worker.downloads().join(format!("chat-{}", self.next_id + 1));
        let params = json!({
            "extract_audio": extract_audio,
            "audio_format": if extract_audio { "mp3" } else { "mp4" },
            "output_dir": output_dir.display().to_string(),
            "archive_max_size_mb": archive_max_size_mb,
        });
        self.final_of("playlist", Some(url), params)
    }
}

fn assert_done(event: &Value) {
    assert_eq!(event["event"], "done", "{event}");
}

fn assert_files_exist(sent: &[Delivery]) {
    for delivery in sent {
        assert!(Path::new(&delivery.path).is_file(), "{delivery:?} is not a file");
    }
}

fn server() -> MediaServer {
    MediaServer::start(media::media_dir())
}

fn media_path(file: &Path) -> String {
    format!("/media/{}", file.file_name().unwrap().to_string_lossy())
}

#[test]
fn single_audio_download_is_delivered_once_in_the_python_profile() {
    let server = server();
    let url = server.media_url(media::tone_webm(2, 440));
    for profile in PROFILES {
        let mut host = Host::start(profile, &[]);
        let done = host.download(&url, true, None, "mp3", "0");
        assert_done(&done);
        let sent = deliveries(&done);
        assert_files_exist(&sent);
        assert_eq!(sent[0].kind, Kind::Audio, "{profile:?}: {sent:?}");
        assert!(sent[0].path.ends_with(".mp3"), "{profile:?}: {sent:?}");
        match profile {
            Profile::Python => {
                assert_eq!(sent.len(), 1, "python profile: one file per download: {sent:?}");
                assert!(done["data"].get("files").is_none(), "{done}");
                for key in ["file_path", "file_size", "filename", "title", "duration"] {
                    assert!(done["data"].get(key).is_some(), "{key} missing: {done}");
                }
            }
            // The superset: the same file a second time, named "track". What the profile is for.
            Profile::Guide => assert_eq!(
                sent.iter().filter(|d| d.path == sent[0].path).count(),
                2,
                "{sent:?}"
            ),
        }
    }
}

#[test]
fn single_video_download_with_the_hosts_mp4_audio_format() {
    let server = server();
    let url = server.media_url(media::video_mp4(2));
    for profile in PROFILES {
        let mut host = Host::start(profile, &[]);
        // The host sends "audio_format": "mp4" with extract_audio false; it must not be refused.
        let done = host.download(&url, false, None, "mp4", "0");
        assert_done(&done);
        let sent = deliveries(&done);
        assert_files_exist(&sent);
        assert_eq!(
            (sent[0].kind, sent[0].path.ends_with(".mp4")),
            (Kind::Video, true),
            "{profile:?}: {sent:?}"
        );
        if profile == Profile::Python {
            assert_eq!(sent.len(), 1, "python profile: one file per download: {sent:?}");
        }
    }
}

#[test]
fn the_quality_menus_mp3_rows_deliver_mp3() {
    let server = server();
    // A direct media link has no audio-only format: a `bestaudio` selector alone matches nothing
    // there, so the MP3 rows also check the fallback to `bestaudio/best`.
    let url = server.media_url(media::tone_webm(2, 660));
    for profile in PROFILES {
        let mut host = Host::start(profile, &[]);
        let list = host.final_of("get_formats", Some(&url), json!({"mode": "audio"}));
        assert_eq!(list["event"], "format_list", "{list}");
        let rows = list["data"]["formats"].as_array().unwrap().clone();
        let mp3_rows: Vec<&Value> = rows
            .iter()
            .filter(|r| r["label"].as_str().is_some_and(|l| l.starts_with("MP3")))
            .collect();
        assert_eq!(mp3_rows.len(), 3, "{list}");
        for row in &rows {
            assert!(
                row["extract_audio"].is_boolean(),
                "every audio row says extract_audio: {row}"
            );
        }
        for row in mp3_rows {
            if profile == Profile::Python {
                assert_eq!(
                    (row["format_id"].as_str(), row["filesize_approx"].as_u64()),
                    (Some("bestaudio"), Some(0)),
                    "{row}"
                );
            }
            // The host's pick: extract_audio from the row, false when absent.
            let extract_audio = row.get("extract_audio").and_then(Value::as_bool).unwrap_or(false);
            let audio_format = row.get("audio_format").and_then(Value::as_str).unwrap_or("mp3");
            let audio_quality = row.get("audio_quality").and_then(Value::as_str).unwrap_or("0");
            let done = host.download(
                &url,
                extract_audio,
                row["format_id"].as_str(),
                audio_format,
                audio_quality,
            );
            assert_done(&done);
            let sent = deliveries(&done);
            assert_files_exist(&sent);
            assert!(
                sent[0].path.ends_with(".mp3") && sent[0].kind == Kind::Audio,
                "{profile:?} {row}: {sent:?}"
            );
            if profile == Profile::Python {
                assert_eq!(sent.len(), 1, "{sent:?}");
            }
        }
    }
}

/// Three tracks of 45 s (several hundred KB each as mp3): a 1 MB limit splits the guide
/// profile's ZIP into parts.
fn audio_feed(server: &MediaServer) -> String {
    let items = [330, 440, 550]
        .iter()
        .enumerate()
        .map(|(i, f)| FeedItem::new(format!("Song {}", i + 1), media_path(&media::tone_webm(45, *f))))
        .collect();
    server.add_feed("host-audio", "Host Mix", items)
}

/// Clip lengths of the video playlist: together over 1 MiB, so a 1 MB limit splits the ZIP.
const CLIP_SECONDS: [u32; 2] = [40, 45];

fn video_feed(server: &MediaServer) -> String {
    let items = CLIP_SECONDS
        .iter()
        .map(|s| FeedItem::new(format!("Clip {s}"), media_path(&media::video_mp4(*s))))
        .collect();
    server.add_feed("host-video", "Host Clips", items)
}

/// The host's view of a playlist `done` in the python profile: each track once, nothing else.
fn assert_python_tracks(done: &Value, expected: &[&str], kind: Kind) {
    let sent = deliveries(done);
    assert_files_exist(&sent);
    let names: Vec<&str> = sent.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, expected, "{done}");
    assert!(sent.iter().all(|d| d.kind == kind), "{sent:?}");
    let data = &done["data"];
    for key in ["file_path", "archives"] {
        assert!(data.get(key).is_none(), "python profile: no {key}: {done}");
    }
    for key in [
        "playlist_name",
        "total_tracks_downloaded",
        "already_cached",
        "folder_path",
    ] {
        assert!(data.get(key).is_some(), "{key} missing: {done}");
    }
    assert_eq!(data["total_tracks_downloaded"], expected.len());
    for file in data["files"].as_array().unwrap() {
        assert!(
            file["size_mb"].is_number() && file["cached"].is_boolean(),
            "{file}"
        );
        assert!(
            Path::new(file["path"].as_str().unwrap()).starts_with(data["folder_path"].as_str().unwrap()),
            "{file}"
        );
    }
    let zips = common::files_under(Path::new(data["folder_path"].as_str().unwrap()).parent().unwrap())
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "zip"))
        .count();
    assert_eq!(zips, 0, "the python profile makes no ZIP");
}

/// The guide profile's view: only ZIP parts (the first one twice: `file_path` and `files[0]`).
fn assert_guide_zips(done: &Value, split: bool) {
    let sent = deliveries(done);
    assert_files_exist(&sent);
    assert!(sent.iter().all(|d| d.path.ends_with(".zip")), "{sent:?}");
    let parts = done["data"]["archives"].as_array().unwrap().len();
    assert_eq!(sent.len(), parts + 1, "{sent:?}");
    assert_eq!(parts > 1, split, "{done}");
}

#[test]
fn audio_playlists_split_and_unsplit() {
    let server = server();
    let feed = audio_feed(&server);
    for profile in PROFILES {
        let mut host = Host::start(profile, &[]);
        for (limit_mb, split) in [(100, false), (1, true)] {
            let done = host.playlist(&feed, true, limit_mb);
            assert_done(&done);
            match profile {
                Profile::Python => assert_python_tracks(
                    &done,
                    &["001 - Song 1.mp3", "002 - Song 2.mp3", "003 - Song 3.mp3"],
                    Kind::Audio,
                ),
                Profile::Guide => assert_guide_zips(&done, split),
            }
        }
    }
}

#[test]
fn video_playlists_split_and_unsplit_with_the_hosts_mp4_audio_format() {
    let server = server();
    let feed = video_feed(&server);
    for profile in PROFILES {
        let mut host = Host::start(profile, &[]);
        let total: u64 = CLIP_SECONDS
            .iter()
            .map(|s| std::fs::metadata(media::video_mp4(*s)).unwrap().len())
            .sum();
        assert!(
            total > 1024 * 1024,
            "the clips ({total} bytes) must not fit one 1 MB part"
        );
        for (limit_mb, split) in [(100, false), (1, true)] {
            let done = host.playlist(&feed, false, limit_mb);
            assert_done(&done);
            match profile {
                Profile::Python => {
                    assert_python_tracks(&done, &["001 - Clip 40.mp4", "002 - Clip 45.mp4"], Kind::Video)
                }
                Profile::Guide => assert_guide_zips(&done, split),
            }
        }
    }
}

#[test]
fn playlist_preview_answers_in_its_first_event() {
    let server = server();
    let items = vec![
        FeedItem::new("One", media_path(&media::tone_webm(1, 440))),
        FeedItem::new("Two", media_path(&media::tone_webm(2, 440))),
    ];
    let feed = server.add_feed("host-preview", "Preview Mix", items);
    for profile in PROFILES {
        let mut host = Host::start(profile, &[]);
        let events = host.request("playlist_preview", Some(&feed), json!({"preview_count": 5}));
        let first = &events[0];
        assert_eq!(events.len(), 1, "the host reads only the first event: {events:?}");
        assert_done(first);
        assert_eq!(first["data"]["playlist_title"], "Preview Mix");
        assert_eq!(first["data"]["playlist_count"], 2);
        let titles: Vec<&str> = first["data"]["tracks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["title"].as_str().unwrap())
            .collect();
        assert_eq!(titles, ["One", "Two"]);
    }
}

#[test]
fn search_results_in_both_profiles() {
    let ytdlp = fake_ytdlp();
    let ytdlp = ytdlp.to_str().unwrap();
    for profile in PROFILES {
        let mut host = Host::start(profile, &[("YTDLP_BIN", ytdlp)]);
        let found = host.final_of(
            "youtube_search",
            None,
            json!({"query": "lofi hip hop", "limit": 5}),
        );
        assert_eq!(found["event"], "search_results", "{found}");
        let results = found["data"]["results"].as_array().unwrap();
        assert_eq!(results.len(), 5);
        for hit in results {
            assert!(
                hit["url"].as_str().is_some_and(|u| u.starts_with("https://")),
                "{hit}"
            );
            assert!(hit["title"].is_string() && hit["videoId"].is_string(), "{hit}");
        }
    }
}

/// The python profile's `cached` flag: a track whose file was already in the playlist folder
/// before the run is `cached: true`. (`already_cached` counts listed ids that the request's
/// `archive_file` records; an RSS feed's flat listing carries no ids, so that count is covered by
/// the unit test of `archived_entries`.)
#[test]
fn python_playlist_marks_tracks_already_in_the_folder_as_cached() {
    let server = server();
    let items = vec![
        FeedItem::new("Uno", media_path(&media::tone_webm(1, 440))),
        FeedItem::new("Dos", media_path(&media::tone_webm(1, 550))),
    ];
    let feed = server.add_feed("host-cached", "Cached Mix", items);
    let mut host = Host::start(Profile::Python, &[]);
    let output_dir = host.worker.downloads().join("same");
    let params =
        json!({"extract_audio": true, "audio_format": "mp3", "output_dir": output_dir.display().to_string()});

    let first = host.final_of("playlist", Some(&feed), params.clone());
    assert_done(&first);
    assert_eq!(first["data"]["already_cached"], 0);
    let cached: Vec<bool> = first["data"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["cached"].as_bool().unwrap())
        .collect();
    assert_eq!(cached, [false, false]);

    let second = host.final_of("playlist", Some(&feed), params);
    assert_done(&second);
    let cached: Vec<bool> = second["data"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["cached"].as_bool().unwrap())
        .collect();
    assert_eq!(cached, [true, true], "{second}");
    assert_eq!(deliveries(&second).len(), 2);
}
