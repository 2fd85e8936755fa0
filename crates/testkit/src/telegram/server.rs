//! The HTTP side: `/bot<token>/<method>` and `/file/bot<token>/<path>` on axum, answered in
//! Telegram's order (token, method, parameters, injected faults, the method) and recorded.
use std::future::IntoFuture;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, Path, Request, State as AxumState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::sync::oneshot;

use super::call::Call;
use super::error::ApiError;
use super::local_mode::read_local_files;
use super::methods::{dispatch, get_updates};
use super::request::{read_api_request, ApiRequest, BODY_LIMIT};
use super::state::Shared;

/// Every method name of the Bot API version frankenstein 0.52 speaks. Names are matched
/// case-insensitively, as Telegram does; anything else is answered with 404.
#[rustfmt::skip]
const KNOWN_METHODS: &[&str] = &[
    "addStickerToSet", "answerCallbackQuery", "answerChatJoinRequestQuery", "answerGuestQuery",
    "answerInlineQuery", "answerPreCheckoutQuery", "answerShippingQuery", "answerWebAppQuery",
    "approveChatJoinRequest", "approveSuggestedPost", "banChatMember", "banChatSenderChat", "close",
    "closeForumTopic", "closeGeneralForumTopic", "convertGiftToStars", "copyMessage", "copyMessages",
    "createChatInviteLink", "createChatSubscriptionInviteLink", "createForumTopic",
    "createInvoiceLink", "createNewStickerSet", "declineChatJoinRequest", "declineSuggestedPost",
    "deleteAllMessageReactions", "deleteBusinessMessages", "deleteChatPhoto", "deleteChatStickerSet",
    "deleteEphemeralMessage", "deleteForumTopic", "deleteMessage", "deleteMessageReaction",
    "deleteMessages", "deleteMyCommands", "deleteStickerFromSet", "deleteStickerSet", "deleteStory",
    "deleteWebhook", "editChatInviteLink", "editChatSubscriptionInviteLink",
    "editEphemeralMessageCaption", "editEphemeralMessageMedia", "editEphemeralMessageReplyMarkup",
    "editForumTopic", "editGeneralForumTopic", "editMessageCaption", "editMessageChecklist",
    "editMessageLiveLocation", "editMessageMedia", "editMessageReplyMarkup", "editMessageText",
    "editStory", "editUserStarSubscription", "exportChatInviteLink", "forwardMessage",
    "forwardMessages", "getAvailableGifts", "getBusinessAccountGifts",
    "getBusinessAccountStarBalance", "getBusinessConnection", "getChat", "getChatAdministrators",
    "getChatGifts", "getChatMember", "getChatMemberCount", "getChatMenuButton",
    "getCustomEmojiStickers", "getFile", "getForumTopicIconStickers", "getGameHighScores",
    "getManagedBotAccessSettings", "getManagedBotToken", "getMe", "getMyCommands",
    "getMyDefaultAdministratorRights", "getMyDescription", "getMyName", "getMyShortDescription",
    "getMyStarBalance", "getStarTransactions", "getStickerSet", "getUpdates", "getUserChatBoosts",
    "getUserGifts", "getUserPersonalChatMessages", "getUserProfileAudios", "getUserProfilePhotos",
    "getWebhookInfo", "giftPremiumSubscription", "hideGeneralForumTopic", "leaveChat", "logOut",
    "pinChatMessage", "postStory", "promoteChatMember", "readBusinessMessage", "refundStarPayment",
    "removeBusinessAccountProfilePhoto", "removeChatVerification", "removeMyProfilePhoto",
    "removeUserVerification", "reopenForumTopic", "reopenGeneralForumTopic",
    "replaceManagedBotToken", "replaceStickerInSet", "repostStory", "restrictChatMember",
    "revokeChatInviteLink", "savePreparedInlineMessage", "savePreparedKeyboardButton",
    "sendAnimation", "sendAudio", "sendChatAction", "sendChatJoinRequestWebApp", "sendChecklist",
    "sendContact", "sendDice", "sendDocument", "sendGame", "sendGift", "sendInvoice",
    "sendLivePhoto", "sendLocation", "sendMediaGroup", "sendMessage", "sendMessageDraft",
    "sendPaidMedia", "sendPhoto", "sendPoll", "sendRichMessage", "sendRichMessageDraft",
    "sendSticker", "sendVenue", "sendVideo", "sendVideoNote", "sendVoice", "setBusinessAccountBio",
    "setBusinessAccountGiftSettings", "setBusinessAccountName", "setBusinessAccountProfilePhoto",
    "setBusinessAccountUsername", "setChatAdministratorCustomTitle", "setChatDescription",
    "setChatMemberTag", "setChatMenuButton", "setChatPermissions", "setChatStickerSet",
    "setChatTitle", "setCustomEmojiStickerSetThumbnail", "setGameScore",
    "setManagedBotAccessSettings", "setMessageReaction", "setMyCommands",
    "setMyDefaultAdministratorRights", "setMyDescription", "setMyName", "setMyProfilePhoto",
    "setMyShortDescription", "setPassportDataErrors", "setStickerEmojiList", "setStickerKeywords",
    "setStickerMaskPosition", "setStickerPositionInSet", "setStickerSetThumbnail",
    "setStickerSetTitle", "setUserEmojiStatus", "setWebhook", "stopMessageLiveLocation", "stopPoll",
    "transferBusinessAccountStars", "transferGift", "unbanChatMember", "unbanChatSenderChat",
    "unhideGeneralForumTopic", "unpinAllChatMessages", "unpinAllForumTopicMessages",
    "unpinAllGeneralForumTopicMessages", "unpinChatMessage", "upgradeGift", "verifyChat",
    "verifyUser",
];

pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/file/{bot_segment}/{*file_path}", get(download_file))
        .route("/{bot_segment}/{method}", get(handle_method).post(handle_method))
        .fallback(|| async { error_response(&ApiError::not_found()) })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(shared)
}

/// Runs the server until the owner asks it to stop, then drops the runtime, which also cancels the
/// per-connection tasks (a graceful shutdown would wait out long polls of up to 30 s).
pub(super) fn serve_until_shutdown(
    runtime: tokio::runtime::Runtime,
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown_requested: oneshot::Receiver<()>,
) {
    runtime.block_on(async move {
        tokio::select! {
            _ = axum::serve(listener, app).into_future() => {}
            _ = shutdown_requested => {}
        }
    });
    drop(runtime);
}

async fn handle_method(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path((bot_segment, method)): Path<(String, String)>,
    request: Request,
) -> Response {
    let received_at = Instant::now();
    let Some(token) = bot_segment.strip_prefix("bot") else {
        return error_response(&ApiError::not_found());
    };
    let known_method = canonical_method(&method);
    let mut parsed = read_api_request(request).await;
    if let Ok(request) = &mut parsed {
        if shared.lock().local_mode {
            read_local_files(request);
        }
    }
    let outcome = serve_call(&shared, token, known_method, &parsed).await;
    let (status, body) = response_parts(&outcome);
    let request = parsed.unwrap_or_default();
    shared.record(Call {
        seq: 0,
        method: known_method.unwrap_or(&method).to_owned(),
        params: Value::Object(request.params),
        files: request.files,
        local_files: request.local_files,
        status: status.as_u16(),
        response: body.clone(),
        at: received_at,
    });
    (status, Json(body)).into_response()
}

/// `GET /file/bot<token>/<file_path>`: the bytes of a file `getFile` named, as Telegram serves
/// them (404 for an unknown path or a wrong token).
async fn download_file(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path((bot_segment, file_path)): Path<(String, String)>,
) -> Response {
    if bot_segment.strip_prefix("bot") != Some(shared.token.as_str()) {
        return error_response(&ApiError::not_found());
    }
    let state = shared.lock();
    match state.files.values().find(|file| file.file_path == file_path) {
        Some(file) => (StatusCode::OK, file.bytes.clone()).into_response(),
        None => error_response(&ApiError::not_found()),
    }
}

/// Decides the answer in Telegram's order: token, method, parameters, then injected faults, then
/// the method itself.
async fn serve_call(
    shared: &Shared,
    token: &str,
    method: Option<&'static str>,
    parsed: &Result<ApiRequest, ApiError>,
) -> Result<Value, ApiError> {
    if token != shared.token {
        return Err(ApiError::unauthorized());
    }
    let Some(method) = method else {
        return Err(ApiError::not_found());
    };
    let request = parsed.as_ref().map_err(Clone::clone)?;
    if let Some(fault) = shared.lock().take_fault(method) {
        return Err(ApiError::from(fault));
    }
    if method == "getUpdates" {
        return get_updates(shared, &request.params).await;
    }
    let mut state = shared.lock();
    dispatch(shared, &mut state, method, request)
}

fn canonical_method(name: &str) -> Option<&'static str> {
    KNOWN_METHODS
        .iter()
        .copied()
        .find(|known| known.eq_ignore_ascii_case(name))
}

fn response_parts(outcome: &Result<Value, ApiError>) -> (StatusCode, Value) {
    match outcome {
        Ok(result) => (StatusCode::OK, json!({ "ok": true, "result": result })),
        Err(error) => (error.status(), error.body()),
    }
}

fn error_response(error: &ApiError) -> Response {
    (error.status(), Json(error.body())).into_response()
}
