//! The loopback media server on the wire: exact bytes, ranges, 404s, throttling, stalling, the
//! no-media page, RSS feeds and hit counting.

mod common;

use std::io::{ErrorKind, Read};
use std::time::{Duration, Instant};

use common::{get, parse_head, request, send_request};
use hermes_testkit::http::{FeedItem, MediaServer, STALL_PREFIX_BYTES};
use hermes_testkit::media::{big_wav, media_dir, tone_m4a, tone_webm, video_mp4};

fn file_name(path: &std::path::Path) -> String {
    path.file_name()
        .expect("file name")
        .to_string_lossy()
        .into_owned()
}

#[test]
fn serves_files_byte_for_byte_with_type_length_and_ranges_header() {
    let server = MediaServer::start(media_dir());
    for (path, mime) in [
        (tone_webm(2, 440), "audio/webm"),
        (tone_m4a(2, 440), "audio/mp4"),
        (video_mp4(1), "video/mp4"),
        (big_wav(1), "audio/wav"),
    ] {
        let expected = std::fs::read(&path).expect("read media");
        let response = get(server.addr(), &format!("/media/{}", file_name(&path)));
        assert_eq!(response.status, 200);
        assert_eq!(response.header("content-type"), Some(mime));
        assert_eq!(
            response.header("content-length"),
            Some(expected.len().to_string().as_str())
        );
        assert_eq!(response.header("accept-ranges"), Some("bytes"));
        assert!(
            response.body == expected,
            "body of {} differs from the file",
            path.display()
        );
    }
}

#[test]
fn head_sends_headers_only() {
    let server = MediaServer::start(media_dir());
    let path = tone_webm(2, 440);
    let len = std::fs::metadata(&path).expect("stat").len();
    let response = request(
        server.addr(),
        "HEAD",
        &format!("/media/{}", file_name(&path)),
        &[],
    );
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-length"), Some(len.to_string().as_str()));
    assert!(response.body.is_empty());
    assert_eq!(
        server.hits(&format!("/media/{}", file_name(&path))),
        0,
        "HEAD is not a hit"
    );
}

#[test]
fn honours_range_requests() {
    let server = MediaServer::start(media_dir());
    let path = tone_webm(2, 440);
    let data = std::fs::read(&path).expect("read");
    let len = data.len();
    let url_path = format!("/media/{}", file_name(&path));

    let middle = request(server.addr(), "GET", &url_path, &[("Range", "bytes=100-199")]);
    assert_eq!(middle.status, 206);
    assert_eq!(
        middle.header("content-range"),
        Some(format!("bytes 100-199/{len}").as_str())
    );
    assert_eq!(middle.header("content-length"), Some("100"));
    assert_eq!(middle.body, data[100..200]);

    let open_ended = request(server.addr(), "GET", &url_path, &[("Range", "bytes=1000-")]);
    assert_eq!(open_ended.status, 206);
    assert_eq!(open_ended.body, data[1000..]);

    let suffix = request(server.addr(), "GET", &url_path, &[("Range", "bytes=-10")]);
    assert_eq!(suffix.status, 206);
    assert_eq!(suffix.body, data[len - 10..]);

    let beyond = request(
        server.addr(),
        "GET",
        &url_path,
        &[("Range", &format!("bytes={len}-"))],
    );
    assert_eq!(beyond.status, 416);
    assert_eq!(
        beyond.header("content-range"),
        Some(format!("bytes */{len}").as_str())
    );
}

#[test]
fn unknown_paths_missing_files_and_traversal_are_refused() {
    let server = MediaServer::start(media_dir());
    assert_eq!(get(server.addr(), "/404").status, 404);
    assert_eq!(get(server.addr(), "/").status, 404);
    assert_eq!(get(server.addr(), "/nothing/here").status, 404);
    assert_eq!(get(server.addr(), "/media/no-such-file.webm").status, 404);
    assert_eq!(get(server.addr(), "/feeds/unregistered.rss").status, 404);
    assert_eq!(get(server.addr(), "/media/../Cargo.toml").status, 403);
    assert_eq!(get(server.addr(), "/media/%2e%2e/Cargo.toml").status, 403);
    assert_eq!(get(server.addr(), "/slow/0/x.wav").status, 404);
    assert_eq!(request(server.addr(), "POST", "/media/x.wav", &[]).status, 405);
}

#[test]
fn serves_subdirectories_and_percent_encoded_names() {
    let root = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(root.path().join("sub")).expect("mkdir");
    std::fs::write(root.path().join("sub").join("my song.mp3"), b"not really an mp3").expect("write");
    let server = MediaServer::start(root.path());
    let response = get(server.addr(), "/media/sub/my%20song.mp3");
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("audio/mpeg"));
    assert_eq!(response.body, b"not really an mp3");
    assert_eq!(server.hits("/media/sub/my song.mp3"), 1);
    assert_eq!(
        server.hits(&server.url("/media/sub/my%20song.mp3")),
        1,
        "full URLs are decoded too"
    );
}

#[test]
fn counts_get_hits_per_path() {
    let server = MediaServer::start(media_dir());
    let path = format!("/media/{}", file_name(&tone_webm(1, 440)));
    assert_eq!(server.hits(&path), 0);
    get(server.addr(), &path);
    get(server.addr(), &format!("{path}?x=1"));
    get(server.addr(), "/404");
    assert_eq!(server.hits(&path), 2);
    assert_eq!(server.hits(&server.url(&path)), 2);
    assert_eq!(server.hits("/404"), 1);
    assert_eq!(server.url("/a"), format!("{}/a", server.base_url()));
    assert_eq!(server.url("a"), format!("{}/a", server.base_url()));
    assert_eq!(server.media_url(tone_webm(1, 440)), server.url(&path));
    assert!(server.base_url().starts_with("http://127.0.0.1:"));
}

#[test]
fn slow_endpoint_throttles_to_the_requested_rate() {
    let server = MediaServer::start(media_dir());
    let path = big_wav(1);
    let data = std::fs::read(&path).expect("read");
    let rate = 500_000u64;
    let started = Instant::now();
    let response = get(server.addr(), &format!("/slow/{rate}/{}", file_name(&path)));
    let elapsed = started.elapsed();
    assert_eq!(response.status, 200);
    assert!(response.body == data, "throttled body differs from the file");
    let ideal = data.len() as f64 / rate as f64; // ~2.1 s
    assert!(
        elapsed.as_secs_f64() > ideal * 0.8 && elapsed.as_secs_f64() < ideal * 2.5,
        "{} bytes at {rate} B/s took {elapsed:?}, expected about {ideal:.1} s",
        data.len()
    );
}

#[test]
fn slow_endpoint_honours_ranges() {
    let server = MediaServer::start(media_dir());
    let path = tone_webm(2, 440);
    let data = std::fs::read(&path).expect("read");
    let response = request(
        server.addr(),
        "GET",
        &format!("/slow/1000000/{}", file_name(&path)),
        &[("Range", "bytes=50-")],
    );
    assert_eq!(response.status, 206);
    assert_eq!(response.body, data[50..]);
}

#[test]
fn stall_endpoint_sends_the_prefix_then_nothing_until_the_server_is_dropped() {
    let server = MediaServer::start(media_dir());
    let path = big_wav(1);
    let len = std::fs::metadata(&path).expect("stat").len();
    let mut stream =
        send_request(server.addr(), "GET", &format!("/stall/{}", file_name(&path)), &[]).expect("send");
    stream
        .set_read_timeout(Some(Duration::from_millis(1500)))
        .expect("timeout");

    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let timed_out = loop {
        match stream.read(&mut buf) {
            Ok(0) => break false,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break true,
            Err(e) => panic!("read failed: {e}"),
        }
    };
    assert!(timed_out, "the stalled response must not end by itself");
    let head = parse_head(&raw).expect("headers arrive");
    assert_eq!(head.status, 200);
    let content_length = head
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"));
    assert_eq!(
        content_length.map(|(_, v)| v.as_str()),
        Some(len.to_string().as_str()),
        "full length announced"
    );
    assert_eq!(
        (raw.len() - head.body_start) as u64,
        STALL_PREFIX_BYTES,
        "exactly the prefix is sent"
    );

    let dropped_at = Instant::now();
    drop(server);
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let closed = match stream.read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
    };
    assert!(closed, "dropping the server closes the stalled connection");
    assert!(
        dropped_at.elapsed() < Duration::from_secs(3),
        "drop took {:?}",
        dropped_at.elapsed()
    );
}

#[test]
fn nomedia_page_is_html_with_a_title_and_no_media() {
    let server = MediaServer::start(media_dir());
    let response = get(server.addr(), "/nomedia.html");
    assert_eq!(response.status, 200);
    assert!(response
        .header("content-type")
        .unwrap_or_default()
        .starts_with("text/html"));
    let html = String::from_utf8(response.body).expect("utf-8");
    assert!(html.contains("<title>") && html.contains("<p>"));
    for media in ["<video", "<audio", "<source", ".mp3", ".webm", ".mp4", "<a "] {
        assert!(!html.contains(media), "the page must not mention {media}");
    }
}

#[test]
fn feed_is_well_formed_rss_with_enclosures() {
    let server = MediaServer::start(media_dir());
    let tone = tone_webm(2, 440);
    let tone_len = std::fs::metadata(&tone).expect("stat").len();
    let feed_url = server.add_feed(
        "mix",
        "Loopback <Mix> & Friends",
        vec![
            FeedItem::new("First & best", format!("/media/{}", file_name(&tone))),
            FeedItem::new("Broken one", "/404"),
        ],
    );
    assert_eq!(feed_url, server.url("/feeds/mix.rss"));
    let response = get(server.addr(), "/feeds/mix.rss");
    assert_eq!(response.status, 200);
    assert!(response
        .header("content-type")
        .unwrap_or_default()
        .starts_with("application/rss+xml"));
    let xml = String::from_utf8(response.body).expect("utf-8");
    let doc = roxmltree::Document::parse(&xml).expect("the feed is well-formed XML");
    let rss = doc.root_element();
    assert_eq!(rss.tag_name().name(), "rss");
    assert_eq!(rss.attribute("version"), Some("2.0"));
    let channel = rss
        .children()
        .find(|n| n.has_tag_name("channel"))
        .expect("channel");
    let text_of = |node: roxmltree::Node, tag: &str| {
        node.children()
            .find(|n| n.has_tag_name(tag))
            .and_then(|n| n.text())
            .map(str::to_string)
    };
    assert_eq!(
        text_of(channel, "title").as_deref(),
        Some("Loopback <Mix> & Friends")
    );
    let items: Vec<_> = channel.children().filter(|n| n.has_tag_name("item")).collect();
    assert_eq!(items.len(), 2);

    let tone_url = server.media_url(&tone);
    assert_eq!(text_of(items[0], "title").as_deref(), Some("First & best"));
    assert_eq!(text_of(items[0], "link").as_deref(), Some(tone_url.as_str()));
    assert_eq!(text_of(items[0], "guid").as_deref(), Some("mix-1"));
    let enclosure = items[0]
        .children()
        .find(|n| n.has_tag_name("enclosure"))
        .expect("enclosure");
    assert_eq!(enclosure.attribute("url"), Some(tone_url.as_str()));
    assert_eq!(enclosure.attribute("type"), Some("audio/webm"));
    assert_eq!(enclosure.attribute("length"), Some(tone_len.to_string().as_str()));

    let broken = items[1]
        .children()
        .find(|n| n.has_tag_name("enclosure"))
        .expect("enclosure");
    assert_eq!(broken.attribute("url"), Some(server.url("/404").as_str()));
    assert_eq!(text_of(items[1], "guid").as_deref(), Some("mix-2"));
}

#[tokio::test]
async fn works_from_inside_a_tokio_test() {
    let server = MediaServer::start(media_dir());
    let path = format!("/media/{}", file_name(&tone_webm(1, 440)));
    let addr = server.addr();
    let response = tokio::task::spawn_blocking(move || get(addr, &path))
        .await
        .expect("join");
    assert_eq!(response.status, 200);
    drop(server); // dropping inside an async context must not panic or hang
}
