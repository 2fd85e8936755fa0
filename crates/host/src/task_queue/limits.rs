//! The TaskQueue's limits as the deployment sets them: `MAX_CONCURRENT_TASKS` (default 3) and
//! `MAX_TASKS_PER_CHAT` (default 2), validated so that a typo names its variable.
use std::ffi::OsString;

use thiserror::Error;

const DEFAULT_MAX_CONCURRENT: usize = 3;
const DEFAULT_MAX_PER_CHAT: usize = 2;
const MAX_CONCURRENT_VAR: &str = "MAX_CONCURRENT_TASKS";
const MAX_PER_CHAT_VAR: &str = "MAX_TASKS_PER_CHAT";

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum QueueConfigError {
    #[error("{var}={value:?} is not a valid task limit (expected a whole number >= 1)")]
    InvalidLimit { var: &'static str, value: String },
}

/// How many tasks run at once, overall and per chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct QueueLimits {
    pub(super) max_concurrent: usize,
    pub(super) max_per_chat: usize,
}

impl QueueLimits {
    /// Unset or blank means the default; anything that is not an integer >= 1 is an error naming
    /// the variable, so a typo in the deployment is reported instead of silently ignored.
    pub(super) fn from_lookup(lookup: impl Fn(&str) -> Option<OsString>) -> Result<Self, QueueConfigError> {
        Ok(QueueLimits {
            max_concurrent: read_limit(&lookup, MAX_CONCURRENT_VAR, DEFAULT_MAX_CONCURRENT)?,
            max_per_chat: read_limit(&lookup, MAX_PER_CHAT_VAR, DEFAULT_MAX_PER_CHAT)?,
        })
    }
}

fn read_limit(
    lookup: &impl Fn(&str) -> Option<OsString>,
    var: &'static str,
    default: usize,
) -> Result<usize, QueueConfigError> {
    let Some(raw) = lookup(var) else {
        return Ok(default);
    };
    let value = raw.into_string().map_err(|raw| QueueConfigError::InvalidLimit {
        var,
        value: raw.to_string_lossy().into_owned(),
    })?;
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Ok(default);
    }
    match trimmed.parse::<usize>() {
        Ok(limit) if limit >= 1 => Ok(limit),
        _ => Err(QueueConfigError::InvalidLimit { var, value }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task_queue::TaskQueue;
    use crate::test_support::lookup_from;

    /// Environment variables given, then the expected (max_concurrent, max_per_chat).
    type LimitCase<'a> = (&'a [(&'a str, &'a str)], (usize, usize));

    #[test]
    fn limits_come_from_environment_with_defaults() {
        let cases: &[LimitCase] = &[
            (&[], (3, 2)),
            (&[(MAX_CONCURRENT_VAR, "5")], (5, 2)),
            (&[(MAX_PER_CHAT_VAR, " 1 ")], (3, 1)),
            (&[(MAX_CONCURRENT_VAR, "8"), (MAX_PER_CHAT_VAR, "4")], (8, 4)),
            (&[(MAX_CONCURRENT_VAR, ""), (MAX_PER_CHAT_VAR, "  ")], (3, 2)),
        ];
        for (vars, expected) in cases {
            let q = TaskQueue::from_lookup(lookup_from(vars)).expect("valid config");
            assert_eq!((q.max_concurrent(), q.max_per_chat()), *expected, "{vars:?}");
        }
    }

    #[test]
    fn bad_limit_is_an_error_naming_the_variable() {
        let cases: &[(&str, &str)] = &[
            (MAX_CONCURRENT_VAR, "abc"),
            (MAX_CONCURRENT_VAR, "0"),
            (MAX_CONCURRENT_VAR, "-1"),
            (MAX_PER_CHAT_VAR, "2.5"),
            (MAX_PER_CHAT_VAR, "99999999999999999999999"),
        ];
        for (var, value) in cases {
            let err = TaskQueue::from_lookup(lookup_from(&[(var, value)])).expect_err("invalid config");
            assert_eq!(
                err,
                QueueConfigError::InvalidLimit {
                    var,
                    value: (*value).to_owned()
                }
            );
            assert!(err.to_string().contains(var), "{err}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn non_utf8_limit_is_an_error() {
        use std::os::unix::ffi::OsStringExt;
        let lookup = |name: &str| (name == MAX_PER_CHAT_VAR).then(|| OsString::from_vec(vec![b'3', 0xff]));
        let err = TaskQueue::from_lookup(lookup).expect_err("invalid config");
        assert!(err.to_string().contains(MAX_PER_CHAT_VAR), "{err}");
    }
}
