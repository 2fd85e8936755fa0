//! Egress control (DESIGN.md §3): what yt-dlp may connect to, enforced by a proxy the worker owns.
mod policy;
mod proxy;

pub(crate) use policy::{EgressPolicy, Refusal};
pub use proxy::EgressProxy;

/// The scheme of `url` when it names one that is not http/https (`ftp://…`, `file:/…`), so such
/// a request is refused before yt-dlp starts. A bare `host/path` (yt-dlp assumes http) and
/// yt-dlp's search prefixes (`ytsearch5:…`) are not schemes.
pub(crate) fn forbidden_scheme(url: &str) -> Option<String> {
    let colon = url.find(':')?;
    let scheme = &url[..colon];
    let looks_like_scheme = scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !looks_like_scheme || EgressPolicy::permits_scheme(scheme) {
        return None;
    }
    let authority_follows = url[colon + 1..].starts_with("//");
    let search_prefix = scheme.to_ascii_lowercase().contains("search");
    // `example.com:8080/x` is a host and port, not a scheme.
    let host_and_port = scheme.contains('.') && !authority_follows;
    (authority_follows || !(search_prefix || host_and_port)).then(|| scheme.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::forbidden_scheme;

    #[test]
    fn schemes_other_than_http_are_named() {
        for (url, scheme) in [
            ("ftp://127.0.0.1/a.mp3", "ftp"),
            ("FILE:///etc/passwd", "file"),
            ("file:/etc/passwd", "file"),
            ("gopher://x/", "gopher"),
            ("rtmp://host/live", "rtmp"),
            ("data:text/plain,hi", "data"),
            ("example.com://x", "example.com"),
        ] {
            assert_eq!(forbidden_scheme(url).as_deref(), Some(scheme), "{url}");
        }
        for url in [
            "https://youtu.be/x",
            "HTTP://a/b",
            "example.com/video",
            "example.com:8080/v",
            "ytsearch5:cats",
            "youtu.be/abc",
        ] {
            assert_eq!(forbidden_scheme(url), None, "{url}");
        }
    }
}
