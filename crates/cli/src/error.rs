//! [`CliError`]: everything that ends a `hermes` run early, and the exit code each one means
//! (the one place errors become exit codes).
use hermes_host::client::{ClientError, LocateError};
use hermes_host::toolchain::ToolchainError;
use hermes_protocol::ErrorCode;
use thiserror::Error;

#[derive(Debug, Error)]
pub(crate) enum CliError {
    #[error("error [{code}]: {message}")]
    Worker { code: ErrorCode, message: String },
    #[error("error: {0}")]
    Client(ClientError),
    #[error("error: {0}")]
    Usage(String),
    #[error("error: {context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("interrupted: the task was cancelled")]
    Interrupted { exit_code: u8 },
    #[error("error: {0}")]
    Toolchain(#[from] ToolchainError),
}

impl CliError {
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            CliError::Worker { .. } | CliError::Client(_) | CliError::Io { .. } | CliError::Toolchain(_) => 1,
            CliError::Usage(_) => 2,
            CliError::Interrupted { exit_code } => *exit_code,
        }
    }

    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> CliError {
        let context = context.into();
        move |source| CliError::Io { context, source }
    }
}

impl From<ClientError> for CliError {
    /// A worker error reaching us through the client reads the same as one from an event.
    fn from(error: ClientError) -> Self {
        match error {
            ClientError::Worker { code, message } => CliError::Worker { code, message },
            other => CliError::Client(other),
        }
    }
}

impl From<LocateError> for CliError {
    fn from(error: LocateError) -> Self {
        CliError::Client(error.into())
    }
}
