//! `hermes`: the terminal front end. It starts one `hermes-worker` through [`WorkerClient`], sends
//! the request(s) of one command, shows progress, prints the result and stops the worker.
//!
//! Exit codes: 0 done, 1 error (the worker's error code on stderr), 2 usage (clap's default),
//! 130 interrupted by Ctrl-C (143 for SIGTERM) after the task was cancelled in the worker.
mod args;
mod columns;
mod commands;
mod error;
mod interrupt;
mod output_dir;
mod session;
mod ui;
mod worker_setup;

use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use hermes_host::client::{WorkerClient, WorkerConfig};

use args::{Cli, Command};
use error::CliError;
use output_dir::{prepare_output_dir, requested_output_dir, required};
use session::Session;

/// `HERMES_LOG` sets the log filter (tracing `EnvFilter` syntax); warnings only by default so
/// the progress bar stays readable.
const LOG_ENV: &str = "HERMES_LOG";

fn main() -> ExitCode {
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
    if let Command::UpdateYtdlp { rollback } = cli.command {
        // No worker: this changes the yt-dlp workers run.
        return commands::update_ytdlp::run(rollback).await;
    }
    let mut interrupts = interrupt::Interrupts::install().map_err(CliError::io("cannot catch Ctrl-C"))?;
    let out_dir = match requested_output_dir(&cli.command) {
        Some(dir) => Some(prepare_output_dir(dir)?),
        None => None,
    };
    let config = worker_setup::worker_config(WorkerConfig::locate()?, out_dir.as_deref());
    let client = WorkerClient::spawn(config)?;
    let mut session = Session::new(&client, ui::Ui::new(cli.json), &mut interrupts);
    let result = dispatch(&mut session, &cli.command, out_dir.as_deref()).await;
    session.finish();
    client.shutdown().await;
    result
}

/// One command, one file under `commands/`.
async fn dispatch(
    session: &mut Session<'_>,
    command: &Command,
    out_dir: Option<&Path>,
) -> Result<(), CliError> {
    match command {
        Command::Download(args) => commands::download::run(session, args, required(out_dir)?).await,
        Command::Playlist(args) => commands::playlist::run(session, args, required(out_dir)?).await,
        Command::Search(args) => commands::search::run(session, args, out_dir).await,
        Command::Info { url } => commands::info::run(session, url).await,
        Command::Formats { url, audio } => commands::formats::run(session, url, *audio).await,
        Command::Health => commands::health::run(session).await,
        Command::Cache { action } => commands::cache::run(session, action).await,
        Command::UpdateYtdlp { rollback } => commands::update_ytdlp::run(*rollback).await,
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env(LOG_ENV)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
