//! `cache_stats`: live rows per cache table and this process's hit/miss counters.
use crate::context::Context;
use crate::error::WorkerError;
use crate::tasks::Task;
use hermes_protocol::{Event, RawResponse};

pub(crate) struct CacheStats;

impl CacheStats {
    pub(crate) async fn apply(self, ctx: &Context, task: &Task) -> Result<RawResponse, WorkerError> {
        let stats = ctx.cache.stats().await?;
        Ok(RawResponse::new(task.id.clone(), Event::CacheStats, &stats))
    }
}
