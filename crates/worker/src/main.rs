//! `hermes-worker`: reads NDJSON requests on stdin, writes NDJSON events on stdout, logs on
//! stderr. See the crate README and DESIGN.md §2 for the protocol.
use hermes_worker::{app, config::Config};
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

fn main() {
    if std::env::args_os()
        .nth(1)
        .is_some_and(|arg| arg == hermes_worker::ytdlp::orphans::GUARD_ARG)
    {
        std::process::exit(hermes_worker::ytdlp::orphans::run_guard());
    }
    init_logging();
    // `hermes-worker -m worker.application` is how the existing host starts "Python".
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let config = match Config::from_env_and_args(&args) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("hermes-worker: {error}");
            std::process::exit(app::EXIT_STARTUP_FAILURE);
        }
    };
    // Started by the binary only (it re-executes this executable), before any thread exists.
    if let Err(error) = hermes_worker::ytdlp::orphans::start_guard() {
        tracing::warn!(%error, "cannot start the orphan guard; children may outlive a killed worker");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("hermes-worker: cannot start the async runtime: {error}");
            std::process::exit(1);
        }
    };
    let code = runtime.block_on(app::run(config));
    // Do not wait for blocking threads (e.g. a stuck stdin read) before exiting.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    std::process::exit(code);
}

/// Logs go to stderr only; stdout belongs to the protocol. `LOG_LEVEL` takes the Python names too
/// (`warning`, `critical`).
fn init_logging() {
    let level = std::env::var("LOG_LEVEL")
        .unwrap_or_else(|_| "info".to_owned())
        .to_ascii_lowercase();
    let level = match level.as_str() {
        "warning" => "warn",
        "critical" | "fatal" => "error",
        other => other,
    };
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}
