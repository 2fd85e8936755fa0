//! The startup sequence of the protocol guide and the run until shutdown:
//! logging → SQLite open + migrations → cache warm-up → cookie check → handler registry →
//! stdin loop → drain → stats.
use crate::actions::health_check::handler_names;
use crate::cache::Cache;
use crate::config::Config;
use crate::context::Context;
use crate::dispatch::{serve, LoopStats};
use crate::events::spawn_writer;
use crate::shutdown::Shutdown;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::BufReader;

/// How long, after SIGTERM/SIGINT, cancelled tasks get to send their final events.
const TERMINATE_GRACE: Duration = Duration::from_millis(1500);

/// Exit status for a configuration or database problem found at start-up.
pub const EXIT_STARTUP_FAILURE: i32 = 2;

/// Runs the worker on this process's stdin/stdout until EOF or a signal; returns the exit code.
pub async fn run(config: Config) -> i32 {
    if let Err(error) = check_download_dir(&config.download_dir) {
        tracing::error!("{error}");
        eprintln!("hermes-worker: {error}");
        return EXIT_STARTUP_FAILURE;
    }
    let cache = match Cache::open_or_recover(
        &config.sqlx_database_url(),
        config.enable_search_cache,
        config.cache_expiry_hours,
    )
    .await
    {
        Ok(cache) => cache,
        Err(error) => {
            tracing::error!("{error}");
            eprintln!("hermes-worker: {error}");
            return EXIT_STARTUP_FAILURE;
        }
    };
    warm_up(&cache).await;
    check_cookies(&config);
    tracing::info!(handlers = ?handler_names(), concurrency = config.worker_concurrency, profile = ?config.wire_profile, "handlers registered");

    let shutdown = Shutdown::new();
    if let Err(error) = shutdown.listen_for_signals() {
        tracing::warn!(%error, "cannot install signal handlers");
    }
    let (events, writer) = spawn_writer(tokio::io::stdout());
    stop_when_stdout_is_gone(&events, &shutdown);
    let ctx = Arc::new(Context::new(config, cache, events, shutdown.clone()));
    let tool_refresh = ctx.load_and_refresh_tool_versions().await;

    let stats = LoopStats::default();
    let serving = serve(
        ctx.clone(),
        BufReader::with_capacity(64 * 1024, tokio::io::stdin()),
        &stats,
    );
    tokio::pin!(serving);
    tokio::select! {
        _ = &mut serving => {}
        _ = shutdown.terminated() => {
            // Tasks were cancelled with the shutdown token; give them a moment to report.
            let _ = tokio::time::timeout(TERMINATE_GRACE, &mut serving).await;
        }
    }
    crate::ytdlp::runner::kill_all_groups();

    let responses = ctx.events.sent_count();
    // Let the version probe record its result for the next start, unless it is stuck; after
    // SIGTERM/SIGINT it is dropped (its yt-dlp killed), as a stop must not wait for a Python start-up.
    if shutdown.is_terminating() {
        tool_refresh.abort();
    } else {
        let _ = tokio::time::timeout(Duration::from_secs(1), tool_refresh).await;
    }
    ctx.cache.close().await;
    drop(ctx);
    let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
    tracing::info!(
        requests = stats.requests.load(Ordering::Relaxed),
        rejected = stats.rejected.load(Ordering::Relaxed),
        responses,
        "worker stopped"
    );
    0
}

/// A worker whose stdout is gone (the host died or closed the pipe) stops as on SIGTERM
/// (DESIGN.md §3 "Shutdown"): its answers can reach nobody.
fn stop_when_stdout_is_gone(events: &crate::events::EventSender, shutdown: &Shutdown) {
    let (gone, shutdown) = (events.stdout_gone(), shutdown.clone());
    tokio::spawn(async move {
        gone.cancelled().await;
        tracing::warn!(
            "stdout is gone: terminating as on SIGTERM (cancelling tasks, killing child processes)"
        );
        shutdown.terminate();
    });
}

/// `DOWNLOAD_DIR` (or, while it does not exist yet, the nearest directory above it, where it
/// will be created) must be writable: a read-only or foreign directory would otherwise fail every
/// download later with a confusing error. Checked by creating and removing a file, which also
/// sees read-only mounts and root-squashed shares that permission bits do not show.
fn check_download_dir(dir: &std::path::Path) -> Result<(), String> {
    let absolute = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let existing = absolute.ancestors().find(|d| d.exists()).unwrap_or(&absolute);
    if !existing.is_dir() {
        return Err(format!(
            "DOWNLOAD_DIR {} cannot be used: {} is not a directory",
            dir.display(),
            existing.display()
        ));
    }
    let probe = existing.join(format!(".hermes-write-check-{}", std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(error) => Err(format!(
            "DOWNLOAD_DIR {} is not writable ({}: {error})",
            dir.display(),
            existing.display()
        )),
    }
}

async fn warm_up(cache: &Cache) {
    match cache.stats().await {
        Ok(stats) => tracing::info!(
            search = stats.search_entries,
            metadata = stats.metadata_entries,
            enabled = stats.cache_enabled,
            "cache ready"
        ),
        Err(error) => tracing::warn!(%error, "cache warm-up failed"),
    }
}

fn check_cookies(config: &Config) {
    match config.existing_cookie_file() {
        Some(path) => tracing::info!(path = %path.display(), "cookie file found"),
        None => {
            tracing::info!(path = %config.youtube_cookie_file.display(), "no cookie file; age-gated videos may fail")
        }
    }
}
