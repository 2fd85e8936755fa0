//! The private `hermes-worker` of one `hermes` run: where it may write, how long it gets to
//! stop, and where its search cache lives.
use std::path::{Path, PathBuf};
use std::time::Duration;

use hermes_host::client::WorkerConfig;

/// The CLI stops its worker right after the last task, or after a cancellation; waiting the
/// library's default 5 s for a worker that does not react would only delay the exit.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// The worker for this run. It refuses an `output_dir` outside its `DOWNLOAD_DIR` (or equal to
/// it), so the download root becomes the parent of the chosen directory; only `/` itself has no
/// parent, and then the check is switched off for this private worker. The search cache goes to
/// the user's cache directory rather than into whatever directory `hermes` is run from.
pub(crate) fn worker_config(mut config: WorkerConfig, out_dir: Option<&Path>) -> WorkerConfig {
    config.shutdown_grace = SHUTDOWN_GRACE;
    if let Some(dir) = out_dir {
        config = match dir.parent() {
            Some(parent) => config.with_env("DOWNLOAD_DIR", parent.to_string_lossy()),
            None => config.with_env("ALLOW_ANY_OUTPUT_DIR", "true"),
        };
    }
    if std::env::var_os("DATABASE_URL").is_none() {
        if let Some(url) = user_cache_database_url() {
            config = config.with_env("DATABASE_URL", url);
        }
    }
    config
}

/// `sqlite:$XDG_CACHE_HOME/hermes/hermes.db` (or `~/.cache/hermes/...`), created if needed;
/// `None` leaves the worker's default. Spelled `sqlite:<absolute path>` because both wire
/// profiles read that alike; `sqlite:///abs` would be a relative path to a worker in the python
/// profile (which reads `DATABASE_URL` as SQLAlchemy does).
fn user_cache_database_url() -> Option<String> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .map(|home| PathBuf::from(home).join(".cache"))
        })?;
    let dir = base.join("hermes");
    std::fs::create_dir_all(&dir).ok()?;
    Some(format!("sqlite:{}", dir.join("hermes.db").to_str()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output_dir::prepare_output_dir;

    #[test]
    fn output_dir_gets_its_parent_as_download_root() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = prepare_output_dir(&root.path().join("a/b")).expect("created");
        assert!(dir.is_dir() && dir.is_absolute());
        let config = worker_config(WorkerConfig::new("hermes-worker"), Some(&dir));
        assert_eq!(config.shutdown_grace, SHUTDOWN_GRACE);
        let download_dir = config
            .env
            .iter()
            .find(|(k, _)| k == "DOWNLOAD_DIR")
            .map(|(_, v)| v.clone());
        assert_eq!(download_dir.as_deref(), dir.parent().and_then(Path::to_str));
    }
}
