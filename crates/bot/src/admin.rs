//! What only `ADMIN_CHAT_ID` may do: `/cookies` (see [`crate::cookies`]), `/update` (a fresh
//! yt-dlp, see `hermes_host::toolchain`) and the daily update of `YTDLP_AUTO_UPDATE=daily`.
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use frankenstein::types::Document;

use hermes_host::toolchain::Toolchain;

use crate::app::App;
use crate::cookies;
use crate::reply::reply;

pub(crate) const ADMIN_ONLY: &str = "⛔ Only the bot's admin (ADMIN_CHAT_ID) can do that.";
/// How often the daily update is due, and how soon a failed one is tried again.
const UPDATE_EVERY: Duration = Duration::from_secs(24 * 3600);
const RETRY_FAILED_UPDATE: Duration = Duration::from_secs(3600);

/// `/cookies` with a document: check and install it; without: show the state.
pub(crate) async fn cookies_command(app: &App, chat_id: i64, document: Option<&Document>) {
    if !app.config.is_admin(chat_id) {
        reply(app, chat_id, ADMIN_ONLY).await;
        return;
    }
    let path = &app.config.cookie_file;
    let Some(document) = document else {
        reply(app, chat_id, &cookies::state_text(path, SystemTime::now())).await;
        return;
    };
    if document.file_size.is_some_and(|size| size > cookies::MAX_BYTES) {
        let error = cookies::CookieFileError::TooLarge(document.file_size.unwrap_or_default());
        reply(app, chat_id, &format!("🍪 Not installed: {error}.")).await;
        return;
    }
    let bytes = match app
        .telegram
        .download_file(&document.file_id, cookies::MAX_BYTES)
        .await
    {
        Ok(bytes) => bytes,
        Err(error) => {
            tracing::warn!(%error, "cannot download the cookie file");
            reply(
                app,
                chat_id,
                "🍪 Not installed: I could not download the file. Please send it again.",
            )
            .await;
            return;
        }
    };
    let text = match cookies::check(&bytes, SystemTime::now()) {
        Err(error) => format!("🍪 Not installed: {error}."),
        Ok(summary) => match cookies::write_atomically(path, &bytes) {
            Ok(()) => {
                tracing::info!(path = %path.display(), cookies = summary.cookies, "cookie file replaced by the admin");
                format!(
                    "🍪 Installed at {}: {}.\nThe next download uses them.",
                    path.display(),
                    cookies::summary_text(&summary)
                )
            }
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "cannot write the cookie file");
                format!("🍪 Not installed: cannot write {}: {error}.", path.display())
            }
        },
    };
    reply(app, chat_id, &text).await;
}

/// `/update` (or `/update rollback`): runs in the background, answers when done.
pub(crate) async fn update_command(app: Arc<App>, chat_id: i64, args: &str) {
    if !app.config.is_admin(chat_id) {
        reply(&app, chat_id, ADMIN_ONLY).await;
        return;
    }
    let rollback = args
        .split_whitespace()
        .next()
        .is_some_and(|word| word.eq_ignore_ascii_case("rollback"));
    let toolchain = Toolchain::from_env();
    if !rollback {
        reply(
            &app,
            chat_id,
            "⏳ Installing the newest yt-dlp and Deno in a new environment (about a minute)…",
        )
        .await;
    }
    tokio::spawn(async move {
        let result = if rollback {
            toolchain.rollback().await
        } else {
            toolchain.update().await
        };
        let text = match result {
            Ok(switch) => format!("✅ {}", switch.summary()),
            Err(error) => format!("⚠️ {error}"),
        };
        reply(&app, chat_id, &text).await;
    });
}

/// `YTDLP_AUTO_UPDATE=daily`: updates the managed yt-dlp when the environment in use is a day
/// old (at once when there is none), then every day; tells the admin what changed. Tasks that
/// are running keep the yt-dlp they started with (the switch is a link renamed over another).
pub(crate) fn spawn_auto_update(app: Arc<App>) {
    if !app.config.auto_update_daily {
        return;
    }
    tokio::spawn(async move {
        let toolchain = Toolchain::from_env();
        loop {
            tokio::time::sleep(due_in(&toolchain)).await;
            if app.is_shutting_down() {
                return;
            }
            let (text, wait) = match toolchain.update().await {
                Ok(switch) => {
                    tracing::info!(summary = %switch.summary(), "daily yt-dlp update");
                    (format!("🔄 Daily update: {}", switch.summary()), None)
                }
                Err(error) => {
                    tracing::warn!(%error, "daily yt-dlp update failed");
                    (
                        format!("⚠️ Daily yt-dlp update failed: {error}"),
                        Some(RETRY_FAILED_UPDATE),
                    )
                }
            };
            if let Some(admin) = app.config.admin_chat_id {
                reply(&app, admin, &text).await;
            }
            if let Some(wait) = wait {
                tokio::time::sleep(wait).await;
            }
        }
    });
}

/// Time until the environment in use (the `venv` link, renamed into place at each switch) is a
/// day old; zero when there is none.
fn due_in(toolchain: &Toolchain) -> Duration {
    let switched = std::fs::symlink_metadata(toolchain.venv()).and_then(|m| m.modified());
    match switched
        .as_ref()
        .ok()
        .and_then(|at| SystemTime::now().duration_since(*at).ok())
    {
        Some(age) => UPDATE_EVERY.saturating_sub(age),
        None if switched.is_ok() => UPDATE_EVERY,
        None => Duration::ZERO,
    }
}
