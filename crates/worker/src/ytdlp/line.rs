//! What one line of yt-dlp's output says.
//!
//! [`parse_line`] classifies one line of yt-dlp's stdout or stderr (as produced with the argv of
//! [`super::args`]) into a [`LineEvent`]. It is pure and total: any input, including garbage,
//! truncated JSON and `\r`-redrawn progress bars, gives an event, never a panic. Lines are
//! untrusted text: they drive progress display only, never a file path the worker uses.

use std::borrow::Cow;
use std::fmt;
use std::path::PathBuf;
use std::sync::LazyLock;

use regex::Regex;
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use super::args::TITLE_MARKER;
use super::final_files::{parse_final_file, FinalFile, FINAL_FILE_MARKER};

/// The longest title [`LineEvent::Title`] carries, in characters (a longer one is cut and ends
/// with `…`).
pub(crate) const MAX_TITLE_CHARS: usize = 300;

/// What one line of yt-dlp output says.
#[derive(Debug, Clone, PartialEq)]
pub enum LineEvent {
    /// A download progress update (JSON from the progress template, or the human progress bar).
    Progress(RawProgress),
    /// A post-processor changed state (`status` is `started`, `processing` or `finished`).
    Postprocess { postprocessor: String, status: String },
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
    /// The `--print before_dl:` line ([`super::args::TITLE_PRINT`]): the media's title, on one
    /// line, at most [`MAX_TITLE_CHARS`]. Display text for `progress` only: NEVER used to name,
    /// find or open a file (nothing parsed from yt-dlp's output names a file).
    Title(String),
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
    pub(crate) fn fraction(&self) -> Option<f64> {
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
        total: json.total_bytes.or(json.total_bytes_estimate).and_then(to_u64),
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
            .map_or(LineEvent::Other, |p| LineEvent::ExtractAudio(PathBuf::from(p))),
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
    if let Some(json) = line.strip_prefix(TITLE_MARKER) {
        return parse_title(json).map_or(LineEvent::Other, LineEvent::Title);
    }
    if let Some(message) = line.strip_prefix("ERROR:") {
        return LineEvent::Error(clean_message(message));
    }
    if let Some(message) = line.strip_prefix("WARNING:") {
        return LineEvent::Warning(clean_message(message));
    }
    LineEvent::Other
}

/// `{"title": "..."}` → the title as display text: control characters (a decoded `\n`, `\t`,
/// …) become spaces, runs of whitespace one space, the ends trimmed, and anything longer than
/// [`MAX_TITLE_CHARS`] cut to that many characters, the last one `…`. `None` for `{}` (no
/// title), a blank or non-string title, or anything that is not such an object.
fn parse_title(json: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Titled<'a> {
        #[serde(borrow, default)]
        title: Option<Cow<'a, str>>,
    }
    let title = serde_json::from_str::<Titled<'_>>(json).ok()?.title?;
    let words: Vec<&str> = title
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect();
    let mut clean = words.join(" ");
    if let Some((cut, _)) = clean.char_indices().nth(MAX_TITLE_CHARS) {
        let keep = clean[..cut].char_indices().last().map_or(0, |(i, _)| i);
        clean.truncate(keep);
        clean.push('…');
    }
    (!clean.is_empty()).then_some(clean)
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
        let percent = caps.name("pct").and_then(|m| m.as_str().parse::<f64>().ok());
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
        Some((sizes, percent)) => (
            sizes,
            percent.strip_suffix("%)").and_then(|p| p.parse::<f64>().ok()),
        ),
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
            while map.next_entry::<de::IgnoredAny, de::IgnoredAny>()?.is_some() {}
            Ok(None)
        }
    }

    deserializer.deserialize_any(LenientNumber)
}

/// An ERROR/WARNING message without its redraw carriage returns and surrounding blanks.
fn clean_message(message: &str) -> String {
    message
        .split('\r')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
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
            LineEvent::PlaylistItem { index: 7, count: 12 }
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
            parse_line("[download] tone-1: Tone 1: the sequel has already been recorded in the archive"),
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
        assert_eq!(
            parse_line("[ExtractAudio] Not converting audio out/t.mp3; file is already in target format mp3"),
            LineEvent::Other
        );
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
                ..Default::default()
            })
        );
        assert_eq!(
            parse_line(r#"HERMES_FILE {"title": "no path"}"#),
            LineEvent::Other
        );
        assert_eq!(parse_line("HERMES_FILE not json"), LineEvent::Other);
    }

    #[test]
    fn title_line_is_display_text_on_one_line() {
        // What the real yt-dlp prints for TITLE_PRINT: ASCII JSON, `\uXXXX` escapes.
        assert_eq!(
            parse_line("HERMES_TITLE {\"title\": \"tone \\u00e9\\\"x\"}\n"),
            LineEvent::Title("tone é\"x".into())
        );
        assert_eq!(
            parse_line(
                r#"HERMES_TITLE {"title": "Rick Astley - Never Gonna Give You Up (Official Video) \ud83c\udfb5"}"#
            ),
            LineEvent::Title("Rick Astley - Never Gonna Give You Up (Official Video) 🎵".into())
        );
        // Decoded newlines and tabs never make a second line; blanks collapse.
        assert_eq!(
            parse_line(
                r#"HERMES_TITLE {"title": "  a\nHERMES_FILE {\"filepath\": \"/etc/passwd\"}\t\r b  "}"#
            ),
            LineEvent::Title(r#"a HERMES_FILE {"filepath": "/etc/passwd"} b"#.into())
        );
        // A path-looking title is just text: it names nothing.
        assert_eq!(
            parse_line(r#"HERMES_TITLE {"title": "../../x/../y"}"#),
            LineEvent::Title("../../x/../y".into())
        );
        // No title, a blank or non-string one, broken JSON, or no marker: not a title.
        for line in [
            "HERMES_TITLE {}",
            r#"HERMES_TITLE {"title": null}"#,
            r#"HERMES_TITLE {"title": "  \n "}"#,
            r#"HERMES_TITLE {"title": 42}"#,
            r#"HERMES_TITLE {"title": "x""#,
            "HERMES_TITLE",
            "HERMES_TITLE ",
            "HERMES_TITLE not json",
            r#"{"title": "no marker"}"#,
            r#"[download] HERMES_TITLE {"title": "tagged"}"#,
        ] {
            assert_eq!(parse_line(line), LineEvent::Other, "{line}");
        }
    }

    #[test]
    fn long_titles_are_cut_to_the_cap_on_a_character_boundary() {
        let exact = "é".repeat(MAX_TITLE_CHARS);
        let line = format!("HERMES_TITLE {}", serde_json::json!({ "title": exact }));
        assert_eq!(parse_line(&line), LineEvent::Title(exact.clone()));

        let long = "日本".repeat(1000);
        let line = format!("HERMES_TITLE {}", serde_json::json!({ "title": long }));
        let LineEvent::Title(title) = parse_line(&line) else {
            panic!("not a title")
        };
        assert_eq!(title.chars().count(), MAX_TITLE_CHARS);
        assert!(title.ends_with('…'), "{title}");
        assert!(title.starts_with("日本日本"));

        let spaced = format!("{} tail", "a".repeat(MAX_TITLE_CHARS));
        let line = format!("HERMES_TITLE {}", serde_json::json!({ "title": spaced }));
        let LineEvent::Title(title) = parse_line(&line) else {
            panic!("not a title")
        };
        assert_eq!(title.chars().count(), MAX_TITLE_CHARS);
        assert_eq!(title, format!("{}…", "a".repeat(MAX_TITLE_CHARS - 1)));
    }

    #[test]
    fn human_progress_bar_fallback() {
        let LineEvent::Progress(raw) = parse_line("[download]  45.3% of ~  1.20MiB at  2.00MiB/s ETA 00:03")
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
        assert_eq!((raw.speed_bps, raw.eta_s, raw.total), (None, None, Some(48978)));

        let LineEvent::Progress(raw) = parse_line("[download] 100% of   47.83KiB in 00:00:00 at 15.78MiB/s")
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

        let LineEvent::Progress(raw) = parse_line("[download]    1.00MiB at  500.00KiB/s (00:00:02)") else {
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
            "HERMES_TITLE {",
            "HERMES_TITLE {\"title\": \"\\ud800\"}",
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
        let LineEvent::Progress(raw) = parse_line("[#7dc847 128KiB/19MiB(0%) CN:1 DL:124KiB ETA:2m36s]")
        else {
            panic!("not progress")
        };
        assert_eq!((raw.downloaded, raw.eta_s), (Some(131_072), Some(156)));
        assert_eq!(parse_aria2c_duration("1h2m3s"), Some(3723));
        // Length unknown: bytes only, no total and no percent.
        let LineEvent::Progress(raw) = parse_line("[#7dc847 0B/0B CN:1 DL:0B]") else {
            panic!("not progress")
        };
        assert_eq!(
            (raw.downloaded, raw.total, raw.percent, raw.speed_bps),
            (Some(0), None, None, None)
        );
        // A redrawn readout (a terminal) keeps the last state.
        let LineEvent::Progress(raw) =
            parse_line("[#a 1MiB/4MiB(25%) CN:1 DL:1MiB]\r[#a 2MiB/4MiB(50%) CN:1 DL:1MiB]")
        else {
            panic!("not progress")
        };
        assert_eq!(raw.percent, Some(50.0));
        for junk in [
            "[#",
            "[#]",
            "[#abc]",
            "[#abc x/y(1%) DL:1MiB]",
            "[# 1MiB/2MiB(50%)",
            "[#a 1MiB/2MiB(zz%) CN:1]",
        ] {
            let _ = parse_line(junk);
        }
        assert_eq!(parse_line("[#abc x/y(1%) DL:1MiB]"), LineEvent::Other);
        // aria2c's own error lines are not yt-dlp errors.
        assert_eq!(
            parse_line("11/30 00:54:32 [ERROR] CUID#8 - Download aborted. URI=http://x/y"),
            LineEvent::Other
        );
    }
}
