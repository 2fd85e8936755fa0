//! State shared by every action of one worker process.
use crate::cache::{Cache, SearchHits};
use crate::config::Config;
use crate::error::SharedError;
use crate::events::EventSender;
use crate::rate_limiter::RateLimiter;
use crate::shutdown::Shutdown;
use crate::single_flight::SingleFlight;
use crate::tasks::TaskRegistry;
use crate::tool_versions::{binaries_fingerprint, fingerprint, js_fingerprint, ToolProbe, ToolVersions};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Semaphore;

/// What one search flight hands to every request that waited for it.
pub(crate) type SearchOutcome = Result<SearchHits, SharedError>;

pub struct Context {
    pub(crate) config: Config,
    pub cache: Cache,
    pub(crate) events: EventSender,
    pub(crate) tasks: TaskRegistry,
    /// `WORKER_CONCURRENCY` slots, held by actions that spawn yt-dlp.
    pub(crate) slots: Arc<Semaphore>,
    pub(crate) shutdown: Shutdown,
    pub(crate) started: Instant,
    /// Identical concurrent searches (same cache key) share one yt-dlp run.
    pub(crate) search_flights: SingleFlight<SearchOutcome>,
    /// `RATE_LIMIT_SEARCHES_PER_HOUR`, over the searches that reach yt-dlp.
    pub(crate) search_rate: RateLimiter,
    tools: ToolProbe,
}

impl Context {
    pub fn new(config: Config, cache: Cache, events: EventSender, shutdown: Shutdown) -> Context {
        let slots = Arc::new(Semaphore::new(config.worker_concurrency));
        let search_rate = RateLimiter::per_hour(config.rate_limit_searches_per_hour);
        Context {
            config,
            cache,
            events,
            tasks: TaskRegistry::default(),
            slots,
            shutdown,
            started: Instant::now(),
            search_flights: SingleFlight::default(),
            search_rate,
            tools: ToolProbe::default(),
        }
    }

    /// yt-dlp and ffmpeg versions for `health_check` (see [`ToolProbe`]).
    pub(crate) async fn tool_versions(&self) -> ToolVersions {
        self.tools.versions(&self.config).await
    }

    /// Loads the versions recorded for the current binaries (same path, size and mtime); only
    /// when one is unknown are they probed, in the background, and recorded for the next start.
    /// A probe costs a Python start-up (~1 s of CPU for yt-dlp's verbose header) that would slow
    /// every worker start.
    pub(crate) async fn load_and_refresh_tool_versions(
        self: &std::sync::Arc<Self>,
    ) -> tokio::task::JoinHandle<()> {
        let (ytdlp_print, ffmpeg_print) = (
            fingerprint(&self.config.ytdlp_bin),
            fingerprint(&self.config.ffmpeg_bin),
        );
        let js_print = js_fingerprint(&self.config);
        let known = async {
            let ytdlp = self.cache.tool_version("yt-dlp", &ytdlp_print).await.ok()??;
            let ffmpeg = self.cache.tool_version("ffmpeg", &ffmpeg_print).await.ok()??;
            let js = self.cache.tool_version(JS_ROW, &js_print).await.ok()??;
            let js = serde_json::from_str(js.as_deref()?).ok()?;
            Some(ToolVersions { ytdlp, ffmpeg, js })
        };
        if let Some(versions) = known.await {
            tracing::debug!(ytdlp = ?versions.ytdlp, ffmpeg = ?versions.ffmpeg, js = ?versions.js, "tool versions known from an earlier start");
            warn_if_youtube_degraded(&versions);
            self.tools
                .remember(binaries_fingerprint(&self.config), versions)
                .await;
            return tokio::spawn(async {});
        }
        let ctx = self.clone();
        tokio::spawn(async move {
            let versions = ctx.tools.versions(&ctx.config).await;
            tracing::info!(ytdlp = ?versions.ytdlp, ffmpeg = ?versions.ffmpeg, js = ?versions.js, "tools probed");
            warn_if_youtube_degraded(&versions);
            let js = serde_json::to_string(&versions.js).ok();
            let saved = async {
                ctx.cache
                    .remember_tool_version("yt-dlp", &ytdlp_print, versions.ytdlp.as_deref())
                    .await?;
                ctx.cache
                    .remember_tool_version(JS_ROW, &js_print, js.as_deref())
                    .await?;
                ctx.cache
                    .remember_tool_version("ffmpeg", &ffmpeg_print, versions.ffmpeg.as_deref())
                    .await
            };
            if let Err(error) = saved.await {
                tracing::warn!(%error, "cannot record tool versions");
            }
        })
    }
}

/// The `tool_versions` row of yt-dlp's JavaScript support (JSON of [`hermes_protocol::JsSupport`]).
const JS_ROW: &str = "yt-dlp-js";

/// One warning at start when YouTube would be degraded, saying what to do about it. A yt-dlp
/// that cannot run at all is reported by the tasks themselves (`YTDLP_NOT_FOUND`).
fn warn_if_youtube_degraded(versions: &ToolVersions) {
    if versions.ytdlp.is_none() || versions.js.youtube_ready() {
        return;
    }
    let missing = match (&versions.js.js_runtime, &versions.js.ejs) {
        (None, None) => "no JavaScript runtime and no yt-dlp-ejs",
        (None, Some(_)) => "no JavaScript runtime",
        _ => "no yt-dlp-ejs",
    };
    tracing::warn!(
        "YouTube will be degraded (formats missing, downloads failing): yt-dlp has {missing}. \
         Run scripts/setup.sh or `hermes update-ytdlp` (yt-dlp[default] and Deno in a managed \
         environment), or point DENO_BIN / NODE_BIN at a runtime"
    );
}
