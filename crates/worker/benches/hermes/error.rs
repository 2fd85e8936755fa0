//! Why a figure could not run: reported as `n/a` with the reason, while the other figures run.

#[derive(Debug, thiserror::Error)]
pub(crate) enum BenchError {
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Protocol(String),
    #[error("timed out waiting for {0}")]
    Timeout(String),
    #[error("worker stdout closed while waiting for {0}")]
    Closed(String),
}

pub(crate) type Result<T> = std::result::Result<T, BenchError>;

pub(crate) fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BenchError {
    let what = what.into();
    move |source| BenchError::Io { what, source }
}
