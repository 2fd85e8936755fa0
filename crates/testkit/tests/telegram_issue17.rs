//! The fake Bot API's additions for issue 17, driven by the real frankenstein 0.52 client:
//! inline queries and `answerInlineQuery`, local mode (`file://` / absolute paths), 413 on
//! uploads, thumbnails and video parameters recorded, chat actions and deletions.

mod telegram_client;

use frankenstein::inline_mode::{
    InlineQueryResult, InlineQueryResultArticle, InlineQueryResultCachedAudio, InlineQueryResultsButton,
    InputMessageContent, InputTextMessageContent, MaybeCached,
};
use frankenstein::methods::{
    AnswerInlineQueryParams, DeleteMessageParams, GetUpdatesParams, SendAudioParams, SendChatActionParams,
    SendDocumentParams, SendMessageParams, SendVideoParams,
};
use frankenstein::types::ChatAction;
use frankenstein::updates::UpdateContent;
use frankenstein::AsyncTelegramApi;
use hermes_testkit::telegram::{FakeBotApi, Fault};
use serde_json::json;
use telegram_client::{api_error, client, write_temp_file, CHAT, TOKEN, USER};

fn article(id: &str) -> InlineQueryResult {
    InlineQueryResult::Article(
        InlineQueryResultArticle::builder()
            .id(id)
            .title("Song")
            .input_message_content(InputMessageContent::Text(
                InputTextMessageContent::builder()
                    .message_text("/audio x")
                    .build(),
            ))
            .build(),
    )
}

fn cached_audio(id: &str, file_id: &str) -> InlineQueryResult {
    InlineQueryResult::Audio(MaybeCached::Cached(
        InlineQueryResultCachedAudio::builder()
            .id(id)
            .audio_file_id(file_id)
            .build(),
    ))
}

fn answer(query_id: &str, results: Vec<InlineQueryResult>) -> AnswerInlineQueryParams {
    AnswerInlineQueryParams::builder()
        .inline_query_id(query_id)
        .results(results)
        .build()
}

async fn uploaded_audio(fake: &FakeBotApi, dir: &tempfile::TempDir) -> String {
    let path = write_temp_file(dir, "a.mp3", b"ID3 audio");
    let params = SendAudioParams::builder().chat_id(CHAT).audio(path).build();
    let sent = client(fake).send_audio(&params).await.expect("sendAudio").result;
    sent.audio.expect("audio").file_id
}

#[tokio::test]
async fn an_inline_query_reaches_the_bot_and_is_answered_once() {
    let fake = FakeBotApi::start(TOKEN);
    let bot = client(&fake);
    let dir = tempfile::tempdir().unwrap();
    let file_id = uploaded_audio(&fake, &dir).await;

    fake.push_update(fake.inline_query_update(USER, "never gonna", Some("private")));
    let updates = bot
        .get_updates(&GetUpdatesParams::builder().build())
        .await
        .expect("getUpdates")
        .result;
    let UpdateContent::InlineQuery(query) = &updates[0].content else {
        panic!("not an inline query: {updates:?}");
    };
    assert_eq!((query.query.as_str(), query.from.id), ("never gonna", USER));
    assert_eq!(query.offset, "");

    let mut params = answer(
        &query.id,
        vec![cached_audio("cached-1", &file_id), article("search-1")],
    );
    params.cache_time = Some(0);
    params.is_personal = Some(true);
    params.button = Some(
        InlineQueryResultsButton::builder()
            .text("Open the bot")
            .start_parameter("dl_abc-1")
            .build(),
    );
    assert!(bot.answer_inline_query(&params).await.expect("answer").result);
    let answered = fake.inline_answer(&query.id).expect("recorded");
    assert_eq!(answered["results"][0]["type"], "audio");
    assert_eq!(answered["results"][0]["audio_file_id"], json!(file_id));
    assert_eq!(answered["results"][1]["id"], "search-1");
    assert_eq!(answered["button"]["start_parameter"], "dl_abc-1");

    let again = api_error(bot.answer_inline_query(&params).await);
    assert_eq!(
        (again.error_code, again.description.as_str()),
        (
            400,
            "Bad Request: query is too old and response timeout expired or query ID is invalid"
        )
    );
}

#[tokio::test]
async fn answer_inline_query_is_validated_like_telegram() {
    let fake = FakeBotApi::start(TOKEN);
    let bot = client(&fake);
    let dir = tempfile::tempdir().unwrap();
    let audio_id = uploaded_audio(&fake, &dir).await;
    let doc = write_temp_file(&dir, "d.bin", b"doc");
    let doc_id = bot
        .send_document(&SendDocumentParams::builder().chat_id(CHAT).document(doc).build())
        .await
        .expect("sendDocument")
        .result
        .document
        .expect("document")
        .file_id;

    let cases: Vec<(Vec<InlineQueryResult>, &str)> = vec![
        (
            (0..51).map(|i| article(&format!("r{i}"))).collect(),
            "RESULTS_TOO_MUCH",
        ),
        (vec![article(&"x".repeat(65))], "RESULT_ID_INVALID"),
        (vec![article("")], "RESULT_ID_INVALID"),
        (vec![article("same"), article("same")], "RESULT_ID_DUPLICATE"),
        (
            vec![cached_audio("a", "no-such-file")],
            "wrong file identifier/HTTP URL specified",
        ),
        (vec![cached_audio("a", &doc_id)], "wrong file identifier type"),
    ];
    for (results, expected) in cases {
        let update = fake.inline_query_update(USER, "q", None);
        let query_id = update["inline_query"]["id"].as_str().unwrap().to_owned();
        fake.push_update(update);
        let error = api_error(bot.answer_inline_query(&answer(&query_id, results)).await);
        assert_eq!(error.error_code, 400);
        assert!(
            error.description.ends_with(expected),
            "{} vs {expected}",
            error.description
        );
        assert!(fake.inline_answer(&query_id).is_none());
        // A refused answer leaves the query answerable.
        let ok = answer(&query_id, (0..50).map(|i| article(&format!("r{i}"))).collect());
        assert!(
            bot.answer_inline_query(&ok)
                .await
                .expect("50 results are fine")
                .result
        );
    }
    assert!(!audio_id.is_empty());

    let unknown = api_error(bot.answer_inline_query(&answer("999", vec![article("a")])).await);
    assert!(unknown.description.contains("query ID is invalid"));

    let update = fake.inline_query_update(USER, "q", None);
    let query_id = update["inline_query"]["id"].as_str().unwrap().to_owned();
    fake.push_update(update);
    let mut bad_button = answer(&query_id, vec![article("a")]);
    bad_button.button = Some(
        InlineQueryResultsButton::builder()
            .text("Open")
            .start_parameter("has space")
            .build(),
    );
    let error = api_error(bot.answer_inline_query(&bad_button).await);
    assert_eq!(error.description, "Bad Request: START_PARAM_INVALID");
}

#[tokio::test]
async fn chosen_inline_results_are_updates_too() {
    let fake = FakeBotApi::start(TOKEN);
    fake.push_update(fake.chosen_inline_result_update(USER, "search-1", "never gonna", Some("AAAB")));
    let updates = client(&fake)
        .get_updates(&GetUpdatesParams::builder().build())
        .await
        .expect("getUpdates")
        .result;
    let UpdateContent::ChosenInlineResult(chosen) = &updates[0].content else {
        panic!("{updates:?}");
    };
    assert_eq!(
        (chosen.result_id.as_str(), chosen.inline_message_id.as_deref()),
        ("search-1", Some("AAAB"))
    );
}

#[tokio::test]
async fn local_mode_reads_media_and_thumbnail_from_disk_by_path_or_file_uri() {
    let fake = FakeBotApi::start(TOKEN);
    let bot = client(&fake);
    let dir = tempfile::tempdir().unwrap();
    let video_bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let video = write_temp_file(&dir, "clip part 1.mp4", &video_bytes);
    let thumb = write_temp_file(&dir, "clip.thumb.jpg", &[0xFF, 0xD8, 0xFF, 0xD9]);

    // Without local mode a path is a file_id, and Telegram refuses it.
    let by_path = SendVideoParams::builder()
        .chat_id(CHAT)
        .video(video.display().to_string())
        .build();
    let error = api_error(bot.send_video(&by_path).await);
    assert_eq!(
        error.description,
        "Bad Request: wrong file identifier/HTTP URL specified"
    );

    fake.set_upload_limit(1024);
    fake.set_local_mode(true); // lifts the upload limit to 2000 MB, as a local server does
    let uri = format!("file://{}", video.display()).replace(' ', "%20");
    let params = SendVideoParams::builder()
        .chat_id(CHAT)
        .video(uri)
        .thumbnail(thumb.display().to_string())
        .width(320u32)
        .height(240u32)
        .duration(20u32)
        .supports_streaming(true)
        .caption("part 1/3")
        .build();
    let sent = bot
        .send_video(&params)
        .await
        .expect("sendVideo by local path")
        .result;
    let video_object = sent.video.expect("a video message");
    assert_eq!(video_object.file_size, Some(70_000));
    assert_eq!(
        (video_object.width, video_object.height, video_object.duration),
        (320, 240, 20)
    );
    assert!(video_object.thumbnail.is_some(), "the local thumbnail was taken");

    let call = fake.calls_to("sendVideo").pop().unwrap();
    let local = call.local_file("video").expect("recorded");
    assert_eq!(
        (local.path.clone(), local.bytes.clone()),
        (video.clone(), video_bytes)
    );
    assert_eq!(call.local_file("thumbnail").unwrap().path, thumb);
    assert_eq!(call.params["supports_streaming"], true);
    assert_eq!(call.params["width"], 320);

    let missing = SendAudioParams::builder()
        .chat_id(CHAT)
        .audio(dir.path().join("gone.mp3").display().to_string())
        .build();
    assert_eq!(
        api_error(bot.send_audio(&missing).await).description,
        "Bad Request: file not found"
    );
}

#[tokio::test]
async fn uploads_over_a_size_get_413_and_the_fault_can_be_injected() {
    let fake = FakeBotApi::start(TOKEN);
    let bot = client(&fake);
    let dir = tempfile::tempdir().unwrap();
    fake.set_upload_limit(100);
    let big = write_temp_file(&dir, "big.mp4", &[1u8; 101]);
    let error = api_error(
        bot.send_video(&SendVideoParams::builder().chat_id(CHAT).video(big).build())
            .await,
    );
    assert_eq!(
        (error.error_code, error.description.as_str()),
        (413, "Request Entity Too Large")
    );
    let call = fake.calls_to("sendVideo").pop().unwrap();
    assert_eq!(
        call.response,
        json!({"ok": false, "error_code": 413, "description": "Request Entity Too Large"})
    );

    fake.set_upload_limit(10_000);
    fake.fail_next("sendAudio", Fault::EntityTooLarge);
    let small = write_temp_file(&dir, "s.mp3", b"abc");
    let error = api_error(
        bot.send_audio(&SendAudioParams::builder().chat_id(CHAT).audio(small).build())
            .await,
    );
    assert_eq!(error.error_code, 413);
}

#[tokio::test]
async fn a_thumbnail_part_is_recorded_like_other_files() {
    let fake = FakeBotApi::start(TOKEN);
    let dir = tempfile::tempdir().unwrap();
    let audio = write_temp_file(&dir, "a.mp3", b"ID3 audio");
    let thumb = write_temp_file(&dir, "a.thumb.jpg", &[0xFF, 0xD8, 0xFF, 0xD9]);
    let params = SendAudioParams::builder()
        .chat_id(CHAT)
        .audio(audio)
        .thumbnail(thumb)
        .title("Song")
        .performer("Band")
        .build();
    let sent = client(&fake).send_audio(&params).await.expect("sendAudio").result;
    let audio = sent.audio.expect("audio");
    assert_eq!(
        (audio.title.as_deref(), audio.performer.as_deref()),
        (Some("Song"), Some("Band"))
    );
    assert!(audio.thumbnail.is_some());
    let call = fake.calls_to("sendAudio").pop().unwrap();
    let part = call.file("thumbnail").expect("the thumbnail part");
    assert_eq!(part.bytes, [0xFF, 0xD8, 0xFF, 0xD9]);
}

#[tokio::test]
async fn chat_actions_and_deletions_in_a_group_topic() {
    let fake = FakeBotApi::start(TOKEN);
    let bot = client(&fake);
    let group = -100_555;
    fake.push_update(fake.text_message_update(group, USER, "/audio@hermes_test_bot x"));
    let action = SendChatActionParams::builder()
        .chat_id(group)
        .message_thread_id(7)
        .action(ChatAction::UploadVideo)
        .build();
    assert!(
        bot.send_chat_action(&action)
            .await
            .expect("sendChatAction")
            .result
    );
    let call = fake.calls_to("sendChatAction").pop().unwrap();
    assert_eq!(
        (
            call.params["action"].clone(),
            call.params["message_thread_id"].clone()
        ),
        (json!("upload_video"), json!(7))
    );

    let sent = bot
        .send_message(
            &SendMessageParams::builder()
                .chat_id(group)
                .text("⏳ Queued")
                .build(),
        )
        .await
        .expect("sendMessage")
        .result;
    let delete = DeleteMessageParams::builder()
        .chat_id(group)
        .message_id(sent.message_id)
        .build();
    assert!(bot.delete_message(&delete).await.expect("deleteMessage").result);
    assert!(fake.message(group, sent.message_id).is_none());
    let again = api_error(bot.delete_message(&delete).await);
    assert_eq!(again.description, "Bad Request: message to delete not found");
}
