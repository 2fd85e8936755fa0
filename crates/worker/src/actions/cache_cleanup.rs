//! `cache_cleanup`: deletes expired cache rows and reports how many went.
use crate::context::Context;
use crate::error::WorkerError;
use crate::tasks::Task;
use hermes_protocol::{Event, RawResponse};

pub(crate) struct CacheCleanup;

impl CacheCleanup {
    pub(crate) async fn apply(self, ctx: &Context, task: &Task) -> Result<RawResponse, WorkerError> {
        let removed = ctx.cache.cleanup().await?;
        tracing::info!(
            removed_search = removed.removed_search,
            removed_metadata = removed.removed_metadata,
            "cache cleaned"
        );
        Ok(RawResponse::new(
            task.id.clone(),
            Event::CacheCleanupDone,
            &removed,
        ))
    }
}
