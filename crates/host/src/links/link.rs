//! What a link points at: a YouTube video, a playlist, a video opened from a playlist, or any
//! other URL ([`LinkKind`]), read from the few URL shapes that matter (all ASCII, no URL crate).

/// YouTube video ids are always 11 characters from this alphabet.
const VIDEO_ID_LEN: usize = 11;

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
            LinkKind::YoutubeVideo { id } => youtube_video_url(id),
            LinkKind::YoutubePlaylist { list } => youtube_playlist_url(list),
            LinkKind::YoutubeVideoInPlaylist { id, list } => format!("{}&list={list}", youtube_video_url(id)),
            LinkKind::Other => self.url.clone(),
        }
    }
}

/// The canonical watch page of a YouTube video id.
pub fn youtube_video_url(id: &str) -> String {
    format!("https://www.youtube.com/watch?v={id}")
}

/// The canonical page of a YouTube playlist id.
pub fn youtube_playlist_url(list: &str) -> String {
    format!("https://www.youtube.com/playlist?list={list}")
}

/// What an absolute http(s) URL points at; `None` when it has no usable host.
pub(super) fn classify_url(url: &str) -> Option<LinkKind> {
    UrlParts::split(url).map(|parts| classify(&parts))
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
        return host_port.find(']').map_or(host_port, |end| &host_port[..=end]);
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

#[cfg(test)]
mod tests {
    use crate::links::extract_links;

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
}
