//! What yt-dlp says about its JavaScript support, and how to read it.
//!
//! Since yt-dlp 2025.11.12, YouTube needs an external JavaScript runtime plus the `yt-dlp-ejs`
//! solver scripts; without them formats go missing. yt-dlp tells both only in the header of a
//! verbose run (`yt-dlp -v`, on stderr):
//!
//! ```text
//! [debug] Optional libraries: Cryptodome-3.24.2, brotli-1.2.1, …, yt_dlp_ejs-0.8.0
//! [debug] JS runtimes: deno-2.9.8, node-20.20.2 (unsupported)
//! ```
//!
//! The worker reports these facts in `health_check` and the host checks a freshly installed
//! yt-dlp with them, so the reading lives here, next to the wire type, once. Pure text parsing.
use serde::{Deserialize, Serialize};

/// A JavaScript runtime yt-dlp can use: `{"name": "deno", "version": "2.9.8"}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct JsRuntime {
    pub name: String,
    pub version: String,
}

/// yt-dlp's JavaScript support as its verbose header states it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct JsSupport {
    /// The first runtime yt-dlp lists that it supports (the one it prefers); `None` when it
    /// found none, or only versions it marks `(unsupported)`.
    pub js_runtime: Option<JsRuntime>,
    /// The `yt-dlp-ejs` version, when installed.
    pub ejs: Option<String>,
}

impl JsSupport {
    /// Reads the `[debug] JS runtimes:` and `[debug] Optional libraries:` lines of `yt-dlp -v`
    /// output; anything else (an older yt-dlp, a stand-in) gives `None` for both.
    pub fn from_verbose_output(text: &str) -> JsSupport {
        let mut support = JsSupport::default();
        for line in text.lines() {
            let line = line.trim();
            if let Some(list) = line.strip_prefix("[debug] JS runtimes:") {
                support.js_runtime = list.split(',').find_map(parse_runtime);
            } else if let Some(list) = line.strip_prefix("[debug] Optional libraries:") {
                support.ejs = list
                    .split(',')
                    .find_map(|item| item.trim().strip_prefix("yt_dlp_ejs-"))
                    .and_then(|rest| rest.split_whitespace().next())
                    .filter(|version| !version.is_empty())
                    .map(str::to_owned);
            }
        }
        support
    }

    /// Whether YouTube works fully: a runtime and the solver scripts are both there.
    pub fn youtube_ready(&self) -> bool {
        self.js_runtime.is_some() && self.ejs.is_some()
    }
}

/// `deno-2.9.8` → deno 2.9.8; `quickjs-2025-04-26` → quickjs 2025-04-26; `none` and entries
/// marked `(unsupported)` (node 20, for one) → `None`.
fn parse_runtime(item: &str) -> Option<JsRuntime> {
    let item = item.trim();
    if item.contains("(unsupported)") {
        return None;
    }
    let word = item.split_whitespace().next()?;
    let (name, version) = word.split_once('-')?;
    (!name.is_empty() && !version.is_empty()).then(|| JsRuntime {
        name: name.to_owned(),
        version: version.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Headers of real `yt-dlp -v` runs (2026.10.26) in a venv with `yt-dlp[default]` and deno,
    /// and with the system yt-dlp (no runtime, node 20 enabled by `--js-runtimes`).
    const READY: &str = "[debug] Optional libraries: Cryptodome-3.24.2, brotli-1.2.1, certifi-2026.10.19, mutagen-1.48.1, requests-2.34.2, sqlite3-3.40.1, urllib3-2.8.0, websockets-17.4, yt_dlp_ejs-0.8.0\n[debug] JS runtimes: deno-2.9.8\n[debug] Proxy map: {}";
    const BARE: &str = "[debug] Optional libraries: certifi-2026.05.20, requests-2.34.2, sqlite3-3.40.1, urllib3-2.7.0\n[debug] JS runtimes: none";
    const OLD_NODE: &str = "[debug] JS runtimes: node-20.20.2 (unsupported)";
    const TWO: &str = "[debug] JS runtimes: deno-2.9.8, node-20.20.2 (unsupported)";

    #[test]
    fn a_ready_yt_dlp_names_its_runtime_and_ejs() {
        let support = JsSupport::from_verbose_output(READY);
        assert_eq!(
            support.js_runtime,
            Some(JsRuntime {
                name: "deno".into(),
                version: "2.9.8".into()
            })
        );
        assert_eq!(support.ejs.as_deref(), Some("0.8.0"));
        assert!(support.youtube_ready());
    }

    #[test]
    fn none_unsupported_and_unknown_output_give_nothing() {
        for text in [BARE, OLD_NODE, "2026.10.26", ""] {
            let support = JsSupport::from_verbose_output(text);
            assert_eq!(support.js_runtime, None, "{text}");
            assert!(!support.youtube_ready());
        }
        assert_eq!(JsSupport::from_verbose_output(BARE).ejs, None);
        assert_eq!(
            JsSupport::from_verbose_output(TWO)
                .js_runtime
                .map(|r| r.name)
                .as_deref(),
            Some("deno")
        );
        let quickjs = JsSupport::from_verbose_output("[debug] JS runtimes: quickjs-2025-04-26");
        assert_eq!(
            quickjs.js_runtime.map(|r| r.version).as_deref(),
            Some("2025-04-26")
        );
    }
}
