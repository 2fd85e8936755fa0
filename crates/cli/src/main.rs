//! `hermes`: the terminal front end. It starts one `hermes-worker` through [`WorkerClient`], sends
//! the request(s) of one command, shows progress, prints the result and stops the worker.
//!
//! Exit codes: 0 done, 1 error (the worker's error code on stderr), 2 usage (clap's default),
//! 130 interrupted by Ctrl-C (143 for SIGTERM) after the task was cancelled in the worker.
mod args;
mod commands;
mod interrupt;
mod ui;

use args::Cli;
use clap::Parser;
use hermes_bot::client::{ClientError, WorkerClient, WorkerConfig};
use hermes_protocol::ErrorCode;
use std::process::ExitCode;
use thiserror::Error;

/// `HERMES_LOG` sets the log filter (tracing `EnvFilter` syntax); warnings only by default so
/// the progress bar stays readable.
const LOG_ENV: &str = "HERMES_LOG";

#[derive(Debug, Error)]
pub enum CliError {
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
    Toolchain(#[from] hermes_bot::toolchain::ToolchainError),
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Worker { .. } | CliError::Client(_) | CliError::Io { .. } | CliError::Toolchain(_) => 1,
            CliError::Usage(_) => 2,
            CliError::Interrupted { exit_code } => *exit_code,
        }
    }

    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> CliError {
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

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let code = match runtime.block_on(execute(cli)) {
        Ok(()) => 0,
        Err(error) => {
            eprintln!("{error}");
            error.exit_code()
        }
    };
    ExitCode::from(code)
}

async fn execute(cli: Cli) -> Result<(), CliError> {
    if let args::Command::UpdateYtdlp { rollback } = cli.command {
        // No worker: this changes the yt-dlp workers run.
        return commands::update_ytdlp(rollback).await;
    }
    let mut interrupts = interrupt::Interrupts::install().map_err(CliError::io("cannot catch Ctrl-C"))?;
    let out_dir = match commands::requested_output_dir(&cli.command) {
        Some(dir) => Some(commands::prepare_output_dir(dir)?),
        None => None,
    };
    let config = commands::worker_config(WorkerConfig::locate()?, out_dir.as_deref());
    let client = WorkerClient::spawn(config)?;
    let mut session = commands::Session::new(&client, ui::Ui::new(cli.json), &mut interrupts);
    let result = session.dispatch(&cli.command, out_dir.as_deref()).await;
    session.finish();
    client.shutdown().await;
    result
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env(LOG_ENV)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).init();
}
