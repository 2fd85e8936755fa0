//! `health_check`: liveness, version, handlers, effective config, load and tool versions.
//! Never waits for a slot, so it answers while downloads run.
use crate::context::Context;
use crate::error::WorkerError;
use crate::tasks::Task;
use hermes_protocol::{Event, HealthOk, RawResponse};

pub struct HealthCheck;

impl HealthCheck {
    pub async fn apply(self, ctx: &Context, task: &Task) -> Result<RawResponse, WorkerError> {
        let tools = ctx.tool_versions().await;
        let health = HealthOk {
            status: "ok".to_owned(),
            worker: "hermes-worker".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            handlers: super::handler_names(),
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
