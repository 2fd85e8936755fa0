//! `hermes cache stats|cleanup`: the worker's search and metadata cache.
use hermes_host::client::new_task_id;
use hermes_protocol::{cache_cleanup_request, cache_stats_request, CacheCleanupDone, CacheStats, Event};

use crate::args::CacheAction;
use crate::error::CliError;
use crate::session::Session;
use crate::ui::println_stdout;

pub(crate) async fn run(session: &mut Session<'_>, action: &CacheAction) -> Result<(), CliError> {
    let task_id = new_task_id("cli");
    match action {
        CacheAction::Stats => {
            let stats: CacheStats = session
                .run(&cache_stats_request(&task_id), "Cache", false, Event::CacheStats)
                .await?;
            if !session.ui().json() {
                println_stdout(&cache_stats_text(&stats));
            }
        }
        CacheAction::Cleanup => {
            let done: CacheCleanupDone = session
                .run(
                    &cache_cleanup_request(&task_id),
                    "Cache",
                    false,
                    Event::CacheCleanupDone,
                )
                .await?;
            if !session.ui().json() {
                println_stdout(&format!(
                    "removed {} search and {} metadata entries",
                    done.removed_search, done.removed_metadata
                ));
            }
        }
    }
    Ok(())
}

fn cache_stats_text(stats: &CacheStats) -> String {
    [
        format!(
            "cache          {}",
            if stats.cache_enabled {
                "enabled"
            } else {
                "disabled"
            }
        ),
        format!("search entries {}", stats.search_entries),
        format!("metadata       {}", stats.metadata_entries),
        format!("hits / misses  {} / {}", stats.hits, stats.misses),
        format!("ttl            {} h", stats.ttl_hours),
    ]
    .join("\n")
}
