//! A sliding-window rate limiter: `RATE_LIMIT_SEARCHES_PER_HOUR` over the searches that reach
//! yt-dlp, since bursts of searches are what get an IP asked to "confirm you're not a bot".
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Why a search was refused by the rate limiter.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("search rate limit reached ({limit} searches per hour); try again in {}s", .retry_after.as_secs().max(1))]
pub(crate) struct RateLimitExceeded {
    pub(crate) limit: u32,
    /// When the oldest search in the window leaves it.
    pub(crate) retry_after: Duration,
}

/// A sliding-window limiter: at most `limit` acquisitions in any `window`. Remembers the time of
/// each acquisition in the window, so memory is bounded by `limit`.
pub(crate) struct RateLimiter {
    limit: u32,
    window: Duration,
    recent: Mutex<VecDeque<Instant>>,
}

impl RateLimiter {
    pub(crate) const HOUR: Duration = Duration::from_secs(3600);

    /// `RATE_LIMIT_SEARCHES_PER_HOUR`; 0 means unlimited.
    pub(crate) fn per_hour(limit: u32) -> RateLimiter {
        RateLimiter::new(limit, RateLimiter::HOUR)
    }

    pub(crate) fn new(limit: u32, window: Duration) -> RateLimiter {
        RateLimiter {
            limit,
            window,
            recent: Mutex::new(VecDeque::new()),
        }
    }

    pub(crate) fn is_unlimited(&self) -> bool {
        self.limit == 0
    }

    /// Takes one place in the window now, or says how long until one frees up.
    pub(crate) fn try_acquire(&self) -> Result<(), RateLimitExceeded> {
        self.try_acquire_at(Instant::now())
    }

    /// [`RateLimiter::try_acquire`] at a given instant (the clock is a parameter for tests).
    pub(crate) fn try_acquire_at(&self, now: Instant) -> Result<(), RateLimitExceeded> {
        if self.is_unlimited() {
            return Ok(());
        }
        let mut recent = self
            .recent
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        while recent
            .front()
            .is_some_and(|&at| now.saturating_duration_since(at) >= self.window)
        {
            recent.pop_front();
        }
        if recent.len() < self.limit as usize {
            recent.push_back(now);
            return Ok(());
        }
        let oldest = recent.front().copied().unwrap_or(now);
        let retry_after = self.window.saturating_sub(now.saturating_duration_since(oldest));
        Err(RateLimitExceeded {
            limit: self.limit,
            retry_after,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_refuses_past_the_limit_until_the_window_slides() {
        let limiter = RateLimiter::new(2, Duration::from_secs(10));
        let t0 = Instant::now();
        assert!(limiter.try_acquire_at(t0).is_ok());
        assert!(limiter.try_acquire_at(t0 + Duration::from_secs(4)).is_ok());
        let refused = limiter.try_acquire_at(t0 + Duration::from_secs(6)).unwrap_err();
        assert_eq!((refused.limit, refused.retry_after), (2, Duration::from_secs(4)));
        assert!(refused.to_string().contains("2 searches per hour"), "{refused}");
        // The first acquisition leaves the window at t0 + 10 s: one place frees up, not two.
        assert!(limiter.try_acquire_at(t0 + Duration::from_secs(10)).is_ok());
        assert!(limiter.try_acquire_at(t0 + Duration::from_secs(11)).is_err());
        assert!(limiter.try_acquire_at(t0 + Duration::from_secs(14)).is_ok());
    }

    #[test]
    fn zero_means_unlimited() {
        let limiter = RateLimiter::per_hour(0);
        let now = Instant::now();
        assert!((0..10_000).all(|_| limiter.try_acquire_at(now).is_ok()));
        assert!(
            limiter.recent.lock().unwrap().is_empty(),
            "an unlimited limiter remembers nothing"
        );
    }
}
