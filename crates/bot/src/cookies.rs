//! `/cookies`: the admin gives yt-dlp a YouTube session without logging into the server.
//!
//! A `cookies.txt` sent as a document with the caption `/cookies` is checked (Netscape cookie
//! format, at least one cookie, at most [`MAX_BYTES`]), then written to `YOUTUBE_COOKIE_FILE`
//! atomically (a temporary file in the same directory, mode 0600, renamed over the old one), so
//! a download starting meanwhile copies either the old jar or the new one, never half a file.
//! `/cookies` alone shows the state: present, age, cookies per domain. Cookie values are secrets:
//! nothing here ever shows or logs one.
use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::SystemTime;

use thiserror::Error;

/// A cookie export of a browser profile is a few KB; a file much larger is not a cookie file.
pub(crate) const MAX_BYTES: u64 = 1024 * 1024;

/// What a cookie file holds, values left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct JarSummary {
    pub(crate) cookies: usize,
    /// Cookie count per domain (without the leading dot).
    pub(crate) per_domain: BTreeMap<String, usize>,
    /// Cookies whose expiry is in the past (session cookies, expiry 0, never count).
    pub(crate) expired: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub(crate) enum CookieFileError {
    #[error("the file is {0} bytes; a cookies.txt is at most {MAX_BYTES} bytes")]
    TooLarge(u64),
    #[error("the file is not text")]
    NotText,
    #[error("this is JSON; export the cookies in the Netscape format (cookies.txt) instead")]
    Json,
    #[error("line {line} is not a Netscape cookie line ({why})")]
    BadLine { line: usize, why: &'static str },
    #[error("the file holds no cookie")]
    Empty,
}

/// Checks a cookie file the way yt-dlp reads it: comments (`#`, except the `#HttpOnly_` prefix
/// of a cookie line) and blank lines are skipped; every other line has seven tab-separated
/// fields (domain, subdomains flag, path, secure flag, expiry, name, value) with a numeric expiry.
pub(crate) fn check(bytes: &[u8], now: SystemTime) -> Result<JarSummary, CookieFileError> {
    if bytes.len() as u64 > MAX_BYTES {
        return Err(CookieFileError::TooLarge(bytes.len() as u64));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| CookieFileError::NotText)?;
    if text.trim_start().starts_with(['[', '{']) {
        return Err(CookieFileError::Json);
    }
    let now = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut summary = JarSummary::default();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.strip_prefix("#HttpOnly_").unwrap_or(raw);
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let bad = |why| CookieFileError::BadLine { line: index + 1, why };
        let fields: Vec<&str> = line.trim_end_matches('\r').split('\t').collect();
        if fields.len() != 7 {
            return Err(bad("expected 7 tab-separated fields"));
        }
        let domain = fields[0].trim_start_matches('.');
        if domain.is_empty() || fields[5].is_empty() {
            return Err(bad("no domain or no name"));
        }
        if !["TRUE", "FALSE"].contains(&fields[1]) || !["TRUE", "FALSE"].contains(&fields[3]) {
            return Err(bad("the flags must be TRUE or FALSE"));
        }
        let expiry = if fields[4].is_empty() {
            0
        } else {
            let number: f64 = fields[4].parse().map_err(|_| bad("the expiry is not a number"))?;
            number as u64
        };
        summary.cookies += 1;
        *summary.per_domain.entry(domain.to_ascii_lowercase()).or_default() += 1;
        if expiry != 0 && expiry < now {
            summary.expired += 1;
        }
    }
    if summary.cookies == 0 {
        return Err(CookieFileError::Empty);
    }
    Ok(summary)
}

/// Writes `bytes` to `path` with mode 0600: a temporary file beside it, flushed to disk, then
/// renamed over `path`.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "cookies.txt".to_owned());
    let temporary = dir.join(format!(".{name}.new-{}", std::process::id()));
    let _ = std::fs::remove_file(&temporary);
    let written = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

/// `/cookies` alone: what is at `path` now.
pub(crate) fn state_text(path: &Path, now: SystemTime) -> String {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(_) => {
            return format!(
                "🍪 No cookie file at {}.\nTo give me a YouTube session, export the cookies of a signed-in \
                 browser profile as cookies.txt (Netscape format) and send the file here with the caption /cookies.",
                path.display()
            )
        }
    };
    let age = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|modified| now.duration_since(modified).ok())
        .map_or_else(
            || "unknown age".to_owned(),
            |age| format!("{} old", human_age(age.as_secs())),
        );
    match check(&bytes, now) {
        Ok(summary) => format!(
            "🍪 Cookie file {} ({age}):\n{}",
            path.display(),
            summary_text(&summary)
        ),
        Err(error) => format!(
            "🍪 The cookie file {} ({age}) is not usable: {error}",
            path.display()
        ),
    }
}

/// `42 cookies: youtube.com 30, google.com 12 (3 expired)`.
pub(crate) fn summary_text(summary: &JarSummary) -> String {
    let domains: Vec<String> = summary
        .per_domain
        .iter()
        .map(|(domain, count)| format!("{domain} {count}"))
        .collect();
    let mut text = format!("{} cookies: {}", summary.cookies, domains.join(", "));
    if summary.expired > 0 {
        text.push_str(&format!(" ({} expired)", summary.expired));
    }
    text
}

fn human_age(secs: u64) -> String {
    match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 2 * 3600 => format!("{} min", s / 60),
        s if s < 2 * 86400 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const NOW: u64 = 1_800_000_000;

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(NOW)
    }

    const JAR: &str = "# Netscape HTTP Cookie File\n\
        # This is a generated file! Do not edit.\n\
        \n\
        .youtube.com\tTRUE\t/\tTRUE\t1900000000\tSID\tsecret-1\n\
        #HttpOnly_.youtube.com\tTRUE\t/\tTRUE\t1900000000\t__Secure-3PSID\tsecret-2\n\
        .google.com\tTRUE\t/\tFALSE\t1700000000\tNID\tsecret-3\n\
        www.youtube.com\tFALSE\t/\tFALSE\t0\tPREF\tsecret-4\n";

    #[test]
    fn a_netscape_jar_is_counted_per_domain_without_values() {
        let summary = check(JAR.as_bytes(), now()).expect("valid");
        assert_eq!(summary.cookies, 4);
        assert_eq!(summary.per_domain.get("youtube.com"), Some(&2));
        assert_eq!(summary.per_domain.get("www.youtube.com"), Some(&1));
        assert_eq!(summary.per_domain.get("google.com"), Some(&1));
        assert_eq!(summary.expired, 1);
        let text = summary_text(&summary);
        assert!(!text.contains("secret"), "{text}");
        assert_eq!(
            text,
            "4 cookies: google.com 1, www.youtube.com 1, youtube.com 2 (1 expired)"
        );
    }

    #[test]
    fn other_files_are_refused_with_a_reason() {
        assert_eq!(check(b"[{\"name\": \"SID\"}]", now()), Err(CookieFileError::Json));
        assert_eq!(
            check(b"# Netscape HTTP Cookie File\n\n", now()),
            Err(CookieFileError::Empty)
        );
        assert_eq!(
            check(b"SID=abc; HSID=def\n", now()),
            Err(CookieFileError::BadLine {
                line: 1,
                why: "expected 7 tab-separated fields"
            })
        );
        assert!(matches!(
            check(b".y.com\tTRUE\t/\tTRUE\tsoon\tSID\tv\n", now()),
            Err(CookieFileError::BadLine { line: 1, .. })
        ));
        assert_eq!(check(&[0xff, 0xfe, 0x00], now()), Err(CookieFileError::NotText));
        let big = vec![b'#'; MAX_BYTES as usize + 1];
        assert_eq!(check(&big, now()), Err(CookieFileError::TooLarge(MAX_BYTES + 1)));
    }

    #[test]
    fn the_file_is_replaced_atomically_with_mode_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("cookies.txt");
        std::fs::write(&path, "old").expect("old file");
        write_atomically(&path, JAR.as_bytes()).expect("written");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), JAR);
        assert_eq!(
            std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            std::fs::read_dir(dir.path()).expect("dir").count(),
            1,
            "no temporary file left"
        );
        let state = state_text(&path, SystemTime::now());
        assert!(
            state.contains("4 cookies") && state.contains("youtube.com 2") && !state.contains("secret"),
            "{state}"
        );
        assert!(state_text(&dir.path().join("none.txt"), SystemTime::now()).contains("No cookie file"));
    }
}
