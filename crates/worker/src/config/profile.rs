//! Wire profiles (DESIGN.md §2.1): which host the worker speaks to.
//!
//! The one host in the wild (pgwiz/telegram-ultra) reads the Python worker's real shapes and
//! delivers every file a `done` names, so the guide's superset would reach its users twice. It
//! starts its worker as `$PYTHON_BIN -m worker.application`: those arguments select the `python`
//! profile, so pointing `PYTHON_BIN` at `hermes-worker` is the whole migration.
use super::error::ConfigError;
use serde::Serialize;
use std::borrow::Cow;
use std::ffi::OsStr;

/// The environment variable that overrides the start arguments.
pub(crate) const WIRE_PROFILE_VAR: &str = "WIRE_PROFILE";

/// The module the existing host asks Python to run.
const PYTHON_MODULE: &str = "worker.application";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum WireProfile {
    /// The protocol guide's shapes (plus compatible extras); the default.
    #[default]
    Guide,
    /// The Python worker's shapes, its `DATABASE_URL` spelling, no playlist ZIP.
    Python,
}

impl WireProfile {
    /// `WIRE_PROFILE` when set (`guide` or `python`, any case), else `python` when the worker was
    /// started as `-m worker.application`, else `guide`. Other arguments are ignored, as they
    /// always were.
    pub(crate) fn select<A: AsRef<OsStr>>(
        env_value: Option<&str>,
        args: &[A],
    ) -> Result<WireProfile, ConfigError> {
        if let Some(value) = env_value {
            return match value.to_ascii_lowercase().as_str() {
                "guide" => Ok(WireProfile::Guide),
                "python" => Ok(WireProfile::Python),
                _ => Err(ConfigError {
                    var: WIRE_PROFILE_VAR,
                    value: value.to_owned(),
                    expected: "guide or python",
                }),
            };
        }
        let started_as_module = args
            .windows(2)
            .any(|pair| pair[0].as_ref() == "-m" && pair[1].as_ref() == PYTHON_MODULE);
        Ok(if started_as_module {
            WireProfile::Python
        } else {
            WireProfile::Guide
        })
    }

    pub(crate) fn is_python(self) -> bool {
        self == WireProfile::Python
    }

    /// The sqlx URL for `DATABASE_URL`. In the python profile it is read as SQLAlchemy reads it:
    /// after `sqlite:///` comes the path, relative to the working directory unless it starts
    /// with `/` (`sqlite:///./hermes.db` is `./hermes.db`, `sqlite:////var/h.db` is `/var/h.db`);
    /// sqlx would read the first as `/./hermes.db`. Other spellings (such as the default
    /// `sqlite://./hermes.db`, or `sqlite:/abs/path`) mean the same in both readings and pass
    /// unchanged.
    pub(crate) fn sqlx_database_url(self, url: &str) -> Cow<'_, str> {
        match (self, url.strip_prefix("sqlite:///")) {
            (WireProfile::Python, Some(path)) => Cow::Owned(format!("sqlite://{path}")),
            _ => Cow::Borrowed(url),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_python_start_command_selects_the_python_profile() {
        assert_eq!(WireProfile::select::<&str>(None, &[]), Ok(WireProfile::Guide));
        assert_eq!(
            WireProfile::select(None, &["-m", "worker.application"]),
            Ok(WireProfile::Python)
        );
        assert_eq!(
            WireProfile::select(None, &["-u", "-m", "worker.application", "x"]),
            Ok(WireProfile::Python)
        );
        assert_eq!(
            WireProfile::select(None, &["-m", "other.module"]),
            Ok(WireProfile::Guide)
        );
        assert_eq!(
            WireProfile::select(None, &["worker.application"]),
            Ok(WireProfile::Guide)
        );
    }

    #[test]
    fn the_variable_overrides_the_arguments() {
        assert_eq!(
            WireProfile::select(Some("guide"), &["-m", "worker.application"]),
            Ok(WireProfile::Guide)
        );
        assert_eq!(
            WireProfile::select::<&str>(Some("Python"), &[]),
            Ok(WireProfile::Python)
        );
        let err = WireProfile::select::<&str>(Some("pyton"), &[]).unwrap_err();
        assert_eq!(err.var, WIRE_PROFILE_VAR);
        assert!(err.to_string().contains("WIRE_PROFILE"), "{err}");
    }

    #[test]
    fn database_urls_are_read_the_python_way_only_in_the_python_profile() {
        let py = WireProfile::Python;
        assert_eq!(
            py.sqlx_database_url("sqlite:///./hermes.db"),
            "sqlite://./hermes.db"
        );
        assert_eq!(py.sqlx_database_url("sqlite:///hermes.db"), "sqlite://hermes.db");
        assert_eq!(
            py.sqlx_database_url("sqlite:////var/lib/h.db"),
            "sqlite:///var/lib/h.db"
        );
        assert_eq!(
            py.sqlx_database_url("sqlite://./hermes.db"),
            "sqlite://./hermes.db"
        );
        assert_eq!(
            py.sqlx_database_url("sqlite:/var/lib/h.db"),
            "sqlite:/var/lib/h.db"
        );
        assert_eq!(
            WireProfile::Guide.sqlx_database_url("sqlite:///./hermes.db"),
            "sqlite:///./hermes.db"
        );
    }
}
