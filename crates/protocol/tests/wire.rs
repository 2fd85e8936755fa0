//! Wire-level tests: every builder produces the documented JSON, every event payload round-trips,
//! and request validation sorts bad lines into the right error codes.
use hermes_protocol::*;
use serde_json::{json, Value};

fn wire(request: &Request) -> Value {
    let line = to_json_line(request);
    assert!(line.ends_with('\n') && !line[..line.len() - 1].contains('\n'));
    serde_json::from_str(&line).unwrap()
}

#[test]
fn download_request_matches_guide() {
    let r = download_request("t1", "https://youtu.be/dQw4w9WgXcQ", true, "./downloads/1/t1");
    assert_eq!(
        wire(&r),
        json!({"task_id":"t1","action":"youtube_dl","url":"https://youtu.be/dQw4w9WgXcQ",
               "params":{"extract_audio":true,"output_dir":"./downloads/1/t1"}})
    );
    let p: DownloadParams = r.params_as().unwrap();
    assert!(p.extract_audio);
    assert_eq!(p.audio_target(), Ok(Some(AudioFormat::Mp3)));
    assert_eq!(p.audio_quality, "0");
}

#[test]
fn playlist_request_sends_playlist_end_only_when_limited() {
    let limited = wire(&playlist_request_opts("t", "u", "d", Some(25), false));
    assert_eq!(limited["action"], "playlist");
    assert_eq!(
        limited["params"],
        json!({"extract_audio":false,"output_dir":"d","playlist_end":25})
    );
    let all = wire(&playlist_request_opts("t", "u", "d", None, true));
    assert_eq!(all["params"], json!({"extract_audio":true,"output_dir":"d"}));
}

#[test]
fn search_request_and_count_spellings() {
    let r = search_request("s", "AC/DC & friends", 7);
    assert_eq!(
        wire(&r),
        json!({"task_id":"s","action":"youtube_search","params":{"query":"AC/DC & friends","max_results":7}})
    );
    assert!(wire(&r).get("url").is_none());
    let by_limit = Request::new("s", Action::YoutubeSearch).with_params(json!({"query":"q","limit":3}));
    assert_eq!(by_limit.params_as::<SearchParams>().unwrap().result_count(), 3);
    let both =
        Request::new("s", Action::YoutubeSearch).with_params(json!({"query":"q","limit":3,"max_results":9}));
    assert_eq!(both.params_as::<SearchParams>().unwrap().result_count(), 9);
    let capped = Request::new("s", Action::YoutubeSearch).with_params(json!({"query":"q","max_results":500}));
    assert_eq!(capped.params_as::<SearchParams>().unwrap().result_count(), 20);
    let default = Request::new("s", Action::YoutubeSearch).with_params(json!({"query":"q"}));
    assert_eq!(default.params_as::<SearchParams>().unwrap().result_count(), 5);
}

#[test]
fn remaining_builders() {
    assert_eq!(
        wire(&get_formats_request("f", "u")),
        json!({"task_id":"f","action":"get_formats","url":"u","params":{"mode":"video"}})
    );
    assert_eq!(
        wire(&get_formats_request_mode("f", "u", FormatMode::Audio))["params"]["mode"],
        "audio"
    );
    assert_eq!(
        wire(&health_check_request("h")),
        json!({"task_id":"h","action":"health_check","params":{}})
    );
    assert_eq!(
        wire(&video_info_request("v", "u")),
        json!({"task_id":"v","action":"get_video_info","url":"u","params":{}})
    );
    assert_eq!(
        wire(&playlist_preview_request("p", "u", 5))["params"],
        json!({"preview_count":5})
    );
    assert_eq!(
        wire(&cancel_request("c", "t9")),
        json!({"task_id":"c","action":"cancel","params":{"target_task_id":"t9"}})
    );
    assert_eq!(wire(&cache_stats_request("c"))["action"], "cache_stats");
    assert_eq!(wire(&cache_cleanup_request("c"))["action"], "cache_cleanup");
}

#[test]
fn every_builder_round_trips_through_the_parser() {
    for r in [
        download_request("a", "u", false, "d"),
        playlist_request_opts("b", "u", "d", Some(2), true),
        search_request("c", "q", 5),
        get_formats_request("d", "u"),
        health_check_request("e"),
        video_info_request("f", "u"),
        playlist_preview_request("g", "u", 3),
        cancel_request("h", "x"),
    ] {
        assert_eq!(Request::from_json_line(&to_json_line(&r)).unwrap(), r);
    }
}

#[test]
fn bad_lines_get_the_right_codes() {
    let code = |line: &str| Request::from_json_line(line).unwrap_err();
    assert_eq!(code("{not json").code, ErrorCode::InvalidJson);
    assert_eq!(code("{not json").task_id, None);
    assert_eq!(code("[1,2]").code, ErrorCode::InvalidRequest);
    assert_eq!(
        code(r#"{"action":"health_check"}"#).code,
        ErrorCode::InvalidRequest
    );
    assert_eq!(
        code(r#"{"task_id":"","action":"health_check"}"#).code,
        ErrorCode::InvalidRequest
    );
    assert_eq!(
        code(r#"{"task_id":5,"action":"health_check"}"#).code,
        ErrorCode::InvalidRequest
    );
    let missing_action = code(r#"{"task_id":"t"}"#);
    assert_eq!(
        (missing_action.code, missing_action.task_id.as_deref()),
        (ErrorCode::InvalidRequest, Some("t"))
    );
    let unknown = code(r#"{"task_id":"t","action":"rm_rf"}"#);
    assert_eq!(
        (unknown.code, unknown.task_id.as_deref()),
        (ErrorCode::UnknownAction, Some("t"))
    );
    assert_eq!(
        code(r#"{"task_id":"t","action":"youtube_dl","params":[1]}"#).code,
        ErrorCode::InvalidRequest
    );
    assert_eq!(
        code(r#"{"task_id":"t","action":"youtube_dl","url":7}"#).code,
        ErrorCode::InvalidRequest
    );
    let ok = Request::from_json_line("{\"task_id\":\"t\",\"action\":\"health_check\",\"params\":null}\r\n")
        .unwrap();
    assert_eq!(ok.action, Action::HealthCheck);
}

#[test]
fn wrong_param_types_are_invalid_request() {
    let r = Request::new("t", Action::YoutubeDl).with_params(json!({"extract_audio":"yes"}));
    assert_eq!(
        r.params_as::<DownloadParams>().unwrap_err().code,
        ErrorCode::InvalidRequest
    );
    let r = Request::new("t", Action::YoutubeDl).with_params(json!({"audio_format":7}));
    assert_eq!(
        r.params_as::<DownloadParams>().unwrap_err().code,
        ErrorCode::InvalidRequest
    );
    let r = Request::new("t", Action::YoutubeDl).with_params(json!({"audio_quality":5}));
    assert_eq!(r.params_as::<DownloadParams>().unwrap().audio_quality, "5");
}

/// The existing host sends `"audio_format": "mp4"` with every video download and playlist: the
/// name only matters, and is only checked, when audio is extracted.
#[test]
fn audio_format_is_checked_only_when_extracting() {
    let video =
        Request::new("t", Action::Playlist).with_params(json!({"extract_audio":false,"audio_format":"mp4"}));
    assert_eq!(
        video.params_as::<PlaylistParams>().unwrap().audio_target(),
        Ok(None)
    );
    let video = Request::new("t", Action::YoutubeDl).with_params(json!({"audio_format":"mp4"}));
    assert_eq!(
        video.params_as::<DownloadParams>().unwrap().audio_target(),
        Ok(None)
    );
    let audio =
        Request::new("t", Action::YoutubeDl).with_params(json!({"extract_audio":true,"audio_format":"exe"}));
    let err = audio
        .params_as::<DownloadParams>()
        .unwrap()
        .audio_target()
        .unwrap_err();
    assert!(err.to_string().contains("exe"), "{err}");
    let audio = Request::new("t", Action::Playlist).with_params(json!({"audio_format":"OPUS"}));
    assert_eq!(
        audio.params_as::<PlaylistParams>().unwrap().audio_target(),
        Ok(Some(AudioFormat::Opus))
    );
}

fn round_trip<T>(event: Event, payload: T)
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let response = Response::new("t1", event, &payload);
    let line = to_json_line(&response);
    let back: Response = from_json_line(&line).unwrap();
    assert_eq!(back.event, event);
    assert_eq!(back.task_id, "t1");
    assert_eq!(back.payload::<T>().unwrap(), payload);
}

/// The worker emits `RawResponse`; hosts read `Response`. Both must be the same line.
fn raw_matches<T: serde::Serialize>(event: Event, payload: &T) {
    let raw = to_json_line(&RawResponse::new("t1", event, payload));
    let owned = to_json_line(&Response::new("t1", event, payload));
    let (raw, owned): (Value, Value) = (
        serde_json::from_str(&raw).unwrap(),
        serde_json::from_str(&owned).unwrap(),
    );
    assert_eq!(raw, owned);
    assert!(to_json_line(&RawResponse::new("t1", event, payload)).ends_with("}\n"));
}

#[test]
fn raw_responses_are_the_same_events_on_the_wire() {
    raw_matches(
        Event::Progress,
        &ProgressData {
            percent: 7,
            speed: "1MB/s".into(),
            eta: 3,
            status: ProgressStatus::Downloading,
            downloaded: None,
            total: Some(9),
            file: None,
            title: Some("A \"quoted\" title".into()),
        },
    );
    raw_matches(
        Event::Error,
        &ErrorData {
            message: "line one".into(),
            error_code: ErrorCode::Timeout,
            file_size: None,
        },
    );
    raw_matches(
        Event::SearchResults,
        &SearchResults {
            results: vec![SearchResult {
                video_id: "v".into(),
                video_id_compat: "v".into(),
                title: "T \"q\" \n".into(),
                ..Default::default()
            }],
            query: "q".into(),
            total_results: 1,
            from_cache: false,
        },
    );
    raw_matches(
        Event::HealthOk,
        &HealthOk {
            config: json!({"a": [1, 2]}),
            ..Default::default()
        },
    );
    let raw = RawResponse::error("x", ErrorCode::Cancelled, "by request");
    assert_eq!(
        raw.to_response().error_data().unwrap().error_code,
        ErrorCode::Cancelled
    );
}

#[test]
fn every_event_round_trips() {
    round_trip(
        Event::Progress,
        ProgressData {
            percent: 45,
            speed: "1.2MB/s".into(),
            eta: 30,
            status: ProgressStatus::Downloading,
            downloaded: Some(10),
            total: Some(20),
            file: None,
            title: Some("Never Gonna Give You Up".into()),
        },
    );
    round_trip(
        Event::Progress,
        ProgressData {
            percent: 60,
            status: ProgressStatus::DownloadingPlaylist,
            file: Some(FileEntry {
                path: "/p/x/001 - a.mp3".into(),
                size: 5,
                name: Some("001 - a.mp3".into()),
            }),
            ..Default::default()
        },
    );
    // Without a finished file the key is absent, as hosts that predate it expect.
    assert!(!serde_json::to_string(&ProgressData::default())
        .unwrap()
        .contains("file"));
    round_trip(
        Event::Error,
        ErrorData {
            message: "Video unavailable".into(),
            error_code: ErrorCode::VideoRemoved,
            file_size: None,
        },
    );
    round_trip(
        Event::Done,
        DownloadDone {
            files: vec![FileEntry {
                path: "/a/b.mp3".into(),
                size: 3,
                name: None,
            }],
            title: Some("b".into()),
            duration: Some(213),
            file_path: "/a/b.mp3".into(),
            file_size: 3,
            filename: "b.mp3".into(),
            ..Default::default()
        },
    );
    round_trip(
        Event::Done,
        PlaylistDone {
            files: vec![FileEntry {
                path: "/p/x.zip".into(),
                size: 9,
                name: Some("x.zip".into()),
            }],
            archives: vec![ArchiveEntry {
                name: "x.zip".into(),
                path: "/p/x.zip".into(),
                size: 9,
                size_mb: 0.0,
            }],
            tracks: vec![TrackEntry {
                path: "/p/x/1.mp3".into(),
                name: "1.mp3".into(),
                size: 4,
            }],
            playlist_name: "x".into(),
            total_tracks_downloaded: 1,
            failed_tracks: 1,
            folder_path: "/p/x".into(),
            file_path: "/p/x.zip".into(),
            filename: "x.zip".into(),
        },
    );
    round_trip(
        Event::Done,
        PythonDownloadDone {
            file_path: "/a/b.mp3".into(),
            file_size: 3,
            filename: "b.mp3".into(),
            title: Some("b".into()),
            duration: None,
            ..Default::default()
        },
    );
    round_trip(
        Event::Done,
        PythonPlaylistDone {
            files: vec![PythonTrackFile {
                path: "/p/x/1.mp3".into(),
                name: "1.mp3".into(),
                size_mb: 0.5,
                cached: false,
            }],
            playlist_name: "x".into(),
            total_tracks_downloaded: 1,
            already_cached: 0,
            folder_path: "/p/x".into(),
        },
    );
    round_trip(
        Event::Done,
        PlaylistPreview {
            playlist_title: "P".into(),
            playlist_count: Some(3),
            tracks: vec![PreviewTrack {
                index: 1,
                title: "a".into(),
                url: "u".into(),
                duration: None,
            }],
        },
    );
    round_trip(
        Event::Done,
        CancelDone {
            cancelled: true,
            found: true,
            target_task_id: "x".into(),
        },
    );
    round_trip(
        Event::SearchResults,
        SearchResults {
            results: vec![SearchResult {
                video_id: "id".into(),
                video_id_compat: "id".into(),
                title: "t".into(),
                url: "u".into(),
                duration: Some(1),
                thumbnail: "th".into(),
                channel: Some("c".into()),
                artist: Some("c".into()),
                view_count: Some(1),
                duration_string: Some("0:01".into()),
                live_status: Some("is_live".into()),
            }],
            query: "q".into(),
            total_results: 1,
            from_cache: true,
        },
    );
    round_trip(
        Event::VideoInfo,
        VideoInfo {
            video_id: "id".into(),
            video_id_compat: "id".into(),
            title: "t".into(),
            is_age_restricted: true,
            ..Default::default()
        },
    );
    round_trip(
        Event::FormatList,
        FormatList {
            title: "t".into(),
            mode: FormatMode::Audio,
            formats: vec![FormatOption {
                format_id: "140".into(),
                label: "m4a".into(),
                ext: "m4a".into(),
                kind: "audio".into(),
                extract_audio: Some(false),
                ..Default::default()
            }],
            ..Default::default()
        },
    );
    round_trip(
        Event::HealthOk,
        HealthOk {
            status: "ok".into(),
            worker: "hermes-worker".into(),
            version: "0.1.0".into(),
            handlers: vec!["health_check".into()],
            config: json!({"a":1}),
            active_tasks: 2,
            uptime_s: 1.5,
            ytdlp: None,
            ffmpeg: Some("ffmpeg version 5".into()),
            js_runtime: Some(JsRuntime {
                name: "deno".into(),
                version: "2.9.8".into(),
            }),
            ejs: None,
        },
    );
    round_trip(
        Event::CacheStats,
        CacheStats {
            search_entries: 1,
            metadata_entries: 2,
            cache_enabled: true,
            ttl_hours: 24,
            hits: 3,
            misses: 4,
        },
    );
    round_trip(
        Event::CacheCleanupDone,
        CacheCleanupDone {
            removed_search: 1,
            removed_metadata: 2,
        },
    );
}

#[test]
fn compat_keys_are_emitted() {
    let hit = SearchResult {
        video_id: "abc".into(),
        video_id_compat: "abc".into(),
        ..Default::default()
    };
    let v = serde_json::to_value(&hit).unwrap();
    for key in [
        "video_id",
        "videoId",
        "title",
        "url",
        "duration",
        "thumbnail",
        "channel",
        "view_count",
        "artist",
        "duration_string",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    let fmt = serde_json::to_value(FormatOption::default()).unwrap();
    assert!(fmt.get("type").is_some());
}

#[test]
fn event_set_is_closed_and_final_events_are_known() {
    let names = [
        "progress",
        "done",
        "error",
        "search_results",
        "video_info",
        "format_list",
        "health_ok",
        "cache_stats",
        "cache_cleanup_done",
    ];
    for name in names {
        let e: Event = serde_json::from_value(json!(name)).unwrap();
        assert_eq!(e.as_str(), name);
        assert_eq!(e.is_final(), name != "progress");
    }
    let unknown: Event = serde_json::from_value(json!("retry")).unwrap();
    assert_eq!(unknown, Event::Unknown);
}

#[test]
fn progress_is_lenient_on_input_strict_on_output() {
    let r: Response = from_json_line(r#"{"task_id":"t","event":"progress","data":{"percent":45.7,"speed":"","eta":null,"status":"downloading"}}"#).unwrap();
    let p: ProgressData = r.payload().unwrap();
    assert_eq!(p.percent, 45);
    let out = serde_json::to_value(&p).unwrap();
    assert!(out["percent"].is_u64());
    assert!(out.get("downloaded").is_none());
}

/// `progress.title` and `search_results[].live_status` are optional extras: absent when unknown,
/// so hosts that predate them (and the python profile's readers) see the shapes they always saw;
/// a host reads them when present and reads events without them as `None`.
#[test]
fn progress_title_and_search_live_status_are_absent_unless_known() {
    let plain = serde_json::to_value(ProgressData::default()).unwrap();
    assert!(plain.get("title").is_none(), "{plain}");
    let titled = ProgressData {
        title: Some("Tone".into()),
        ..Default::default()
    };
    assert_eq!(serde_json::to_value(&titled).unwrap()["title"], "Tone");
    let old: ProgressData =
        serde_json::from_value(json!({"percent": 3, "speed": "", "eta": 0, "status": "downloading"}))
            .unwrap();
    assert_eq!(old.title, None);
    let new: ProgressData = serde_json::from_value(
        json!({"percent": 3, "speed": "", "eta": 0, "status": "downloading", "title": "Tone"}),
    )
    .unwrap();
    assert_eq!(new.title.as_deref(), Some("Tone"));

    let hit = serde_json::to_value(SearchResult::default()).unwrap();
    assert!(hit.get("live_status").is_none(), "{hit}");
    let live = SearchResult {
        live_status: Some("is_upcoming".into()),
        ..Default::default()
    };
    assert_eq!(serde_json::to_value(&live).unwrap()["live_status"], "is_upcoming");
    let read: SearchResult = serde_json::from_value(json!({"video_id": "x", "live_status": null})).unwrap();
    assert_eq!(read.live_status, None);
}

#[test]
fn error_codes_spell_as_the_table() {
    assert_eq!(
        serde_json::to_value(ErrorCode::YtdlpNotFound).unwrap(),
        json!("YTDLP_NOT_FOUND")
    );
    assert_eq!(
        serde_json::to_value(ErrorCode::WorkerCrashed).unwrap(),
        json!("WORKER_CRASHED")
    );
    let other: ErrorCode = serde_json::from_value(json!("SOMETHING_NEW")).unwrap();
    assert_eq!(other, ErrorCode::Other("SOMETHING_NEW".into()));
    let e = Response::error("t", ErrorCode::Cancelled, "cancelled")
        .error_data()
        .unwrap();
    assert_eq!(e.error_code, ErrorCode::Cancelled);
}

/// A host reads either profile's `done` with the guide types: a python-profile single download
/// is its `file_path`, a python-profile playlist's `files` are the tracks (and no archives).
#[test]
fn guide_types_read_the_python_shapes() {
    let single: DownloadDone = serde_json::from_value(
        json!({"file_path": "/d/a.mp3", "file_size": 3, "filename": "a.mp3", "title": "a", "duration": 1}),
    )
    .unwrap();
    assert_eq!((single.file_path.as_str(), single.files.len()), ("/d/a.mp3", 0));
    let playlist: PlaylistDone = serde_json::from_value(json!({"files": [{"path": "/p/1.mp3", "name": "1.mp3", "size_mb": 0.1, "cached": false}], "playlist_name": "P", "total_tracks_downloaded": 1, "already_cached": 0, "folder_path": "/p"})).unwrap();
    assert_eq!(playlist.files[0].path, "/p/1.mp3");
    assert!(playlist.archives.is_empty() && playlist.file_path.is_empty());
}

/// Issue 17's `done` keys are absent unless set, so a `done` without them keeps the shape the
/// existing hosts know (both profiles); set, they carry their values on the wire.
#[test]
fn download_done_presentation_keys_appear_only_when_set() {
    let plain = serde_json::to_value(DownloadDone::default()).unwrap();
    let keys: Vec<&str> = plain.as_object().unwrap().keys().map(String::as_str).collect();
    let mut keys = keys;
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["duration", "file_path", "file_size", "filename", "files", "title"]
    );
    let python = serde_json::to_value(PythonDownloadDone::default()).unwrap();
    let mut keys: Vec<&str> = python.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["duration", "file_path", "file_size", "filename", "title"]);

    let shaped = DownloadDone {
        thumbnail: Some("/d/t/a.thumb.jpg".into()),
        width: Some(640),
        height: Some(360),
        track: Some("Song".into()),
        artist: Some("Band".into()),
        uploader: Some("Channel".into()),
        parts: Some(3),
        ..Default::default()
    };
    let value = serde_json::to_value(&shaped).unwrap();
    assert_eq!(value["thumbnail"], "/d/t/a.thumb.jpg");
    assert_eq!(
        (value["width"].as_u64(), value["height"].as_u64()),
        (Some(640), Some(360))
    );
    assert_eq!(
        (
            &value["track"],
            &value["artist"],
            &value["uploader"],
            &value["parts"]
        ),
        (&json!("Song"), &json!("Band"), &json!("Channel"), &json!(3))
    );
    round_trip(Event::Done, shaped);
}
