//! Answering in a chat: a plain reply, or the answer to a button tap. Failures are logged, never
//! shown: a handler that cannot answer has nothing else to tell the user.
use crate::app::App;

pub(crate) async fn reply(app: &App, chat_id: i64, text: &str) {
    if let Err(error) = app.telegram.send_text(chat_id, text, None).await {
        tracing::warn!(chat_id, %error, "cannot send a reply");
    }
}

pub(crate) async fn answer(app: &App, query_id: &str, text: Option<&str>) {
    if let Err(error) = app.telegram.answer_callback(query_id, text).await {
        tracing::debug!(%error, "cannot answer a callback query");
    }
}
