//! A loopback HTTP/1.1 media server for tests: real yt-dlp downloads from it through its generic
//! extractor, so the worker's whole pipeline (yt-dlp → ffmpeg → files → ZIP) runs offline.
//!
//! It runs on its own std thread with its own single-threaded tokio runtime, so plain `#[test]`s and
//! `#[tokio::test]`s use it alike, and a test runtime that blocks (or ends) cannot starve or kill it.
//! Dropping the [`MediaServer`] stops it and closes every connection, the stalled ones included.
//!
//! Routes (`<file>` is a path relative to the root; `..`, `.` and empty components are refused with
//! 403; `GET` and `HEAD` are served, other methods get 405):
//! - `/media/<file>`: the file, with `Content-Type` by extension, `Content-Length`,
//!   `Accept-Ranges: bytes`, and single-range `Range` requests (206, or 416 when unsatisfiable).
//! - `/slow/<bytes_per_sec>/<file>`: the same, the body paced to that rate.
//! - `/stall/<file>`: the headers (full `Content-Length`) and the first 64 KiB, then nothing until
//!   the server is dropped.
//! - `/nomedia.html`: an HTML page with a title and text but no media.
//! - `/feeds/<name>.rss`: RSS 2.0 playlists registered with [`MediaServer::add_feed`].
//! - `/redirect?to=<percent-encoded URL>`: `302 Found` to that URL.
//! - `/endless/<bytes>/<name>`: `<bytes>` zero bytes with the content type of `<name>` and **no
//!   `Content-Length`** (chunked), as a live stream or a lying server sends them.
//! - `/hls/<n>.m3u8?base=<percent-encoded URL prefix>`: an HLS media playlist of `n` two-second
//!   segments at `<base>/seg/<i>.ts` (on whatever server the prefix names).
//! - anything else, `/404` included: 404.
//!
//! What the real yt-dlp (2026.10.26) does with it, checked by `tests/ytdlp.rs`:
//! - A direct `/media/<file>` URL goes through the generic extractor, which first GETs the URL, sees
//!   a media `Content-Type` and takes it as a direct link (id and title = the file stem, no
//!   `duration` or `thumbnail`), then GETs it again to download: **one download = 2 GET hits**.
//!   `-x --audio-format mp3` then converts it with ffmpeg as usual.
//! - A feed is recognised as RSS by the generic extractor: `--flat-playlist -J` gives
//!   `_type: "playlist"` with `title` = the feed title, `id` = the feed URL and one `url_transparent`
//!   entry per item with its `title`, but **no `id` and no `duration`**; each entry `url` is the
//!   enclosure URL plus a `#__youtubedl_smuggle=...` fragment carrying the `<guid>` (yt-dlp
//!   unsmuggles it when given that URL back; strip it before showing the URL to a person). On a full
//!   run the `<guid>` (`<name>-<n>`) becomes the entry id, which also keys `--download-archive`.
//!   A flat listing fetches only the feed, never the items.
//! - A feed with a `/404` item downloads the other items, reports `ERROR: ... HTTP Error 404` for
//!   that one, and exits 1.
//! - `/stall/<file>` leaves yt-dlp in the download with no output after its first progress lines
//!   (the `.part` file holds a little under 64 KiB: it keeps an incomplete read block in memory).
//!   Its default socket timeout is 20 s; then it prints `[download] Got error: ... Read timed out..
//!   Retrying (1/10)...` on stdout and resumes with a `Range` request, which stalls the same way
//!   after another 64 KiB, up to 10 times. To a caller it simply hangs: a test sets `YT_TIMEOUT`
//!   (or its own deadline) well under 20 s to see the timeout path.
//! - `/nomedia.html` makes the generic extractor fail with `ERROR: Unsupported URL`.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::percent::percent_decode;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;

/// How much of the file `/stall/` sends before it stops sending.
pub const STALL_PREFIX_BYTES: u64 = 64 * 1024;

/// Chunk size for unthrottled bodies: large enough to be fast on loopback, small enough to keep
/// the memory of a 100 MB download flat.
const FULL_SPEED_CHUNK: usize = 64 * 1024;

/// How long dropping the server waits for its runtime's blocking file reads to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// One entry of an RSS playlist served by [`MediaServer::add_feed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedItem {
    /// The item's `<title>`; yt-dlp uses it as the entry title (and so in `%(title)s`).
    pub title: String,
    /// A server path such as `/media/tone_5s_440hz.webm`, `/slow/100000/big_30mb.wav` or `/404`
    /// (to make this item fail), or an absolute `http://` URL used as-is.
    pub path: String,
}

impl FeedItem {
    pub fn new(title: impl Into<String>, path: impl Into<String>) -> Self {
        FeedItem {
            title: title.into(),
            path: path.into(),
        }
    }
}

/// The loopback media server. See the module documentation for its routes.
pub struct MediaServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
}

/// State shared between the server's request handlers and the test-side handle.
struct Shared {
    root: PathBuf,
    base_url: String,
    hits: Mutex<HashMap<String, usize>>,
    feeds: Mutex<HashMap<String, Feed>>,
    shutdown: watch::Receiver<bool>,
}

struct Feed {
    title: String,
    items: Vec<FeedItem>,
}

impl MediaServer {
    /// Binds 127.0.0.1 on an ephemeral port and serves files under `root`.
    ///
    /// The socket is bound before this returns, so the URLs are usable at once. Panics if the
    /// socket or the runtime cannot be created: a broken test environment.
    pub fn start(root: impl Into<PathBuf>) -> MediaServer {
        MediaServer::start_on(std::net::Ipv4Addr::LOCALHOST.into(), root)
    }

    /// [`MediaServer::start`] on another local address, such as `127.0.0.2` (all of 127/8 is
    /// loopback on Linux): a second "host" that an egress policy can treat differently.
    pub fn start_on(ip: std::net::IpAddr, root: impl Into<PathBuf>) -> MediaServer {
        let root = root.into();
        let listener = std::net::TcpListener::bind((ip, 0))
            .unwrap_or_else(|err| panic!("MediaServer: cannot bind {ip}:0: {err}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|err| panic!("MediaServer: no local address: {err}"));
        listener
            .set_nonblocking(true)
            .unwrap_or_else(|err| panic!("MediaServer: cannot make the socket non-blocking: {err}"));
        let (shutdown, shutdown_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            root,
            base_url: format!("http://{addr}"),
            hits: Mutex::new(HashMap::new()),
            feeds: Mutex::new(HashMap::new()),
            shutdown: shutdown_rx,
        });
        let thread = spawn_server_thread(listener, Arc::clone(&shared));
        MediaServer {
            addr,
            shared,
            shutdown,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    /// The socket address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The directory files are served from.
    pub fn root(&self) -> &Path {
        &self.shared.root
    }

    /// The absolute URL of a server path (`url("/media/a.webm")`); a missing leading `/` is added.
    pub fn url(&self, path: &str) -> String {
        if path.starts_with('/') {
            format!("{}{path}", self.shared.base_url)
        } else {
            format!("{}/{path}", self.shared.base_url)
        }
    }

    /// The `/media/` URL of a file in the root, given its path or just its name
    /// (`server.media_url(media::tone_webm(5, 440))`). Only the file name is used.
    pub fn media_url(&self, file: impl AsRef<Path>) -> String {
        let name = file
            .as_ref()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned());
        self.url(&format!("/media/{}", name.unwrap_or_default()))
    }

    /// How many GET requests reached `path` (a server path or a full URL of this server; any query
    /// string is ignored). HEAD requests are not counted.
    pub fn hits(&self, path: &str) -> usize {
        let path = path.strip_prefix(self.shared.base_url.as_str()).unwrap_or(path);
        let path = path.split('?').next().unwrap_or(path);
        let key = percent_decode(path).unwrap_or_else(|| path.to_string());
        lock(&self.shared.hits).get(&key).copied().unwrap_or(0)
    }

    /// Registers (or replaces) the RSS playlist `name` and returns its URL, `<base>/feeds/<name>.rss`.
    ///
    /// Each item becomes an `<item>` with `<title>`, `<link>`, `<guid isPermaLink="false">` =
    /// `<name>-<n>` (n from 1) and `<enclosure url type length>`. Panics if `name` is not a plain
    /// file-name token (letters, digits, `-`, `_`, `.`).
    pub fn add_feed(&self, name: &str, title: &str, items: Vec<FeedItem>) -> String {
        assert!(
            is_plain_token(name),
            "feed name {name:?} must be non-empty and use only letters, digits, '-', '_' and '.'"
        );
        let feed = Feed {
            title: title.to_string(),
            items,
        };
        lock(&self.shared.feeds).insert(name.to_string(), feed);
        self.url(&format!("/feeds/{name}.rss"))
    }
}

impl Drop for MediaServer {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn spawn_server_thread(listener: std::net::TcpListener, shared: Arc<Shared>) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name(format!("media-server-{}", shared.base_url))
        .spawn(move || run_server(listener, shared))
        .unwrap_or_else(|err| panic!("MediaServer: cannot spawn its thread: {err}"))
}

/// Serves until shutdown is signalled, then drops the runtime, which drops every connection task
/// (stalled responses included) and so closes their sockets.
fn run_server(listener: std::net::TcpListener, shared: Arc<Shared>) {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("MediaServer: cannot build its tokio runtime: {err}");
            return;
        }
    };
    let mut shutdown = shared.shutdown.clone();
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::from_std(listener) {
            Ok(listener) => listener,
            Err(err) => {
                eprintln!("MediaServer: cannot register its socket: {err}");
                return;
            }
        };
        let app = Router::new().fallback(handle).with_state(shared);
        tokio::select! {
            result = axum::serve(listener, app) => {
                if let Err(err) = result {
                    eprintln!("MediaServer: stopped: {err}");
                }
            }
            _ = shutdown.wait_for(|stop| *stop) => {}
        }
    });
    runtime.shutdown_timeout(SHUTDOWN_GRACE);
}

/// The one handler: routing by hand keeps every route's exact wire behaviour in view.
async fn handle(State(shared): State<Arc<Shared>>, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let Some(path) = percent_decode(uri.path()) else {
        return status(StatusCode::BAD_REQUEST);
    };
    if method == Method::GET {
        *lock(&shared.hits).entry(path.clone()).or_insert(0) += 1;
    }
    if method != Method::GET && method != Method::HEAD {
        return status(StatusCode::METHOD_NOT_ALLOWED);
    }
    let head_only = method == Method::HEAD;
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let query = |key: &str| {
        uri.query()?
            .split('&')
            .find_map(|pair| pair.strip_prefix(key)?.strip_prefix('='))
            .and_then(percent_decode)
    };
    if path == "/redirect" {
        return match query("to").and_then(|to| HeaderValue::from_str(&to).ok()) {
            Some(location) => {
                let mut response = status(StatusCode::FOUND);
                response.headers_mut().insert(header::LOCATION, location);
                response
            }
            None => status(StatusCode::BAD_REQUEST),
        };
    }
    if let Some(rest) = path.strip_prefix("/endless/") {
        return match rest
            .split_once('/')
            .and_then(|(n, name)| Some((n.parse::<u64>().ok()?, name)))
        {
            Some((bytes, name)) => endless(bytes, content_type_for(name), head_only, shared.shutdown.clone()),
            None => status(StatusCode::NOT_FOUND),
        };
    }
    if let Some(count) = path
        .strip_prefix("/hls/")
        .and_then(|n| n.strip_suffix(".m3u8"))
        .and_then(|n| n.parse::<u32>().ok())
    {
        let base = query("base").unwrap_or_else(|| shared.base_url.clone());
        let mut playlist =
            String::from("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n");
        for i in 0..count {
            playlist.push_str(&format!("#EXTINF:2.0,\n{base}/seg/{i}.ts\n"));
        }
        playlist.push_str("#EXT-X-ENDLIST\n");
        return text_response("application/vnd.apple.mpegurl", playlist, head_only);
    }
    match Route::parse(&path) {
        Route::File { file, pace } => serve_file(&shared, file, pace, range, head_only).await,
        Route::NoMedia => html_page(head_only),
        Route::Feed(name) => feed_document(&shared, name, head_only),
        Route::NotFound => status(StatusCode::NOT_FOUND),
    }
}

/// How a file body is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pace {
    Full,
    BytesPerSecond(u64),
    StallAfterPrefix,
}

#[derive(Debug, PartialEq, Eq)]
enum Route<'a> {
    File { file: &'a str, pace: Pace },
    NoMedia,
    Feed(&'a str),
    NotFound,
}

impl<'a> Route<'a> {
    fn parse(path: &'a str) -> Route<'a> {
        if let Some(file) = path.strip_prefix("/media/") {
            return Route::File {
                file,
                pace: Pace::Full,
            };
        }
        if let Some(file) = path.strip_prefix("/stall/") {
            return Route::File {
                file,
                pace: Pace::StallAfterPrefix,
            };
        }
        if let Some(rest) = path.strip_prefix("/slow/") {
            return match rest.split_once('/') {
                Some((rate, file)) => match rate.parse::<u64>() {
                    Ok(rate) if rate > 0 => Route::File {
                        file,
                        pace: Pace::BytesPerSecond(rate),
                    },
                    _ => Route::NotFound,
                },
                None => Route::NotFound,
            };
        }
        if path == "/nomedia.html" {
            return Route::NoMedia;
        }
        if let Some(name) = path.strip_prefix("/feeds/").and_then(|n| n.strip_suffix(".rss")) {
            return Route::Feed(name);
        }
        Route::NotFound
    }
}

async fn serve_file(
    shared: &Shared,
    file: &str,
    pace: Pace,
    range: Option<&str>,
    head_only: bool,
) -> Response {
    let Some(relative) = safe_relative_path(file) else {
        return status(StatusCode::FORBIDDEN);
    };
    let path = shared.root.join(relative);
    let len = match tokio::fs::metadata(&path).await {
        Ok(meta) if meta.is_file() => meta.len(),
        _ => return status(StatusCode::NOT_FOUND),
    };
    let (code, start, part_len) = match parse_range(range, len) {
        ByteRange::Whole => (StatusCode::OK, 0, len),
        ByteRange::Part { start, end } => (StatusCode::PARTIAL_CONTENT, start, end - start + 1),
        ByteRange::Unsatisfiable => return range_not_satisfiable(len),
    };
    let mut response = if head_only || part_len == 0 {
        Response::new(Body::empty())
    } else {
        Response::new(file_body(path, start, part_len, pace, shared.shutdown.clone()))
    };
    *response.status_mut() = code;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type_for(file)),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(part_len));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if code == StatusCode::PARTIAL_CONTENT {
        let end = start + part_len - 1;
        if let Ok(value) = HeaderValue::from_str(&format!("bytes {start}-{end}/{len}")) {
            headers.insert(header::CONTENT_RANGE, value);
        }
    }
    response
}

/// A streaming body fed by a task that reads the file and paces it. The explicit `Content-Length`
/// set by the caller keeps hyper from switching to chunked encoding; if the task stops early
/// (stall released by shutdown, read error) hyper sees the short body and closes the connection.
fn file_body(path: PathBuf, start: u64, len: u64, pace: Pace, shutdown: watch::Receiver<bool>) -> Body {
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(4);
    tokio::spawn(async move {
        if let Err(err) = send_file(&path, start, len, pace, shutdown, &tx).await {
            let _ = tx.send(Err(err)).await;
        }
    });
    Body::from_stream(ReceiverStream::new(rx))
}

/// Sends `len` bytes of `path` from `start` at the given pace. Returns `Ok` early when the client
/// has gone (the receiver is dropped).
async fn send_file(
    path: &Path,
    start: u64,
    len: u64,
    pace: Pace,
    mut shutdown: watch::Receiver<bool>,
    tx: &mpsc::Sender<io::Result<Bytes>>,
) -> io::Result<()> {
    let mut file = tokio::fs::File::open(path).await?;
    file.seek(io::SeekFrom::Start(start)).await?;
    let to_send = match pace {
        Pace::StallAfterPrefix => len.min(STALL_PREFIX_BYTES),
        _ => len,
    };
    let chunk_size = chunk_size_for(pace);
    let started = Instant::now();
    let mut sent: u64 = 0;
    let mut buf = vec![0u8; chunk_size];
    while sent < to_send {
        let want = usize::try_from(to_send - sent)
            .unwrap_or(chunk_size)
            .min(chunk_size);
        let n = file.read(&mut buf[..want]).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "file shrank while being served",
            ));
        }
        if let Pace::BytesPerSecond(rate) = pace {
            tokio::time::sleep_until(started + pacing_delay(sent, rate)).await;
        }
        if tx.send(Ok(Bytes::copy_from_slice(&buf[..n]))).await.is_err() {
            return Ok(());
        }
        sent += n as u64;
    }
    if pace == Pace::StallAfterPrefix && to_send < len {
        // Hold the connection (and `tx`) open without sending anything until the server stops,
        // or until the client gives up and hyper drops the body (no need to keep the file open).
        tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => {}
            _ = tx.closed() => {}
        }
    }
    Ok(())
}

/// Throttled bodies go out in chunks of about 1/20 s of data, so the rate is smooth at the scale a
/// progress parser or a stall detector looks at.
fn chunk_size_for(pace: Pace) -> usize {
    match pace {
        Pace::BytesPerSecond(rate) => usize::try_from(rate / 20)
            .unwrap_or(FULL_SPEED_CHUNK)
            .clamp(1, FULL_SPEED_CHUNK),
        Pace::Full | Pace::StallAfterPrefix => FULL_SPEED_CHUNK,
    }
}

/// When the byte at offset `sent` may go out: `sent / rate` seconds after the body started.
fn pacing_delay(sent: u64, rate: u64) -> Duration {
    let secs = sent / rate;
    let rem = sent % rate;
    let nanos = u128::from(rem) * 1_000_000_000 / u128::from(rate);
    Duration::from_secs(secs) + Duration::from_nanos(u64::try_from(nanos).unwrap_or(0))
}

#[derive(Debug, PartialEq, Eq)]
enum ByteRange {
    Whole,
    Part { start: u64, end: u64 },
    Unsatisfiable,
}

/// Parses a single `bytes=` range (RFC 9110 §14.1.2). Anything this server does not understand
/// (other units, several ranges, malformed values) is ignored and the whole file is sent, which is
/// what the RFC allows a server to do.
fn parse_range(header: Option<&str>, len: u64) -> ByteRange {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return ByteRange::Whole;
    };
    if spec.contains(',') {
        return ByteRange::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return ByteRange::Whole;
    };
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        return match last.parse::<u64>() {
            Ok(0) => ByteRange::Unsatisfiable,
            Ok(_) if len == 0 => ByteRange::Unsatisfiable,
            Ok(suffix) => ByteRange::Part {
                start: len.saturating_sub(suffix),
                end: len - 1,
            },
            Err(_) => ByteRange::Whole,
        };
    }
    let Ok(start) = first.parse::<u64>() else {
        return ByteRange::Whole;
    };
    let end = if last.is_empty() {
        None
    } else {
        match last.parse::<u64>() {
            Ok(end) if end >= start => Some(end),
            _ => return ByteRange::Whole,
        }
    };
    if start >= len {
        return ByteRange::Unsatisfiable;
    }
    ByteRange::Part {
        start,
        end: end.map_or(len - 1, |end| end.min(len - 1)),
    }
}

fn range_not_satisfiable(len: u64) -> Response {
    let mut response = status(StatusCode::RANGE_NOT_SATISFIABLE);
    if let Ok(value) = HeaderValue::from_str(&format!("bytes */{len}")) {
        response.headers_mut().insert(header::CONTENT_RANGE, value);
    }
    response
}

/// Turns the file part of a URL into a path that cannot leave the root: only normal components.
fn safe_relative_path(file: &str) -> Option<PathBuf> {
    if file.is_empty() || file.contains('\\') || file.contains('\0') {
        return None;
    }
    if file
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return None;
    }
    let path = PathBuf::from(file);
    path.components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then_some(path)
}

/// `Content-Type` by extension, as a real CDN would send it; yt-dlp's generic extractor decides
/// "this is a direct media link" from it.
fn content_type_for(file: &str) -> &'static str {
    let ext = Path::new(file)
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "webm" => "audio/webm",
        "m4a" => "audio/mp4",
        "mp4" => "video/mp4",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "opus" | "ogg" => "audio/ogg",
        "flac" => "audio/flac",
        "mkv" => "video/x-matroska",
        "html" | "htm" => "text/html; charset=utf-8",
        "rss" | "xml" => "application/rss+xml",
        _ => "application/octet-stream",
    }
}

const NO_MEDIA_HTML: &str = "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\">\
<title>Nothing to download here</title></head>\n<body>\n<h1>Nothing to download here</h1>\n\
<p>This page has a title and some text, but no audio, no video and no links to any.</p>\n\
</body>\n</html>\n";

fn html_page(head_only: bool) -> Response {
    text_response("text/html; charset=utf-8", NO_MEDIA_HTML.to_string(), head_only)
}

fn feed_document(shared: &Shared, name: &str, head_only: bool) -> Response {
    let xml = {
        let feeds = lock(&shared.feeds);
        let Some(feed) = feeds.get(name) else {
            return status(StatusCode::NOT_FOUND);
        };
        render_rss(&shared.base_url, &shared.root, name, feed)
    };
    text_response("application/rss+xml; charset=utf-8", xml, head_only)
}

fn text_response(content_type: &'static str, text: String, head_only: bool) -> Response {
    let len = text.len() as u64;
    let body = if head_only {
        Body::empty()
    } else {
        Body::from(text)
    };
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    response
}

fn render_rss(base_url: &str, root: &Path, name: &str, feed: &Feed) -> String {
    let mut xml =
        String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\">\n<channel>\n");
    xml.push_str(&format!("<title>{}</title>\n", xml_escape(&feed.title)));
    xml.push_str(&format!(
        "<link>{}</link>\n",
        xml_escape(&format!("{base_url}/feeds/{name}.rss"))
    ));
    xml.push_str(&format!(
        "<description>{}</description>\n",
        xml_escape(&feed.title)
    ));
    for (index, item) in feed.items.iter().enumerate() {
        let url = item_url(base_url, &item.path);
        let length = served_file_len(root, &item.path).unwrap_or(0);
        let url = xml_escape(&url);
        xml.push_str("<item>\n");
        xml.push_str(&format!("<title>{}</title>\n", xml_escape(&item.title)));
        xml.push_str(&format!("<link>{url}</link>\n"));
        xml.push_str(&format!(
            "<guid isPermaLink=\"false\">{}-{}</guid>\n",
            xml_escape(name),
            index + 1
        ));
        xml.push_str(&format!(
            "<enclosure url=\"{url}\" type=\"{}\" length=\"{length}\"/>\n",
            content_type_for(&item.path)
        ));
        xml.push_str("</item>\n");
    }
    xml.push_str("</channel>\n</rss>\n");
    xml
}

fn item_url(base_url: &str, path: &str) -> String {
    if path.starts_with("http://") || path.starts_with("https://") {
        path.to_string()
    } else if path.starts_with('/') {
        format!("{base_url}{path}")
    } else {
        format!("{base_url}/{path}")
    }
}

/// The size of the file a server path would serve, for the enclosure's `length` attribute.
fn served_file_len(root: &Path, path: &str) -> Option<u64> {
    let path = path.split('?').next().unwrap_or(path);
    let Route::File { file, .. } = Route::parse(path) else {
        return None;
    };
    let meta = std::fs::metadata(root.join(safe_relative_path(file)?)).ok()?;
    meta.is_file().then_some(meta.len())
}

fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            _ => out.push(c),
        }
    }
    out
}

fn is_plain_token(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// `bytes` zeros in 64 KiB chunks, chunked (no `Content-Length`), until the client goes away.
fn endless(
    bytes: u64,
    content_type: &'static str,
    head_only: bool,
    mut shutdown: watch::Receiver<bool>,
) -> Response {
    let body = if head_only {
        Body::empty()
    } else {
        let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(4);
        tokio::spawn(async move {
            let chunk = Bytes::from(vec![0u8; FULL_SPEED_CHUNK]);
            let mut left = bytes;
            while left > 0 {
                let piece = chunk.slice(..left.min(chunk.len() as u64) as usize);
                left -= piece.len() as u64;
                tokio::select! {
                    sent = tx.send(Ok(piece)) => if sent.is_err() { return },
                    _ = shutdown.changed() => return,
                }
            }
        });
        Body::from_stream(ReceiverStream::new(rx))
    };
    let mut response = Response::new(body);
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn status(code: StatusCode) -> Response {
    let mut response = (code, code.canonical_reason().unwrap_or("")).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// Locks a mutex, recovering the data if a panicking test thread poisoned it: counters and feed
/// tables stay valid whatever panicked.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ranges() {
        assert_eq!(parse_range(None, 100), ByteRange::Whole);
        assert_eq!(
            parse_range(Some("bytes=0-"), 100),
            ByteRange::Part { start: 0, end: 99 }
        );
        assert_eq!(
            parse_range(Some("bytes=10-19"), 100),
            ByteRange::Part { start: 10, end: 19 }
        );
        assert_eq!(
            parse_range(Some("bytes=90-500"), 100),
            ByteRange::Part { start: 90, end: 99 }
        );
        assert_eq!(
            parse_range(Some("bytes=-10"), 100),
            ByteRange::Part { start: 90, end: 99 }
        );
        assert_eq!(
            parse_range(Some("bytes=-500"), 100),
            ByteRange::Part { start: 0, end: 99 }
        );
        assert_eq!(parse_range(Some("bytes=100-"), 100), ByteRange::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=-0"), 100), ByteRange::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=0-"), 0), ByteRange::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=5-1"), 100), ByteRange::Whole);
        assert_eq!(parse_range(Some("bytes=0-1,5-6"), 100), ByteRange::Whole);
        assert_eq!(parse_range(Some("items=0-1"), 100), ByteRange::Whole);
        assert_eq!(parse_range(Some("bytes=x-1"), 100), ByteRange::Whole);
    }

    #[test]
    fn routes_paths() {
        assert_eq!(
            Route::parse("/media/a.webm"),
            Route::File {
                file: "a.webm",
                pace: Pace::Full
            }
        );
        assert_eq!(
            Route::parse("/slow/1000/a.wav"),
            Route::File {
                file: "a.wav",
                pace: Pace::BytesPerSecond(1000)
            }
        );
        assert_eq!(Route::parse("/slow/0/a.wav"), Route::NotFound);
        assert_eq!(Route::parse("/slow/fast/a.wav"), Route::NotFound);
        assert_eq!(
            Route::parse("/stall/a.wav"),
            Route::File {
                file: "a.wav",
                pace: Pace::StallAfterPrefix
            }
        );
        assert_eq!(Route::parse("/feeds/x.rss"), Route::Feed("x"));
        assert_eq!(Route::parse("/nomedia.html"), Route::NoMedia);
        assert_eq!(Route::parse("/404"), Route::NotFound);
        assert_eq!(Route::parse("/"), Route::NotFound);
    }

    #[test]
    fn refuses_paths_that_leave_the_root() {
        assert!(safe_relative_path("a.webm").is_some());
        assert!(safe_relative_path("sub/a.webm").is_some());
        for bad in [
            "",
            "../a",
            "sub/../../a",
            "..",
            "./a",
            "/etc/passwd",
            "a//b",
            "a\\..\\b",
        ] {
            assert!(safe_relative_path(bad).is_none(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn paces_at_the_requested_rate() {
        assert_eq!(pacing_delay(0, 1000), Duration::ZERO);
        assert_eq!(pacing_delay(500, 1000), Duration::from_millis(500));
        assert_eq!(pacing_delay(2500, 1000), Duration::from_millis(2500));
        assert_eq!(chunk_size_for(Pace::BytesPerSecond(10)), 1);
        assert_eq!(chunk_size_for(Pace::BytesPerSecond(1_000_000)), 50_000);
        assert_eq!(chunk_size_for(Pace::BytesPerSecond(u64::MAX)), FULL_SPEED_CHUNK);
    }

    #[test]
    fn escapes_xml() {
        assert_eq!(xml_escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
    }
}
