//! What the user reads: the one table from worker error codes to chat messages, and the fixed
//! texts of the bot. Keeping them here means no handler ever shows a raw Rust or yt-dlp error,
//! and a wording change is one edit.

use hermes_protocol::ErrorCode;

/// The message a user sees when a task ends with `code`. The worker's own message is never
/// shown: it is yt-dlp's English for developers and may carry paths or internals.
pub(crate) fn error_message(code: &ErrorCode) -> &'static str {
    match code {
        ErrorCode::InvalidUrl => "That link doesn't look like something I can download. Check it and send it again.",
        ErrorCode::VideoPrivate => "This video is private. I can only download public videos.",
        ErrorCode::VideoRemoved => "This video is unavailable: it was removed or blocked.",
        ErrorCode::NoSuitableFormat => "The requested quality isn't available for this video. Try another option from ⚙ Quality….",
        ErrorCode::BotDetection => "YouTube wants me to sign in before it serves this video. The bot's owner can fix this by giving me YouTube cookies; please try again later.",
        ErrorCode::NetworkTimeout => "I couldn't reach the site (a network error, or it did not answer). Please try again in a few minutes.",
        ErrorCode::Timeout => "The download took too long and was stopped. Please try again.",
        ErrorCode::RateLimited => "Too many requests right now. Please wait a few minutes and try again.",
        ErrorCode::PlaylistError => "I couldn't download that playlist. Check that it is public and try again.",
        ErrorCode::DiskFull => "The server is out of disk space. Please try again later.",
        ErrorCode::FileTooLarge => "This file is larger than I can send, so I stopped the download. Try a lower quality or the audio only.",
        ErrorCode::UrlNotAllowed => "I can't download from that address: only public http and https links are allowed.",
        ErrorCode::Cancelled => "Cancelled.",
        ErrorCode::WorkerCrashed => "The download engine stopped unexpectedly. It has been restarted: please send the link again.",
        ErrorCode::YtdlpNotFound | ErrorCode::FfmpegNotFound => "The download tools are not installed on the server. Please tell the bot's owner.",
        ErrorCode::FileNotFound => "The download finished but the file is missing. Please try again.",
        ErrorCode::YtdlpError => "The download failed. The site may not be supported, or the media is unavailable.",
        ErrorCode::InvalidJson
        | ErrorCode::InvalidRequest
        | ErrorCode::UnknownAction
        | ErrorCode::Internal
        | ErrorCode::Other(_) => "Something went wrong on my side. Please try again.",
    }
}

/// What a failed job or look-up tells the user: the code's text, unless the worker's own message
/// says more precisely what happened.
pub(crate) fn failure_text(code: &ErrorCode, worker_message: &str) -> &'static str {
    if worker_message.contains("HTTP Error 404") {
        return NOT_FOUND;
    }
    error_message(code)
}

/// A playlist preview that failed: about reading a playlist, not about a download.
pub(crate) fn preview_failed(code: &ErrorCode, worker_message: &str) -> String {
    match code {
        ErrorCode::YtdlpError | ErrorCode::PlaylistError | ErrorCode::NoSuitableFormat | ErrorCode::InvalidUrl => {
            "I couldn't read a playlist or feed at that link. Check that it is public and that it is a playlist, a channel or a feed.".to_owned()
        }
        other => failure_text(other, worker_message).to_owned(),
    }
}

/// For the admin's own chat, after the user's message: what the operator can do about a
/// failure they can fix. `worker_message` is the worker's text (the worker names a missing
/// JavaScript runtime there, under `NO_SUITABLE_FORMAT`).
pub(crate) fn operator_hint(code: &ErrorCode, worker_message: &str) -> Option<&'static str> {
    match code {
        ErrorCode::BotDetection => Some(
            "🔧 Admin: export the cookies of a signed-in YouTube account as cookies.txt and send the file here with the caption /cookies.",
        ),
        ErrorCode::NoSuitableFormat if worker_message.contains("no JavaScript runtime") => Some(
            "🔧 Admin: yt-dlp has no JavaScript runtime, so YouTube formats are missing. Send /update to install the newest yt-dlp with Deno (or run scripts/setup.sh).",
        ),
        _ => None,
    }
}

/// Shown when the bot itself (not the worker) failed: Telegram refused an upload, the database
/// is unavailable, the worker could not be reached.
pub(crate) const INTERNAL_FAILURE: &str = "Something went wrong on my side. Please try again.";
pub(crate) const FLOW_EXPIRED: &str = "This choice has expired, send the link again.";
pub(crate) const BOT_RESTARTED: &str = "⚠️ The bot restarted while this was running, please resend";
/// The status line of a job picked up again after a restart (or by another node).
pub(crate) const RESUMING: &str = "🔁 Resuming after a restart…";
pub(crate) const RETRY_TAKEN: &str = "This download was already started again.";

/// A job started `attempts` times without being delivered (`JOB_MAX_ATTEMPTS`): interrupted by
/// restarts, or failing on every node.
pub(crate) fn gave_up(attempts: u32) -> String {
    let times = if attempts == 1 {
        "once".to_owned()
    } else {
        format!("{attempts} times")
    };
    format!("I tried this download {times} without success, so I stopped. Tap 🔁 Retry to start it again.")
}

/// Failures another attempt (on another node: another disk, another IP address) may not meet.
/// The others (a removed video, a link that is not allowed, a file over the limit) would only
/// fail again.
pub(crate) fn is_transient(code: &ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::NetworkTimeout
            | ErrorCode::Timeout
            | ErrorCode::RateLimited
            | ErrorCode::BotDetection
            | ErrorCode::DiskFull
            | ErrorCode::WorkerCrashed
            | ErrorCode::Internal
    )
}
pub(crate) const NO_LINK_HINT: &str =
    "Send me a link to download, or /search <words>. /help lists everything I can do.";
pub(crate) const UNKNOWN_COMMAND: &str = "I don't know that command. Try /help.";
pub(crate) const CANCEL_NOTHING: &str = "Nothing to cancel.";
pub(crate) const CANCEL_WHICH: &str = "Which download should I cancel?";
pub(crate) const ALREADY_ENDED: &str = "This download has already ended.";
pub(crate) const QUEUE_EMPTY: &str = "No downloads right now.";

/// A chat already has `limit` downloads queued or running (`MAX_QUEUED_PER_CHAT`).
pub(crate) fn queue_full(limit: usize) -> String {
    format!(
        "⏳ You already have {limit} downloads queued or running, the most one chat can have. \
         Wait for some to finish (or /cancel some), then send this again."
    )
}

/// A chat used its `SEARCHES_PER_CHAT_PER_HOUR`.
pub(crate) fn searches_used_up(limit: u32, retry_in: std::time::Duration) -> String {
    let minutes = retry_in.as_secs().div_ceil(60).max(1);
    format!(
        "🔎 You have used this chat's {limit} searches for this hour. \
         Try again in {minutes} min, or send a link directly."
    )
}
pub(crate) const NOT_A_LINK: &str = "Please give me a link, e.g. /audio https://youtu.be/…";
pub(crate) const PLAYLIST_USAGE: &str =
    "Usage: /playlist <link>, e.g. /playlist https://www.youtube.com/playlist?list=… or a podcast feed.";
/// Nothing at the address (HTTP 404): not "removed or blocked", which is about a video.
pub(crate) const NOT_FOUND: &str =
    "Nothing was found at that link (404 Not Found). Check the link and send it again.";
/// Telegram answered an upload with 413.
pub(crate) const TELEGRAM_TOO_LARGE: &str =
    "Telegram refused the file as too large. Try a lower quality or the audio only.";
pub(crate) const SEARCH_USAGE: &str = "Usage: /search <words>, e.g. /search lofi hip hop";
pub(crate) const SEARCH_EMPTY: &str = "No results.";
pub(crate) const CHOOSE_MODE: &str = "What should I download?";
pub(crate) const LOWER_QUALITY_OFFER: &str =
    "A lower quality makes a smaller file, or I can send this one in parts that fit:";
pub(crate) const LOOKING_AT_LINK: &str = "🔎 Looking at the link…";
pub(crate) const SHARED_WAIT: &str =
    "⏳ The same file is downloading for an earlier request — you get it as soon as it is ready.";
pub(crate) const TOO_LARGE_TO_SPLIT: &str =
    "The file is larger than this server downloads at all, even to send in parts.";
pub(crate) const SPLIT_INSTEAD: &str = "I can send the file in parts that fit instead:";
pub(crate) const SPLIT_OFFER: &str = "✂️ Send it in parts";
pub(crate) const PLAYLIST_OR_VIDEO: &str =
    "This link is a video inside a playlist. Download the whole playlist or only this video?";

/// The refusal for a chat that is not in `ALLOWED_CHAT_IDS`. The chat id is included so the
/// user can send it to the owner.
pub(crate) fn access_denied(chat_id: i64) -> String {
    format!(
        "⛔ Sorry, this bot is private. Your chat id is {chat_id}: send it to the bot's owner to get access."
    )
}

/// `/start` and `/chatid` from a chat that is not let in: the chat id and the one line of
/// configuration the owner adds to let it in (the only answer such a chat gets).
pub(crate) fn not_let_in(chat_id: i64) -> String {
    format!(
        "👋 This bot only works for the chats its owner lets in. Your chat id is {chat_id}.\n\
         To let this chat in, the owner starts the bot with:\n\
         ALLOWED_CHAT_IDS={chat_id}"
    )
}

/// `/start` and `/help`.
pub(crate) fn help(chat_id: i64) -> String {
    format!(
        "🎵 Hermes downloads audio and video from YouTube and many other sites.\n\
         \n\
         Send me a link and choose 🎵 Audio or 🎬 Video, or use a command:\n\
         /download <url> – download with your default mode\n\
         /audio <url> – download the audio\n\
         /video <url> – download the video\n\
         /search <words> – search YouTube\n\
         /playlist <url> – download a playlist as ZIP files\n\
         /status – your downloads\n\
         /cancel [id] – cancel a download\n\
         /settings – default mode and audio format\n\
         /ping – check the download engine\n\
         /chatid – show this chat's id\n\
         \n\
         Your chat id: {chat_id}"
    )
}

pub(crate) fn chat_id_text(chat_id: i64) -> String {
    format!("Your chat id: {chat_id}")
}

/// "12.3 MB": sizes shown to people, in the MB Telegram's limits use.
pub(crate) fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0))
}

/// The worker stopped a download at the upload limit; its size is known only when the server
/// announced it.
pub(crate) fn stopped_at_limit(size: Option<u64>, limit_mb: u64) -> String {
    match size {
        Some(size) => too_large(size, limit_mb),
        None => format!("The file is over the {limit_mb} MB upload limit, so I stopped its download."),
    }
}

pub(crate) fn too_large(size: u64, limit_mb: u64) -> String {
    format!(
        "The file is {}, over the {limit_mb} MB upload limit, so I can't send it.",
        megabytes(size)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL_CODES: &[&str] = &[
        "INVALID_JSON",
        "INVALID_REQUEST",
        "UNKNOWN_ACTION",
        "INVALID_URL",
        "YTDLP_NOT_FOUND",
        "FFMPEG_NOT_FOUND",
        "YTDLP_ERROR",
        "BOT_DETECTION",
        "VIDEO_PRIVATE",
        "VIDEO_REMOVED",
        "NO_SUITABLE_FORMAT",
        "NETWORK_TIMEOUT",
        "TIMEOUT",
        "CANCELLED",
        "FILE_NOT_FOUND",
        "PLAYLIST_ERROR",
        "RATE_LIMITED",
        "DISK_FULL",
        "FILE_TOO_LARGE",
        "URL_NOT_ALLOWED",
        "INTERNAL",
        "WORKER_CRASHED",
        "SOMETHING_NEW",
    ];

    #[test]
    fn every_error_code_has_a_readable_message() {
        for name in ALL_CODES {
            let code: ErrorCode = serde_json::from_value(serde_json::json!(name)).expect("code");
            let text = error_message(&code);
            assert!(text.len() > 8, "{name}: {text}");
            assert!(text.ends_with('.'), "{name}: full sentence expected: {text}");
            assert!(!text.contains(name), "{name}: no raw code in the message");
            assert!(!text.contains("Error"), "{name}: no technical wording: {text}");
        }
    }

    #[test]
    fn distinct_causes_get_distinct_messages() {
        let private = error_message(&ErrorCode::VideoPrivate);
        let removed = error_message(&ErrorCode::VideoRemoved);
        let crashed = error_message(&ErrorCode::WorkerCrashed);
        assert_ne!(private, removed);
        assert!(crashed.contains("send the link again"));
        assert_eq!(
            error_message(&ErrorCode::Other("X".into())),
            error_message(&ErrorCode::Internal)
        );
    }

    #[test]
    fn operator_hints_say_what_to_do() {
        let bot = operator_hint(&ErrorCode::BotDetection, "").expect("hint");
        assert!(bot.contains("/cookies"), "{bot}");
        let nojs = operator_hint(
            &ErrorCode::NoSuitableFormat,
            "yt-dlp has no JavaScript runtime (or no yt-dlp-ejs), so …",
        )
        .expect("hint");
        assert!(nojs.contains("/update"), "{nojs}");
        assert_eq!(
            operator_hint(&ErrorCode::NoSuitableFormat, "Requested format is not available"),
            None
        );
        assert_eq!(operator_hint(&ErrorCode::VideoRemoved, ""), None);
        assert!(error_message(&ErrorCode::BotDetection).contains("cookies"));
    }

    #[test]
    fn help_and_refusal_carry_the_chat_id() {
        assert!(help(-100123).contains("-100123"));
        assert!(access_denied(42).contains("42"));
        assert_eq!(chat_id_text(7), "Your chat id: 7");
    }

    #[test]
    fn sizes_are_shown_in_megabytes() {
        assert_eq!(megabytes(0), "0.0 MB");
        assert_eq!(megabytes(52_428_800), "50.0 MB");
        assert_eq!(
            too_large(60 * 1024 * 1024, 50),
            "The file is 60.0 MB, over the 50 MB upload limit, so I can't send it."
        );
    }
}
