//! Checks of request values that several actions share (the URL, `audio_quality`), made while a
//! command is parsed, before it takes a slot.
use crate::error::WorkerError;
use hermes_protocol::Request;

/// Longest URL accepted; longer input is not a link anyone pasted.
const MAX_URL_CHARS: usize = 4096;

/// yt-dlp's `--audio-quality`: `0` (best) to `10` (worst) for VBR, or a bitrate such as `128K`.
/// Anything else would reach yt-dlp's argv as an unchecked value.
pub(crate) fn validate_audio_quality(quality: &str) -> Result<(), WorkerError> {
    let quality = quality.trim();
    let vbr = quality.parse::<u8>().is_ok_and(|q| q <= 10) && quality.len() <= 2;
    let bitrate = quality.strip_suffix(['k', 'K']).is_some_and(|kbps| {
        (1..=4).contains(&kbps.len())
            && kbps.chars().all(|c| c.is_ascii_digit())
            && kbps.parse::<u32>().is_ok_and(|k| k > 0)
    });
    if vbr || bitrate {
        Ok(())
    } else {
        Err(WorkerError::InvalidRequest(format!(
            "audio_quality {quality:?} is not valid: use 0 (best) to 10 (worst), or a bitrate such as 128K"
        )))
    }
}

/// The request's `url`, checked just enough to refuse what cannot be a link (empty, control
/// characters, whitespace inside, absurd length). Anything else goes to yt-dlp — always after
/// `--`, so even a "URL" like `--exec=...` is only ever a URL — and yt-dlp decides whether it
/// supports it.
pub(crate) fn required_url(request: &Request) -> Result<String, WorkerError> {
    let url = request.url.as_deref().map(str::trim).unwrap_or_default();
    if url.is_empty() {
        return Err(WorkerError::InvalidRequest(format!(
            "{} needs a `url`",
            request.action
        )));
    }
    if url.chars().count() > MAX_URL_CHARS || url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(WorkerError::InvalidUrl(
            "not a URL (whitespace, control characters or too long)".to_owned(),
        ));
    }
    if let Some(scheme) = crate::egress::forbidden_scheme(url) {
        return Err(WorkerError::UrlNotAllowed(format!(
            "{scheme}: URLs are not allowed; only http and https links are"
        )));
    }
    Ok(url.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_quality_is_a_vbr_level_or_a_bitrate() {
        for ok in ["0", "5", "10", "128K", "320k", " 2 "] {
            assert!(validate_audio_quality(ok).is_ok(), "{ok}");
        }
        for bad in [
            "11",
            "-1",
            "K",
            "0K",
            "12345K",
            "128M",
            "best",
            "--exec=x",
            "5\n--exec",
        ] {
            assert!(validate_audio_quality(bad).is_err(), "{bad:?}");
        }
    }
}
