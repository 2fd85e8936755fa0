//! Percent-decoding for the fake servers: strict for URL paths and query values (a malformed
//! escape is a bad request), lenient for form bodies (decoded the way Telegram's servers do).

/// Decodes `%XX` escapes; `None` if an escape is malformed or the result is not UTF-8.
pub(crate) fn percent_decode(text: &str) -> Option<String> {
    let (bytes, well_formed) = decode(text, false);
    if !well_formed {
        return None;
    }
    String::from_utf8(bytes).ok()
}

/// Decodes an `application/x-www-form-urlencoded` value: `+` is a space, a malformed escape is
/// kept as it is and invalid UTF-8 is replaced.
pub(crate) fn form_decode(text: &str) -> String {
    let (bytes, _) = decode(text, true);
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The decoded bytes, and whether every `%` started a valid escape.
fn decode(text: &str, plus_is_space: bool) -> (Vec<u8>, bool) {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut well_formed = true;
    let mut index = 0;
    while index < bytes.len() {
        let escaped = bytes
            .get(index + 1..index + 3)
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (bytes[index], escaped) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                index += 3;
            }
            (b'%', None) => {
                well_formed = false;
                decoded.push(b'%');
                index += 1;
            }
            (b'+', _) if plus_is_space => {
                decoded.push(b' ');
                index += 1;
            }
            (byte, _) => {
                decoded.push(byte);
                index += 1;
            }
        }
    }
    (decoded, well_formed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_percent_escapes() {
        assert_eq!(
            percent_decode("/media/a%20b.webm").as_deref(),
            Some("/media/a b.webm")
        );
        assert_eq!(percent_decode("/media/%2e%2e/x").as_deref(), Some("/media/../x"));
        assert_eq!(percent_decode("/bad%2"), None);
        assert_eq!(percent_decode("/bad%zz"), None);
        assert_eq!(percent_decode("/bad%ff"), None);
    }

    #[test]
    fn form_values_turn_plus_into_space_and_keep_malformed_escapes() {
        assert_eq!(form_decode("a+b%20%C3%A9"), "a b é");
        assert_eq!(form_decode("100%+x%zz"), "100% x%zz");
        assert_eq!(percent_decode("a+b").as_deref(), Some("a+b"));
    }
}
