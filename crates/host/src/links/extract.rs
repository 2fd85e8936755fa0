//! Finding the links in a chat message, in every shape users paste them: with or without
//! `https://` and `www.`, from share sheets, inside parentheses or at the end of a sentence.
use std::sync::LazyLock;

use regex::Regex;

use super::link::{classify_url, Link, LinkKind};
use super::media_key::normalize_key;

/// A message with more links than this is most likely spam or a paste of a list; the bot
/// only acts on the first few.
pub const MAX_LINKS_PER_MESSAGE: usize = 5;
/// Candidate links: any `http(s)://` URL, or a YouTube link written without a scheme.
/// Quotes (ASCII and typographic), angle brackets and backticks end a link because people and
/// chat clients wrap links in them.
static CANDIDATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)https?://[^\s<>"'`«»“”‘’„]+|(?:(?:www|m|music)\.)?(?:youtube\.com|youtube-nocookie\.com|youtu\.be)/[^\s<>"'`«»“”‘’„]*"#,
    )
    .expect("static link regex is valid")
});

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
    let kind = classify_url(&url)?;
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
                vec![(format!("https://www.youtube.com/watch?v={RICK}"), video(RICK))],
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
                vec![(format!("HTTPS://WWW.YouTube.com/watch?v={RICK}"), video(RICK))],
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
                vec![("https://en.wikipedia.org/wiki/Foo_(bar)".into(), LinkKind::Other)],
            ),
            (
                "http://127.0.0.1:8080/test.mp4".into(),
                vec![("http://127.0.0.1:8080/test.mp4".into(), LinkKind::Other)],
            ),
            (
                "https://www.youtube.com/@RickAstleyYT".into(),
                vec![("https://www.youtube.com/@RickAstleyYT".into(), LinkKind::Other)],
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
                vec![(format!("https://notyoutube.com/watch?v={RICK}"), LinkKind::Other)],
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
        assert_eq!(kinds, vec![video(RICK), video_in(RICK, LIST), LinkKind::Other]);
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
    fn non_ascii_text_around_links_is_handled() {
        let text =
            format!("Послушай «https://youtu.be/{RICK}» — “youtu.be/aqz-KE-bpKQ” и 🔥https://пример.рф/путь");
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
