//! What yt-dlp's output lines mean, and which `progress` events they turn into.
//!
//! [`parse_line`] classifies one line of yt-dlp's stdout or stderr (as produced with the argv of
//! [`super::args`]) into a [`LineEvent`]. It is pure and total: any input, including garbage,
//! truncated JSON and `\r`-redrawn progress bars, gives an event, never a panic.
//!
//! [`ProgressTracker`] turns those events into the `progress` events of the wire contract
//! (DESIGN.md §2): an integer percent that never decreases, a status that follows the phases of
//! the download, and a throttle of at most one event per [`MIN_EMIT_INTERVAL`] unless the percent
//! moved by [`PERCENT_JUMP`] points. The clock is passed in (`now: Instant`), so the throttle is
//! tested without sleeping.

use std::borrow::Cow;
use std::fmt;
use std::path::PathBuf;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use hermes_protocol::{ProgressData, ProgressStatus};
use regex::Regex;
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use serde_json::Value;

use super::args::FINAL_FILE_MARKER;

/// Minimum time between two `progress` events of one task…
pub const MIN_EMIT_INTERVAL: Duration = Duration::from_millis(250);
/// …unless the percent moved at least this many points since the last one.
pub const PERCENT_JUMP: u8 = 5;

/// What one line of yt-dlp output says.
#[derive(Debug, Clone, PartialEq)]
pub enum LineEvent {
    /// A download progress update (JSON from the progress template, or the human progress bar).
    Progress(RawProgress),
    /// A post-processor changed state (`status` is `started`, `processing` or `finished`).
    Postprocess {
        postprocessor: String,
        status: String,
    },
    /// `[info] <id>: Downloading 1 format(s): 137+140`: how many streams the current item
    /// downloads (2 here: video and audio, merged afterwards).
    FormatsSelected { streams: u32 },
    /// `[download] Destination: <path>`: a stream starts downloading to this path.
    Destination(PathBuf),
    /// `[ExtractAudio] Destination: <path>`: ffmpeg starts converting to this path.
    ExtractAudio(PathBuf),
    /// `[Merger] Merging formats into "<path>"`: ffmpeg starts merging into this path.
    Merger(PathBuf),
    /// `[download] Downloading item N of M` (1-based).
    PlaylistItem { index: u32, count: u32 },
    /// `[download] <path> has already been downloaded`.
    AlreadyDownloaded(PathBuf),
    /// `[download] <id>: <title> has already been recorded in the archive`: a playlist item
    /// skipped because of `--download-archive` (carries the id).
    ArchiveSkip(String),
    /// The `--print after_move:` line: a file at its final path.
    FinalFile(FinalFile),
    /// `ERROR: <message>` (the text after the prefix).
    Error(String),
    /// `WARNING: <message>` (the text after the prefix).
    Warning(String),
    /// Anything else (extractor chatter, `Deleting original file …`, unparseable lines).
    Other,
}

/// One progress update of the stream being downloaded.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RawProgress {
    pub downloaded: Option<u64>,
    /// `total_bytes`, else `total_bytes_estimate`.
    pub total: Option<u64>,
    pub speed_bps: Option<f64>,
    pub eta_s: Option<u64>,
    /// The percent yt-dlp computed itself: present in the full `%(progress)j` dictionary and in
    /// the human progress bar, which has no byte count.
    pub percent: Option<f64>,
    /// yt-dlp's status: `downloading`, `finished` or `error`.
    pub status: String,
}

impl RawProgress {
    /// Fraction 0.0–1.0 of the current stream: bytes when both counts are known, else yt-dlp's
    /// own percent.
    pub fn fraction(&self) -> Option<f64> {
        if self.is_finished() {
            return Some(1.0);
        }
        let by_bytes = match (self.downloaded, self.total) {
            (Some(done), Some(total)) if total > 0 => Some(done as f64 / total as f64),
            _ => None,
        };
        by_bytes
            .or(self.percent.map(|p| p / 100.0))
            .map(|f| f.clamp(0.0, 1.0))
    }

    pub fn is_finished(&self) -> bool {
        self.status == "finished"
    }
}

/// A file at its final path, with what yt-dlp knows about it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FinalFile {
    pub filepath: PathBuf,
    pub title: Option<String>,
    /// Seconds; absent for a direct media link.
    pub duration: Option<f64>,
    pub id: Option<String>,
    /// 1-based position in the playlist; absent for single downloads.
    pub playlist_index: Option<u32>,
}

/// Classifies one line of yt-dlp output (either stream). A trailing `\r`/`\n` is ignored, and of
/// a line redrawn with `\r` (a progress bar without `--newline`) only the last state counts.
pub fn parse_line(line: &str) -> LineEvent {
    let line = line.trim_end_matches(['\r', '\n']);
    // yt-dlp can put a redrawn progress line inside an error message
    // (`ERROR: \r[download] Got error: ...`): the prefix decides, not the last redraw.
    if let Some(message) = line.strip_prefix("ERROR:") {
        return LineEvent::Error(clean_message(message));
    }
    if let Some(message) = line.strip_prefix("WARNING:") {
        return LineEvent::Warning(clean_message(message));
    }
    let line = line.rsplit('\r').next().unwrap_or(line);
    if let Some(readout) = line.strip_prefix("[#") {
        return parse_aria2c_readout(readout).map_or(LineEvent::Other, LineEvent::Progress);
    }
    match line.as_bytes().first() {
        Some(b'{') => parse_json_progress(line),
        Some(b'[') => parse_tagged(line),
        _ => parse_untagged(line),
    }
}

// ---------------------------------------------------------------------------------------------
// Line parsing

/// The fields of a progress-template JSON line that matter; everything else is skipped. Numbers
/// are read leniently (int, float, or anything else as unknown) because yt-dlp mixes ints and
/// floats (`total_bytes_estimate` is a float for fragmented downloads).
#[derive(Deserialize)]
struct JsonProgress<'a> {
    #[serde(borrow, default)]
    status: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    postprocessor: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient_number")]
    downloaded_bytes: Option<f64>,
    #[serde(default, deserialize_with = "lenient_number")]
    total_bytes: Option<f64>,
    #[serde(default, deserialize_with = "lenient_number")]
    total_bytes_estimate: Option<f64>,
    #[serde(default, deserialize_with = "lenient_number")]
    speed: Option<f64>,
    #[serde(default, deserialize_with = "lenient_number")]
    eta: Option<f64>,
    #[serde(rename = "_percent", default, deserialize_with = "lenient_number")]
    percent: Option<f64>,
}

fn parse_json_progress(line: &str) -> LineEvent {
    let Ok(json) = serde_json::from_str::<JsonProgress<'_>>(line) else {
        return LineEvent::Other;
    };
    if let Some(postprocessor) = json.postprocessor {
        let status = json.status.unwrap_or_default().into_owned();
        return LineEvent::Postprocess {
            postprocessor: postprocessor.into_owned(),
            status,
        };
    }
    let has_progress_field = json.status.is_some()
        || json.downloaded_bytes.is_some()
        || json.total_bytes.is_some()
        || json.total_bytes_estimate.is_some()
        || json.percent.is_some();
    if !has_progress_field {
        return LineEvent::Other;
    }
    LineEvent::Progress(RawProgress {
        downloaded: json.downloaded_bytes.and_then(to_u64),
        total: json
            .total_bytes
            .or(json.total_bytes_estimate)
            .and_then(to_u64),
        speed_bps: json.speed.filter(|s| s.is_finite() && *s > 0.0),
        eta_s: json.eta.and_then(to_u64),
        percent: json.percent.filter(|p| p.is_finite()),
        status: json
            .status
            .map_or_else(|| "downloading".to_string(), Cow::into_owned),
    })
}

/// `[tag] rest` lines.
fn parse_tagged(line: &str) -> LineEvent {
    let Some(close) = line.find("] ") else {
        return LineEvent::Other;
    };
    let tag = &line[1..close];
    let rest = &line[close + 2..];
    match tag {
        "download" => parse_download_tag(rest),
        "ExtractAudio" => rest
            .strip_prefix("Destination: ")
            .map_or(LineEvent::Other, |p| {
                LineEvent::ExtractAudio(PathBuf::from(p))
            }),
        "Merger" => parse_merger(rest),
        "info" => parse_formats_selected(rest),
        _ => LineEvent::Other,
    }
}

fn parse_download_tag(rest: &str) -> LineEvent {
    if let Some(path) = rest.strip_prefix("Destination: ") {
        return LineEvent::Destination(PathBuf::from(path));
    }
    if let Some(item) = parse_playlist_item(rest) {
        return item;
    }
    if let Some(at) = rest.rfind(" has already been downloaded") {
        return LineEvent::AlreadyDownloaded(PathBuf::from(&rest[..at]));
    }
    if let Some(skipped) = rest.strip_suffix(" has already been recorded in the archive") {
        let id = skipped.split_once(": ").map_or(skipped, |(id, _title)| id);
        return LineEvent::ArchiveSkip(id.to_string());
    }
    let bar = rest.trim_start();
    if bar.starts_with(|c: char| c.is_ascii_digit()) {
        return parse_human_progress(bar).map_or(LineEvent::Other, LineEvent::Progress);
    }
    LineEvent::Other
}

/// `Downloading item N of M` (yt-dlp) or `Downloading video N of M` (older releases).
fn parse_playlist_item(rest: &str) -> Option<LineEvent> {
    let counts = rest
        .strip_prefix("Downloading item ")
        .or_else(|| rest.strip_prefix("Downloading video "))?;
    let (index, count) = counts.split_once(" of ")?;
    let index = index.trim().parse().ok()?;
    let count = count.trim().parse().ok()?;
    Some(LineEvent::PlaylistItem { index, count })
}

fn parse_merger(rest: &str) -> LineEvent {
    let Some(quoted) = rest.strip_prefix("Merging formats into ") else {
        return LineEvent::Other;
    };
    let path = quoted
        .strip_prefix('"')
        .and_then(|p| p.strip_suffix('"'))
        .unwrap_or(quoted);
    LineEvent::Merger(PathBuf::from(path))
}

/// `<id>: Downloading 1 format(s): 137+140` → 2 streams; `…: 2 format(s): 18, 22` → 2 streams.
fn parse_formats_selected(rest: &str) -> LineEvent {
    const MARKER: &str = " format(s): ";
    let Some(at) = rest.rfind(MARKER) else {
        return LineEvent::Other;
    };
    let ids = &rest[at + MARKER.len()..];
    let streams = ids
        .split(',')
        .filter(|selection| !selection.trim().is_empty())
        .map(|selection| selection.split('+').count() as u32)
        .sum::<u32>();
    if streams == 0 {
        return LineEvent::Other;
    }
    LineEvent::FormatsSelected { streams }
}

fn parse_untagged(line: &str) -> LineEvent {
    if let Some(json) = line.strip_prefix(FINAL_FILE_MARKER) {
        return parse_final_file(json).map_or(LineEvent::Other, LineEvent::FinalFile);
    }
    if let Some(message) = line.strip_prefix("ERROR:") {
        return LineEvent::Error(clean_message(message));
    }
    if let Some(message) = line.strip_prefix("WARNING:") {
        return LineEvent::Warning(clean_message(message));
    }
    LineEvent::Other
}

/// The JSON object of [`super::args::FINAL_FILE_PRINT`]. One such line per file, so the
/// convenience of `serde_json::Value` costs nothing that matters.
fn parse_final_file(json: &str) -> Option<FinalFile> {
    let value: Value = serde_json::from_str(json.trim()).ok()?;
    let filepath = value.get("filepath")?.as_str().filter(|p| !p.is_empty())?;
    Some(FinalFile {
        filepath: PathBuf::from(filepath),
        title: value.get("title").and_then(value_to_string),
        duration: value
            .get("duration")
            .and_then(Value::as_f64)
            .filter(|d| d.is_finite()),
        id: value.get("id").and_then(value_to_string),
        playlist_index: value
            .get("playlist_index")
            .and_then(Value::as_u64)
            .and_then(|i| u32::try_from(i).ok()),
    })
}

fn value_to_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// yt-dlp's default progress bar, the fallback when no progress template is in effect:
/// `45.3% of ~  1.20MiB at  2.00MiB/s ETA 00:03 (frag 3/24)`, `100% of 47.83KiB in 00:00:00 at
/// 15.78MiB/s`, or, with an unknown size, `1.00MiB at 500.00KiB/s (00:00:02)`.
fn parse_human_progress(bar: &str) -> Option<RawProgress> {
    static WITH_PERCENT: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(concat!(
            r"^(?P<pct>\d+(?:\.\d+)?)%\s+of\s+~?\s*(?P<size>\d+(?:\.\d+)?\s*[KMGTPE]?i?B|Unknown)",
            r"(?:\s+in\s+(?P<elapsed>[\d:]+))?",
            r"(?:\s+at\s+(?P<speed>\d+(?:\.\d+)?\s*[KMGTPE]?i?B/s|Unknown B/s))?",
            r"(?:\s+ETA\s+(?P<eta>[\d:]+|Unknown))?"
        ))
        .ok()
    });
    static BYTES_ONLY: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(concat!(
            r"^(?P<done>\d+(?:\.\d+)?\s*[KMGTPE]?i?B)",
            r"\s+at\s+(?P<speed>\d+(?:\.\d+)?\s*[KMGTPE]?i?B/s|Unknown B/s)"
        ))
        .ok()
    });

    if let Some(caps) = WITH_PERCENT.as_ref().and_then(|re| re.captures(bar)) {
        let percent = caps
            .name("pct")
            .and_then(|m| m.as_str().parse::<f64>().ok());
        let finished = caps.name("elapsed").is_some();
        return Some(RawProgress {
            downloaded: None,
            total: caps.name("size").and_then(|m| parse_size(m.as_str())),
            speed_bps: caps
                .name("speed")
                .and_then(|m| parse_size(m.as_str()))
                .map(|b| b as f64),
            eta_s: caps.name("eta").and_then(|m| parse_clock(m.as_str())),
            percent,
            status: if finished { "finished" } else { "downloading" }.to_string(),
        });
    }
    let caps = BYTES_ONLY.as_ref().and_then(|re| re.captures(bar))?;
    Some(RawProgress {
        downloaded: caps.name("done").and_then(|m| parse_size(m.as_str())),
        speed_bps: caps
            .name("speed")
            .and_then(|m| parse_size(m.as_str()))
            .map(|b| b as f64),
        status: "downloading".to_string(),
        ..RawProgress::default()
    })
}

/// aria2c's console readout, which is all the progress there is while yt-dlp hands a download to
/// aria2c (yt-dlp's own template then prints only the final `finished` line). aria2c prints it
/// once a second on the stdout it shares with yt-dlp, e.g.
/// `[#7dc847 4.1MiB/19MiB(21%) CN:8 DL:2.0MiB ETA:7s]` (after the `[#` already stripped); the size
/// and percent are missing while the length is unknown (`[#7dc847 0B/0B CN:1 DL:0B]`).
fn parse_aria2c_readout(readout: &str) -> Option<RawProgress> {
    let body = readout.trim_end().strip_suffix(']')?;
    // Several downloads print `][#` between their readouts; yt-dlp starts one at a time.
    let body = body.split("][#").next()?;
    let mut fields = body.split_ascii_whitespace();
    let _gid = fields.next()?;
    let sizes = fields.next()?;
    let (sizes, percent) = match sizes.split_once('(') {
        Some((sizes, percent)) => (sizes, percent.strip_suffix("%)").and_then(|p| p.parse::<f64>().ok())),
        None => (sizes, None),
    };
    let (done, total) = sizes.split_once('/')?;
    let mut progress = RawProgress {
        downloaded: Some(parse_size(done)?),
        total: parse_size(total).filter(|t| *t > 0),
        percent,
        status: "downloading".to_string(),
        ..RawProgress::default()
    };
    for field in fields {
        if let Some(speed) = field.strip_prefix("DL:") {
            progress.speed_bps = parse_size(speed).map(|b| b as f64).filter(|b| *b > 0.0);
        } else if let Some(eta) = field.strip_prefix("ETA:") {
            progress.eta_s = parse_aria2c_duration(eta);
        }
    }
    Some(progress)
}

/// aria2c's `ETA:1h2m3s` / `2m36s` / `7s` → seconds.
fn parse_aria2c_duration(text: &str) -> Option<u64> {
    let mut total = 0u64;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
        total = total.checked_add(number.parse::<u64>().ok()?.checked_mul(unit)?)?;
        number.clear();
    }
    number.is_empty().then_some(total)
}

/// `1.20MiB` → 1258291, `512B` → 512, `3.5KB/s` → 3500 (a `/s` suffix is ignored). Binary units
/// with `i`, decimal without. `Unknown` → `None`.
fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim().trim_end_matches("/s");
    let number_end = text.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let value: f64 = text[..number_end].parse().ok()?;
    let unit = text[number_end..].trim();
    let binary = unit.contains('i');
    let base: f64 = if binary { 1024.0 } else { 1000.0 };
    let exponent = match unit.chars().next()? {
        'B' => 0,
        'K' | 'k' => 1,
        'M' => 2,
        'G' => 3,
        'T' => 4,
        'P' => 5,
        'E' => 6,
        _ => return None,
    };
    to_u64(value * base.powi(exponent))
}

/// `00:03` → 3, `01:02:03` → 3723; `Unknown` → `None`.
fn parse_clock(text: &str) -> Option<u64> {
    text.split(':').try_fold(0u64, |acc, part| {
        let part: u64 = part.parse().ok()?;
        acc.checked_mul(60)?.checked_add(part)
    })
}

/// Non-negative finite float → rounded integer.
fn to_u64(value: f64) -> Option<u64> {
    (value.is_finite() && value >= 0.0 && value < u64::MAX as f64).then(|| value.round() as u64)
}

/// Any JSON number → `Some(f64)`; `null`, strings, booleans and containers → `None`.
fn lenient_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<f64>, D::Error> {
    struct LenientNumber;

    impl<'de> Visitor<'de> for LenientNumber {
        type Value = Option<f64>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a number or anything else (read as unknown)")
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v as f64))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v as f64))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<de::IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map
                .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
                .is_some()
            {}
            Ok(None)
        }
    }

    deserializer.deserialize_any(LenientNumber)
}

// ---------------------------------------------------------------------------------------------
// Speed formatting

/// `1_258_291.2` → `"1.2MB/s"`: one decimal, 1024-based units (what yt-dlp calls MiB), `B/s` as a
/// whole number. Unknown, zero, negative or non-finite speeds give `""`.
pub fn format_speed(bytes_per_sec: f64) -> String {
    if !bytes_per_sec.is_finite() || bytes_per_sec <= 0.0 {
        return String::new();
    }
    const UNITS: [&str; 4] = ["KB/s", "MB/s", "GB/s", "TB/s"];
    if bytes_per_sec < 1024.0 {
        return format!("{bytes_per_sec:.0}B/s");
    }
    let mut value = bytes_per_sec / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1}{}", UNITS[unit])
}

// ---------------------------------------------------------------------------------------------
// Tracker

/// How far the current playlist item (or the single item) is.
#[derive(Debug, Clone)]
struct ItemProgress {
    /// Streams this item downloads (2 for `video+audio`), from [`LineEvent::FormatsSelected`].
    streams: u32,
    streams_done: u32,
    /// Fraction of the stream being downloaded.
    current: f64,
    stream_open: bool,
    /// Downloads done (post-processing, skipped as already there, or final file seen).
    complete: bool,
}

impl Default for ItemProgress {
    fn default() -> Self {
        ItemProgress {
            streams: 1,
            streams_done: 0,
            current: 0.0,
            stream_open: false,
            complete: false,
        }
    }
}

impl ItemProgress {
    fn fraction(&self) -> f64 {
        if self.complete {
            return 1.0;
        }
        // More streams than announced (no `[info]` line seen) stretch the denominator.
        let streams = self
            .streams
            .max(self.streams_done + u32::from(self.stream_open))
            .max(1);
        ((f64::from(self.streams_done) + self.current) / f64::from(streams)).clamp(0.0, 1.0)
    }

    fn start_stream(&mut self) {
        if self.stream_open {
            self.streams_done += 1;
        }
        self.stream_open = true;
        self.current = 0.0;
    }

    fn finish_stream(&mut self) {
        self.streams_done += 1;
        self.stream_open = false;
        self.current = 0.0;
    }
}

/// An ERROR/WARNING message without its redraw carriage returns and surrounding blanks.
fn clean_message(message: &str) -> String {
    message.split('\r').map(str::trim).filter(|part| !part.is_empty()).collect::<Vec<_>>().join(" ")
}

/// Turns [`LineEvent`]s of one task into the `progress` events to send (see the module docs).
///
/// Percent: the overall fraction `(items done + fraction of the current item) / items`, where an
/// item's fraction counts each of its streams equally, mapped onto the percent range (0–100 by
/// default, see [`ProgressTracker::with_percent_range`]). It never decreases and stays ≤ 99 until
/// [`ProgressTracker::finish`], which alone reports 100 / `completed`.
#[derive(Debug, Clone)]
pub struct ProgressTracker {
    playlist: bool,
    items_total: u32,
    /// 0-based index of the current item.
    item_index: u32,
    item: ItemProgress,
    range_start: u8,
    range_end: u8,
    state: ProgressData,
    last_emit: Option<(Instant, ProgressData)>,
    /// The state changed since the last emitted event but the throttle held it back.
    pending: bool,
    finished: bool,
    /// Never emits by itself: the tracker of one item among several, read by whoever combines
    /// them (see [`ProgressTracker::quiet`]).
    quiet: bool,
    /// The current download speed in bytes/s, while downloading.
    speed_bps: Option<f64>,
}

impl Default for ProgressTracker {
    fn default() -> Self {
        ProgressTracker::new()
    }
}

impl ProgressTracker {
    /// A tracker for a single download (`youtube_dl`).
    pub fn new() -> Self {
        ProgressTracker {
            playlist: false,
            items_total: 1,
            item_index: 0,
            item: ItemProgress::default(),
            range_start: 0,
            range_end: 100,
            state: ProgressData::default(),
            last_emit: None,
            pending: false,
            finished: false,
            quiet: false,
            speed_bps: None,
        }
    }

    /// A tracker for a playlist of `total_items` (0 when unknown; `Downloading item N of M`
    /// lines correct it). Status is `downloading_playlist` throughout.
    pub fn for_playlist(total_items: u32) -> Self {
        ProgressTracker {
            playlist: true,
            items_total: total_items.max(1),
            ..ProgressTracker::new()
        }
    }

    /// Maps the download onto `start..=end` percent, leaving the rest for phases the caller
    /// reports itself with [`ProgressTracker::report`] (e.g. a playlist's ZIP step).
    pub fn with_percent_range(mut self, start: u8, end: u8) -> Self {
        self.range_end = end.min(100);
        self.range_start = start.min(self.range_end);
        self.state.percent = self.state.percent.max(self.range_start.min(99));
        self
    }

    /// A tracker that follows its lines but emits nothing, not even through
    /// [`ProgressTracker::flush`] or [`ProgressTracker::retrying`]: one item of a playlist whose
    /// items run concurrently, combined into the task's events by the caller.
    pub fn quiet(mut self) -> Self {
        self.quiet = true;
        self
    }

    /// How far the download is, 0.0–1.0 (items done plus the current item's fraction), before it
    /// is mapped onto the percent range.
    pub fn done_fraction(&self) -> f64 {
        if self.finished {
            return 1.0;
        }
        let items = f64::from(self.items_total.max(1));
        ((f64::from(self.item_index) + self.item.fraction()) / items).clamp(0.0, 1.0)
    }

    /// The current download speed in bytes/s, while a stream is downloading.
    pub fn speed_bps(&self) -> Option<f64> {
        self.speed_bps
    }

    /// Combined progress of concurrent downloads (see [`ProgressTracker::quiet`]): the percent is
    /// raised to at least `percent` (capped at 99 and the range end), the speed is their sum.
    pub fn report_combined(&mut self, percent: u8, speed_bps: Option<f64>, eta: u64, now: Instant) -> Option<ProgressData> {
        if self.finished {
            return None;
        }
        let status = self.downloading_status();
        self.set_status(status);
        self.state.percent = self.state.percent.max(percent.min(self.range_end).min(99));
        self.state.speed = speed_bps.map(format_speed).unwrap_or_default();
        self.state.eta = eta;
        self.emit_if_due(now)
    }

    /// The event announcing a finished `file`: the current state plus the file, always to be
    /// sent (a host may be waiting for it), never throttled and never repeated in later events.
    pub fn file_event(&mut self, file: hermes_protocol::FileEntry, now: Instant) -> ProgressData {
        self.pending = false;
        self.last_emit = Some((now, self.state.clone()));
        ProgressData { file: Some(file), ..self.state.clone() }
    }

    /// The current percent (the high-water mark).
    pub fn percent(&self) -> u8 {
        self.state.percent
    }

    /// The current state, emitted or not.
    pub fn snapshot(&self) -> ProgressData {
        self.state.clone()
    }

    /// Feeds one parsed line; returns the event to send now, if any.
    pub fn observe(&mut self, event: &LineEvent, now: Instant) -> Option<ProgressData> {
        if self.finished || !self.apply(event) {
            return None;
        }
        self.recompute_percent();
        self.emit_if_due(now)
    }

    /// A phase the lines do not show (preparing, zipping, …): sets the status and raises the
    /// percent to at least `percent` (never lowers it; capped at 99).
    pub fn report(
        &mut self,
        percent: u8,
        status: ProgressStatus,
        now: Instant,
    ) -> Option<ProgressData> {
        if self.finished {
            return None;
        }
        self.state.percent = self.state.percent.max(percent.min(99));
        self.set_status(status);
        self.emit_if_due(now)
    }

    /// A new yt-dlp attempt is about to start: forget the per-run position (yt-dlp starts over,
    /// the percent floor stays) and report `retrying`.
    pub fn retrying(&mut self, now: Instant) -> Option<ProgressData> {
        self.item_index = 0;
        self.item = ItemProgress::default();
        let percent = self.state.percent;
        self.report(percent, ProgressStatus::Retrying, now)
    }

    /// The update the throttle held back, once its interval has passed. Call it from a timer so
    /// the last state before a quiet phase (a long conversion) is not lost.
    pub fn flush(&mut self, now: Instant) -> Option<ProgressData> {
        if self.finished || !self.pending {
            return None;
        }
        self.emit_if_due(now)
    }

    /// The final `100` / `completed` event, always to be sent. Later calls to the tracker emit
    /// nothing.
    pub fn finish(&mut self) -> ProgressData {
        self.finished = true;
        self.pending = false;
        self.state.percent = 100;
        self.state.status = ProgressStatus::Completed;
        self.state.speed.clear();
        self.state.eta = 0;
        self.state.clone()
    }

    /// Updates the state for one event; `false` when the event cannot change it.
    fn apply(&mut self, event: &LineEvent) -> bool {
        let before = self.state.clone();
        let item_before = self.item.fraction();
        let index_before = self.item_index;
        match event {
            LineEvent::Progress(raw) => self.apply_raw_progress(raw),
            LineEvent::Destination(_) => {
                self.item.start_stream();
                self.set_status(self.downloading_status());
            }
            LineEvent::FormatsSelected { streams } => self.item.streams = (*streams).max(1),
            LineEvent::ExtractAudio(_) => self.downloads_done(ProgressStatus::Converting),
            LineEvent::Merger(_) => self.downloads_done(ProgressStatus::Processing),
            LineEvent::Postprocess {
                postprocessor,
                status,
            } => self.apply_postprocess(postprocessor, status),
            LineEvent::AlreadyDownloaded(_)
            | LineEvent::ArchiveSkip(_)
            | LineEvent::FinalFile(_) => self.item.complete = true,
            LineEvent::PlaylistItem { index, count } => self.start_item(*index, *count),
            LineEvent::Error(_) | LineEvent::Warning(_) | LineEvent::Other => return false,
        }
        self.state != before
            || self.item.fraction() != item_before
            || self.item_index != index_before
    }

    fn apply_raw_progress(&mut self, raw: &RawProgress) {
        if raw.is_finished() {
            self.item.finish_stream();
        } else {
            if !self.item.stream_open {
                self.item.start_stream();
            }
            if let Some(fraction) = raw.fraction() {
                self.item.current = fraction;
            }
        }
        self.set_status(self.downloading_status());
        self.speed_bps = raw.speed_bps;
        self.state.speed = raw.speed_bps.map(format_speed).unwrap_or_default();
        self.state.eta = if raw.is_finished() {
            0
        } else {
            raw.eta_s.unwrap_or(0)
        };
        if raw.downloaded.is_some() {
            self.state.downloaded = raw.downloaded;
        }
        if raw.total.is_some() {
            self.state.total = raw.total;
        }
    }

    /// `started` of any post-processor but the trivial file move ends the item's downloads.
    fn apply_postprocess(&mut self, postprocessor: &str, status: &str) {
        if status != "started" || postprocessor == "MoveFiles" {
            return;
        }
        let phase = if postprocessor == "ExtractAudio" {
            ProgressStatus::Converting
        } else {
            ProgressStatus::Processing
        };
        self.downloads_done(phase);
    }

    fn downloads_done(&mut self, phase: ProgressStatus) {
        self.item.complete = true;
        self.set_status(phase);
    }

    fn start_item(&mut self, index: u32, count: u32) {
        if count > 0 {
            self.items_total = count;
        }
        self.item_index = index.saturating_sub(1).min(self.items_total - 1);
        self.item = ItemProgress::default();
        self.set_status(self.downloading_status());
    }

    fn downloading_status(&self) -> ProgressStatus {
        if self.playlist {
            ProgressStatus::DownloadingPlaylist
        } else {
            ProgressStatus::Downloading
        }
    }

    /// Sets the status; inside a playlist the post-processing phases of an item stay
    /// `downloading_playlist`, the status of the task as a whole. Speed and ETA only describe a
    /// running download, so they are cleared for any other status.
    fn set_status(&mut self, status: ProgressStatus) {
        if !matches!(
            status,
            ProgressStatus::Downloading | ProgressStatus::DownloadingPlaylist
        ) {
            self.state.speed.clear();
            self.state.eta = 0;
            self.speed_bps = None;
        }
        self.state.status = match status {
            ProgressStatus::Processing | ProgressStatus::Converting if self.playlist => {
                ProgressStatus::DownloadingPlaylist
            }
            other => other,
        };
    }

    fn recompute_percent(&mut self) {
        let items = f64::from(self.items_total.max(1));
        let overall = ((f64::from(self.item_index) + self.item.fraction()) / items).clamp(0.0, 1.0);
        let span = f64::from(self.range_end - self.range_start);
        let mapped = f64::from(self.range_start) + (overall * span).floor();
        let ceiling = self.range_end.min(99);
        let mapped = (mapped as u8).min(ceiling);
        self.state.percent = self.state.percent.max(mapped);
    }

    fn emit_if_due(&mut self, now: Instant) -> Option<ProgressData> {
        if self.quiet {
            return None;
        }
        let due = match &self.last_emit {
            None => true,
            Some((_, last)) if *last == self.state => {
                self.pending = false;
                return None;
            }
            Some((at, last)) => {
                self.state.percent >= last.percent.saturating_add(PERCENT_JUMP)
                    || now.saturating_duration_since(*at) >= MIN_EMIT_INTERVAL
            }
        };
        if !due {
            self.pending = true;
            return None;
        }
        self.pending = false;
        self.last_emit = Some((now, self.state.clone()));
        Some(self.state.clone())
    }
}

#[cfg(test)]
mod carriage_return_tests {
    use super::*;

    #[test]
    fn an_error_wrapping_a_redrawn_progress_line_is_still_an_error() {
        let line = "ERROR: \r[download] Got error: <urlopen error [Errno 111] Connection refused>. Giving up after 10 retries";
        assert_eq!(
            parse_line(line),
            LineEvent::Error("[download] Got error: <urlopen error [Errno 111] Connection refused>. Giving up after 10 retries".into())
        );
        assert_eq!(parse_line("WARNING: a\rb"), LineEvent::Warning("a b".into()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(downloaded: u64, total: u64) -> LineEvent {
        LineEvent::Progress(RawProgress {
            downloaded: Some(downloaded),
            total: Some(total),
            speed_bps: Some(1_258_291.0),
            eta_s: Some(7),
            percent: None,
            status: "downloading".into(),
        })
    }

    fn finished(total: u64) -> LineEvent {
        LineEvent::Progress(RawProgress {
            downloaded: Some(total),
            total: Some(total),
            status: "finished".into(),
            ..RawProgress::default()
        })
    }

    fn ms(base: Instant, millis: u64) -> Instant {
        base + Duration::from_millis(millis)
    }

    // ---- parse_line

    #[test]
    fn compact_json_progress() {
        let line = r#"{"status": "downloading", "downloaded_bytes": 31744, "total_bytes": 48981, "speed": 30784736.68, "eta": 0}"#;
        assert_eq!(
            parse_line(line),
            LineEvent::Progress(RawProgress {
                downloaded: Some(31744),
                total: Some(48981),
                speed_bps: Some(30784736.68),
                eta_s: Some(0),
                percent: None,
                status: "downloading".into(),
            })
        );
    }

    #[test]
    fn full_progress_dictionary_and_float_estimates() {
        let full = r#"{"status": "downloading", "downloaded_bytes": 1024, "total_bytes": 48981, "tmpfilename": "out/tone.webm.part", "filename": "out/tone.webm", "eta": null, "speed": null, "elapsed": 0.0022, "ctx_id": null, "_eta_str": "Unknown", "_percent": 2.09, "_percent_str": "  2.1%", "_default_template": "  2.1% of   47.83KiB at  Unknown B/s ETA Unknown"}"#;
        let LineEvent::Progress(raw) = parse_line(full) else {
            panic!("not progress")
        };
        assert_eq!(
            (raw.downloaded, raw.total, raw.speed_bps, raw.eta_s),
            (Some(1024), Some(48981), None, None)
        );
        assert_eq!(raw.percent, Some(2.09));

        let frag = r#"{"status": "downloading", "downloaded_bytes": 815, "total_bytes_estimate": 4075.0, "speed": 0, "fragment_index": 0, "fragment_count": 5}"#;
        let LineEvent::Progress(raw) = parse_line(frag) else {
            panic!("not progress")
        };
        assert_eq!((raw.total, raw.speed_bps), (Some(4075), None));
    }

    #[test]
    fn postprocess_json() {
        assert_eq!(
            parse_line(r#"{"status": "started", "postprocessor": "Merger"}"#),
            LineEvent::Postprocess {
                postprocessor: "Merger".into(),
                status: "started".into()
            }
        );
    }

    #[test]
    fn json_without_progress_fields_or_broken_is_other() {
        assert_eq!(parse_line(r#"{"id": "x", "title": "y"}"#), LineEvent::Other);
        assert_eq!(
            parse_line(r#"{"status": "downloading", "downloaded_bytes": 10"#),
            LineEvent::Other
        );
        assert_eq!(parse_line(r#"{"status": 3}"#), LineEvent::Other);
    }

    #[test]
    fn json_with_odd_number_types_is_read_leniently() {
        let line = r#"{"status": "downloading", "downloaded_bytes": "many", "total_bytes": [1], "eta": {"a": 1}, "speed": -5}"#;
        let LineEvent::Progress(raw) = parse_line(line) else {
            panic!("not progress")
        };
        assert_eq!(
            (raw.downloaded, raw.total, raw.eta_s, raw.speed_bps),
            (None, None, None, None)
        );
    }

    #[test]
    fn tagged_lines() {
        assert_eq!(
            parse_line("[download] Destination: out/a b.webm\n"),
            LineEvent::Destination("out/a b.webm".into())
        );
        assert_eq!(
            parse_line("[ExtractAudio] Destination: out/a.mp3\r\n"),
            LineEvent::ExtractAudio("out/a.mp3".into())
        );
        assert_eq!(
            parse_line(r#"[Merger] Merging formats into "out/m.mp4""#),
            LineEvent::Merger("out/m.mp4".into())
        );
        assert_eq!(
            parse_line("[download] Downloading item 2 of 3"),
            LineEvent::PlaylistItem { index: 2, count: 3 }
        );
        assert_eq!(
            parse_line("[download] Downloading video 7 of 12"),
            LineEvent::PlaylistItem {
                index: 7,
                count: 12
            }
        );
        assert_eq!(
            parse_line("[download] out/tone.mp3 has already been downloaded"),
            LineEvent::AlreadyDownloaded("out/tone.mp3".into())
        );
        assert_eq!(
            parse_line("[info] manifest: Downloading 1 format(s): 0+1"),
            LineEvent::FormatsSelected { streams: 2 }
        );
        assert_eq!(
            parse_line("[info] x: Downloading 2 format(s): 18, 22+140"),
            LineEvent::FormatsSelected { streams: 3 }
        );
        assert_eq!(
            parse_line(
                "[download] tone-1: Tone 1: the sequel has already been recorded in the archive"
            ),
            LineEvent::ArchiveSkip("tone-1".into())
        );
        assert_eq!(
            parse_line("[generic] tone: Downloading webpage"),
            LineEvent::Other
        );
        assert_eq!(
            parse_line("[download] Downloading playlist: Hermes Test Tones"),
            LineEvent::Other
        );
        assert_eq!(parse_line("[ExtractAudio] Not converting audio out/t.mp3; file is already in target format mp3"), LineEvent::Other);
    }

    #[test]
    fn error_warning_and_final_file() {
        assert_eq!(
            parse_line("ERROR: Unsupported URL: http://x/"),
            LineEvent::Error("Unsupported URL: http://x/".into())
        );
        assert_eq!(
            parse_line("WARNING: [generic] Falling back"),
            LineEvent::Warning("[generic] Falling back".into())
        );
        let line = r#"HERMES_FILE {"filepath": "/d/1 - T\u00f6ne.mp3", "title": "T\u00f6ne", "id": "tone-one", "playlist_index": 1, "duration": 2.5}"#;
        assert_eq!(
            parse_line(line),
            LineEvent::FinalFile(FinalFile {
                filepath: "/d/1 - Töne.mp3".into(),
                title: Some("Töne".into()),
                duration: Some(2.5),
                id: Some("tone-one".into()),
                playlist_index: Some(1),
            })
        );
        assert_eq!(
            parse_line(r#"HERMES_FILE {"title": "no path"}"#),
            LineEvent::Other
        );
        assert_eq!(parse_line("HERMES_FILE not json"), LineEvent::Other);
    }

    #[test]
    fn human_progress_bar_fallback() {
        let LineEvent::Progress(raw) =
            parse_line("[download]  45.3% of ~  1.20MiB at  2.00MiB/s ETA 00:03")
        else {
            panic!("not progress")
        };
        assert_eq!(raw.percent, Some(45.3));
        assert_eq!(raw.total, Some(1_258_291));
        assert_eq!(raw.speed_bps, Some(2_097_152.0));
        assert_eq!(raw.eta_s, Some(3));
        assert!((raw.fraction().unwrap_or(0.0) - 0.453).abs() < 1e-9);

        let LineEvent::Progress(raw) =
            parse_line("[download]   2.1% of   47.83KiB at  Unknown B/s ETA Unknown")
        else {
            panic!("not progress")
        };
        assert_eq!(
            (raw.speed_bps, raw.eta_s, raw.total),
            (None, None, Some(48978))
        );

        let LineEvent::Progress(raw) =
            parse_line("[download] 100% of   47.83KiB in 00:00:00 at 15.78MiB/s")
        else {
            panic!("not progress")
        };
        assert!(raw.is_finished());

        let LineEvent::Progress(raw) =
            parse_line("[download]  12.5% of ~  5.00MiB at  1.00MiB/s ETA 01:02:03 (frag 3/24)")
        else {
            panic!("not progress")
        };
        assert_eq!(raw.eta_s, Some(3723));

        let LineEvent::Progress(raw) =
            parse_line("[download]    1.00MiB at  500.00KiB/s (00:00:02)")
        else {
            panic!("not progress")
        };
        assert_eq!(
            (raw.downloaded, raw.speed_bps, raw.percent),
            (Some(1_048_576), Some(512_000.0), None)
        );
    }

    #[test]
    fn carriage_return_redraws_keep_the_last_state() {
        let line = "[download]   1.0% of 10.00MiB at 1.00MiB/s ETA 00:09\r[download]  50.0% of 10.00MiB at 1.00MiB/s ETA 00:05\r";
        let LineEvent::Progress(raw) = parse_line(line) else {
            panic!("not progress")
        };
        assert_eq!(raw.percent, Some(50.0));
    }

    #[test]
    fn garbage_never_panics() {
        for line in [
            "",
            "[",
            "]",
            "[]",
            "[] ",
            "[download]",
            "[download] ",
            "[download] 9",
            "[download] 99999999999999999999999% of 1B",
            "[download] Downloading item x of y",
            "[download] Downloading item 1 of",
            "[info] : Downloading 0 format(s): ",
            "[Merger] Merging formats into \"",
            "{",
            "{}",
            "{\"status\":",
            "HERMES_FILE",
            "HERMES_FILE {}",
            "ERROR:",
            "WARNING:",
            "\u{feff}[download] x",
            "[download] 1.5e308% of 1.5e308EiB at 9e999B/s ETA 99999999999999999999:99",
            "\r\r\r",
            "[ExtractAudio] Destination:",
            "[Ｍerger] é",
            "{\"_percent\": 1e400}",
        ] {
            let _ = parse_line(line);
        }
        assert_eq!(parse_line(""), LineEvent::Other);
    }

    // ---- format_speed

    #[test]
    fn speed_formatting() {
        assert_eq!(format_speed(1_258_291.2), "1.2MB/s");
        assert_eq!(format_speed(512.0), "512B/s");
        assert_eq!(format_speed(1536.0), "1.5KB/s");
        assert_eq!(format_speed(3.0 * 1024.0 * 1024.0 * 1024.0), "3.0GB/s");
        assert_eq!(format_speed(0.0), "");
        assert_eq!(format_speed(-1.0), "");
        assert_eq!(format_speed(f64::NAN), "");
        assert_eq!(format_speed(f64::INFINITY), "");
    }

    // ---- tracker

    #[test]
    fn first_update_is_emitted_then_throttled() {
        let t0 = Instant::now();
        let mut tracker = ProgressTracker::new();
        let first = tracker
            .observe(&progress(10, 1000), t0)
            .expect("first update is always sent");
        assert_eq!(first.percent, 1);
        assert_eq!(first.status, ProgressStatus::Downloading);
        assert_eq!(first.speed, "1.2MB/s");
        assert_eq!(
            (first.eta, first.downloaded, first.total),
            (7, Some(10), Some(1000))
        );
        // +1 point, 100 ms later: held back.
        assert_eq!(tracker.observe(&progress(20, 1000), ms(t0, 100)), None);
        // +5 points since the last *sent* one: sent despite the interval.
        assert_eq!(
            tracker
                .observe(&progress(60, 1000), ms(t0, 150))
                .map(|p| p.percent),
            Some(6)
        );
        // small moves: held back until 250 ms after the last sent one (at 150 ms).
        assert_eq!(tracker.observe(&progress(70, 1000), ms(t0, 399)), None);
        assert_eq!(
            tracker
                .observe(&progress(80, 1000), ms(t0, 400))
                .map(|p| p.percent),
            Some(8)
        );
    }

    #[test]
    fn held_back_update_is_flushed_once_due() {
        let t0 = Instant::now();
        let mut tracker = ProgressTracker::new();
        tracker.observe(&progress(10, 1000), t0);
        assert_eq!(tracker.observe(&progress(20, 1000), ms(t0, 50)), None);
        assert_eq!(tracker.flush(ms(t0, 200)), None, "not due yet");
        assert_eq!(tracker.flush(ms(t0, 250)).map(|p| p.percent), Some(2));
        assert_eq!(tracker.flush(ms(t0, 900)), None, "nothing pending any more");
    }

    #[test]
    fn unchanged_state_is_not_resent() {
        let t0 = Instant::now();
        let mut tracker = ProgressTracker::new();
        assert!(tracker.observe(&progress(10, 1000), t0).is_some());
        assert_eq!(tracker.observe(&progress(10, 1000), ms(t0, 1000)), None);
        assert_eq!(
            tracker.observe(&LineEvent::Warning("x".into()), ms(t0, 2000)),
            None
        );
        assert_eq!(tracker.observe(&LineEvent::Other, ms(t0, 3000)), None);
    }

    #[test]
    fn percent_never_decreases_and_stays_below_100_until_finish() {
        let t0 = Instant::now();
        let mut tracker = ProgressTracker::new();
        tracker.observe(&progress(900, 1000), t0);
        let later = tracker.observe(&progress(100, 1000), ms(t0, 1000));
        assert!(later.is_none_or(|p| p.percent == 90));
        tracker.observe(&progress(1000, 1000), ms(t0, 2000));
        assert_eq!(tracker.percent(), 99);
        let done = tracker.finish();
        assert_eq!(
            (done.percent, done.status, done.speed.as_str(), done.eta),
            (100, ProgressStatus::Completed, "", 0)
        );
        assert_eq!(
            tracker.observe(&progress(5, 10), ms(t0, 9000)),
            None,
            "nothing after finish"
        );
    }

    #[test]
    fn status_goes_downloading_then_converting() {
        let t0 = Instant::now();
        let mut tracker = ProgressTracker::new();
        tracker.observe(&LineEvent::Destination("a.webm".into()), t0);
        tracker.observe(&progress(500, 1000), ms(t0, 300));
        tracker.observe(&finished(1000), ms(t0, 600));
        let conv = tracker
            .observe(&LineEvent::ExtractAudio("a.mp3".into()), ms(t0, 900))
            .expect("status change");
        assert_eq!(
            (conv.status, conv.percent, conv.speed.as_str(), conv.eta),
            (ProgressStatus::Converting, 99, "", 0)
        );
    }

    #[test]
    fn merge_counts_both_streams() {
        let t0 = Instant::now();
        let mut tracker = ProgressTracker::new();
        tracker.observe(&LineEvent::FormatsSelected { streams: 2 }, t0);
        tracker.observe(&LineEvent::Destination("m.f0.mp4".into()), t0);
        tracker.observe(&progress(500, 1000), ms(t0, 300));
        assert_eq!(tracker.percent(), 25);
        tracker.observe(&finished(1000), ms(t0, 600));
        assert_eq!(tracker.percent(), 50);
        tracker.observe(&LineEvent::Destination("m.f1.m4a".into()), ms(t0, 900));
        tracker.observe(&progress(500, 1000), ms(t0, 1200));
        assert_eq!(tracker.percent(), 75);
        let merging = tracker
            .observe(&LineEvent::Merger("m.mp4".into()), ms(t0, 1500))
            .expect("sent");
        assert_eq!(
            (merging.status, merging.percent),
            (ProgressStatus::Processing, 99)
        );
    }

    #[test]
    fn postprocess_start_switches_status_but_move_files_does_not() {
        let t0 = Instant::now();
        let mut tracker = ProgressTracker::new();
        tracker.observe(&finished(1000), t0);
        let pp = |name: &str, status: &str| LineEvent::Postprocess {
            postprocessor: name.into(),
            status: status.into(),
        };
        assert_eq!(
            tracker.observe(&pp("MoveFiles", "started"), ms(t0, 300)),
            None
        );
        let ex = tracker
            .observe(&pp("ExtractAudio", "started"), ms(t0, 600))
            .expect("sent");
        assert_eq!(ex.status, ProgressStatus::Converting);
        assert_eq!(
            tracker.observe(&pp("ExtractAudio", "finished"), ms(t0, 900)),
            None
        );
    }

    #[test]
    fn playlist_overall_percent_and_status() {
        let t0 = Instant::now();
        let mut tracker = ProgressTracker::for_playlist(0);
        let first = tracker
            .observe(&LineEvent::PlaylistItem { index: 1, count: 4 }, t0)
            .expect("first");
        assert_eq!(
            (first.percent, first.status),
            (0, ProgressStatus::DownloadingPlaylist)
        );
        tracker.observe(&progress(500, 1000), ms(t0, 300));
        assert_eq!(tracker.percent(), 12);
        let conv = tracker
            .observe(&LineEvent::ExtractAudio("1.mp3".into()), ms(t0, 600))
            .expect("sent");
        assert_eq!(
            (conv.percent, conv.status, conv.speed.as_str()),
            (25, ProgressStatus::DownloadingPlaylist, "")
        );
        tracker.observe(&LineEvent::PlaylistItem { index: 3, count: 4 }, ms(t0, 900));
        assert_eq!(tracker.percent(), 50);
        tracker.observe(&LineEvent::FinalFile(FinalFile::default()), ms(t0, 1200));
        assert_eq!(tracker.percent(), 75);
        tracker.observe(
            &LineEvent::PlaylistItem { index: 4, count: 4 },
            ms(t0, 1500),
        );
        tracker.observe(&LineEvent::AlreadyDownloaded("4.mp3".into()), ms(t0, 1800));
        assert_eq!(tracker.percent(), 99);
    }

    #[test]
    fn percent_range_leaves_room_for_caller_phases() {
        let t0 = Instant::now();
        let mut tracker = ProgressTracker::for_playlist(2).with_percent_range(0, 90);
        tracker.observe(&LineEvent::PlaylistItem { index: 2, count: 2 }, t0);
        assert_eq!(tracker.percent(), 45);
        tracker.observe(&LineEvent::FinalFile(FinalFile::default()), ms(t0, 300));
        assert_eq!(tracker.percent(), 90);
        let zipping = tracker
            .report(95, ProgressStatus::Zipping, ms(t0, 600))
            .expect("sent");
        assert_eq!(
            (zipping.percent, zipping.status),
            (95, ProgressStatus::Zipping)
        );
        assert_eq!(
            tracker.report(10, ProgressStatus::Zipping, ms(t0, 900)),
            None,
            "percent floor stays 95"
        );
        assert_eq!(tracker.finish().percent, 100);
    }

    #[test]
    fn retrying_keeps_the_floor_and_restarts_positions() {
        let t0 = Instant::now();
        let mut tracker = ProgressTracker::new();
        tracker.observe(&progress(400, 1000), t0);
        let retry = tracker.retrying(ms(t0, 5000)).expect("sent");
        assert_eq!(
            (retry.status, retry.percent, retry.speed.as_str()),
            (ProgressStatus::Retrying, 40, "")
        );
        let again = tracker
            .observe(&progress(100, 1000), ms(t0, 6000))
            .expect("status back to downloading");
        assert_eq!(
            (again.status, again.percent),
            (ProgressStatus::Downloading, 40)
        );
        tracker.observe(&progress(600, 1000), ms(t0, 7000));
        assert_eq!(tracker.percent(), 60);
    }

    #[test]
    fn human_bar_drives_the_tracker_too() {
        let t0 = Instant::now();
        let mut tracker = ProgressTracker::new();
        let sent = tracker
            .observe(
                &parse_line("[download]  45.3% of ~  1.20MiB at  2.00MiB/s ETA 00:03"),
                t0,
            )
            .expect("first");
        assert_eq!(
            (sent.percent, sent.speed.as_str(), sent.eta, sent.total),
            (45, "2.0MB/s", 3, Some(1_258_291))
        );
    }

    #[test]
    fn aria2c_readout_lines_are_progress() {
        let LineEvent::Progress(raw) = parse_line("[#7dc847 4.1MiB/19MiB(21%) CN:8 DL:2.0MiB ETA:7s]") else {
            panic!("not progress")
        };
        assert_eq!(raw.downloaded, Some(4_299_162));
        assert_eq!(raw.total, Some(19 * 1024 * 1024));
        assert_eq!(raw.percent, Some(21.0));
        assert_eq!(raw.speed_bps, Some(2.0 * 1024.0 * 1024.0));
        assert_eq!(raw.eta_s, Some(7));
        assert_eq!(raw.status, "downloading");
        let LineEvent::Progress(raw) = parse_line("[#ce9603 16MiB/19MiB(83%) CN:5 DL:7.8MiB]") else {
            panic!("not progress")
        };
        assert_eq!((raw.percent, raw.eta_s), (Some(83.0), None));
        let LineEvent::Progress(raw) = parse_line("[#7dc847 128KiB/19MiB(0%) CN:1 DL:124KiB ETA:2m36s]") else {
            panic!("not progress")
        };
        assert_eq!((raw.downloaded, raw.eta_s), (Some(131_072), Some(156)));
        assert_eq!(parse_aria2c_duration("1h2m3s"), Some(3723));
        // Length unknown: bytes only, no total and no percent.
        let LineEvent::Progress(raw) = parse_line("[#7dc847 0B/0B CN:1 DL:0B]") else { panic!("not progress") };
        assert_eq!((raw.downloaded, raw.total, raw.percent, raw.speed_bps), (Some(0), None, None, None));
        // A redrawn readout (a terminal) keeps the last state.
        let LineEvent::Progress(raw) = parse_line("[#a 1MiB/4MiB(25%) CN:1 DL:1MiB]\r[#a 2MiB/4MiB(50%) CN:1 DL:1MiB]") else {
            panic!("not progress")
        };
        assert_eq!(raw.percent, Some(50.0));
        for junk in ["[#", "[#]", "[#abc]", "[#abc x/y(1%) DL:1MiB]", "[# 1MiB/2MiB(50%)", "[#a 1MiB/2MiB(zz%) CN:1]"] {
            let _ = parse_line(junk);
        }
        assert_eq!(parse_line("[#abc x/y(1%) DL:1MiB]"), LineEvent::Other);
        // aria2c's own error lines are not yt-dlp errors.
        assert_eq!(parse_line("11/30 00:54:32 [ERROR] CUID#8 - Download aborted. URI=http://x/y"), LineEvent::Other);
    }

    #[test]
    fn aria2c_readout_drives_the_tracker_and_a_quiet_tracker_never_emits() {
        let t0 = Instant::now();
        let mut tracker = ProgressTracker::new();
        tracker.observe(&parse_line("[download] Destination: /d/a.webm.part"), t0);
        let sent = tracker.observe(&parse_line("[#a 5MiB/20MiB(25%) CN:8 DL:8MiB ETA:2s]"), ms(t0, 1000)).expect("emitted");
        assert_eq!((sent.percent, sent.speed.as_str(), sent.eta), (25, "8.0MB/s", 2));

        let mut quiet = ProgressTracker::new().quiet();
        assert_eq!(quiet.observe(&parse_line("[#a 5MiB/20MiB(25%) CN:8 DL:8MiB ETA:2s]"), t0), None);
        assert_eq!(quiet.flush(ms(t0, 5000)), None);
        assert_eq!(quiet.done_fraction(), 0.25);
        assert_eq!(quiet.speed_bps(), Some(8.0 * 1024.0 * 1024.0));
        quiet.observe(&parse_line(r#"{"status": "finished", "total_bytes": 20971520}"#), t0);
        quiet.observe(&parse_line("[ExtractAudio] Destination: /d/a.mp3"), t0);
        assert_eq!(quiet.done_fraction(), 1.0);
        assert_eq!(quiet.speed_bps(), None);
        assert_eq!(quiet.retrying(ms(t0, 6000)), None);
    }
}
