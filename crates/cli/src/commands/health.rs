//! `hermes health`: the worker's version and the yt-dlp, JavaScript and ffmpeg it finds.
use hermes_host::client::new_task_id;
use hermes_host::render::{format_eta, js_support_text};
use hermes_protocol::{health_check_request, Event, HealthOk};

use crate::error::CliError;
use crate::session::Session;
use crate::ui::println_stdout;

pub(crate) async fn run(session: &mut Session<'_>) -> Result<(), CliError> {
    let request = health_check_request(&new_task_id("cli"));
    let health: HealthOk = session.run(&request, "Checking", false, Event::HealthOk).await?;
    if !session.ui().json() {
        println_stdout(&health_text(&health));
    }
    Ok(())
}

fn health_text(health: &HealthOk) -> String {
    let status = if health.status.is_empty() {
        "ok"
    } else {
        health.status.as_str()
    };
    [
        format!("{} {} ({status})", health.worker, health.version),
        format!("yt-dlp   {}", health.ytdlp.as_deref().unwrap_or("not found")),
        format!("JS       {}", js_support_text(health)),
        format!("ffmpeg   {}", health.ffmpeg.as_deref().unwrap_or("not found")),
        format!(
            "active tasks {} · uptime {}",
            health.active_tasks,
            format_eta(health.uptime_s.max(0.0) as u64)
        ),
    ]
    .join("\n")
}
