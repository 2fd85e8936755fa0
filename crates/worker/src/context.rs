//! State shared by every action of one worker process.
use crate::cache::Cache;
use crate::config::Config;
use crate::events::EventSender;
use crate::shutdown::Shutdown;
use crate::tasks::TaskRegistry;
use crate::tools::{ToolProbe, ToolVersions};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Semaphore;

pub struct Context {
    pub config: Config,
    pub cache: Cache,
    pub events: EventSender,
    pub tasks: TaskRegistry,
    /// `WORKER_CONCURRENCY` slots, held by actions that spawn yt-dlp.
    pub slots: Arc<Semaphore>,
    pub shutdown: Shutdown,
    pub started: Instant,
    tools: ToolProbe,
}

impl Context {
    pub fn new(config: Config, cache: Cache, events: EventSender, shutdown: Shutdown) -> Context {
        let slots = Arc::new(Semaphore::new(config.worker_concurrency));
        Context {
            config,
            cache,
            events,
            tasks: TaskRegistry::default(),
            slots,
            shutdown,
            started: Instant::now(),
            tools: ToolProbe::default(),
        }
    }

    /// yt-dlp and ffmpeg versions (probed once, shared).
    pub async fn tool_versions(&self) -> ToolVersions {
        self.tools.versions(&self.config.ytdlp_bin, &self.config.ffmpeg_bin).await
    }
}
