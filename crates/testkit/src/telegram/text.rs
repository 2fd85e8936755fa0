//! Texts as Telegram stores them: visible characters (HTML reduced to what a reader sees) and the
//! `bot_command`/`url` entities it detects, with offsets in UTF-16 units.
use serde_json::{json, Value};

/// A text as Telegram stores it: the visible characters plus the entities it detected.
pub(super) struct RenderedText {
    pub(super) text: String,
    pub(super) entities: Vec<Value>,
}

impl RenderedText {
    pub(super) fn new(raw: &str, parse_mode: Option<&str>) -> RenderedText {
        if parse_mode.is_some_and(|mode| mode.eq_ignore_ascii_case("html")) {
            RenderedText::plain(&html_visible_text(raw))
        } else {
            RenderedText::plain(raw)
        }
    }

    pub(super) fn plain(text: &str) -> RenderedText {
        RenderedText {
            text: text.to_owned(),
            entities: detect_entities(text),
        }
    }
}

#[derive(Clone, Copy)]
pub(super) enum TextField {
    Text,
    Caption,
}

/// Sets (or, with `None`, removes) a message's text or caption and the matching entity list.
pub(super) fn set_text_field(message: &mut Value, field: TextField, text: Option<&RenderedText>) {
    let (text_key, entities_key) = match field {
        TextField::Text => ("text", "entities"),
        TextField::Caption => ("caption", "caption_entities"),
    };
    let Some(fields) = message.as_object_mut() else {
        return;
    };
    fields.remove(entities_key);
    let Some(text) = text else {
        fields.remove(text_key);
        return;
    };
    fields.insert(text_key.to_owned(), Value::String(text.text.clone()));
    if !text.entities.is_empty() {
        fields.insert(entities_key.to_owned(), Value::Array(text.entities.clone()));
    }
}

/// The `bot_command` and `url` entities Telegram marks on its own, with offsets and lengths in
/// UTF-16 code units as the Bot API counts them.
fn detect_entities(text: &str) -> Vec<Value> {
    let mut entities = Vec::new();
    let mut offset = 0;
    for piece in text.split_inclusive(char::is_whitespace) {
        let token = piece.trim_end_matches(char::is_whitespace);
        if let Some((kind, matched)) = classify_token(token) {
            entities.push(json!({ "type": kind, "offset": offset, "length": utf16_len(matched) }));
        }
        offset += utf16_len(piece);
    }
    entities
}

fn classify_token(token: &str) -> Option<(&'static str, &str)> {
    if let Some(command) = token.strip_prefix('/') {
        let name_len = command
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '@'))
            .unwrap_or(command.len());
        return (name_len > 0).then(|| ("bot_command", &token[..=name_len]));
    }
    let scheme_len = ["https://", "http://"]
        .iter()
        .find(|scheme| {
            token
                .get(..scheme.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(scheme))
        })?
        .len();
    let url = token.trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '\'', '"']);
    (url.len() > scheme_len).then_some(("url", url))
}

pub(super) fn utf16_len(text: &str) -> usize {
    text.encode_utf16().count()
}

/// What a reader sees of an HTML-formatted text: tags dropped, character references decoded.
fn html_visible_text(html: &str) -> String {
    let mut visible = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => visible.push(c),
            _ => {}
        }
    }
    visible
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities_count_utf16_units_and_skip_trailing_punctuation() {
        let entities = detect_entities("🎵 /start@hermes_bot see https://example.com/a?b=1.");
        assert_eq!(
            entities,
            vec![
                json!({ "type": "bot_command", "offset": 3, "length": 17 }),
                json!({ "type": "url", "offset": 25, "length": 25 }),
            ]
        );
    }

    #[test]
    fn html_text_is_reduced_to_what_the_reader_sees() {
        assert_eq!(
            html_visible_text("<b>1 &lt; 2</b> &amp; <a href=\"x\">y</a>"),
            "1 < 2 & y"
        );
    }
}
