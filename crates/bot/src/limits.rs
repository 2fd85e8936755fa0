//! What one chat may ask of the shared worker: searches per hour (a sliding window per chat)
//! and downloads queued at once. The worker's own `RATE_LIMIT_SEARCHES_PER_HOUR` is one bucket
//! for every user of the bot; without a per-chat share, one chat's 60 searches lock everyone
//! out for an hour.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

const WINDOW: Duration = Duration::from_secs(3600);

/// At most `limit` events per chat within any hour.
pub(crate) struct PerChatRate {
    limit: usize,
    seen: Mutex<HashMap<i64, VecDeque<Instant>>>,
}

impl PerChatRate {
    pub(crate) fn per_hour(limit: u32) -> Self {
        Self {
            limit: usize::try_from(limit).unwrap_or(usize::MAX),
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one event for `chat_id`, or refuses it with the time until the oldest one of
    /// the last hour drops out of the window.
    pub(crate) fn try_acquire(&self, chat_id: i64) -> Result<(), Duration> {
        self.try_acquire_at(chat_id, Instant::now())
    }

    /// Takes back the newest event of `chat_id`: it turned out to cost the worker nothing (a
    /// search answered from its cache).
    pub(crate) fn give_back(&self, chat_id: i64) {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(times) = seen.get_mut(&chat_id) {
            times.pop_back();
        }
    }

    fn try_acquire_at(&self, chat_id: i64, now: Instant) -> Result<(), Duration> {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        // Chats that were quiet for an hour cost nothing.
        seen.retain(|_, times| {
            times
                .back()
                .is_some_and(|last| now.duration_since(*last) < WINDOW)
        });
        let times = seen.entry(chat_id).or_default();
        while times
            .front()
            .is_some_and(|first| now.duration_since(*first) >= WINDOW)
        {
            times.pop_front();
        }
        if times.len() >= self.limit {
            let oldest = times.front().copied().unwrap_or(now);
            return Err(WINDOW.saturating_sub(now.duration_since(oldest)));
        }
        times.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_chat_has_its_own_hourly_share() {
        let rate = PerChatRate::per_hour(2);
        let t0 = Instant::now();
        assert!(rate.try_acquire_at(1, t0).is_ok());
        assert!(rate.try_acquire_at(1, t0 + Duration::from_secs(60)).is_ok());
        let refused = rate.try_acquire_at(1, t0 + Duration::from_secs(120));
        assert_eq!(refused, Err(Duration::from_secs(3480)));
        assert!(
            rate.try_acquire_at(2, t0 + Duration::from_secs(120)).is_ok(),
            "another chat"
        );
        assert!(
            rate.try_acquire_at(1, t0 + WINDOW).is_ok(),
            "the first one left the window"
        );
        rate.give_back(1);
        assert!(
            rate.try_acquire_at(1, t0 + WINDOW).is_ok(),
            "a search given back does not count"
        );
        assert!(rate.try_acquire_at(1, t0 + WINDOW).is_err());
    }
}
