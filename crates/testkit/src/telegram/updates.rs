//! The `getUpdates` queue: update ids, Telegram's offset rule, and which update kinds a bot
//! receives by default.
use std::collections::VecDeque;

use serde_json::{json, Map, Value};

const FIRST_UPDATE_ID: u32 = 1;
/// Update kinds Telegram leaves out unless `allowed_updates` names them.
const OPT_IN_UPDATE_KINDS: [&str; 3] = ["chat_member", "message_reaction", "message_reaction_count"];

/// Pending updates and the `getUpdates` bookkeeping Telegram does per bot.
pub(super) struct UpdateQueue {
    pub(super) pending: VecDeque<Value>,
    next_update_id: u32,
    /// Bumped by every `getUpdates`; a long poll that sees it move was superseded (409).
    pub(super) poll_generation: u64,
    /// The last `allowed_updates` given; empty means Telegram's default set.
    pub(super) allowed: Vec<String>,
}

impl UpdateQueue {
    pub(super) fn new() -> UpdateQueue {
        UpdateQueue {
            pending: VecDeque::new(),
            next_update_id: FIRST_UPDATE_ID,
            poll_generation: 0,
            allowed: Vec::new(),
        }
    }

    pub(super) fn push(&mut self, mut update: Map<String, Value>) -> u32 {
        let update_id = self.next_update_id;
        self.next_update_id += 1;
        update.insert("update_id".to_owned(), json!(update_id));
        self.pending.push_back(Value::Object(update));
        update_id
    }

    /// Telegram's offset rule: a positive offset confirms (forgets) every update below it; a
    /// negative one keeps only the last `-offset` updates.
    pub(super) fn confirm(&mut self, offset: i64) {
        if offset > 0 {
            self.pending
                .retain(|update| update["update_id"].as_i64().is_some_and(|id| id >= offset));
        } else if offset < 0 {
            let keep = usize::try_from(offset.unsigned_abs()).unwrap_or(usize::MAX);
            let drop_count = self.pending.len().saturating_sub(keep);
            self.pending.drain(..drop_count);
        }
    }

    pub(super) fn deliverable(&self, limit: usize) -> Vec<Value> {
        self.pending
            .iter()
            .filter(|update| self.is_allowed(update))
            .take(limit)
            .cloned()
            .collect()
    }

    fn is_allowed(&self, update: &Value) -> bool {
        let Some(kind) = update
            .as_object()
            .and_then(|fields| fields.keys().find(|key| key.as_str() != "update_id"))
        else {
            return false;
        };
        if self.allowed.is_empty() {
            !OPT_IN_UPDATE_KINDS.contains(&kind.as_str())
        } else {
            self.allowed.iter().any(|allowed| allowed == kind)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_confirm_and_negative_offsets_keep_the_tail() {
        let mut queue = UpdateQueue::new();
        for _ in 0..4 {
            queue.push(Map::from_iter([("message".to_owned(), json!({}))]));
        }
        queue.confirm(3);
        assert_eq!(
            queue
                .deliverable(10)
                .iter()
                .map(|u| u["update_id"].clone())
                .collect::<Vec<_>>(),
            [json!(3), json!(4)]
        );
        queue.confirm(-1);
        assert_eq!(queue.deliverable(10).len(), 1);
        assert_eq!(queue.deliverable(10)[0]["update_id"], json!(4));
    }
}
