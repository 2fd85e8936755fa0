//! `/settings`: the chat's default mode and audio format, shown with a keyboard that changes them.
use hermes_protocol::AudioFormat;

use super::screen::{edit_keyboard, send_keyboard};
use crate::app::App;
use crate::callbacks::Callback;
use crate::db::ChatSettings;
use crate::media_mode::MediaMode;

/// `/settings`, or the settings message refreshed after a tap (`edit`).
pub(crate) async fn show_settings(app: &App, chat_id: i64, edit: Option<i32>) {
    let settings = chat_settings(app, chat_id).await;
    let text = format!(
        "⚙ Settings\nDefault mode: {}\nAudio format: {}",
        settings.default_mode.as_str(),
        settings.audio_format.as_str()
    );
    let mark = |on: bool, label: &str| {
        if on {
            format!("✅ {label}")
        } else {
            label.to_owned()
        }
    };
    let modes = vec![
        (
            mark(settings.default_mode == MediaMode::Audio, "🎵 Audio"),
            Callback::SetMode(MediaMode::Audio).encode(),
        ),
        (
            mark(settings.default_mode == MediaMode::Video, "🎬 Video"),
            Callback::SetMode(MediaMode::Video).encode(),
        ),
    ];
    let formats = [AudioFormat::Mp3, AudioFormat::M4a, AudioFormat::Opus]
        .into_iter()
        .map(|format| {
            (
                mark(settings.audio_format == format, format.as_str()),
                Callback::SetAudioFormat(format).encode(),
            )
        })
        .collect();
    let rows = vec![modes, formats];
    match edit {
        Some(message_id) => edit_keyboard(app, chat_id, message_id, &text, rows).await,
        None => send_keyboard(app, chat_id, &text, rows).await,
    }
}

pub(super) async fn chat_settings(app: &App, chat_id: i64) -> ChatSettings {
    app.db.chat_settings(chat_id).await.unwrap_or_else(|error| {
        tracing::warn!(%error, "cannot read chat settings, using defaults");
        ChatSettings::default()
    })
}

pub(super) async fn update_settings(app: &App, chat_id: i64, change: impl FnOnce(&mut ChatSettings)) {
    let mut settings = chat_settings(app, chat_id).await;
    change(&mut settings);
    if let Err(error) = app.db.set_chat_settings(chat_id, settings).await {
        tracing::warn!(%error, "cannot save chat settings");
    }
}
