//! Finding downloadable links in a chat message and classifying YouTube ones.
//!
//! Users paste links in every shape: with or without `https://` and `www.`, from the mobile
//! site, YouTube Music, share sheets (`youtu.be/ID?si=...`), inside parentheses or at the end
//! of a sentence. The bot needs to know which video or playlist a link means (to pick the
//! action and to find an earlier upload of the same media), so classification is done here,
//! once, without a URL crate: only the few shapes below matter and they are all ASCII.

use std::sync::LazyLock;

use regex::Regex;

/// A message with more links than this is most likely spam or a paste of a list; the bot
/// only acts on the first few.
pub const MAX_LINKS_PER_MESSAGE: usize = 5;

/// YouTube video ids are always 11 characters from this alphabet.
const VIDEO_ID_LEN: usize = 11;

/// Query parameters that only say where a click came from. They are dropped from cache keys so
/// the same page shared twice maps to the same upload.
const TRACKING_PARAMS: &[&str] = &[
    "si", "feature", "fbclid", "gclid", "dclid", "yclid", "igshid", "mc_cid", "mc_eid", "ref_src",
];

/// Hosts (lower-case) that serve YouTube watch pages, playlists, shorts and embeds.
const YOUTUBE_HOSTS: &[&str] = &[
    "youtube.com",
    "www.youtube.com",
    "m.youtube.com",
    "music.youtube.com",
    "youtube-nocookie.com",
    "www.youtube-nocookie.com",
];
const YOUTU_BE_HOSTS: &[&str] = &["youtu.be", "www.youtu.be"];

/// Candidate links: any `http(s)://` URL, or a YouTube link written without a scheme.
/// Quotes (ASCII and typographic), angle brackets and backticks end a link because people and
/// chat clients wrap links in them.
static CANDIDATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)https?://[^\s<>"'`«»“”‘’„]+|(?:(?:www|m|music)\.)?(?:youtube\.com|youtube-nocookie\.com|youtu\.be)/[^\s<>"'`«»“”‘’„]*"#,
    )
    .expect("static link regex is valid")
});

/// A link found in a message. `url` is the link as written (trailing punctuation removed,
/// `https://` added when it had no scheme), ready to hand to yt-dlp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub url: String,
    pub kind: LinkKind,
}

/// What a link points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkKind {
    YoutubeVideo {
        id: String,
    },
    YoutubePlaylist {
        list: String,
    },
    /// A video opened from inside a playlist (`watch?v=..&list=..`): the bot may offer both.
    YoutubeVideoInPlaylist {
        id: String,
        list: String,
    },
    /// Any other http(s) URL (yt-dlp's generic extractor may still handle it), including
    /// YouTube pages that are neither a video nor a playlist (channels, search pages).
    Other,
}

impl Link {
    /// The canonical YouTube URL for the video or playlist, or `url` for anything else.
    /// Tracking parameters and odd host variants are gone, which keeps worker requests tidy.
    pub fn canonical_url(&self) -> String {
        match &self.kind {
            LinkKind::YoutubeVideo { id } => format!("https://www.youtube.com/watch?v={id}"),
            LinkKind::YoutubePlaylist { list } => {
                format!("https://www.youtube.com/playlist?list={list}")
            }
            LinkKind::YoutubeVideoInPlaylist { id, list } => {
                format!("https://www.youtube.com/watch?v={id}&list={list}")
            }
            LinkKind::Other => self.url.clone(),
        }
    }
}

/// Finds the links in `text`, in order of appearance, without duplicates (the same video
/// written two ways counts once), and at most [`MAX_LINKS_PER_MESSAGE`] of them.
pub fn extract_links(text: &str) -> Vec<Link> {
    let mut links: Vec<Link> = Vec::new();
    let mut keys: Vec<String> = Vec::new();
    for candidate in CANDIDATE.find_iter(text) {
        if !starts_at_word_boundary(text, candidate.start()) {
            continue;
        }
        let Some(link) = parse_link(candidate.as_str()) else {
            continue;
        };
        let key = dedup_key(&link);
        if keys.contains(&key) {
            continue;
        }
        keys.push(key);
        links.push(link);
        if links.len() == MAX_LINKS_PER_MESSAGE {
            break;
        }
    }
    links
}

/// The key under which an uploaded file for this link can be cached and found again:
/// `yt:<id>` for a YouTube video (also when opened from a playlist, since that link downloads
/// the video), `yt:list:<list>` for a playlist, and for other links the URL with its fragment
/// and tracking parameters (`utm_*`, `si`, `feature`, ...) removed and scheme/host lower-cased.
/// Callers add their own suffix for the output format (audio vs video).
pub fn normalize_key(link: &Link) -> String {
    match &link.kind {
        LinkKind::YoutubeVideo { id } | LinkKind::YoutubeVideoInPlaylist { id, .. } => {
            format!("yt:{id}")
        }
        LinkKind::YoutubePlaylist { list } => format!("yt:list:{list}"),
        LinkKind::Other => normalize_other_url(&link.url),
    }
}

/// Two links are the same request when their kind and key agree: `watch?v=X` and
/// `youtu.be/X` are one video, but `watch?v=X&list=L` also asks about the playlist.
fn dedup_key(link: &Link) -> String {
    let prefix = match link.kind {
        LinkKind::YoutubeVideo { .. } => "v",
        LinkKind::YoutubePlaylist { .. } => "p",
        LinkKind::YoutubeVideoInPlaylist { .. } => "vp",
        LinkKind::Other => "o",
    };
    match &link.kind {
        LinkKind::YoutubeVideoInPlaylist { id, list } => format!("{prefix}:{id}:{list}"),
        _ => format!("{prefix}:{}", normalize_key(link)),
    }
}

/// A scheme-less match like `notyoutube.com/...` or `example.com/youtube.com/...` must not be
/// taken for a YouTube link: it has to start a word. (`regex` has no look-behind.)
fn starts_at_word_boundary(text: &str, start: usize) -> bool {
    match text[..start].chars().next_back() {
        None => true,
        Some(prev) => !(prev.is_alphanumeric() || matches!(prev, '.' | '/' | '-' | '_' | '@')),
    }
}

/// Turns one regex candidate into a classified link, or `None` when nothing usable is left
/// (e.g. a bare `https://`).
fn parse_link(candidate: &str) -> Option<Link> {
    let trimmed = trim_trailing_punctuation(candidate);
    let url = with_scheme(trimmed);
    let parts = UrlParts::split(&url)?;
    let kind = classify(&parts);
    Some(Link { url, kind })
}

/// Removes sentence punctuation that follows a link. A closing parenthesis is kept when the
/// link itself opened one (`https://en.wikipedia.org/wiki/Foo_(bar)`).
fn trim_trailing_punctuation(candidate: &str) -> &str {
    let mut url = candidate;
    loop {
        let Some(last) = url.chars().next_back() else {
            return url;
        };
        let strip = match last {
            '.' | ',' | '>' | ';' | ':' | '!' | '?' | ']' | '}' => true,
            ')' => url.matches('(').count() < url.matches(')').count(),
            _ => false,
        };
        if !strip {
            return url;
        }
        url = &url[..url.len() - last.len_utf8()];
    }
}

fn with_scheme(url: &str) -> String {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        url.to_owned()
    } else {
        format!("https://{url}")
    }
}

/// The pieces of an absolute http(s) URL that classification needs.
struct UrlParts<'a> {
    /// Lower-cased host without user info or port.
    host: String,
    /// Path including the leading `/` (empty when the URL has none).
    path: &'a str,
    /// Query without the `?`.
    query: &'a str,
}

impl<'a> UrlParts<'a> {
    fn split(url: &'a str) -> Option<Self> {
        let (_, rest) = url.split_once("://")?;
        let rest = rest.split('#').next().unwrap_or_default();
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, after) = rest.split_at(authority_end);
        let (path, query) = after.split_once('?').unwrap_or((after, ""));
        let host_port = authority.rsplit('@').next().unwrap_or_default();
        let host = strip_port(host_port).to_ascii_lowercase();
        if host.is_empty() || !host.chars().any(|c| c.is_alphanumeric()) {
            return None;
        }
        Some(Self { host, path, query })
    }

    fn query_param(&self, name: &str) -> Option<&'a str> {
        self.query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value)
    }
}

fn strip_port(host_port: &str) -> &str {
    if host_port.starts_with('[') {
        // IPv6 literal: the port, if any, follows the closing bracket.
        return host_port
            .find(']')
            .map_or(host_port, |end| &host_port[..=end]);
    }
    host_port.split(':').next().unwrap_or(host_port)
}

fn classify(parts: &UrlParts<'_>) -> LinkKind {
    let host = parts.host.as_str();
    if YOUTU_BE_HOSTS.contains(&host) {
        let id = first_segment(parts.path);
        return video_kind(id, parts.query_param("list"));
    }
    if !YOUTUBE_HOSTS.contains(&host) {
        return LinkKind::Other;
    }
    let path = parts.path.trim_end_matches('/');
    let list = parts.query_param("list");
    if path == "/watch" {
        return video_kind(parts.query_param("v"), list);
    }
    if path == "/playlist" {
        return match list.filter(|l| is_playlist_id(l)) {
            Some(list) => LinkKind::YoutubePlaylist {
                list: list.to_owned(),
            },
            None => LinkKind::Other,
        };
    }
    for prefix in ["/shorts/", "/live/", "/embed/", "/v/"] {
        if let Some(rest) = path.strip_prefix(prefix) {
            return video_kind(first_segment(rest), list);
        }
    }
    LinkKind::Other
}

/// First path segment without leading slashes, e.g. `dQw4w9WgXcQ` from `/dQw4w9WgXcQ/`.
fn first_segment(path: &str) -> Option<&str> {
    path.trim_start_matches('/')
        .split('/')
        .next()
        .filter(|s| !s.is_empty())
}

/// A video link, a video inside a playlist, or `Other` when the id is malformed (a truncated
/// paste must not be sent to yt-dlp as if it were a video).
fn video_kind(id: Option<&str>, list: Option<&str>) -> LinkKind {
    let Some(id) = id.filter(|id| is_video_id(id)) else {
        return LinkKind::Other;
    };
    match list.filter(|l| is_playlist_id(l)) {
        Some(list) => LinkKind::YoutubeVideoInPlaylist {
            id: id.to_owned(),
            list: list.to_owned(),
        },
        None => LinkKind::YoutubeVideo { id: id.to_owned() },
    }
}

fn is_video_id(id: &str) -> bool {
    id.len() == VIDEO_ID_LEN && id.bytes().all(is_id_byte)
}

/// Playlist ids vary in length (`PL...`, `OLAK5uy_...`, `RD...`, `WL`), same alphabet.
fn is_playlist_id(list: &str) -> bool {
    !list.is_empty() && list.bytes().all(is_id_byte)
}

fn is_id_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// `scheme://host` lower-cased, path kept as is, tracking parameters and fragment removed.
fn normalize_other_url(url: &str) -> String {
    let without_fragment = url.split('#').next().unwrap_or(url);
    let (base, query) = without_fragment
        .split_once('?')
        .unwrap_or((without_fragment, ""));
    let mut key = lowercase_scheme_and_host(base);
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| !pair.is_empty() && !is_tracking_param(pair))
        .collect();
    if !kept.is_empty() {
        key.push('?');
        key.push_str(&kept.join("&"));
    }
    key
}

fn lowercase_scheme_and_host(base: &str) -> String {
    let Some((scheme, rest)) = base.split_once("://") else {
        return base.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    format!(
        "{}://{}{}",
        scheme.to_ascii_lowercase(),
        authority.to_ascii_lowercase(),
        path
    )
}

fn is_tracking_param(pair: &str) -> bool {
    let name = pair.split('=').next().unwrap_or(pair);
    let lower = name.to_ascii_lowercase();
    lower.starts_with("utm_") || TRACKING_PARAMS.contains(&lower.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    const RICK: &str = "dQw4w9WgXcQ";
    const LIST: &str = "PLFgquLnL59alCl_2TQvOiD5Vgm1hCaGSI";

    fn video(id: &str) -> LinkKind {
        LinkKind::YoutubeVideo { id: id.into() }
    }
    fn playlist(list: &str) -> LinkKind {
        LinkKind::YoutubePlaylist { list: list.into() }
    }
    fn video_in(id: &str, list: &str) -> LinkKind {
        LinkKind::YoutubeVideoInPlaylist {
            id: id.into(),
            list: list.into(),
        }
    }

    /// Each case: message text, then the (url, kind) pairs expected from it, in order.
    #[test]
    fn recognises_real_world_link_shapes() {
        let watch = format!("https://www.youtube.com/watch?v={RICK}");
        let cases: Vec<(String, Vec<(String, LinkKind)>)> = vec![
            (watch.clone(), vec![(watch.clone(), video(RICK))]),
            (
                format!("youtube.com/watch?v={RICK}"),
                vec![(format!("https://youtube.com/watch?v={RICK}"), video(RICK))],
            ),
            (
                format!("www.youtube.com/watch?v={RICK}"),
                vec![(
                    format!("https://www.youtube.com/watch?v={RICK}"),
                    video(RICK),
                )],
            ),
            (
                format!("http://youtube.com/watch?v={RICK}"),
                vec![(format!("http://youtube.com/watch?v={RICK}"), video(RICK))],
            ),
            (
                format!("https://m.youtube.com/watch?v={RICK}&feature=youtu.be"),
                vec![(
                    format!("https://m.youtube.com/watch?v={RICK}&feature=youtu.be"),
                    video(RICK),
                )],
            ),
            (
                format!("https://music.youtube.com/watch?v={RICK}&feature=share"),
                vec![(
                    format!("https://music.youtube.com/watch?v={RICK}&feature=share"),
                    video(RICK),
                )],
            ),
            (
                format!("https://youtu.be/{RICK}?si=abc"),
                vec![(format!("https://youtu.be/{RICK}?si=abc"), video(RICK))],
            ),
            (
                format!("youtu.be/{RICK}"),
                vec![(format!("https://youtu.be/{RICK}"), video(RICK))],
            ),
            (
                format!("https://youtu.be/{RICK}?list={LIST}"),
                vec![(
                    format!("https://youtu.be/{RICK}?list={LIST}"),
                    video_in(RICK, LIST),
                )],
            ),
            (
                "https://www.youtube.com/shorts/aqz-KE-bpKQ".into(),
                vec![(
                    "https://www.youtube.com/shorts/aqz-KE-bpKQ".into(),
                    video("aqz-KE-bpKQ"),
                )],
            ),
            (
                "https://youtube.com/shorts/aqz-KE-bpKQ?feature=share".into(),
                vec![(
                    "https://youtube.com/shorts/aqz-KE-bpKQ?feature=share".into(),
                    video("aqz-KE-bpKQ"),
                )],
            ),
            (
                "https://www.youtube.com/live/jfKfPfyJRdk?si=x1".into(),
                vec![(
                    "https://www.youtube.com/live/jfKfPfyJRdk?si=x1".into(),
                    video("jfKfPfyJRdk"),
                )],
            ),
            (
                format!("https://www.youtube.com/embed/{RICK}"),
                vec![(format!("https://www.youtube.com/embed/{RICK}"), video(RICK))],
            ),
            (
                format!("https://www.youtube-nocookie.com/embed/{RICK}?start=10"),
                vec![(
                    format!("https://www.youtube-nocookie.com/embed/{RICK}?start=10"),
                    video(RICK),
                )],
            ),
            (
                format!("https://www.youtube.com/playlist?list={LIST}"),
                vec![(
                    format!("https://www.youtube.com/playlist?list={LIST}"),
                    playlist(LIST),
                )],
            ),
            (
                format!("youtube.com/playlist?list={LIST}"),
                vec![(
                    format!("https://youtube.com/playlist?list={LIST}"),
                    playlist(LIST),
                )],
            ),
            (
                format!("https://www.youtube.com/watch?v={RICK}&list={LIST}&index=3"),
                vec![(
                    format!("https://www.youtube.com/watch?v={RICK}&list={LIST}&index=3"),
                    video_in(RICK, LIST),
                )],
            ),
            (
                format!("https://www.youtube.com/watch?feature=share&v={RICK}"),
                vec![(
                    format!("https://www.youtube.com/watch?feature=share&v={RICK}"),
                    video(RICK),
                )],
            ),
            (
                format!("HTTPS://WWW.YouTube.com/watch?v={RICK}"),
                vec![(
                    format!("HTTPS://WWW.YouTube.com/watch?v={RICK}"),
                    video(RICK),
                )],
            ),
            (
                format!("check this out: https://youtu.be/{RICK}."),
                vec![(format!("https://youtu.be/{RICK}"), video(RICK))],
            ),
            (
                format!("(see https://youtu.be/{RICK})"),
                vec![(format!("https://youtu.be/{RICK}"), video(RICK))],
            ),
            (
                format!("<https://youtu.be/{RICK}>, thanks!"),
                vec![(format!("https://youtu.be/{RICK}"), video(RICK))],
            ),
            (
                format!("first youtu.be/{RICK}, then https://example.com/a.mp3."),
                vec![
                    (format!("https://youtu.be/{RICK}"), video(RICK)),
                    ("https://example.com/a.mp3".into(), LinkKind::Other),
                ],
            ),
            (
                "https://example.com/media/song.mp3?token=1".into(),
                vec![(
                    "https://example.com/media/song.mp3?token=1".into(),
                    LinkKind::Other,
                )],
            ),
            (
                "https://en.wikipedia.org/wiki/Foo_(bar)".into(),
                vec![(
                    "https://en.wikipedia.org/wiki/Foo_(bar)".into(),
                    LinkKind::Other,
                )],
            ),
            (
                "http://127.0.0.1:8080/test.mp4".into(),
                vec![("http://127.0.0.1:8080/test.mp4".into(), LinkKind::Other)],
            ),
            (
                "https://www.youtube.com/@RickAstleyYT".into(),
                vec![(
                    "https://www.youtube.com/@RickAstleyYT".into(),
                    LinkKind::Other,
                )],
            ),
            (
                // Truncated id: not a video, but still an http link.
                "https://www.youtube.com/watch?v=dQw4w9WgXc".into(),
                vec![(
                    "https://www.youtube.com/watch?v=dQw4w9WgXc".into(),
                    LinkKind::Other,
                )],
            ),
            (
                // Look-alike hosts are not YouTube.
                format!("https://notyoutube.com/watch?v={RICK}"),
                vec![(
                    format!("https://notyoutube.com/watch?v={RICK}"),
                    LinkKind::Other,
                )],
            ),
            (format!("notyoutube.com/watch?v={RICK}"), vec![]),
            (format!("example.com/youtube.com/watch?v={RICK}"), vec![]),
            ("no links here, just text. e.g. this.".into(), vec![]),
            ("https:// and http://".into(), vec![]),
            (String::new(), vec![]),
        ];
        assert!(cases.len() >= 25);
        for (text, expected) in cases {
            let got: Vec<(String, LinkKind)> = extract_links(&text)
                .into_iter()
                .map(|l| (l.url, l.kind))
                .collect();
            assert_eq!(got, expected, "message: {text:?}");
        }
    }

    #[test]
    fn duplicates_are_removed_across_spellings() {
        let text = format!(
            "https://youtu.be/{RICK} youtube.com/watch?v={RICK}&si=1 \
             https://www.youtube.com/watch?v={RICK}&list={LIST} \
             https://example.com/x?utm_source=tg https://example.com/x#top"
        );
        let kinds: Vec<LinkKind> = extract_links(&text).into_iter().map(|l| l.kind).collect();
        assert_eq!(
            kinds,
            vec![video(RICK), video_in(RICK, LIST), LinkKind::Other]
        );
    }

    #[test]
    fn at_most_five_links_are_returned_in_order() {
        let ids = [
            "aaaaaaaaaaa",
            "bbbbbbbbbbb",
            "ccccccccccc",
            "ddddddddddd",
            "eeeeeeeeeee",
            "fffffffffff",
            "ggggggggggg",
        ];
        let text = ids
            .iter()
            .map(|id| format!("https://youtu.be/{id}"))
            .collect::<Vec<_>>()
            .join("\n");
        let links = extract_links(&text);
        assert_eq!(links.len(), MAX_LINKS_PER_MESSAGE);
        let got: Vec<LinkKind> = links.into_iter().map(|l| l.kind).collect();
        let expected: Vec<LinkKind> = ids[..5].iter().map(|id| video(id)).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn cache_keys_ignore_spelling_and_tracking() {
        let cases: Vec<(&str, &str)> = vec![
            ("https://youtu.be/dQw4w9WgXcQ?si=abc", "yt:dQw4w9WgXcQ"),
            ("youtube.com/watch?v=dQw4w9WgXcQ", "yt:dQw4w9WgXcQ"),
            (
                "https://music.youtube.com/watch?v=dQw4w9WgXcQ&feature=share",
                "yt:dQw4w9WgXcQ",
            ),
            (
                "https://www.youtube.com/watch?v=dQw4w9WgXcQ&list=PLx&index=3",
                "yt:dQw4w9WgXcQ",
            ),
            ("https://www.youtube.com/playlist?list=PLx", "yt:list:PLx"),
            (
                "https://Example.COM/Path/A.mp3?utm_source=tg&utm_medium=x&id=7&si=q#t=10",
                "https://example.com/Path/A.mp3?id=7",
            ),
            (
                "https://example.com/a?fbclid=1&feature=x",
                "https://example.com/a",
            ),
            (
                "https://example.com/a?b=1&c=2",
                "https://example.com/a?b=1&c=2",
            ),
            (
                "http://127.0.0.1:8080/t.mp4#frag",
                "http://127.0.0.1:8080/t.mp4",
            ),
        ];
        for (text, expected) in cases {
            let links = extract_links(text);
            assert_eq!(links.len(), 1, "{text}");
            assert_eq!(normalize_key(&links[0]), expected, "{text}");
        }
    }

    #[test]
    fn canonical_urls_drop_tracking_and_host_variants() {
        let cases: Vec<(&str, &str)> = vec![
            (
                "https://youtu.be/dQw4w9WgXcQ?si=abc",
                "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
            ),
            (
                "https://m.youtube.com/watch?v=dQw4w9WgXcQ&list=PLx&index=2",
                "https://www.youtube.com/watch?v=dQw4w9WgXcQ&list=PLx",
            ),
            (
                "music.youtube.com/playlist?list=OLAK5uy_abc",
                "https://www.youtube.com/playlist?list=OLAK5uy_abc",
            ),
            ("https://example.com/a?x=1", "https://example.com/a?x=1"),
        ];
        for (text, expected) in cases {
            let links = extract_links(text);
            assert_eq!(links.len(), 1, "{text}");
            assert_eq!(links[0].canonical_url(), expected, "{text}");
        }
    }

    #[test]
    fn non_ascii_text_around_links_is_handled() {
        let text = format!(
            "Послушай «https://youtu.be/{RICK}» — “youtu.be/aqz-KE-bpKQ” и 🔥https://пример.рф/путь"
        );
        let got: Vec<(String, LinkKind)> = extract_links(&text)
            .into_iter()
            .map(|l| (l.url, l.kind))
            .collect();
        assert_eq!(
            got,
            vec![
                (format!("https://youtu.be/{RICK}"), video(RICK)),
                ("https://youtu.be/aqz-KE-bpKQ".into(), video("aqz-KE-bpKQ")),
                ("https://пример.рф/путь".into(), LinkKind::Other),
            ]
        );
    }
}
