//! The one error of configuration: a variable that is set but unusable, named in the start-up
//! message. Its own module so that the parts of the configuration (the wire profile) can return
//! it without importing the `Config` that is built from them.

/// A variable that is set but unusable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid value for {var}: {value:?} ({expected})")]
pub struct ConfigError {
    pub var: &'static str,
    pub value: String,
    pub expected: &'static str,
}
