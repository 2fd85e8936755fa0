//! How the worker is started: [`WorkerConfig`] (program, arguments, environment, restart
//! [`Backoff`]) and where the `hermes-worker` binary is found.
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use thiserror::Error;

/// Environment variable naming the worker binary.
const WORKER_BIN_ENV: &str = "HERMES_WORKER_BIN";
/// File name of the worker binary, looked up beside the current executable and on `PATH`.
const WORKER_BINARY_NAME: &str = "hermes-worker";

/// The worker binary could not be found.
#[derive(Debug, Error)]
pub enum LocateError {
    #[error("cannot find the {WORKER_BINARY_NAME} binary: set {WORKER_BIN_ENV}, put it beside this program or on PATH")]
    WorkerNotFound,
    #[error("{WORKER_BIN_ENV}={0} does not name an existing file")]
    WorkerBinMissing(PathBuf),
}

/// Restart delays: `initial`, doubled after each crash, capped at `max`; a worker that stayed up
/// for `reset_after` counts as healthy and the next crash starts the sequence over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
    pub reset_after: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(30),
            reset_after: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// The delay before restart number `consecutive_failures` (1 for the first crash).
    pub fn delay(&self, consecutive_failures: u32) -> Duration {
        let doublings = consecutive_failures.saturating_sub(1).min(31);
        self.initial.saturating_mul(1u32 << doublings).min(self.max)
    }
}

/// How to start the worker.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    /// Set on top of the inherited environment (e.g. `DOWNLOAD_DIR`).
    pub env: Vec<(String, String)>,
    pub current_dir: Option<PathBuf>,
    pub backoff: Backoff,
    /// How long `WorkerClient::shutdown` lets the worker finish after closing its stdin.
    pub shutdown_grace: Duration,
}

impl WorkerConfig {
    pub fn new(program: impl Into<PathBuf>) -> Self {
        WorkerConfig {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            current_dir: None,
            backoff: Backoff::default(),
            shutdown_grace: Duration::from_secs(5),
        }
    }

    /// A config for the worker binary: `$HERMES_WORKER_BIN`, else beside this program, else on `PATH`.
    pub fn locate() -> Result<Self, LocateError> {
        locate_worker_binary().map(WorkerConfig::new)
    }

    pub fn with_env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }
}

/// Finds `hermes-worker`: `$HERMES_WORKER_BIN` if set, else the binary beside the current
/// executable (how `cargo build` and a release archive lay them out), else the first on `PATH`.
fn locate_worker_binary() -> Result<PathBuf, LocateError> {
    if let Some(path) = std::env::var_os(WORKER_BIN_ENV).filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(LocateError::WorkerBinMissing(path))
        };
    }
    let beside_exe = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(WORKER_BINARY_NAME)))
        .filter(|candidate| candidate.is_file());
    beside_exe
        .or_else(find_on_path)
        .ok_or(LocateError::WorkerNotFound)
}

fn find_on_path() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(WORKER_BINARY_NAME))
        .find(|candidate| candidate.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_one_second_and_caps_at_thirty() {
        let backoff = Backoff::default();
        let delays: Vec<u64> = (1..=8).map(|n| backoff.delay(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(backoff.delay(0), Duration::from_secs(1));
        assert_eq!(backoff.delay(u32::MAX), Duration::from_secs(30));
    }
}
