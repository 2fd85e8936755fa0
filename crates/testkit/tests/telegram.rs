//! The fake Bot API driven by the real frankenstein 0.52 async client, the way `hermes-bot` talks
//! to it.

mod telegram_client;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use frankenstein::client_reqwest::Bot;
use frankenstein::methods::{
    AnswerCallbackQueryParams, DeleteMessageParams, EditMessageTextParams, GetUpdatesParams, SendAudioParams,
    SendMessageParams, SendVideoParams, SetMyCommandsParams,
};
use frankenstein::response::MessageOrBool;
use frankenstein::types::{
    BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, MaybeInaccessibleMessage, ReplyMarkup,
};
use frankenstein::updates::UpdateContent;
use frankenstein::AsyncTelegramApi;
use hermes_testkit::telegram::{FakeBotApi, Fault};
use serde_json::{json, Value};
use telegram_client::{api_error, client, write_temp_file, CHAT, TOKEN, USER};

fn keyboard(callback_data: &str) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::builder()
        .inline_keyboard(vec![vec![InlineKeyboardButton::builder()
            .text("Cancel")
            .callback_data(callback_data)
            .build()]])
        .build()
}

fn text_params(text: &str) -> SendMessageParams {
    SendMessageParams::builder().chat_id(CHAT).text(text).build()
}

#[tokio::test]
async fn get_me_returns_the_bot_user_named_by_the_token() {
    let fake = FakeBotApi::start(TOKEN);
    let me = client(&fake).get_me().await.expect("getMe").result;
    assert!(me.is_bot);
    assert_eq!(me.id, 123_456_789);
    assert_eq!(me.username.as_deref(), Some("hermes_test_bot"));

    let calls = fake.calls_to("getMe");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].params, json!({}));
    assert!(calls[0].succeeded());
}

#[tokio::test]
async fn send_message_with_an_inline_keyboard_is_recorded_and_echoed() {
    let fake = FakeBotApi::start(TOKEN);
    let bot = client(&fake);
    let params = SendMessageParams::builder()
        .chat_id(CHAT)
        .text("Downloading… /cancel")
        .reply_markup(ReplyMarkup::InlineKeyboardMarkup(keyboard("cancel:t1")))
        .build();
    let sent = bot.send_message(&params).await.expect("sendMessage").result;

    assert_eq!(sent.chat.id, CHAT);
    assert_eq!(sent.text.as_deref(), Some("Downloading… /cancel"));
    assert_eq!(sent.from.as_ref().map(|from| from.id), Some(123_456_789));
    let echoed = sent.reply_markup.expect("the inline keyboard is echoed");
    assert_eq!(
        echoed.inline_keyboard[0][0].callback_data.as_deref(),
        Some("cancel:t1")
    );
    let entities = sent.entities.expect("the command is marked");
    assert_eq!((entities[0].offset, entities[0].length), (13, 7));

    let call = &fake.calls_to("sendMessage")[0];
    assert_eq!(call.params["chat_id"], json!(CHAT));
    assert_eq!(
        call.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"],
        json!("cancel:t1")
    );

    let second = bot
        .send_message(&text_params("again"))
        .await
        .expect("sendMessage")
        .result;
    let elsewhere = SendMessageParams::builder().chat_id(-42).text("hi group").build();
    let other_chat = bot.send_message(&elsewhere).await.expect("sendMessage").result;
    assert_eq!(
        second.message_id,
        sent.message_id + 1,
        "message ids count up per chat"
    );
    assert_eq!(other_chat.message_id, 1, "each chat has its own message ids");
}

#[tokio::test]
async fn long_poll_returns_a_pushed_update_and_offset_confirms_it() {
    let fake = FakeBotApi::start(TOKEN);
    let bot = client(&fake);
    let started = Instant::now();
    let poll = {
        let bot = bot.clone();
        tokio::spawn(async move {
            let params = GetUpdatesParams::builder().timeout(10).build();
            bot.get_updates(&params).await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !poll.is_finished(),
        "getUpdates must hold the request while nothing is pending"
    );
    let update_id = fake.push_update(fake.text_message_update(CHAT, USER, "https://example.com/v"));

    let updates = poll.await.expect("poll task").expect("getUpdates").result;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "a push ends the long poll at once"
    );
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].update_id, update_id);
    let UpdateContent::Message(message) = &updates[0].content else {
        panic!("expected a message update, got {:?}", updates[0].content);
    };
    assert_eq!(message.text.as_deref(), Some("https://example.com/v"));
    assert_eq!(message.from.as_ref().map(|from| from.id), Some(USER));

    let unconfirmed = GetUpdatesParams::builder().offset(i64::from(update_id)).build();
    let again = bot.get_updates(&unconfirmed).await.expect("getUpdates").result;
    assert_eq!(again.len(), 1, "an offset equal to the id does not confirm it");

    let confirmed = GetUpdatesParams::builder()
        .offset(i64::from(update_id) + 1)
        .build();
    assert!(bot
        .get_updates(&confirmed)
        .await
        .expect("getUpdates")
        .result
        .is_empty());
    assert_eq!(fake.pending_updates(), 0);
    let next_id = fake.push_update(fake.text_message_update(CHAT, USER, "next"));
    assert_eq!(next_id, update_id + 1, "update ids increase");
}

#[tokio::test]
async fn get_updates_honours_limit_and_waits_out_its_timeout() {
    let fake = FakeBotApi::start(TOKEN);
    let bot = client(&fake);
    for text in ["a", "b", "c"] {
        fake.push_update(fake.text_message_update(CHAT, USER, text));
    }
    let limited = GetUpdatesParams::builder().limit(2).build();
    assert_eq!(
        bot.get_updates(&limited).await.expect("getUpdates").result.len(),
        2
    );

    let past_all = GetUpdatesParams::builder().offset(100).timeout(1).build();
    let started = Instant::now();
    let empty = bot.get_updates(&past_all).await.expect("getUpdates").result;
    assert!(empty.is_empty());
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "the poll lasts its timeout"
    );
}

#[tokio::test]
async fn a_newer_get_updates_ends_a_waiting_one_with_409() {
    let fake = FakeBotApi::start(TOKEN);
    let bot = client(&fake);
    let first = {
        let bot = bot.clone();
        tokio::spawn(async move {
            bot.get_updates(&GetUpdatesParams::builder().timeout(10).build())
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let second = bot.get_updates(&GetUpdatesParams::builder().build()).await;
    assert!(second.expect("the newer poll is served").result.is_empty());
    let error = api_error(first.await.expect("poll task"));
    assert_eq!(error.error_code, 409);
    assert!(error
        .description
        .starts_with("Conflict: terminated by other getUpdates request"));
}

#[tokio::test]
async fn send_audio_uploads_the_file_and_records_its_bytes() {
    let fake = FakeBotApi::start(TOKEN);
    let dir = tempfile::tempdir().expect("tempdir");
    let bytes: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    let path = write_temp_file(&dir, "Song title.mp3", &bytes);
    let params = SendAudioParams::builder()
        .chat_id(CHAT)
        .audio(path)
        .title("Song title")
        .performer("Artist")
        .duration(3u32)
        .caption("42")
        .build();
    let sent = client(&fake).send_audio(&params).await.expect("sendAudio").result;

    let audio = sent.audio.expect("an audio message");
    assert_eq!(audio.file_size, Some(10_000));
    assert_eq!(audio.file_name.as_deref(), Some("Song title.mp3"));
    assert_eq!(audio.mime_type.as_deref(), Some("audio/mpeg"));
    assert_eq!((audio.title.as_deref(), audio.duration), (Some("Song title"), 3));
    assert_eq!(sent.caption.as_deref(), Some("42"));

    let call = &fake.calls_to("sendAudio")[0];
    let upload = call.file("audio").expect("the audio part");
    assert_eq!(upload.filename, "Song title.mp3");
    assert_eq!(upload.bytes, bytes);
    assert_eq!(
        call.params["chat_id"],
        json!(CHAT),
        "numeric form fields are decoded"
    );
    assert_eq!(
        call.params["caption"],
        json!("42"),
        "string parameters stay strings"
    );
    assert!(call.params.get("audio").is_none());
}

#[tokio::test]
async fn a_file_id_sent_again_returns_the_same_audio() {
    let fake = FakeBotApi::start(TOKEN);
    let bot = client(&fake);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_temp_file(&dir, "a.m4a", b"not really m4a");
    let upload = SendAudioParams::builder().chat_id(CHAT).audio(path).build();
    let first = bot
        .send_audio(&upload)
        .await
        .expect("upload")
        .result
        .audio
        .expect("audio");

    let by_id = SendAudioParams::builder()
        .chat_id(CHAT)
        .audio(first.file_id.clone())
        .build();
    let again = bot.send_audio(&by_id).await.expect("resend").result;
    assert_eq!(again.audio.as_deref(), Some(&*first));
    assert_eq!(
        fake.calls_to("sendAudio")[1].params["audio"],
        json!(first.file_id)
    );
    assert!(fake.calls_to("sendAudio")[1].files.is_empty());

    let unknown = SendAudioParams::builder()
        .chat_id(CHAT)
        .audio("no-such-file".to_owned())
        .build();
    let error = api_error(bot.send_audio(&unknown).await);
    assert_eq!(
        (error.error_code, error.description.as_str()),
        (400, "Bad Request: wrong file identifier/HTTP URL specified")
    );

    let as_video = SendVideoParams::builder()
        .chat_id(CHAT)
        .video(first.file_id.clone())
        .build();
    let error = api_error(bot.send_video(&as_video).await);
    assert_eq!(error.description, "Bad Request: type of file mismatch");
}

#[tokio::test]
async fn uploads_over_the_limit_get_413() {
    let fake = FakeBotApi::start(TOKEN);
    fake.set_upload_limit(1024);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_temp_file(&dir, "big.mp3", &[7u8; 2048]);
    let params = SendAudioParams::builder().chat_id(CHAT).audio(path).build();
    let error = api_error(client(&fake).send_audio(&params).await);
    assert_eq!(
        (error.error_code, error.description.as_str()),
        (413, "Request Entity Too Large")
    );
}

#[tokio::test]
async fn too_many_requests_fault_carries_retry_after_once() {
    let fake = FakeBotApi::start(TOKEN);
    let bot = client(&fake);
    fake.fail_next("sendMessage", Fault::TooManyRequests { retry_after: 7 });

    let error = api_error(bot.send_message(&text_params("hello")).await);
    assert_eq!(error.error_code, 429);
    assert_eq!(error.description, "Too Many Requests: retry after 7");
    assert_eq!(
        error.parameters.and_then(|parameters| parameters.retry_after),
        Some(7)
    );

    bot.send_message(&text_params("hello"))
        .await
        .expect("the fault applies to one call only");
    let statuses: Vec<u16> = fake
        .calls_to("sendMessage")
        .iter()
        .map(|call| call.status)
        .collect();
    assert_eq!(statuses, [429, 200]);
}

#[tokio::test]
async fn not_modified_is_a_400_injected_or_earned() {
    let fake = FakeBotApi::start(TOKEN);
    let bot = client(&fake);
    let sent = bot
        .send_message(&text_params("50%"))
        .await
        .expect("sendMessage")
        .result;
    let edit = |text: &str| {
        EditMessageTextParams::builder()
            .chat_id(CHAT)
            .message_id(sent.message_id)
            .text(text)
            .build()
    };

    fake.fail_next("editMessageText", Fault::NotModified);
    let injected = api_error(bot.edit_message_text(&edit("60%")).await);
    assert_eq!(injected.error_code, 400);
    assert!(injected
        .description
        .starts_with("Bad Request: message is not modified"));

    let MessageOrBool::Message(edited) = bot.edit_message_text(&edit("60%")).await.expect("edit").result
    else {
        panic!("editing a chat message returns the message");
    };
    assert_eq!(edited.text.as_deref(), Some("60%"));
    assert!(edited.edit_date.is_some());
    assert_eq!(
        fake.message(CHAT, sent.message_id).expect("stored")["text"],
        json!("60%")
    );

    let earned = api_error(bot.edit_message_text(&edit("60%")).await);
    assert_eq!(
        earned.description, injected.description,
        "the same edit twice is refused like Telegram does"
    );
}

#[tokio::test]
async fn callback_query_carries_the_bots_message_and_is_answered_once() {
    let fake = FakeBotApi::start(TOKEN);
    let bot = client(&fake);
    let params = SendMessageParams::builder()
        .chat_id(CHAT)
        .text("Pick a format")
        .reply_markup(ReplyMarkup::InlineKeyboardMarkup(keyboard("fmt:mp3")))
        .build();
    let sent = bot.send_message(&params).await.expect("sendMessage").result;
    fake.push_update(fake.callback_query_update(CHAT, USER, sent.message_id, "fmt:mp3"));

    let updates = bot
        .get_updates(&GetUpdatesParams::builder().build())
        .await
        .expect("getUpdates")
        .result;
    let UpdateContent::CallbackQuery(query) = &updates[0].content else {
        panic!("expected a callback query, got {:?}", updates[0].content);
    };
    assert_eq!(query.data.as_deref(), Some("fmt:mp3"));
    assert_eq!(query.from.id, USER);
    let Some(MaybeInaccessibleMessage::Message(message)) = &query.message else {
        panic!("the callback carries the bot's message");
    };
    assert_eq!(
        (message.message_id, message.text.as_deref()),
        (sent.message_id, Some("Pick a format"))
    );

    let answer = AnswerCallbackQueryParams::builder()
        .callback_query_id(query.id.clone())
        .build();
    assert!(
        bot.answer_callback_query(&answer)
            .await
            .expect("first answer")
            .result
    );
    let error = api_error(bot.answer_callback_query(&answer).await);
    assert_eq!(
        error.description,
        "Bad Request: query is too old and response timeout expired or query ID is invalid"
    );
}

#[tokio::test]
async fn telegram_validation_errors_reach_the_client() {
    let fake = FakeBotApi::start(TOKEN);
    let bot = client(&fake);
    let long_data = "x".repeat(65);
    let params = SendMessageParams::builder()
        .chat_id(CHAT)
        .text("too much data")
        .reply_markup(ReplyMarkup::InlineKeyboardMarkup(keyboard(&long_data)))
        .build();
    assert_eq!(
        api_error(bot.send_message(&params).await).description,
        "Bad Request: BUTTON_DATA_INVALID"
    );
    assert_eq!(
        api_error(bot.send_message(&text_params(&"é".repeat(4097))).await).description,
        "Bad Request: message is too long"
    );

    let bad_commands = SetMyCommandsParams::builder()
        .commands(vec![BotCommand::builder()
            .command("Search")
            .description("find")
            .build()])
        .build();
    assert_eq!(
        api_error(bot.set_my_commands(&bad_commands).await).description,
        "Bad Request: BOT_COMMAND_INVALID"
    );
    let good_commands = SetMyCommandsParams::builder()
        .commands(vec![BotCommand::builder()
            .command("search")
            .description("find")
            .build()])
        .build();
    assert!(
        bot.set_my_commands(&good_commands)
            .await
            .expect("setMyCommands")
            .result
    );

    let sent = bot
        .send_message(&text_params("bye"))
        .await
        .expect("sendMessage")
        .result;
    let delete = DeleteMessageParams::builder()
        .chat_id(CHAT)
        .message_id(sent.message_id)
        .build();
    assert!(bot.delete_message(&delete).await.expect("deleteMessage").result);
    assert_eq!(
        api_error(bot.delete_message(&delete).await).description,
        "Bad Request: message to delete not found"
    );
}

#[tokio::test]
async fn wrong_token_is_401_and_unknown_method_is_404() {
    let fake = FakeBotApi::start(TOKEN);
    let intruder = Bot::new_url(format!("{}/bot999:wrong", fake.base_url()));
    let error = api_error(intruder.get_me().await);
    assert_eq!(
        (error.error_code, error.description.as_str()),
        (401, "Unauthorized")
    );

    let no_params: Option<()> = None;
    let unknown: Result<Value, _> = client(&fake).request("fetchTheMoon", no_params).await;
    let error = api_error(unknown);
    assert_eq!((error.error_code, error.description.as_str()), (404, "Not Found"));
    assert_eq!(fake.calls_to("fetchTheMoon")[0].status, 404);
}

#[tokio::test]
async fn wait_for_call_sees_a_call_made_while_waiting() {
    let fake = FakeBotApi::start(TOKEN);
    let bot = client(&fake);
    let sender = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        bot.send_message(&text_params("done")).await
    });
    let call = fake
        .wait_for_call(
            "sendMessage",
            |call| call.params["text"] == "done",
            Duration::from_secs(5),
        )
        .await
        .expect("the call arrives within the timeout");
    assert_eq!(call.result().expect("it succeeded")["text"], json!("done"));
    sender.await.expect("sender task").expect("sendMessage");
    let missing = fake.wait_for_call(
        "sendMessage",
        |call| call.params["text"] == "never",
        Duration::from_millis(100),
    );
    assert!(missing.await.is_none());
}

/// A plain `#[test]` (no runtime) can drive the fake over raw HTTP, with GET and a query string.
#[test]
fn serves_sync_tests_and_get_requests() {
    let fake = FakeBotApi::start(TOKEN);
    let address = fake.base_url().trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&address).expect("connect to the fake");
    let request = format!(
        "GET /bot{TOKEN}/sendMessage?chat_id={CHAT}&text=hi%20there HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).expect("send the request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read the response");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"text\":\"hi there\""), "{response}");

    let call = fake
        .wait_for_call_blocking("sendmessage", |call| call.succeeded(), Duration::from_secs(5))
        .expect("the call was recorded");
    assert_eq!(call.params, json!({ "chat_id": CHAT, "text": "hi there" }));
    assert_eq!(fake.chat_messages(CHAT).len(), 1);
}
