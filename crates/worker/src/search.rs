//! Admission control for `youtube_search`: single-flight for identical concurrent searches and the
//! `RATE_LIMIT_SEARCHES_PER_HOUR` sliding window.
//!
//! Both exist because a YouTube search is the one request a chat can fire in bursts (several
//! users tapping the same inline query, a host retrying): spawning yt-dlp for each copy wastes a
//! worker slot and, worse, is exactly the traffic pattern that gets an IP throttled or asked to
//! "confirm you're not a bot".
use crate::error::WorkerError;
use hermes_protocol::{ErrorCode, RequestError, SearchResult};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// What one search flight hands to every request that waited for it.
pub type SearchOutcome = Result<Arc<Vec<SearchResult>>, SharedError>;

/// A failure as the host sees it (code and message), cloneable so that every request that
/// waited on a failed flight gets the very same `error` event. [`WorkerError`] itself cannot be
/// cloned (it wraps I/O and database errors).
#[derive(Debug, Clone, PartialEq)]
pub struct SharedError {
    pub code: ErrorCode,
    pub message: String,
}

impl From<&WorkerError> for SharedError {
    fn from(error: &WorkerError) -> SharedError {
        SharedError { code: error.code(), message: error.message() }
    }
}

impl From<SharedError> for WorkerError {
    /// Rebuilt as a request-level error: it carries the code and message verbatim, which is all
    /// the final event needs.
    fn from(error: SharedError) -> WorkerError {
        WorkerError::Request(RequestError { task_id: None, code: error.code, message: error.message })
    }
}

/// At most one in-flight computation per key; later callers with the same key wait for the
/// first one's published value instead of starting their own.
pub struct SingleFlight<V> {
    flights: Mutex<HashMap<String, Flight<V>>>,
    next_id: AtomicU64,
}

struct Flight<V> {
    /// Tells a leader's `Drop` whether the entry is still its own.
    id: u64,
    result: watch::Receiver<Option<V>>,
}

/// The caller's role for one key: do the work, or wait for whoever is doing it.
pub enum Joined<'a, V> {
    Leader(Leader<'a, V>),
    Follower(Follower<V>),
}

/// The caller that does the work. Publishing (or dropping it without publishing) ends the
/// flight: the next caller with the same key starts a new one.
pub struct Leader<'a, V> {
    owner: &'a SingleFlight<V>,
    key: String,
    id: u64,
    result: watch::Sender<Option<V>>,
}

/// A caller waiting for the leader's value.
pub struct Follower<V> {
    result: watch::Receiver<Option<V>>,
}

impl<V> Default for SingleFlight<V> {
    fn default() -> Self {
        SingleFlight { flights: Mutex::new(HashMap::new()), next_id: AtomicU64::new(0) }
    }
}

impl<V: Clone> SingleFlight<V> {
    /// Joins the flight for `key`, starting it (as leader) when none is in progress.
    pub fn join(&self, key: &str) -> Joined<'_, V> {
        let mut flights = self.lock();
        if let Some(flight) = flights.get(key) {
            return Joined::Follower(Follower { result: flight.result.clone() });
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (sender, receiver) = watch::channel(None);
        flights.insert(key.to_owned(), Flight { id, result: receiver });
        Joined::Leader(Leader { owner: self, key: key.to_owned(), id, result: sender })
    }

    /// Keys with a flight in progress (for tests and diagnostics).
    pub fn in_flight(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Flight<V>>> {
        // The map stays consistent whatever panicked while holding it: keep serving.
        self.flights.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl<V> Leader<'_, V> {
    /// Hands `value` to every follower, present and arriving until this leader is dropped
    /// (which happens right here, ending the flight).
    pub fn publish(self, value: V) {
        self.result.send_replace(Some(value));
    }
}

impl<V> Drop for Leader<'_, V> {
    /// Ends the flight. A leader dropped without publishing (its task was cancelled or timed out)
    /// leaves its followers a closed channel: they start over rather than inherit a failure that
    /// was not theirs.
    fn drop(&mut self) {
        let mut flights = self.owner.flights.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if flights.get(&self.key).is_some_and(|flight| flight.id == self.id) {
            flights.remove(&self.key);
        }
    }
}

impl<V: Clone> Follower<V> {
    /// The leader's value, or `None` when the leader gave up without publishing one.
    pub async fn outcome(mut self) -> Option<V> {
        match self.result.wait_for(Option::is_some).await {
            Ok(value) => value.clone(),
            Err(_leader_gone) => None,
        }
    }
}

/// Why a search was refused by the rate limiter.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("search rate limit reached ({limit} searches per hour); try again in {}s", .retry_after.as_secs().max(1))]
pub struct RateLimitExceeded {
    pub limit: u32,
    /// When the oldest search in the window leaves it.
    pub retry_after: Duration,
}

/// A sliding-window limiter: at most `limit` acquisitions in any `window`. Remembers the time of
/// each acquisition in the window, so memory is bounded by `limit`.
pub struct RateLimiter {
    limit: u32,
    window: Duration,
    recent: Mutex<VecDeque<Instant>>,
}

impl RateLimiter {
    pub const HOUR: Duration = Duration::from_secs(3600);

    /// `RATE_LIMIT_SEARCHES_PER_HOUR`; 0 means unlimited.
    pub fn per_hour(limit: u32) -> RateLimiter {
        RateLimiter::new(limit, RateLimiter::HOUR)
    }

    pub fn new(limit: u32, window: Duration) -> RateLimiter {
        RateLimiter { limit, window, recent: Mutex::new(VecDeque::new()) }
    }

    pub fn is_unlimited(&self) -> bool {
        self.limit == 0
    }

    /// Takes one place in the window now, or says how long until one frees up.
    pub fn try_acquire(&self) -> Result<(), RateLimitExceeded> {
        self.try_acquire_at(Instant::now())
    }

    /// [`RateLimiter::try_acquire`] at a given instant (the clock is a parameter for tests).
    pub fn try_acquire_at(&self, now: Instant) -> Result<(), RateLimitExceeded> {
        if self.is_unlimited() {
            return Ok(());
        }
        let mut recent = self.recent.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        while recent.front().is_some_and(|&at| now.saturating_duration_since(at) >= self.window) {
            recent.pop_front();
        }
        if recent.len() < self.limit as usize {
            recent.push_back(now);
            return Ok(());
        }
        let oldest = recent.front().copied().unwrap_or(now);
        let retry_after = self.window.saturating_sub(now.saturating_duration_since(oldest));
        Err(RateLimitExceeded { limit: self.limit, retry_after })
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
        assert!(limiter.recent.lock().unwrap().is_empty(), "an unlimited limiter remembers nothing");
    }

    #[tokio::test]
    async fn followers_get_the_leaders_value_and_the_flight_ends_with_it() {
        let flights = SingleFlight::<u32>::default();
        let Joined::Leader(leader) = flights.join("k") else { panic!("first caller leads") };
        let followers: Vec<_> = (0..3)
            .map(|_| match flights.join("k") {
                Joined::Follower(follower) => tokio::spawn(follower.outcome()),
                Joined::Leader(_) => panic!("a flight is in progress"),
            })
            .collect();
        assert!(matches!(flights.join("other"), Joined::Leader(_)), "keys are independent");
        leader.publish(7);
        for follower in followers {
            assert_eq!(follower.await.unwrap(), Some(7));
        }
        assert_eq!(flights.in_flight(), 0);
        assert!(matches!(flights.join("k"), Joined::Leader(_)), "a published flight is over");
    }

    #[tokio::test]
    async fn a_leader_dropped_without_publishing_releases_its_followers_empty_handed() {
        let flights = SingleFlight::<u32>::default();
        let leader = flights.join("k");
        let Joined::Follower(follower) = flights.join("k") else { panic!("second caller follows") };
        drop(leader);
        assert_eq!(follower.outcome().await, None);
        assert_eq!(flights.in_flight(), 0);
    }

    #[test]
    fn a_shared_error_keeps_code_and_first_line() {
        let original = WorkerError::RateLimited("HTTP Error 429: Too Many Requests\nmore".to_owned());
        let shared = SharedError::from(&original);
        let rebuilt = WorkerError::from(shared.clone());
        assert_eq!((rebuilt.code(), rebuilt.message()), (ErrorCode::RateLimited, "HTTP Error 429: Too Many Requests".to_owned()));
        assert_eq!(shared.message, original.message());
    }
}
