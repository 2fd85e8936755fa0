//! Turns yt-dlp `--dump-single-json` output into protocol payloads: video info, format tiers,
//! search hits and playlist previews. Pure functions over `serde_json::Value`, tolerant of
//! missing or oddly-typed fields (yt-dlp's output varies by extractor).
use crate::config::profile::WireProfile;
use hermes_protocol::{
    FormatList, FormatMode, FormatOption, PlaylistPreview, PreviewTrack, SearchResult, VideoInfo,
};
use regex::Regex;
use serde_json::Value;
use std::sync::LazyLock;

/// Video tiers offered by `get_formats`, highest first.
pub(crate) const VIDEO_TIERS: [u32; 6] = [2160, 1440, 1080, 720, 480, 360];

/// MP3 conversions offered in audio mode: (kbps label, yt-dlp `--audio-quality`).
pub(crate) const MP3_CHOICES: [(u32, &str); 3] = [(320, "0"), (192, "2"), (128, "5")];

fn str_of(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .filter(|s| !s.is_empty())
}

fn f64_of(v: &Value, key: &str) -> Option<f64> {
    v.get(key)
        .and_then(Value::as_f64)
        .filter(|x| x.is_finite() && *x >= 0.0)
}

fn u64_of(v: &Value, key: &str) -> Option<u64> {
    f64_of(v, key).map(|x| x.round() as u64)
}

/// Whole seconds from yt-dlp's `duration` (an int for YouTube, a float for many extractors).
pub(crate) fn duration_secs(v: &Value) -> Option<u64> {
    u64_of(v, "duration")
}

/// `213` → `"3:33"`, `3723` → `"1:02:03"` (yt-dlp's own `duration_string` format).
pub(crate) fn duration_string(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

fn duration_string_of(v: &Value) -> Option<String> {
    str_of(v, "duration_string").or_else(|| duration_secs(v).map(duration_string))
}

fn channel_of(v: &Value) -> Option<String> {
    str_of(v, "channel").or_else(|| str_of(v, "uploader"))
}

/// The last (largest) thumbnail, else `thumbnail`.
fn thumbnail_of(v: &Value) -> Option<String> {
    v.get("thumbnails")
        .and_then(Value::as_array)
        .and_then(|list| list.iter().rev().find_map(|t| str_of(t, "url")))
        .or_else(|| str_of(v, "thumbnail"))
}

fn youtube_thumbnail(id: &str) -> String {
    format!("https://i.ytimg.com/vi/{id}/hqdefault.jpg")
}

/// The metadata-cache key of a URL: `yt:<id>` for a YouTube video link (so every spelling of
/// the same video shares one entry), else the URL itself.
pub(crate) fn metadata_key(url: &str) -> String {
    static YOUTUBE_ID: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?:youtube\.com/(?:watch\?(?:.*&)?v=|shorts/|embed/|live/|v/)|youtu\.be/)([A-Za-z0-9_-]{11})(?:[^A-Za-z0-9_-]|$)")
            .expect("valid regex")
    });
    match YOUTUBE_ID.captures(url) {
        Some(caps) => format!("yt:{}", &caps[1]),
        None => url.to_owned(),
    }
}

/// Info JSON without the bulky keys no payload uses (captions, heatmaps, per-download copies),
/// for the metadata cache. `formats` stays: `get_formats` is answered from the cache too.
pub(crate) fn trimmed_for_cache(info: &Value) -> Value {
    let mut info = info.clone();
    if let Some(map) = info.as_object_mut() {
        for key in [
            "automatic_captions",
            "subtitles",
            "heatmap",
            "requested_formats",
            "requested_downloads",
            "thumbnails",
            "chapters",
        ] {
            map.remove(key);
        }
    }
    info
}

/// yt-dlp's generic extractor carries an item's guid in a `#__youtubedl_smuggle=` fragment of
/// flat-listed feed URLs; it means nothing to a person.
fn without_smuggled_data(url: String) -> String {
    match url.find("#__youtubedl_smuggle=") {
        Some(i) => url[..i].to_owned(),
        None => url,
    }
}

/// `video_info` data from a single-video info JSON.
pub(crate) fn video_info(info: &Value, from_cache: bool) -> VideoInfo {
    let id = str_of(info, "id").unwrap_or_default();
    let channel = channel_of(info);
    VideoInfo {
        video_id: id.clone(),
        video_id_compat: id,
        title: str_of(info, "title").unwrap_or_default(),
        url: str_of(info, "webpage_url")
            .or_else(|| str_of(info, "original_url"))
            .unwrap_or_default(),
        duration: duration_secs(info),
        duration_string: duration_string_of(info),
        thumbnail: str_of(info, "thumbnail").or_else(|| thumbnail_of(info)),
        view_count: u64_of(info, "view_count"),
        description: str_of(info, "description"),
        is_age_restricted: u64_of(info, "age_limit").is_some_and(|age| age >= 18),
        is_private: str_of(info, "availability").is_some_and(|a| a == "private"),
        from_cache,
        artist: str_of(info, "artist")
            .or_else(|| str_of(info, "creator"))
            .or_else(|| channel.clone()),
        channel,
    }
}

/// One search hit from a `--flat-playlist` entry.
pub(crate) fn search_result(entry: &Value) -> SearchResult {
    let id = str_of(entry, "id").unwrap_or_default();
    let url = str_of(entry, "url")
        .filter(|u| u.starts_with("http"))
        .unwrap_or_else(|| format!("https://www.youtube.com/watch?v={id}"));
    let channel = channel_of(entry);
    SearchResult {
        thumbnail: thumbnail_of(entry).unwrap_or_else(|| youtube_thumbnail(&id)),
        video_id_compat: id.clone(),
        video_id: id,
        title: str_of(entry, "title").unwrap_or_default(),
        url,
        duration: duration_secs(entry),
        duration_string: duration_string_of(entry),
        view_count: u64_of(entry, "view_count"),
        artist: channel.clone(),
        channel,
        live_status: live_status_of(entry),
    }
}

/// yt-dlp's `live_status` (`is_live`, `is_upcoming`, `was_live`, `post_live`, `not_live`):
/// passed on when it is such a word (lower-case letters and `_`, so a value yt-dlp adds later
/// passes too), else `None` (null, missing, or anything odd).
fn live_status_of(v: &Value) -> Option<String> {
    str_of(v, "live_status")
        .filter(|s| s.len() <= 32 && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
}

/// Search hits of a `ytsearchN:` playlist, at most `limit`, skipping entries without an id.
pub(crate) fn search_results(playlist: &Value, limit: usize) -> Vec<SearchResult> {
    entries(playlist)
        .filter(|e| str_of(e, "id").is_some())
        .take(limit)
        .map(search_result)
        .collect()
}

fn entries(playlist: &Value) -> impl Iterator<Item = &Value> {
    playlist
        .get("entries")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|e| e.is_object())
}

/// `playlist_preview` data: title, count and the first `count` entries.
pub(crate) fn playlist_preview(playlist: &Value, count: usize) -> PlaylistPreview {
    let all: Vec<&Value> = entries(playlist).collect();
    PlaylistPreview {
        playlist_title: str_of(playlist, "title").unwrap_or_else(|| "playlist".to_owned()),
        playlist_count: u64_of(playlist, "playlist_count").or(Some(all.len() as u64)),
        tracks: all
            .iter()
            .take(count)
            .enumerate()
            .map(|(i, e)| PreviewTrack {
                index: u64_of(e, "playlist_index")
                    .map(|n| n as u32)
                    .unwrap_or(i as u32 + 1),
                title: str_of(e, "title").unwrap_or_default(),
                url: without_smuggled_data(
                    str_of(e, "url")
                        .or_else(|| str_of(e, "webpage_url"))
                        .unwrap_or_default(),
                ),
                duration: duration_secs(e),
            })
            .collect(),
    }
}

fn is_storyboard(f: &Value) -> bool {
    str_of(f, "ext").is_some_and(|e| e == "mhtml")
        || str_of(f, "format_note").is_some_and(|n| n.contains("storyboard"))
}

fn codec_absent(f: &Value, key: &str) -> bool {
    str_of(f, key).is_some_and(|c| c == "none")
}

fn has_video(f: &Value) -> bool {
    !is_storyboard(f) && !codec_absent(f, "vcodec") && u64_of(f, "height").is_some()
}

fn is_audio_only(f: &Value) -> bool {
    !is_storyboard(f) && codec_absent(f, "vcodec") && !codec_absent(f, "acodec")
}

fn size_of(f: &Value) -> Option<u64> {
    u64_of(f, "filesize").or_else(|| u64_of(f, "filesize_approx"))
}

fn bitrate(f: &Value) -> f64 {
    f64_of(f, "tbr")
        .or_else(|| f64_of(f, "abr"))
        .or_else(|| f64_of(f, "vbr"))
        .unwrap_or(0.0)
}

/// The tier a video height belongs to: the smallest tier at or above it (so a 1920×800 stream
/// counts as 1080p), or `None` below 360p's neighbourhood (240p and less are not offered).
fn tier_of(height: u64) -> Option<u32> {
    VIDEO_TIERS
        .iter()
        .rev()
        .copied()
        .find(|&t| height <= t as u64)
        .filter(|&t| height > lower_tier(t) as u64)
}

fn lower_tier(tier: u32) -> u32 {
    VIDEO_TIERS.iter().copied().find(|&t| t < tier).unwrap_or(240)
}

fn formats(info: &Value) -> Vec<&Value> {
    info.get("formats")
        .and_then(Value::as_array)
        .map(|f| f.iter().collect())
        .unwrap_or_default()
}

fn best_audio<'a>(all: &[&'a Value]) -> Option<&'a Value> {
    all.iter()
        .copied()
        .filter(|f| is_audio_only(f))
        .max_by(|a, b| bitrate(a).total_cmp(&bitrate(b)))
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_048_576.0)
}

fn with_size(label: String, size: Option<u64>) -> String {
    match size {
        Some(bytes) => format!("{label} · ~{}", megabytes(bytes)),
        None => label,
    }
}

/// `format_list` data for `mode`, audio rows in the profile's spelling.
pub(crate) fn format_list(info: &Value, mode: FormatMode, profile: WireProfile) -> FormatList {
    let all = formats(info);
    let formats = match mode {
        FormatMode::Video => video_choices(&all),
        FormatMode::Audio => audio_choices(&all, duration_secs(info), profile),
    };
    FormatList {
        title: str_of(info, "title").unwrap_or_default(),
        duration: duration_secs(info),
        duration_string: duration_string_of(info),
        thumbnail: str_of(info, "thumbnail").or_else(|| thumbnail_of(info)),
        mode,
        formats,
    }
}

/// Whether Telegram clients play this format inline: H.264 video in MP4 (with AAC audio when it
/// carries audio). VP9 and AV1 often play only after a download, or not at all.
fn plays_inline(f: &Value) -> bool {
    let avc = str_of(f, "vcodec").is_some_and(|c| c.starts_with("avc1") || c.starts_with("h264"));
    let audio_ok = codec_absent(f, "acodec") || str_of(f, "acodec").is_some_and(|c| c.starts_with("mp4a"));
    avc && audio_ok && str_of(f, "ext").is_some_and(|e| e == "mp4")
}

fn highest_bitrate<'a>(candidates: impl Iterator<Item = &'a Value>) -> Option<&'a Value> {
    candidates.max_by(|a, b| bitrate(a).total_cmp(&bitrate(b)))
}

fn is_aac(f: &Value) -> bool {
    str_of(f, "acodec").is_some_and(|c| c.starts_with("mp4a"))
}

/// One choice per tier present: the highest-bitrate H.264/MP4 stream of the tier when there is
/// one (it plays inline in Telegram), else the highest-bitrate stream of any codec; with
/// `+bestaudio` when it carries no audio (AAC first for H.264, so the merge stays a plain MP4).
/// Falls back to a single "best" when nothing has a known height.
fn video_choices(all: &[&Value]) -> Vec<FormatOption> {
    let audio = best_audio(all);
    let aac: Vec<&Value> = all
        .iter()
        .copied()
        .filter(|f| is_audio_only(f) && is_aac(f))
        .collect();
    let aac_audio = best_audio(&aac);
    let mut choices = Vec::new();
    for tier in VIDEO_TIERS {
        let in_tier: Vec<&Value> = all
            .iter()
            .copied()
            .filter(|f| has_video(f) && u64_of(f, "height").and_then(tier_of) == Some(tier))
            .collect();
        let inline = highest_bitrate(in_tier.iter().copied().filter(|f| plays_inline(f)));
        let Some(best) = inline.or_else(|| highest_bitrate(in_tier.iter().copied())) else {
            continue;
        };
        let id = str_of(best, "format_id").unwrap_or_default();
        let video_only = codec_absent(best, "acodec");
        let (format_id, companion) = match (video_only, inline.is_some() && aac_audio.is_some()) {
            (false, _) => (id, None),
            (true, true) => (format!("{id}+bestaudio[acodec^=mp4a]/{id}+bestaudio"), aac_audio),
            (true, false) => (format!("{id}+bestaudio"), audio),
        };
        let size = match (size_of(best), companion.and_then(size_of)) {
            (Some(v), Some(a)) => Some(v + a),
            (v, _) => v,
        };
        choices.push(FormatOption {
            format_id,
            label: with_size(format!("{tier}p"), size),
            ext: "mp4".to_owned(),
            filesize_approx: size,
            kind: "video".to_owned(),
            height: Some(tier),
            tbr: f64_of(best, "tbr"),
            ..Default::default()
        });
    }
    if choices.is_empty() {
        choices.push(FormatOption {
            format_id: "best".to_owned(),
            label: "Best available".to_owned(),
            ext: "mp4".to_owned(),
            kind: "video".to_owned(),
            ..Default::default()
        });
    }
    choices
}

/// The best native audio stream as-is, then MP3 at 320/192/128 kbps. Every row says whether it
/// means `extract_audio` (the existing host reads it from the row, false when absent, and would
/// otherwise fetch a .webm for "MP3 192 kbps"). The python profile spells the MP3 rows as the
/// Python worker does: `format_id` `bestaudio` and `filesize_approx` 0.
fn audio_choices(all: &[&Value], duration: Option<u64>, profile: WireProfile) -> Vec<FormatOption> {
    let mut choices = Vec::new();
    if let Some(best) = best_audio(all) {
        let ext = str_of(best, "audio_ext")
            .filter(|e| e != "none")
            .or_else(|| str_of(best, "ext"))
            .unwrap_or_default();
        let codec = str_of(best, "acodec").unwrap_or_default();
        let kbps = bitrate(best).round() as u64;
        choices.push(FormatOption {
            format_id: str_of(best, "format_id").unwrap_or_default(),
            label: with_size(
                format!(
                    "Original ({} {kbps} kbps, {ext})",
                    codec.split('.').next().unwrap_or("")
                ),
                size_of(best),
            ),
            ext,
            filesize_approx: size_of(best),
            kind: "audio".to_owned(),
            tbr: f64_of(best, "tbr").or_else(|| f64_of(best, "abr")),
            extract_audio: Some(false),
            ..Default::default()
        });
    }
    for (kbps, quality) in MP3_CHOICES {
        let size = duration.map(|secs| secs * kbps as u64 * 1000 / 8);
        let (format_id, filesize_approx) = match profile {
            WireProfile::Guide => ("bestaudio/best", size),
            WireProfile::Python => ("bestaudio", Some(0)),
        };
        choices.push(FormatOption {
            format_id: format_id.to_owned(),
            label: with_size(format!("MP3 {kbps} kbps"), size),
            ext: "mp3".to_owned(),
            filesize_approx,
            kind: "audio".to_owned(),
            extract_audio: Some(true),
            audio_format: Some("mp3".to_owned()),
            audio_quality: Some(quality.to_owned()),
            ..Default::default()
        });
    }
    choices
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn durations_round_and_format() {
        assert_eq!(duration_secs(&json!({"duration": 5.016})), Some(5));
        assert_eq!(duration_secs(&json!({"duration": null})), None);
        assert_eq!(duration_string(213), "3:33");
        assert_eq!(duration_string(3723), "1:02:03");
        assert_eq!(duration_string(0), "0:00");
    }

    #[test]
    fn tiers_take_the_smallest_tier_at_or_above() {
        assert_eq!(tier_of(1080), Some(1080));
        assert_eq!(tier_of(800), Some(1080));
        assert_eq!(tier_of(360), Some(360));
        assert_eq!(tier_of(240), None);
        assert_eq!(tier_of(4320), None);
    }

    #[test]
    fn video_tiers_pick_best_bitrate_and_add_audio_to_video_only() {
        let info = json!({"title": "t", "duration": 100, "formats": [
            {"format_id": "sb0", "ext": "mhtml", "format_note": "storyboard", "vcodec": "none", "acodec": "none", "height": 45},
            {"format_id": "140", "vcodec": "none", "acodec": "mp4a.40.2", "abr": 129.5, "tbr": 129.5, "filesize": 1000},
            {"format_id": "251", "vcodec": "none", "acodec": "opus", "abr": 140.0, "tbr": 140.0, "filesize": 1200},
            {"format_id": "18", "vcodec": "avc1", "acodec": "mp4a", "height": 360, "tbr": 500.0, "filesize": 5000},
            {"format_id": "134", "vcodec": "avc1", "acodec": "none", "height": 360, "tbr": 300.0},
            {"format_id": "137", "vcodec": "avc1", "acodec": "none", "height": 1080, "tbr": 4000.0, "filesize": 50000},
            {"format_id": "248", "vcodec": "vp9", "acodec": "none", "height": 1080, "tbr": 3000.0}
        ]});
        let list = format_list(&info, FormatMode::Video, WireProfile::Guide);
        let ids: Vec<&str> = list.formats.iter().map(|f| f.format_id.as_str()).collect();
        assert_eq!(ids, ["137+bestaudio", "18"]);
        assert_eq!(list.formats[0].filesize_approx, Some(51200));
        assert_eq!(list.formats[0].height, Some(1080));
        assert_eq!(list.formats[1].filesize_approx, Some(5000));
    }

    #[test]
    fn video_tiers_prefer_h264_in_mp4_with_aac_over_a_higher_bitrate_vp9() {
        let info = json!({"title": "t", "duration": 100, "formats": [
            {"format_id": "140", "vcodec": "none", "acodec": "mp4a.40.2", "abr": 129.5, "tbr": 129.5, "ext": "m4a", "filesize": 1000},
            {"format_id": "251", "vcodec": "none", "acodec": "opus", "abr": 140.0, "tbr": 140.0, "ext": "webm", "filesize": 1200},
            {"format_id": "137", "vcodec": "avc1.640028", "acodec": "none", "ext": "mp4", "height": 1080, "tbr": 4000.0, "filesize": 50000},
            {"format_id": "248", "vcodec": "vp9", "acodec": "none", "ext": "webm", "height": 1080, "tbr": 6000.0, "filesize": 70000},
            {"format_id": "399", "vcodec": "av01.0.08M.08", "acodec": "none", "ext": "mp4", "height": 1080, "tbr": 5000.0},
            {"format_id": "271", "vcodec": "vp9", "acodec": "none", "ext": "webm", "height": 1440, "tbr": 9000.0, "filesize": 90000}
        ]});
        let list = format_list(&info, FormatMode::Video, WireProfile::Guide);
        let ids: Vec<&str> = list.formats.iter().map(|f| f.format_id.as_str()).collect();
        assert_eq!(
            ids,
            ["271+bestaudio", "137+bestaudio[acodec^=mp4a]/137+bestaudio"],
            "1440p has no H.264: the best of any codec; 1080p: H.264 with AAC"
        );
        assert_eq!(list.formats[1].filesize_approx, Some(51000), "137 + the AAC 140");
        assert_eq!(
            list.formats[0].filesize_approx,
            Some(91200),
            "271 + the best audio 251"
        );
    }

    #[test]
    fn audio_mode_offers_native_best_then_mp3_levels() {
        let info = json!({"duration": 100, "formats": [
            {"format_id": "140", "vcodec": "none", "acodec": "mp4a.40.2", "abr": 129.5, "ext": "m4a", "audio_ext": "m4a"},
            {"format_id": "251", "vcodec": "none", "acodec": "opus", "abr": 140.0, "ext": "webm", "audio_ext": "webm", "filesize": 1700000}
        ]});
        let list = format_list(&info, FormatMode::Audio, WireProfile::Guide);
        assert_eq!(list.formats.len(), 4);
        assert_eq!(
            (list.formats[0].format_id.as_str(), list.formats[0].ext.as_str()),
            ("251", "webm")
        );
        let qualities: Vec<_> = list.formats[1..]
            .iter()
            .map(|f| f.audio_quality.clone().unwrap())
            .collect();
        assert_eq!(qualities, ["0", "2", "5"]);
        assert_eq!(list.formats[1].filesize_approx, Some(4_000_000));
        assert!(list.formats.iter().all(|f| f.kind == "audio"));
        let extract: Vec<_> = list.formats.iter().map(|f| f.extract_audio).collect();
        assert_eq!(
            extract,
            [Some(false), Some(true), Some(true), Some(true)],
            "the host reads extract_audio from the row"
        );
    }

    #[test]
    fn python_profile_audio_rows_are_the_python_workers() {
        let info = json!({"duration": 100, "formats": [
            {"format_id": "251", "vcodec": "none", "acodec": "opus", "abr": 140.0, "ext": "webm", "audio_ext": "webm", "filesize": 1700000}
        ]});
        let list = format_list(&info, FormatMode::Audio, WireProfile::Python);
        let rows: Vec<Value> = list
            .formats
            .iter()
            .map(|f| serde_json::to_value(f).unwrap())
            .collect();
        assert_eq!(
            (
                rows[0]["format_id"].as_str(),
                rows[0]["extract_audio"].as_bool(),
                rows[0]["type"].as_str()
            ),
            (Some("251"), Some(false), Some("audio"))
        );
        for (row, quality) in rows[1..].iter().zip(["0", "2", "5"]) {
            assert_eq!(row["format_id"], "bestaudio");
            assert_eq!(row["ext"], "mp3");
            assert_eq!(row["filesize_approx"], 0);
            assert_eq!(row["type"], "audio");
            assert_eq!(row["extract_audio"], true);
            assert_eq!(row["audio_format"], "mp3");
            assert_eq!(row["audio_quality"], quality);
        }
    }

    #[test]
    fn direct_media_without_heights_still_offers_best() {
        let list = format_list(
            &json!({"formats": [{"format_id": "0", "ext": "mp4"}]}),
            FormatMode::Video,
            WireProfile::Guide,
        );
        assert_eq!(list.formats.len(), 1);
        assert_eq!(list.formats[0].format_id, "best");
    }

    #[test]
    fn search_entries_map_with_defaults() {
        let playlist = json!({"entries": [
            {"id": "abc", "title": "A", "url": "https://www.youtube.com/watch?v=abc", "duration": 213.0, "channel": "C", "view_count": 5,
             "thumbnails": [{"url": "https://i.ytimg.com/vi/abc/hq720.jpg"}]},
            {"id": "def", "title": "Live", "duration": null, "uploader": "U"},
            {"title": "no id"}
        ]});
        let hits = search_results(&playlist, 10);
        assert_eq!(hits.len(), 2);
        assert_eq!(
            (hits[0].duration, hits[0].duration_string.as_deref()),
            (Some(213), Some("3:33"))
        );
        assert_eq!(hits[0].thumbnail, "https://i.ytimg.com/vi/abc/hq720.jpg");
        assert_eq!(hits[1].thumbnail, "https://i.ytimg.com/vi/def/hqdefault.jpg");
        assert_eq!(hits[1].url, "https://www.youtube.com/watch?v=def");
        assert_eq!(
            (
                hits[1].duration,
                hits[1].channel.as_deref(),
                hits[1].artist.as_deref()
            ),
            (None, Some("U"), Some("U"))
        );
        assert_eq!(hits[0].video_id_compat, "abc");
        assert_eq!(search_results(&playlist, 1).len(), 1);
        assert_eq!(
            (hits[0].live_status.as_deref(), hits[1].live_status.as_deref()),
            (None, None)
        );
    }

    #[test]
    fn search_entries_carry_their_live_status() {
        let playlist = json!({"entries": [
            {"id": "a", "live_status": "is_live"},
            {"id": "b", "live_status": "is_upcoming"},
            {"id": "c", "live_status": "was_live"},
            {"id": "d", "live_status": "post_live"},
            {"id": "e", "live_status": "not_live"},
            {"id": "f", "live_status": null},
            {"id": "g"},
            {"id": "h", "live_status": ""},
            {"id": "i", "live_status": 1},
            {"id": "j", "live_status": "Is Live\n"},
        ]});
        let statuses: Vec<Option<String>> = search_results(&playlist, 20)
            .into_iter()
            .map(|hit| hit.live_status)
            .collect();
        let want = [
            Some("is_live"),
            Some("is_upcoming"),
            Some("was_live"),
            Some("post_live"),
            Some("not_live"),
            None,
            None,
            None,
            None,
            None,
        ];
        assert_eq!(statuses, want.map(|s| s.map(String::from)));
    }

    #[test]
    fn video_info_flags() {
        let info = video_info(
            &json!({"id": "x", "title": "T", "age_limit": 18, "availability": "public", "duration": 61, "webpage_url": "https://w"}),
            true,
        );
        assert!(info.is_age_restricted && !info.is_private && info.from_cache);
        assert_eq!(
            (info.duration_string.as_deref(), info.url.as_str()),
            (Some("1:01"), "https://w")
        );
    }

    #[test]
    fn metadata_keys_unify_youtube_spellings() {
        for url in [
            "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
            "https://youtu.be/dQw4w9WgXcQ?si=x",
            "https://m.youtube.com/watch?feature=share&v=dQw4w9WgXcQ",
            "https://www.youtube.com/shorts/dQw4w9WgXcQ",
        ] {
            assert_eq!(metadata_key(url), "yt:dQw4w9WgXcQ", "{url}");
        }
        assert_eq!(
            metadata_key("http://127.0.0.1:1/a.webm"),
            "http://127.0.0.1:1/a.webm"
        );
    }

    #[test]
    fn preview_urls_lose_smuggled_fragments() {
        let playlist =
            json!({"entries": [{"title": "a", "url": "http://h/a.webm#__youtubedl_smuggle=%7B%22x%22%7D"}]});
        assert_eq!(playlist_preview(&playlist, 5).tracks[0].url, "http://h/a.webm");
    }

    #[test]
    fn preview_counts_and_indexes() {
        let playlist = json!({"title": "P", "entries": [{"title": "a", "url": "u1"}, {"title": "b", "url": "u2", "duration": 3.4}, {"title": "c", "url": "u3"}]});
        let preview = playlist_preview(&playlist, 2);
        assert_eq!(
            (preview.playlist_title.as_str(), preview.playlist_count),
            ("P", Some(3))
        );
        assert_eq!(preview.tracks.len(), 2);
        assert_eq!(
            (preview.tracks[1].index, preview.tracks[1].duration),
            (2, Some(3))
        );
    }
}
