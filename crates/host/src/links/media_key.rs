//! The key that identifies the media behind a link (`yt:<id>`, `yt:list:<list>`, or a cleaned
//! URL), so the same video shared twice, in any spelling, maps to the same upload.
use super::link::{Link, LinkKind};

/// Query parameters that only say where a click came from. They are dropped from cache keys so
/// the same page shared twice maps to the same upload.
const TRACKING_PARAMS: &[&str] = &[
    "si", "feature", "fbclid", "gclid", "dclid", "yclid", "igshid", "mc_cid", "mc_eid", "ref_src",
];

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
/// `scheme://host` lower-cased, path kept as is, tracking parameters and fragment removed.
fn normalize_other_url(url: &str) -> String {
    let without_fragment = url.split('#').next().unwrap_or(url);
    let (base, query) = without_fragment.split_once('?').unwrap_or((without_fragment, ""));
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
    use crate::links::extract_links;

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
            ("https://example.com/a?b=1&c=2", "https://example.com/a?b=1&c=2"),
            ("http://127.0.0.1:8080/t.mp4#frag", "http://127.0.0.1:8080/t.mp4"),
        ];
        for (text, expected) in cases {
            let links = extract_links(text);
            assert_eq!(links.len(), 1, "{text}");
            assert_eq!(normalize_key(&links[0]), expected, "{text}");
        }
    }
}
