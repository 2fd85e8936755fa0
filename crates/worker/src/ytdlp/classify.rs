//! What went wrong, judged from yt-dlp's `ERROR:` (and `WARNING:`) text.
//!
//! yt-dlp reports failures only as text, so this is a table of phrases taken from real yt-dlp
//! messages (see the tests). The order of the checks matters and is part of the contract:
//! YouTube's session rate limit reads "Video unavailable. This content isn't available, try again
//! later. The current session has been rate-limited…", so rate limiting is checked before
//! "unavailable"; "Sign in to confirm your age" before the bot check's "Sign in to confirm you're
//! not a bot"; content problems (private, removed, no format) before transport problems, because a
//! message like "Unable to download webpage: HTTP Error 404" is about the content, not the network.

/// The cause of a failed yt-dlp run, as far as its messages tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum YtdlpErrorKind {
    /// Private or members-only video.
    Private,
    /// "Sign in to confirm your age": reported to hosts as `VIDEO_PRIVATE` (cookies may help).
    AgeRestricted,
    /// Unavailable, removed, account terminated, HTTP 404.
    Removed,
    /// "Sign in to confirm you're not a bot".
    BotDetection,
    /// "Requested format is not available".
    NoSuitableFormat,
    /// HTTP 429 or YouTube's session rate limit.
    RateLimited,
    /// Timeouts, resets, refused connections, DNS failures, HTTP 5xx.
    NetworkTimeout,
    /// "Unsupported URL" or "is not a valid URL".
    UnsupportedUrl,
    /// "No space left on device".
    DiskFull,
    /// The run failed and yt-dlp had warned that it has no JavaScript runtime (or skipped the
    /// `yt-dlp-ejs` solver scripts): YouTube formats go missing without them. Reported as
    /// `NO_SUITABLE_FORMAT` with a message telling the operator what to install.
    NoJsRuntime,
    Other,
}

impl YtdlpErrorKind {
    /// Whether running yt-dlp again may succeed: only network trouble, HTTP 5xx and 429 are
    /// retried; private, removed, format and URL errors would fail the same way again.
    pub fn is_transient(&self) -> bool {
        matches!(self, YtdlpErrorKind::NetworkTimeout | YtdlpErrorKind::RateLimited)
    }
}

/// Classifies a failed run from its stderr lines (with or without the `ERROR: ` prefix).
///
/// `ERROR:` lines decide, the first one with a recognised cause winning; only when none is
/// recognised do the other lines (warnings about retries, for instance) get a say.
pub fn classify(error_lines: &[String]) -> YtdlpErrorKind {
    let is_error = |line: &&String| line.trim_start().starts_with("ERROR:");
    let from_errors = error_lines.iter().filter(is_error).map(|l| classify_message(l));
    let from_others = error_lines
        .iter()
        .filter(|l| !is_error(l))
        .map(|l| classify_message(l));
    from_errors
        .chain(from_others)
        .find(|kind| *kind != YtdlpErrorKind::Other)
        .unwrap_or(YtdlpErrorKind::Other)
}

/// yt-dlp's warnings that YouTube's JavaScript challenges cannot be solved here: no runtime
/// (`No supported JavaScript runtime could be found. Only deno is enabled by default; …`), or
/// runtime without the solver scripts (`Remote component ejs:… was skipped. …`).
const JS_WARNINGS: [&str; 2] = [
    "no supported javascript runtime could be found",
    "may be required to solve js challenges",
];

/// Whether a `WARNING:` line can explain why a run failed (so the driver keeps it).
pub(crate) fn explains_failure(warning: &str) -> bool {
    let text = normalise(warning);
    JS_WARNINGS.iter().any(|phrase| text.contains(phrase))
}

/// Refines what the ERROR lines said with the warnings kept by [`explains_failure`]: a missing
/// format (or an unrecognised failure) after yt-dlp warned of having no JavaScript runtime is
/// that missing runtime. A cause the errors name clearly (a bot check, a private video) stays.
pub(crate) fn with_warnings(kind: YtdlpErrorKind, warnings: &[String]) -> YtdlpErrorKind {
    let js_missing = warnings.iter().any(|w| explains_failure(w));
    match kind {
        YtdlpErrorKind::NoSuitableFormat | YtdlpErrorKind::Other if js_missing => YtdlpErrorKind::NoJsRuntime,
        kind => kind,
    }
}

/// What the operator of the worker should do, for the causes they can fix; `None` otherwise.
pub(crate) fn operator_hint(kind: YtdlpErrorKind) -> Option<&'static str> {
    match kind {
        YtdlpErrorKind::BotDetection => Some(
            "YouTube asks to sign in to confirm this is not a bot: give yt-dlp the cookies of a signed-in \
             account (a cookies.txt at YOUTUBE_COOKIE_FILE, or /cookies to the bot)",
        ),
        YtdlpErrorKind::NoJsRuntime => Some(
            "yt-dlp has no JavaScript runtime (or no yt-dlp-ejs), so YouTube formats are missing: install one \
             with scripts/setup.sh or `hermes update-ytdlp` (/update in the bot), or set DENO_BIN / NODE_BIN",
        ),
        _ => None,
    }
}

/// The `error` message of a failed run: the operator's hint first when there is one, then what
/// yt-dlp said.
pub(crate) fn operator_message(kind: YtdlpErrorKind, ytdlp_message: String) -> String {
    match operator_hint(kind) {
        Some(hint) if ytdlp_message.is_empty() => hint.to_owned(),
        Some(hint) => format!("{hint} (yt-dlp: {ytdlp_message})"),
        None => ytdlp_message,
    }
}

/// Classifies one message. See the module docs for why the checks run in this order.
pub(crate) fn classify_message(message: &str) -> YtdlpErrorKind {
    let text = normalise(message);
    let has = |phrases: &[&str]| phrases.iter().any(|p| text.contains(p));

    if has(&[
        "http error 429",
        "too many requests",
        "rate-limited",
        "rate limited",
    ]) {
        YtdlpErrorKind::RateLimited
    } else if has(&[
        "confirm your age",
        "age-restricted",
        "age restricted",
        "inappropriate for some users",
    ]) {
        YtdlpErrorKind::AgeRestricted
    } else if has(&["not a bot", "sign in to confirm you're"]) {
        YtdlpErrorKind::BotDetection
    } else if has(&[
        "private video",
        "video is private",
        "members-only",
        "join this channel",
        "available to this channel's members",
    ]) {
        YtdlpErrorKind::Private
    } else if has(&[
        "requested format is not available",
        "no video formats found",
        "requested format not available",
    ]) {
        YtdlpErrorKind::NoSuitableFormat
    } else if has(&["unsupported url", "is not a valid url"]) {
        YtdlpErrorKind::UnsupportedUrl
    } else if has(&[
        "no space left on device",
        "disk quota exceeded",
        "aria2c exited with code 9",
    ]) {
        // aria2c's exit status 9 is "not enough disk space" (EXTERNAL_DOWNLOADER).
        YtdlpErrorKind::DiskFull
    } else if has(&[
        "video unavailable",
        "http error 404",
        "has been removed",
        "has been terminated",
        "no longer available",
        "video is not available",
        "video does not exist",
    ]) {
        YtdlpErrorKind::Removed
    } else if is_network_trouble(&text) {
        YtdlpErrorKind::NetworkTimeout
    } else {
        YtdlpErrorKind::Other
    }
}

/// Below this much free space, a failed conversion is taken for a full disk.
const NEARLY_FULL_BYTES: u64 = 1024 * 1024;

/// yt-dlp reports an ffmpeg that ran out of space only as ffmpeg's last line, `Postprocessing:
/// Conversion failed!` (ffmpeg's "No space left on device" lines reach yt-dlp's output only with
/// `--verbose`). So when a run failed for no recognised reason while post-processing, the free
/// space where it was writing decides: (almost) none left → [`YtdlpErrorKind::DiskFull`], with
/// a message naming the directory. Checked before the run's partial files are removed.
pub(crate) fn with_disk_space(
    kind: YtdlpErrorKind,
    message: String,
    written: &[std::path::PathBuf],
) -> (YtdlpErrorKind, String) {
    let text = normalise(&message);
    let converting = [
        "conversion failed",
        "postprocessing",
        "error writing trailer",
        "error muxing",
    ]
    .iter()
    .any(|p| text.contains(p));
    if kind != YtdlpErrorKind::Other || !converting {
        return (kind, message);
    }
    let Some(dir) = written
        .iter()
        .rev()
        .filter_map(|p| p.parent())
        .find(|d| d.is_dir())
    else {
        return (kind, message);
    };
    // The casts are not no-ops everywhere: fsblkcnt_t and c_ulong are 32 bits on some targets.
    #[allow(clippy::unnecessary_cast)]
    let free_bytes = |stats: &nix::sys::statvfs::Statvfs| {
        (stats.blocks_available() as u64).saturating_mul(stats.fragment_size() as u64)
    };
    match nix::sys::statvfs::statvfs(dir) {
        Ok(stats) if free_bytes(&stats) < NEARLY_FULL_BYTES => (
            YtdlpErrorKind::DiskFull,
            format!("no space left on device in {} ({message})", dir.display()),
        ),
        _ => (kind, message),
    }
}

/// The human message of a failed run, from raw stderr lines or from messages already stripped of
/// their `ERROR: ` prefix (as [`super::line::LineEvent::Error`] carries them):
///
/// 1. the first `ERROR:` line;
/// 2. else, after a Python crash (`Traceback …`), the last line: the exception;
/// 3. else an option-parser complaint (`yt-dlp: error: …`);
/// 4. else the first non-empty line that is not a `WARNING:` or the `Usage:` banner (the first
///    of already-stripped messages).
///
/// The `[extractor] id: ` in front and the Python exception detail behind (`(caused by …)`,
/// `; please report this issue …`) are cut off. Empty only when no line qualifies.
pub fn first_error_message(lines: &[String]) -> String {
    let trimmed = || lines.iter().map(|l| l.trim()).filter(|l| !l.is_empty());
    let raw = trimmed()
        .find_map(|l| l.strip_prefix("ERROR:"))
        .or_else(|| {
            let crashed = trimmed().any(|l| l.starts_with("Traceback"));
            crashed.then(|| trimmed().next_back()).flatten()
        })
        .or_else(|| trimmed().find(|l| l.contains(": error: ")))
        .or_else(|| trimmed().find(|l| !l.starts_with("WARNING:") && !l.starts_with("Usage:")))
        .unwrap_or("");
    human_message(raw)
}

fn human_message(raw: &str) -> String {
    let mut message = strip_extractor_prefix(raw.trim());
    for tail in [" (caused by ", "; please report this issue"] {
        if let Some(at) = message.find(tail) {
            message = &message[..at];
        }
    }
    message.trim().to_string()
}

/// `[youtube] dQw4w9WgXcQ: Video unavailable` → `Video unavailable`. The id is only dropped when
/// it is one token (no spaces), so a message that merely contains `: ` keeps its text.
fn strip_extractor_prefix(message: &str) -> &str {
    let Some(after_tag) = message
        .strip_prefix('[')
        .and_then(|m| m.split_once("] "))
        .map(|(_, r)| r)
    else {
        return message;
    };
    match after_tag.split_once(": ") {
        Some((id, rest)) if !id.is_empty() && !id.contains(char::is_whitespace) && !rest.is_empty() => rest,
        _ => after_tag,
    }
}

/// Lower case, typographic apostrophes made plain (YouTube writes "you’re").
fn normalise(message: &str) -> String {
    message.to_lowercase().replace(['\u{2019}', '\u{2018}'], "'")
}

fn is_network_trouble(text: &str) -> bool {
    const PHRASES: [&str; 16] = [
        "timed out",
        "timeout",
        "connection reset",
        "connection refused",
        "connection aborted",
        "remote end closed connection",
        "temporary failure in name resolution",
        "name or service not known",
        "failed to resolve",
        "network is unreachable",
        "no route to host",
        "errno 104",
        "errno 111",
        "incompleteread",
        "unable to connect to proxy",
        "eof occurred in violation of protocol",
    ];
    PHRASES.iter().any(|p| text.contains(p)) || has_http_5xx(text)
}

/// `http error 500` … `http error 599`.
fn has_http_5xx(text: &str) -> bool {
    text.match_indices("http error 5").any(|(at, needle)| {
        let digits = &text.as_bytes()[at + needle.len()..];
        digits.len() >= 2
            && digits[0].is_ascii_digit()
            && digits[1].is_ascii_digit()
            && digits.get(2).is_none_or(|b| !b.is_ascii_digit())
    })
}

#[cfg(test)]
mod tests {
    use super::YtdlpErrorKind::*;
    use super::*;

    /// Real yt-dlp error lines (from yt-dlp's issue tracker and from runs against the loopback
    /// server of the fixtures), with the cause each must map to.
    const REAL_ERRORS: &[(&str, YtdlpErrorKind)] = &[
        ("ERROR: [youtube] M7mKMWjAxG8: Private video. Sign in if you've been granted access to this video", Private),
        ("ERROR: [youtube] lwUI5-fWv4U: Join this channel to get access to members-only content like this video, and other exclusive perks.", Private),
        ("ERROR: [youtube] dQw4w9WgXcQ: Video unavailable", Removed),
        ("ERROR: [youtube] dQw4w9WgXcQ: Video unavailable. This video has been removed by the uploader", Removed),
        ("ERROR: [youtube] QJO3ROT-A4E: Video unavailable. This video is no longer available because the YouTube account associated with this video has been terminated.", Removed),
        ("ERROR: unable to download video data: HTTP Error 404: Not Found", Removed),
        ("ERROR: [generic] missing: Unable to download webpage: HTTP Error 404: File not found (caused by <HTTPError 404: File not found>)", Removed),
        ("ERROR: [youtube] tpUr8xVxj-w: Sign in to confirm you\u{2019}re not a bot. Use --cookies-from-browser or --cookies for the authentication. See  https://github.com/yt-dlp/yt-dlp/wiki/FAQ#how-do-i-pass-cookies-to-yt-dlp  for how to manually pass cookies. Also see  https://github.com/yt-dlp/yt-dlp/wiki/Extractors#exporting-youtube-cookies  for tips on effectively exporting YouTube cookies", BotDetection),
        ("ERROR: [youtube] oPGVGckn7kQ: Sign in to confirm you're not a bot. This helps protect our community. Learn more", BotDetection),
        ("ERROR: [youtube] M3GgCZFVBIo: Sign in to confirm your age. This video may be inappropriate for some users.", AgeRestricted),
        ("ERROR: [youtube] B2HMdtND4ws: Requested format is not available. Use --list-formats for a list of available formats", NoSuitableFormat),
        ("ERROR: [generic] tone: Requested format is not available. Use --list-formats for a list of available formats", NoSuitableFormat),
        ("ERROR: unable to download video data: HTTP Error 429: Too Many Requests", RateLimited),
        ("ERROR: [youtube] abc: Unable to download webpage: HTTP Error 429: Too Many Requests (caused by <HTTPError 429: Too Many Requests>)", RateLimited),
        ("ERROR: [youtube] SOWBtuuCDig: Video unavailable. This content isn't available, try again later. The current session has been rate-limited by YouTube for up to an hour. It is recommended to use `-t sleep` to add a delay between video requests to avoid exceeding the rate limit.", RateLimited),
        ("ERROR: Unsupported URL: http://127.0.0.1:18765/page.html", UnsupportedUrl),
        ("ERROR: [generic] '-http://x' is not a valid URL", UnsupportedUrl),
        ("ERROR: Unable to download webpage: The read operation timed out (caused by timeout('The read operation timed out'))", NetworkTimeout),
        ("ERROR: Unable to download webpage: <urlopen error [Errno 110] Connection timed out> (caused by URLError(error(110, 'Connection timed out'),))", NetworkTimeout),
        ("ERROR: Unable to download webpage: [Errno 104] Connection reset by peer", NetworkTimeout),
        ("ERROR: [generic] Unable to download webpage: <urlopen error [Errno -3] Temporary failure in name resolution>", NetworkTimeout),
        ("ERROR: query \"rick\" page 1: Unable to download API page: HTTPSConnection(host='www.youtube.com', port=443): Failed to resolve 'www.youtube.com' ([Errno -2] Name or service not known)", NetworkTimeout),
        ("ERROR: unable to download video data: HTTP Error 503: Service Unavailable", NetworkTimeout),
        ("ERROR: unable to download video data: HTTP Error 502: Bad Gateway", NetworkTimeout),
        ("ERROR: Unable to rename file: [Errno 28] No space left on device", DiskFull),
        ("ERROR: aria2c exited with code 9", DiskFull),
        ("ERROR: unable to download video data: HTTP Error 403: Forbidden", Other),
        ("ERROR: [youtube] x: This live event will begin in a few moments.", Other),
        ("yt-dlp: error: audio quality \"-3\" must be positive or 0", Other),
    ];

    #[test]
    fn real_error_lines_are_classified() {
        for (line, expected) in REAL_ERRORS {
            assert_eq!(classify(&[line.to_string()]), *expected, "{line}");
            assert_eq!(classify_message(line), *expected, "{line}");
        }
    }

    #[test]
    fn only_network_and_rate_limits_are_transient() {
        for (line, kind) in REAL_ERRORS {
            let transient = matches!(kind, NetworkTimeout | RateLimited);
            assert_eq!(kind.is_transient(), transient, "{line}");
        }
    }

    #[test]
    fn error_lines_outrank_warnings() {
        let lines = vec![
            "WARNING: [youtube] Unable to download API page: HTTP Error 503: Service Unavailable".to_string(),
            "ERROR: [youtube] x: Private video. Sign in if you've been granted access to this video"
                .to_string(),
        ];
        assert_eq!(classify(&lines), Private);
    }

    #[test]
    fn warnings_decide_when_the_error_is_unrecognised() {
        let lines = vec![
            "WARNING: [youtube] HTTPSConnection(host='www.youtube.com', port=443): Read timed out. Retrying (1/3)...".to_string(),
            "ERROR: something nobody has seen before".to_string(),
        ];
        assert_eq!(classify(&lines), NetworkTimeout);
        assert_eq!(classify(&[]), Other);
    }

    #[test]
    fn http_5xx_detection_is_exact() {
        assert!(has_http_5xx("http error 500: internal server error"));
        assert!(has_http_5xx("got http error 504"));
        assert!(!has_http_5xx("http error 5"));
        assert!(!has_http_5xx("http error 5000"));
        assert!(!has_http_5xx("http error 404"));
    }

    #[test]
    fn first_error_message_is_the_human_part() {
        let lines: Vec<String> = [
            "WARNING: [generic] Falling back on generic information extractor",
            "ERROR: [generic] missing: Unable to download webpage: HTTP Error 404: File not found (caused by <HTTPError 404: File not found>)",
            "ERROR: second error",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            first_error_message(&lines),
            "Unable to download webpage: HTTP Error 404: File not found"
        );

        let cases = [
            ("ERROR: [youtube] dQw4w9WgXcQ: Video unavailable", "Video unavailable"),
            ("ERROR: Unsupported URL: http://127.0.0.1:1/page.html", "Unsupported URL: http://127.0.0.1:1/page.html"),
            ("ERROR: [generic] '-http://x' is not a valid URL", "'-http://x' is not a valid URL"),
            ("  ERROR:   spaced  ", "spaced"),
            ("ERROR: Unable to download webpage: HTTP Error 429: Too Many Requests (caused by HTTPError()); please report this issue on https://yt-dl.org/bug", "Unable to download webpage: HTTP Error 429: Too Many Requests"),
        ];
        for (line, expected) in cases {
            assert_eq!(first_error_message(&[line.to_string()]), expected, "{line}");
        }
    }

    #[test]
    fn first_error_message_without_error_lines() {
        let usage: Vec<String> = [
            "Usage: yt-dlp [OPTIONS] URL [URL...]",
            "",
            "yt-dlp: error: audio quality \"-3\" must be positive or 0",
            "",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            first_error_message(&usage),
            "yt-dlp: error: audio quality \"-3\" must be positive or 0"
        );
        assert_eq!(first_error_message(&[]), "");
        assert_eq!(first_error_message(&["  ".to_string()]), "");
        assert_eq!(first_error_message(&["WARNING: only a warning".to_string()]), "");

        let crash: Vec<String> = [
            "Traceback (most recent call last):",
            "  File \"/usr/lib/python3/yt_dlp/__main__.py\", line 17, in <module>",
            "ModuleNotFoundError: No module named 'yt_dlp.compat'",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            first_error_message(&crash),
            "ModuleNotFoundError: No module named 'yt_dlp.compat'"
        );
    }

    #[test]
    fn first_error_message_of_already_stripped_messages() {
        let messages: Vec<String> = [
            "[generic] tone-2: Unable to download webpage: HTTP Error 404: File not found (caused by <HTTPError 404: File not found>)",
            "[generic] tone-4: Unsupported URL: http://x/",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            first_error_message(&messages),
            "Unable to download webpage: HTTP Error 404: File not found"
        );
        assert_eq!(classify(&messages), Removed);
    }

    #[test]
    fn a_missing_js_runtime_explains_a_missing_format_and_says_what_to_install() {
        let warning = "[youtube] No supported JavaScript runtime could be found. Only deno is enabled by default; to use another runtime add  --js-runtimes RUNTIME[:PATH]  to your command/config. YouTube extraction without a JS runtime has been deprecated, and some formats may be missing. See  https://github.com/yt-dlp/yt-dlp/wiki/EJS  for details on installing one";
        let skipped = "[youtube] Remote component challenge solver script (deno) was skipped. It may be required to solve JS challenges. You can enable the download with --remote-components ejs:github. For more information and alternatives, refer to  https://github.com/yt-dlp/yt-dlp/wiki/EJS";
        assert!(explains_failure(warning) && explains_failure(skipped));
        assert!(!explains_failure(
            "[generic] Falling back on generic information extractor"
        ));
        let errors = vec!["ERROR: [youtube] B2HMdtND4ws: Requested format is not available. Use --list-formats for a list of available formats".to_owned()];
        let kind = with_warnings(classify(&errors), &[warning.to_owned()]);
        assert_eq!(kind, NoJsRuntime);
        assert_eq!(
            with_warnings(classify(&errors), &[]),
            NoSuitableFormat,
            "without the warning it is a format problem"
        );
        let bot = vec!["ERROR: [youtube] x: Sign in to confirm you\u{2019}re not a bot.".to_owned()];
        assert_eq!(
            with_warnings(classify(&bot), &[skipped.to_owned()]),
            BotDetection,
            "a clear cause stays"
        );
        let message = operator_message(kind, first_error_message(&errors));
        assert!(
            message.contains("JavaScript runtime") && message.contains("hermes update-ytdlp"),
            "{message}"
        );
        assert!(message.contains("Requested format is not available"), "{message}");
    }

    #[test]
    fn a_bot_check_tells_the_operator_to_give_cookies() {
        let errors = vec!["ERROR: [youtube] tpUr8xVxj-w: Sign in to confirm you\u{2019}re not a bot. Use --cookies-from-browser or --cookies for the authentication.".to_owned()];
        let kind = classify(&errors);
        let message = operator_message(kind, first_error_message(&errors));
        assert!(
            message.contains("cookies")
                && message.contains("YOUTUBE_COOKIE_FILE")
                && message.contains("/cookies"),
            "{message}"
        );
        assert_eq!(
            operator_message(Removed, "Video unavailable".into()),
            "Video unavailable"
        );
    }
}
