//! Single-flight: at most one computation in progress per key, later callers with the same key
//! wait for its value. `youtube_search` uses it because a search is the one request a chat fires
//! in bursts (several users tapping the same inline query, a host retrying), and a yt-dlp per
//! copy wastes a worker slot and is the traffic pattern that gets an IP throttled.
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use tokio::sync::watch;

/// At most one in-flight computation per key; later callers with the same key wait for the
/// first one's published value instead of starting their own.
pub(crate) struct SingleFlight<V> {
    flights: Mutex<HashMap<String, Flight<V>>>,
    next_id: AtomicU64,
}

struct Flight<V> {
    /// Tells a leader's `Drop` whether the entry is still its own.
    id: u64,
    result: watch::Receiver<Option<V>>,
}

/// The caller's role for one key: do the work, or wait for whoever is doing it.
pub(crate) enum Joined<'a, V> {
    Leader(Leader<'a, V>),
    Follower(Follower<V>),
}

/// The caller that does the work. Publishing (or dropping it without publishing) ends the
/// flight: the next caller with the same key starts a new one.
pub(crate) struct Leader<'a, V> {
    owner: &'a SingleFlight<V>,
    key: String,
    id: u64,
    result: watch::Sender<Option<V>>,
}

/// A caller waiting for the leader's value.
pub(crate) struct Follower<V> {
    result: watch::Receiver<Option<V>>,
}

impl<V> Default for SingleFlight<V> {
    fn default() -> Self {
        SingleFlight {
            flights: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
        }
    }
}

impl<V: Clone> SingleFlight<V> {
    /// Joins the flight for `key`, starting it (as leader) when none is in progress.
    pub(crate) fn join(&self, key: &str) -> Joined<'_, V> {
        let mut flights = self.lock();
        if let Some(flight) = flights.get(key) {
            return Joined::Follower(Follower {
                result: flight.result.clone(),
            });
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (sender, receiver) = watch::channel(None);
        flights.insert(key.to_owned(), Flight { id, result: receiver });
        Joined::Leader(Leader {
            owner: self,
            key: key.to_owned(),
            id,
            result: sender,
        })
    }

    /// Keys with a flight in progress.
    #[cfg(test)]
    fn in_flight(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Flight<V>>> {
        // The map stays consistent whatever panicked while holding it: keep serving.
        self.flights
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl<V> Leader<'_, V> {
    /// Hands `value` to every follower, present and arriving until this leader is dropped
    /// (which happens right here, ending the flight).
    pub(crate) fn publish(self, value: V) {
        self.result.send_replace(Some(value));
    }
}

impl<V> Drop for Leader<'_, V> {
    /// Ends the flight. A leader dropped without publishing (its task was cancelled or timed out)
    /// leaves its followers a closed channel: they start over rather than inherit a failure that
    /// was not theirs.
    fn drop(&mut self) {
        let mut flights = self
            .owner
            .flights
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if flights.get(&self.key).is_some_and(|flight| flight.id == self.id) {
            flights.remove(&self.key);
        }
    }
}

impl<V: Clone> Follower<V> {
    /// The leader's value, or `None` when the leader gave up without publishing one.
    pub(crate) async fn outcome(mut self) -> Option<V> {
        match self.result.wait_for(Option::is_some).await {
            Ok(value) => value.clone(),
            Err(_leader_gone) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn followers_get_the_leaders_value_and_the_flight_ends_with_it() {
        let flights = SingleFlight::<u32>::default();
        let Joined::Leader(leader) = flights.join("k") else {
            panic!("first caller leads")
        };
        let followers: Vec<_> = (0..3)
            .map(|_| match flights.join("k") {
                Joined::Follower(follower) => tokio::spawn(follower.outcome()),
                Joined::Leader(_) => panic!("a flight is in progress"),
            })
            .collect();
        assert!(
            matches!(flights.join("other"), Joined::Leader(_)),
            "keys are independent"
        );
        leader.publish(7);
        for follower in followers {
            assert_eq!(follower.await.unwrap(), Some(7));
        }
        assert_eq!(flights.in_flight(), 0);
        assert!(
            matches!(flights.join("k"), Joined::Leader(_)),
            "a published flight is over"
        );
    }

    #[tokio::test]
    async fn a_leader_dropped_without_publishing_releases_its_followers_empty_handed() {
        let flights = SingleFlight::<u32>::default();
        let leader = flights.join("k");
        let Joined::Follower(follower) = flights.join("k") else {
            panic!("second caller follows")
        };
        drop(leader);
        assert_eq!(follower.outcome().await, None);
        assert_eq!(flights.in_flight(), 0);
    }
}
