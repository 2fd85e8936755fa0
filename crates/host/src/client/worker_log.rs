//! The worker's stderr: its log lines, forwarded to `tracing` (target `worker`) at the level the
//! worker logged them at.
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// Forwards the worker's log lines to `tracing`, keeping the level the worker logged them at.
pub(super) async fn forward_stderr(stderr: impl AsyncRead + Unpin) {
    let mut reader = BufReader::new(stderr);
    let mut line = Vec::new();
    while matches!(reader.read_until(b'\n', &mut line).await, Ok(n) if n > 0) {
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end();
        if !text.is_empty() {
            emit_worker_log(text);
        }
        line.clear();
    }
}

/// The worker logs `<timestamp>  LEVEL message`; other stderr text (a panic, a startup error)
/// is shown as a warning because it is unexpected.
fn worker_log_level(text: &str) -> tracing::Level {
    match text.split_whitespace().nth(1).unwrap_or_default() {
        "ERROR" => tracing::Level::ERROR,
        "INFO" => tracing::Level::INFO,
        "DEBUG" => tracing::Level::DEBUG,
        "TRACE" => tracing::Level::TRACE,
        _ => tracing::Level::WARN,
    }
}

fn emit_worker_log(text: &str) {
    match worker_log_level(text) {
        tracing::Level::ERROR => tracing::error!(target: "worker", "{text}"),
        tracing::Level::WARN => tracing::warn!(target: "worker", "{text}"),
        tracing::Level::INFO => tracing::info!(target: "worker", "{text}"),
        _ => tracing::debug!(target: "worker", "{text}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_log_level_is_read_from_the_second_word() {
        use tracing::Level;
        let cases = [
            ("2026-11-24T19:01:39.658555Z ERROR cannot write", Level::ERROR),
            ("2026-11-24T19:01:39.658555Z  WARN slow", Level::WARN),
            ("2026-11-24T19:01:39.658555Z  INFO cache ready", Level::INFO),
            ("2026-11-24T19:01:39.658555Z DEBUG x", Level::DEBUG),
            ("thread 'main' panicked at src/x.rs", Level::WARN),
            ("hermes-worker: YT_TIMEOUT=0 is invalid", Level::WARN),
            ("", Level::WARN),
        ];
        for (line, level) in cases {
            assert_eq!(worker_log_level(line), level, "{line:?}");
        }
    }
}
