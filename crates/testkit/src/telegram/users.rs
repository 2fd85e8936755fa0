//! Users and chats in Telegram's conventions: the bot's `User` from its token, test users by id,
//! private chats for positive ids, groups and supergroups for negative ones.
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

/// The bot's `User`: real tokens are `<bot id>:<secret>`, so the id comes from the token.
pub(super) fn bot_user_json(token: &str) -> Value {
    let id = token
        .split_once(':')
        .and_then(|(id, _)| id.parse::<u64>().ok())
        .unwrap_or(1_000_000_001);
    json!({
        "id": id,
        "is_bot": true,
        "first_name": "Hermes Test Bot",
        "username": "hermes_test_bot",
        "can_join_groups": true,
        "can_read_all_group_messages": false,
        "supports_inline_queries": false,
        "can_connect_to_business": false,
        "has_main_web_app": false,
    })
}

pub(super) fn user_json(user_id: u64) -> Value {
    json!({
        "id": user_id,
        "is_bot": false,
        "first_name": "Tester",
        "last_name": user_id.to_string(),
        "username": format!("user{user_id}"),
        "language_code": "en",
    })
}

/// A `Chat` in Telegram's id conventions: positive ids are private chats with that user, ids
/// from -1000000000000 down are supergroups, other negative ids basic groups.
pub(super) fn chat_json(chat_id: i64, user: Option<&Value>) -> Value {
    if chat_id > 0 {
        let fallback;
        let user = match user {
            Some(user) => user,
            None => {
                fallback = user_json(chat_id.unsigned_abs());
                &fallback
            }
        };
        let mut chat = json!({ "id": chat_id, "type": "private", "first_name": user["first_name"] });
        for optional in ["last_name", "username"] {
            if let Some(value) = user.get(optional) {
                chat[optional] = value.clone();
            }
        }
        chat
    } else if chat_id <= -1_000_000_000_000 {
        json!({ "id": chat_id, "type": "supergroup", "title": format!("Test supergroup {chat_id}") })
    } else {
        json!({ "id": chat_id, "type": "group", "title": format!("Test group {chat_id}") })
    }
}

/// A stable opaque id per chat, like the `chat_instance` Telegram puts in callback queries.
pub(super) fn chat_instance(chat_id: i64) -> String {
    (chat_id.unsigned_abs().wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 1).to_string()
}

pub(super) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}
