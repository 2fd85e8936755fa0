//! Long polling: `getUpdates` with a moving offset, each update handled on its own task, errors
//! backed off, flood control waited out (at most `TELEGRAM_MAX_RETRY_WAIT_SECS`, then polled
//! again), until SIGINT/SIGTERM.

use std::sync::Arc;
use std::time::Duration;

use crate::api::TgError;
use crate::app::App;
use crate::handlers;
use crate::shutdown;

const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The delay after `failures` consecutive failed polls: 1 s, 2 s, 4 s, … capped at 30 s.
pub(crate) fn backoff(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(5);
    Duration::from_secs(1u64 << doublings).min(MAX_BACKOFF)
}

/// Why polling ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PollEnd {
    /// SIGINT or SIGTERM.
    Stopped,
    /// Telegram refused the token or API URL: no amount of retrying fixes that.
    TokenRefused,
}

/// Polls until a stop signal or until Telegram refuses the token.
pub(crate) async fn poll_until_stopped(app: Arc<App>) -> PollEnd {
    let stop = shutdown::stop_signal();
    tokio::pin!(stop);
    let mut offset: Option<i64> = None;
    let mut failures: u32 = 0;
    loop {
        let result = tokio::select! {
            () = &mut stop => return PollEnd::Stopped,
            result = app.telegram.get_updates(offset, app.config.poll_timeout_secs) => result,
        };
        let pause = match result {
            Ok(updates) => {
                failures = 0;
                for raw in updates {
                    if let Some(id) = raw.update_id {
                        offset = Some(offset.map_or(id + 1, |o| o.max(id + 1)));
                    }
                    if let Some(update) = raw.update {
                        tokio::spawn(handlers::handle_update(Arc::clone(&app), update));
                    }
                }
                continue;
            }
            Err(TgError::RetryAfter(wait)) => {
                // Capped like every other call's wait: a `retry_after` of an hour must not
                // silence the bot for an hour; if Telegram still refuses, it says so again.
                let capped = wait.min(app.telegram.max_wait());
                tracing::warn!(?wait, ?capped, "getUpdates hit flood control");
                capped
            }
            Err(TgError::Refused {
                code: code @ (401 | 404),
                description,
            }) => {
                tracing::error!(code, %description, "Telegram refused the bot token or API URL");
                eprintln!(
                    "hermes-bot: Telegram refused the token ({code} {description}); check TELEGRAM_BOT_TOKEN and TELEGRAM_API_URL"
                );
                return PollEnd::TokenRefused;
            }
            Err(error) => {
                failures += 1;
                let wait = backoff(failures);
                tracing::warn!(%error, ?wait, failures, "getUpdates failed, backing off");
                wait
            }
        };
        tokio::select! {
            () = &mut stop => return PollEnd::Stopped,
            () = tokio::time::sleep(pause) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_thirty_seconds() {
        let delays: Vec<u64> = (1..=8).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(delays, vec![1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(backoff(0).as_secs(), 1);
    }
}
