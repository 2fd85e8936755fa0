//! How the Bot API reads loosely typed parameter values: integers as numbers or numeric strings,
//! any value as text.
use serde_json::{Map, Value};

/// Integers may arrive as JSON numbers or as numeric strings; Telegram takes both.
pub(super) fn param_i64(params: &Map<String, Value>, name: &str) -> Option<i64> {
    match params.get(name)? {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

pub(super) fn value_as_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}
