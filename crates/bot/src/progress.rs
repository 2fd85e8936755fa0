//! The one status message of a task, edited as the task moves on.
//!
//! Telegram rate-limits edits (roughly one per second per chat, less in groups) and answers an
//! edit that changes nothing with an error, so edits are throttled to one per
//! [`MIN_EDIT_INTERVAL`] ([`GROUP_EDIT_INTERVAL`] in groups, where the limits are tighter and
//! everyone sees the edits) and skipped when the text is unchanged. A text that could not be shown
//! yet is kept as `pending` and flushed by [`StatusMessage::flush_due`] once the interval has
//! passed, so the message never lags behind for long even when events stop arriving.

use std::time::Duration;

use frankenstein::types::InlineKeyboardMarkup;
use tokio::time::Instant;

use crate::api::{Telegram, TgError};

/// At most one edit per this interval per message.
pub(crate) const MIN_EDIT_INTERVAL: Duration = Duration::from_secs(2);
/// At most one edit per this interval per message in a group or supergroup (D15).
pub(crate) const GROUP_EDIT_INTERVAL: Duration = Duration::from_secs(5);

/// The edit interval of a chat: groups (negative ids) get [`GROUP_EDIT_INTERVAL`].
pub(crate) fn edit_interval(chat_id: i64) -> Duration {
    if chat_id < 0 {
        GROUP_EDIT_INTERVAL
    } else {
        MIN_EDIT_INTERVAL
    }
}

/// The throttling decision, separate from the I/O so it can be tested without a server.
#[derive(Debug, Clone)]
pub(crate) struct EditThrottle {
    /// At most one edit per this long.
    interval: Duration,
    shown: Option<String>,
    pending: Option<String>,
    last_edit: Option<Instant>,
    blocked_until: Option<Instant>,
}

impl EditThrottle {
    /// A message that currently shows `text`, just sent or edited at `now`; edited at most once
    /// per [`MIN_EDIT_INTERVAL`] (see [`EditThrottle::every`]).
    pub(crate) fn showing(text: String, now: Instant) -> Self {
        Self {
            interval: MIN_EDIT_INTERVAL,
            shown: Some(text),
            pending: None,
            last_edit: Some(now),
            blocked_until: None,
        }
    }

    /// At most one edit per `interval`.
    pub(crate) fn every(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Offers a new text; returns it when it should be sent now, else keeps it pending.
    pub(crate) fn offer(&mut self, text: String, now: Instant) -> Option<String> {
        if self.shown.as_deref() == Some(text.as_str()) {
            self.pending = None;
            return None;
        }
        self.pending = Some(text);
        self.take_due(now)
    }

    /// The pending text if the interval has passed.
    pub(crate) fn take_due(&mut self, now: Instant) -> Option<String> {
        match self.next_allowed() {
            Some(at) if now < at => None,
            _ => self.pending.take(),
        }
    }

    /// When the pending text may be sent; `None` when nothing is pending.
    pub(crate) fn due_at(&self) -> Option<Instant> {
        self.pending.as_ref()?;
        Some(self.next_allowed().unwrap_or_else(Instant::now))
    }

    fn next_allowed(&self) -> Option<Instant> {
        let after_last = self.last_edit.map(|at| at + self.interval);
        match (after_last, self.blocked_until) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    pub(crate) fn record_sent(&mut self, text: String, now: Instant) {
        self.shown = Some(text);
        self.last_edit = Some(now);
    }

    /// Flood control: put `text` back and edit nothing before `now + wait`.
    pub(crate) fn record_flood(&mut self, text: String, now: Instant, wait: Duration) {
        if self.pending.is_none() {
            self.pending = Some(text);
        }
        self.blocked_until = Some(now + wait);
    }
}

/// A task's status message in a chat.
pub(crate) struct StatusMessage {
    telegram: Telegram,
    pub(crate) chat_id: i64,
    pub(crate) message_id: i32,
    throttle: EditThrottle,
    /// Buttons under the message while the task is active (✖ Cancel); the final text drops them.
    buttons: Option<InlineKeyboardMarkup>,
}

impl StatusMessage {
    /// Wraps a message that currently shows `text`, edited at most once per the chat's
    /// [`edit_interval`].
    pub(crate) fn new(telegram: Telegram, chat_id: i64, message_id: i32, text: String) -> Self {
        Self {
            telegram,
            chat_id,
            message_id,
            throttle: EditThrottle::showing(text, Instant::now()).every(edit_interval(chat_id)),
            buttons: None,
        }
    }

    /// Keeps `buttons` under the message until [`StatusMessage::finish`].
    pub(crate) fn with_buttons(mut self, buttons: InlineKeyboardMarkup) -> Self {
        self.buttons = Some(buttons);
        self
    }

    /// Shows `text` now if allowed, else later through [`StatusMessage::flush_due`].
    pub(crate) async fn show(&mut self, text: String) {
        if let Some(text) = self.throttle.offer(text, Instant::now()) {
            self.edit_now(text).await;
        }
    }

    /// When a pending text becomes due, for a `select!` timer.
    pub(crate) fn due_at(&self) -> Option<Instant> {
        self.throttle.due_at()
    }

    /// Resolves when the pending text falls due (never while nothing is pending): the `select!`
    /// arm whose handler calls [`StatusMessage::flush_due`]. It borrows nothing, so the flush
    /// itself runs in the handler and is never cut short by another arm.
    pub(crate) fn next_due(&self) -> impl std::future::Future<Output = ()> + 'static {
        let at = self.due_at();
        async move {
            match at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        }
    }

    /// Awaits `work`, showing the pending text whenever it falls due meanwhile, so the message
    /// never lags behind while something else is awaited (an event, an upload, another task).
    pub(crate) async fn meanwhile<F: std::future::Future>(&mut self, work: F) -> F::Output {
        tokio::pin!(work);
        loop {
            tokio::select! {
                output = &mut work => return output,
                () = self.next_due() => self.flush_due().await,
            }
        }
    }

    /// Sends the pending text if its time has come.
    pub(crate) async fn flush_due(&mut self) {
        if let Some(text) = self.throttle.take_due(Instant::now()) {
            self.edit_now(text).await;
        }
    }

    /// The final text: waits for the interval (and any flood wait), then edits, waiting out
    /// flood control, so the last state is always what the user ends up seeing.
    pub(crate) async fn finish(&mut self, text: String) {
        if self.throttle.offer(text.clone(), Instant::now()).is_none() {
            if let Some(at) = self.throttle.due_at() {
                tokio::time::sleep_until(at).await;
            }
            if self.throttle.take_due(Instant::now()).is_none() {
                return; // Already showing exactly this text.
            }
        }
        match self
            .telegram
            .edit_text(self.chat_id, self.message_id, &text, None)
            .await
        {
            Ok(()) => self.throttle.record_sent(text, Instant::now()),
            Err(error) => {
                tracing::warn!(chat_id = self.chat_id, %error, "final status edit failed")
            }
        }
    }

    async fn edit_now(&mut self, text: String) {
        let now = Instant::now();
        match self
            .telegram
            .try_edit_text(self.chat_id, self.message_id, &text, self.buttons.clone())
            .await
        {
            Ok(()) => self.throttle.record_sent(text, now),
            Err(TgError::RetryAfter(wait)) => {
                tracing::warn!(chat_id = self.chat_id, ?wait, "flood control on a status edit");
                self.throttle.record_flood(text, Instant::now(), wait);
            }
            Err(error) => {
                // Counted as sent: retrying a refused edit would only repeat the refusal.
                tracing::warn!(chat_id = self.chat_id, %error, "status edit failed");
                self.throttle.record_sent(text, now);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_are_throttled_and_deduplicated() {
        let t0 = Instant::now();
        let mut throttle = EditThrottle::showing("queued".into(), t0);
        assert_eq!(
            throttle.offer("queued".into(), t0 + Duration::from_secs(5)),
            None,
            "unchanged"
        );
        assert_eq!(
            throttle.offer("10%".into(), t0 + Duration::from_millis(500)),
            None,
            "too soon"
        );
        assert_eq!(throttle.due_at(), Some(t0 + MIN_EDIT_INTERVAL));
        assert_eq!(throttle.offer("20%".into(), t0 + Duration::from_secs(1)), None);
        assert_eq!(throttle.take_due(t0 + Duration::from_millis(1999)), None);
        assert_eq!(
            throttle.take_due(t0 + MIN_EDIT_INTERVAL),
            Some("20%".into()),
            "latest wins"
        );
        throttle.record_sent("20%".into(), t0 + MIN_EDIT_INTERVAL);
        assert_eq!(throttle.due_at(), None);
        assert_eq!(throttle.offer("20%".into(), t0 + Duration::from_secs(9)), None);
        assert_eq!(
            throttle.offer("30%".into(), t0 + Duration::from_secs(9)),
            Some("30%".into())
        );
    }

    #[test]
    fn groups_are_edited_at_most_every_five_seconds() {
        assert_eq!(edit_interval(7001), MIN_EDIT_INTERVAL);
        assert_eq!(edit_interval(-42), GROUP_EDIT_INTERVAL);
        assert_eq!(edit_interval(-1_001_234_567_890), GROUP_EDIT_INTERVAL);
        let t0 = Instant::now();
        let mut throttle = EditThrottle::showing("queued".into(), t0).every(edit_interval(-42));
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        assert_eq!(
            throttle.offer("10%".into(), at(2_000)),
            None,
            "2 s is too soon in a group"
        );
        assert_eq!(throttle.offer("20%".into(), at(4_999)), None);
        assert_eq!(throttle.due_at(), Some(t0 + GROUP_EDIT_INTERVAL));
        assert_eq!(throttle.take_due(at(4_999)), None);
        assert_eq!(throttle.take_due(at(5_000)), Some("20%".into()));
        throttle.record_sent("20%".into(), at(5_000));
        assert_eq!(throttle.offer("30%".into(), at(7_500)), None);
        assert_eq!(throttle.due_at(), Some(at(10_000)));
        assert_eq!(throttle.offer("40%".into(), at(10_000)), Some("40%".into()));
    }

    #[test]
    fn flood_control_blocks_edits_for_retry_after() {
        let t0 = Instant::now();
        let mut throttle = EditThrottle::showing("a".into(), t0);
        let at = t0 + Duration::from_secs(3);
        let text = throttle.offer("b".into(), at).expect("due");
        throttle.record_flood(text, at, Duration::from_secs(5));
        assert_eq!(throttle.due_at(), Some(at + Duration::from_secs(5)));
        assert_eq!(throttle.take_due(at + Duration::from_secs(4)), None);
        assert_eq!(throttle.offer("c".into(), at + Duration::from_secs(4)), None);
        assert_eq!(throttle.take_due(at + Duration::from_secs(5)), Some("c".into()));
    }
}
