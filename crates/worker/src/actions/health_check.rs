//! `health_check`: liveness, version, handlers, effective config, load and tool versions.
//! Never waits for a slot, so it answers while downloads run.
use crate::context::Context;
use crate::error::WorkerError;
use crate::tasks::Task;
use hermes_protocol::{Action, Event, HealthOk, RawResponse};

pub(crate) struct HealthCheck;

/// How long `health_check` waits for tool versions that are not known yet.
const PROBE_WAIT: std::time::Duration = std::time::Duration::from_secs(8);

impl HealthCheck {
    pub(crate) async fn apply(self, ctx: &Context, task: &Task) -> Result<RawResponse, WorkerError> {
        // The first probe of new binaries (a Python start-up, nice 10) can take many seconds on a
        // loaded machine; a liveness check must not wait for it: unknown versions are null until
        // the background probe has them.
        let tools = tokio::time::timeout(PROBE_WAIT, ctx.tool_versions())
            .await
            .unwrap_or_default();
        let health = HealthOk {
            status: "ok".to_owned(),
            worker: "hermes-worker".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            handlers: handler_names(),
            config: serde_json::to_value(&ctx.config).unwrap_or_default(),
            // Not counting this health check itself.
            active_tasks: ctx.tasks.len().saturating_sub(1),
            uptime_s: ctx.started.elapsed().as_secs_f64(),
            ytdlp: tools.ytdlp,
            ffmpeg: tools.ffmpeg,
            js_runtime: tools.js.js_runtime,
            ejs: tools.js.ejs,
        };
        Ok(RawResponse::new(task.id.clone(), Event::HealthOk, &health))
    }
}

/// The handler names reported by `health_check` (and logged at start-up).
pub(crate) fn handler_names() -> Vec<String> {
    Action::ALL.iter().map(|a| a.as_str().to_owned()).collect()
}
