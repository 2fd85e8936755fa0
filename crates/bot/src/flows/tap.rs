//! A button tap: the callback decoded, its flow looked up (and taken when the choice is final),
//! and the next step of that flow started. Always answers the callback query.
use std::sync::Arc;

use super::link::{media_key_for, offer_modes};
use super::playlist::preview_playlist;
use super::quality::{choice_for_option, show_qualities};
use super::screen::edit_keyboard;
use super::settings::{chat_settings, show_settings, update_settings};
use crate::app::App;
use crate::callbacks::{Callback, Flow, FlowMiss};
use crate::intake;
use crate::job::{DownloadChoice, Job, JobKind};
use crate::media_mode::MediaMode;
use crate::messages;
use crate::reply::answer;

/// A button tap. Always answers the callback query (Telegram shows a spinner until then).
pub(crate) async fn handle_callback(
    app: Arc<App>,
    query_id: &str,
    chat_id: i64,
    message_id: i32,
    data: &str,
) {
    let Some(callback) = Callback::decode(data) else {
        answer(&app, query_id, Some(messages::FLOW_EXPIRED)).await;
        return;
    };
    let result = match callback {
        Callback::SetMode(mode) => {
            update_settings(&app, chat_id, |s| s.default_mode = mode).await;
            answer(&app, query_id, Some("Saved")).await;
            show_settings(&app, chat_id, Some(message_id)).await;
            Ok(())
        }
        Callback::SetAudioFormat(format) => {
            update_settings(&app, chat_id, |s| s.audio_format = format).await;
            answer(&app, query_id, Some("Saved")).await;
            show_settings(&app, chat_id, Some(message_id)).await;
            Ok(())
        }
        Callback::Retry { task_id } => {
            retry(&app, query_id, chat_id, message_id, &task_id).await;
            Ok(())
        }
        Callback::Cancel { task_id } => {
            cancel(&app, query_id, chat_id, &task_id).await;
            Ok(())
        }
        other => {
            let tap = Tap {
                app: &app,
                query_id,
                chat_id,
                message_id,
            };
            tap.handle(other).await
        }
    };
    if let Err(miss) = result {
        let text = match miss {
            FlowMiss::Expired => messages::FLOW_EXPIRED,
            FlowMiss::WrongChat => "This button belongs to another chat.",
        };
        // A toast only: the message may already show what the first tap started (a status, a
        // delivered "✅ Completed"), which a second tap must not overwrite.
        answer(&app, query_id, Some(text)).await;
    }
}

/// 🔁 Retry under a job that was given up: the same job again, fresh (its attempts start over),
/// in the same status message. A second tap finds the job taken and only gets a toast.
async fn retry(app: &Arc<App>, query_id: &str, chat_id: i64, message_id: i32, task_id: &str) {
    let job = match app.db.take_for_retry(task_id, chat_id).await {
        Ok(Some(json)) => serde_json::from_str::<Job>(&json).ok(),
        Ok(None) => None,
        Err(error) => {
            tracing::warn!(%error, "cannot look up a job to retry");
            None
        }
    };
    let Some(mut job) = job else {
        answer(app, query_id, Some(messages::RETRY_TAKEN)).await;
        return;
    };
    answer(app, query_id, None).await;
    job.reuse_message_id = Some(message_id);
    intake::start(Arc::clone(app), job).await;
}

/// ✖ Cancel under a status message (or in `/cancel`'s list): that task, if it is this chat's
/// and still active; the status message then says "Cancelled".
async fn cancel(app: &Arc<App>, query_id: &str, chat_id: i64, task_id: &str) {
    let active = match app.db.active_tasks(chat_id).await {
        Ok(active) => active.iter().any(|task| task.id == task_id),
        Err(error) => {
            tracing::warn!(%error, "cannot look up a task to cancel");
            false
        }
    };
    let asked = active && app.dispatch.cancel(&app.queue, task_id).await;
    let toast = if asked {
        "🚫 Cancelling…"
    } else {
        messages::ALREADY_ENDED
    };
    answer(app, query_id, Some(toast)).await;
}

/// One tap on a flow button.
struct Tap<'a> {
    app: &'a Arc<App>,
    query_id: &'a str,
    chat_id: i64,
    message_id: i32,
}

impl Tap<'_> {
    async fn handle(&self, callback: Callback) -> Result<(), FlowMiss> {
        let (app, chat_id) = (self.app, self.chat_id);
        match callback {
            Callback::Download { key, mode } => {
                let Flow::Link {
                    url,
                    title,
                    performer,
                    ..
                } = app.flows.take(&key, chat_id)?
                else {
                    return Err(FlowMiss::Expired);
                };
                self.ack().await;
                let settings = chat_settings(app, chat_id).await;
                let choice = DownloadChoice::new(mode, settings.audio_format);
                self.start_single(url, choice, title, performer).await;
            }
            Callback::Quality { key } => {
                let Flow::Link {
                    url,
                    title,
                    smaller_than,
                    ..
                } = app.flows.get(&key, chat_id)?
                else {
                    return Err(FlowMiss::Expired);
                };
                self.ack().await;
                show_qualities(app, chat_id, self.message_id, &url, title, smaller_than).await;
            }
            Callback::Split { key } => {
                let Flow::Split { job } = app.flows.take(&key, chat_id)? else {
                    return Err(FlowMiss::Expired);
                };
                self.ack().await;
                let mut job = *job;
                if let JobKind::Single(choice) = &mut job.kind {
                    choice.split = true;
                }
                job.reuse_message_id = Some(self.message_id);
                intake::start(Arc::clone(app), job).await;
            }
            Callback::Format { key, index } => {
                let Flow::Formats { url, title, options } = app.flows.take(&key, chat_id)? else {
                    return Err(FlowMiss::Expired);
                };
                let option = options.get(usize::from(index)).ok_or(FlowMiss::Expired)?;
                self.ack().await;
                let settings = chat_settings(app, chat_id).await;
                let choice = choice_for_option(option, settings.audio_format);
                self.start_single(url, choice, title, None).await;
            }
            Callback::WholePlaylist { key } => {
                let Flow::VideoOrPlaylist { playlist_url, .. } = app.flows.take(&key, chat_id)? else {
                    return Err(FlowMiss::Expired);
                };
                self.ack().await;
                preview_playlist(app, chat_id, &playlist_url, Some(self.message_id)).await;
            }
            Callback::OnlyVideo { key } => {
                let Flow::VideoOrPlaylist { video_url, .. } = app.flows.take(&key, chat_id)? else {
                    return Err(FlowMiss::Expired);
                };
                self.ack().await;
                offer_modes(app, chat_id, &video_url, None, None, Some(self.message_id)).await;
            }
            Callback::Pick { key, index } => {
                let Flow::SearchResults { choices } = app.flows.get(&key, chat_id)? else {
                    return Err(FlowMiss::Expired);
                };
                let choice = choices.get(usize::from(index)).ok_or(FlowMiss::Expired)?;
                self.ack().await;
                offer_modes(
                    app,
                    chat_id,
                    &choice.url,
                    Some(choice.title.clone()),
                    choice.channel.clone(),
                    None,
                )
                .await;
            }
            Callback::Limit { key, count } => {
                let Flow::Playlist { url, title, .. } = app.flows.get(&key, chat_id)? else {
                    return Err(FlowMiss::Expired);
                };
                let limit = (count > 0).then_some(u32::from(count));
                let flow = Flow::Playlist {
                    url,
                    title: title.clone(),
                    limit,
                };
                app.flows.update(&key, chat_id, flow)?;
                self.ack().await;
                let how_many = limit.map_or("all items".to_owned(), |n| format!("first {n} items"));
                let text = format!("📃 {title} · {how_many}\n{}", messages::CHOOSE_MODE);
                let rows = vec![vec![
                    (
                        "🎵 Audio".to_owned(),
                        Callback::PlaylistMode {
                            key: key.clone(),
                            mode: MediaMode::Audio,
                        }
                        .encode(),
                    ),
                    (
                        "🎬 Video".to_owned(),
                        Callback::PlaylistMode {
                            key,
                            mode: MediaMode::Video,
                        }
                        .encode(),
                    ),
                ]];
                edit_keyboard(app, chat_id, self.message_id, &text, rows).await;
            }
            Callback::PlaylistMode { key, mode } => {
                let Flow::Playlist { url, title, limit } = app.flows.take(&key, chat_id)? else {
                    return Err(FlowMiss::Expired);
                };
                self.ack().await;
                let settings = chat_settings(app, chat_id).await;
                let job = Job {
                    chat_id,
                    media_key: media_key_for(&url),
                    url,
                    kind: JobKind::Playlist {
                        mode,
                        audio_format: settings.audio_format,
                        limit,
                    },
                    title: Some(title),
                    performer: None,
                    reuse_message_id: Some(self.message_id),
                };
                intake::start(Arc::clone(app), job).await;
            }
            Callback::SetMode(_)
            | Callback::SetAudioFormat(_)
            | Callback::Retry { .. }
            | Callback::Cancel { .. } => {}
        }
        Ok(())
    }

    async fn ack(&self) {
        answer(self.app, self.query_id, None).await;
    }

    async fn start_single(
        &self,
        url: String,
        choice: DownloadChoice,
        title: Option<String>,
        performer: Option<String>,
    ) {
        let job = Job {
            chat_id: self.chat_id,
            media_key: media_key_for(&url),
            url,
            kind: JobKind::Single(choice),
            title,
            performer,
            reuse_message_id: Some(self.message_id),
        };
        intake::start(Arc::clone(self.app), job).await;
    }
}
