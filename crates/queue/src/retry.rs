//! Redis may be restarted or unreachable for a while: callers retry with backoff and log it, and
//! nothing is lost once it is back (entries are in the streams, or still with the caller).
use crate::QueueError;
use std::future::Future;
use std::time::Duration;

const FIRST_DELAY: Duration = Duration::from_millis(200);
const MAX_DELAY: Duration = Duration::from_secs(5);

/// Runs `attempt` until it succeeds, waiting 0.2 s, 0.4 s, … up to 5 s between failures.
pub async fn retrying<T, F, Fut>(what: &str, mut attempt: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, QueueError>>,
{
    let mut delay = FIRST_DELAY;
    let mut failures = 0u32;
    loop {
        match attempt().await {
            Ok(value) => {
                if failures > 0 {
                    tracing::info!(what, failures, "redis reachable again");
                }
                return value;
            }
            Err(error) => {
                failures += 1;
                tracing::warn!(what, %error, retry_in_ms = delay.as_millis() as u64, "redis call failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(MAX_DELAY);
            }
        }
    }
}
