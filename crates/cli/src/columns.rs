//! Short values and fixed-width columns for the text output of the commands.
use hermes_host::render::format_clock;

/// `3:05`, `1:02:03`; yt-dlp's own string when it gave one; `?` when unknown.
pub(crate) fn clock(text: Option<&str>, secs: Option<u64>) -> String {
    if let Some(text) = text.filter(|t| !t.is_empty()) {
        return text.to_owned();
    }
    secs.map(format_clock).unwrap_or_else(|| "?".to_owned())
}

pub(crate) fn human_size(bytes: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    format!("{:.1} MiB", bytes as f64 / MIB)
}

/// Cuts or pads `text` to exactly `width` characters (an ellipsis marks a cut), so table
/// columns line up with titles in any script.
pub(crate) fn pad(text: &str, width: usize) -> String {
    let count = text.chars().count();
    if count <= width {
        return format!("{text}{}", " ".repeat(width - count));
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pad_cuts_on_char_boundaries_and_pads_short_text() {
        assert_eq!(pad("abc", 5), "abc  ");
        assert_eq!(pad("héllo wörld", 6), "héllo…");
        assert_eq!(pad("日本語のタイトル", 4).chars().count(), 4);
    }

    #[test]
    fn clock_prefers_the_source_string() {
        assert_eq!(clock(Some("3:33"), Some(1)), "3:33");
        assert_eq!(clock(None, Some(185)), "3:05");
        assert_eq!(clock(Some(""), Some(3723)), "1:02:03");
        assert_eq!(clock(None, None), "?");
    }
}
