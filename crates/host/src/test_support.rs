//! Helpers for tests here and in the crates built on this one (feature `test-support`).
use std::ffi::OsString;

/// A fixed environment for configuration readers that take a lookup function (the TaskQueue's
/// limits, the bot's configuration), so tests never touch the process environment.
pub fn lookup_from(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
    let vars: Vec<(String, OsString)> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), OsString::from(v)))
        .collect();
    move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}
