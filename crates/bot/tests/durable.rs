//! Issue 15, single machine: the jobs table owns every job, so a bot killed or restarted
//! mid-download runs its jobs again by itself (up to `JOB_MAX_ATTEMPTS` starts), its status
//! messages saying so, and delivers each once. No Redis here: `HERMES_ROLE=all` needs none.

mod bot_support;

use std::time::Duration;

use bot_support::*;
use hermes_testkit::media;
use hermes_testkit::telegram::Call;
use serde_json::json;

const CHAT: i64 = 7301;

/// A 1 MiB WAV served at `rate` bytes/s.
fn paced_url(harness: &Harness, rate: u64, n: usize) -> String {
    let wav = media::big_wav(1);
    let name = wav.file_name().expect("name").to_string_lossy().into_owned();
    harness.media.url(&format!("/slow/{rate}/{name}?n={n}"))
}

fn sigkill(pid: u32) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill");
}

fn uploads_to(harness: &Harness, chat: i64) -> Vec<Call> {
    harness
        .api
        .calls_to("sendAudio")
        .into_iter()
        .filter(|c| c.params["chat_id"] == json!(chat) && c.succeeded())
        .collect()
}

fn texts_of_message(harness: &Harness, message_id: i32) -> Vec<String> {
    harness
        .api
        .calls_to("editMessageText")
        .iter()
        .filter(|c| c.params["message_id"] == json!(message_id) && c.succeeded())
        .map(text_of)
        .collect()
}

#[test]
fn a_sigkilled_bot_resumes_its_job_after_the_restart_and_delivers_it_once() {
    let mut harness = Harness::start(&[]);
    let url = paced_url(&harness, 150_000, 0);
    let (status_id, _) = request_audio(&harness, CHAT, &url);
    harness.wait_for_message_text(CHAT, status_id, "%");

    // /status reads the jobs table: the same job, running, as the status message shows.
    let mark = harness.mark();
    harness.say(CHAT, "/status");
    let status = text_of(&harness.wait_for_text(CHAT, mark, "Your downloads"));
    let rows = tasks_for(&harness, &url);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].state, "running");
    assert!(status.contains(&rows[0].id[3..11]), "{status}");
    assert!(status.contains('%'), "{status}");

    let worker = harness.worker_pid().expect("worker running");
    let marker = harness.downloads().to_string_lossy().into_owned();
    sigkill(harness.pid());
    harness.stop();
    // The worker got SIGTERM from the kernel (parent-death signal) and killed its yt-dlp.
    let gone = hermes_testkit::procs::wait_until(Duration::from_secs(20), || {
        !alive(worker) && hermes_testkit::procs::processes_with_cmdline_containing(&marker).is_empty()
    });
    assert!(gone, "the worker or its yt-dlp outlived the bot");
    assert_eq!(task_state(&harness, &url).as_deref(), Some("running"));
    let before = uploads_to(&harness, CHAT).len();
    assert_eq!(before, 0, "killed before the upload");

    let mark = harness.mark();
    harness.spawn_bot();
    harness.wait_for("editMessageText", mark, |c| {
        c.params["message_id"] == json!(status_id) && text_of(c).contains("Resuming after a restart")
    });
    harness.wait_for("sendAudio", mark, |c| {
        c.params["chat_id"] == json!(CHAT) && c.succeeded()
    });
    let last = harness.wait_for_final_status(CHAT, status_id);
    assert!(last.contains("Completed"), "{last}");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(uploads_to(&harness, CHAT).len(), 1, "delivered exactly once");
    let rows = tasks_for(&harness, &url);
    assert_eq!(rows.len(), 1, "the same job, not a new one");
    assert_eq!((rows[0].state.as_str(), rows[0].attempts), ("done", 2));
    let texts = texts_of_message(&harness, status_id);
    assert!(
        texts.iter().all(|t| !t.contains("resend")),
        "nobody is asked to resend: {texts:#?}"
    );
    let sent: Vec<String> = harness
        .api
        .calls_to("sendMessage")
        .iter()
        .filter(|c| c.params["chat_id"] == json!(CHAT))
        .map(text_of)
        .collect();
    assert!(sent.iter().all(|t| !t.contains("resend")), "{sent:#?}");
    wait_until_empty(&harness.downloads().join(CHAT.to_string()));
}

#[test]
fn a_job_interrupted_job_max_attempts_times_is_given_up_once_with_a_retry_that_works() {
    let mut harness = Harness::start(&[("JOB_MAX_ATTEMPTS", "2")]);
    let url = paced_url(&harness, 150_000, 1);
    let (status_id, _) = request_audio(&harness, CHAT, &url);
    let mut mark = 0;
    for attempt in 1..=2 {
        harness.wait_for("editMessageText", mark, |c| {
            c.params["message_id"] == json!(status_id) && text_of(c).contains('%')
        });
        sigkill(harness.pid());
        harness.stop();
        let rows = tasks_for(&harness, &url);
        assert_eq!((rows[0].state.as_str(), rows[0].attempts), ("running", attempt));
        mark = harness.mark();
        harness.spawn_bot();
    }
    // Two starts, two interruptions: the second restart gives up and says so on the status
    // message, with a Retry button.
    let (message_id, retry) = harness.wait_for_button(CHAT, 0, "Retry");
    assert_eq!(message_id, status_id);
    let text = harness.message_text(CHAT, status_id);
    assert!(text.contains("tried this download 2 times"), "{text}");
    assert_eq!(task_state(&harness, &url).as_deref(), Some("failed"));
    assert!(uploads_to(&harness, CHAT).is_empty());

    // Told once: another restart does not tell again.
    harness.stop();
    let mark = harness.mark();
    harness.spawn_bot();
    harness.say(CHAT, "/status");
    harness.wait_for_text(CHAT, mark, "No downloads");
    let told_again = harness
        .api
        .calls()
        .iter()
        .filter(|c| c.seq >= mark && button(c, "Retry").is_some())
        .count();
    assert_eq!(told_again, 0);

    // Retry runs the same download again, fresh, in the same status message.
    let mark = harness.mark();
    harness.tap(CHAT, status_id, &retry);
    harness.wait_for("sendAudio", mark, |c| {
        c.params["chat_id"] == json!(CHAT) && c.succeeded()
    });
    let last = harness.wait_for_final_status(CHAT, status_id);
    assert!(last.contains("Completed"), "{last}");
    let states: Vec<(String, u32)> = tasks_for(&harness, &url)
        .into_iter()
        .map(|t| (t.state, t.attempts))
        .collect();
    assert_eq!(states, vec![("retried".to_owned(), 2), ("done".to_owned(), 1)]);

    // A second tap on the used button only gets a toast.
    let mark = harness.mark();
    harness.tap(CHAT, status_id, &retry);
    let toast = harness.wait_for("answerCallbackQuery", mark, |_| true);
    assert!(
        toast.params["text"]
            .as_str()
            .unwrap_or_default()
            .contains("already"),
        "{:?}",
        toast.params
    );
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(uploads_to(&harness, CHAT).len(), 1);
    assert_eq!(tasks_for(&harness, &url).len(), 2);
}

#[test]
fn a_clean_stop_leaves_queued_and_running_jobs_for_the_next_start() {
    let mut harness = Harness::start(&[("MAX_CONCURRENT_TASKS", "1")]);
    let first = paced_url(&harness, 150_000, 2);
    let second = paced_url(&harness, 150_000, 3);
    let (first_status, _) = request_audio(&harness, CHAT, &first);
    let (second_status, _) = request_audio(&harness, CHAT, &second);
    harness.wait_for_message_text(CHAT, first_status, "%");
    assert_eq!(task_state(&harness, &second).as_deref(), Some("queued"));
    assert_eq!(harness.stop(), Some(0), "SIGTERM is a clean stop");
    assert_eq!(task_state(&harness, &first).as_deref(), Some("running"));
    assert_eq!(task_state(&harness, &second).as_deref(), Some("queued"));

    let mark = harness.mark();
    harness.spawn_bot();
    for status_id in [first_status, second_status] {
        harness.wait_for("editMessageText", mark, |c| {
            c.params["message_id"] == json!(status_id) && text_of(c).contains("Resuming")
        });
    }
    for status_id in [first_status, second_status] {
        let last = harness.wait_for_final_status(CHAT, status_id);
        assert!(last.contains("Completed"), "{last}");
    }
    assert_eq!(uploads_to(&harness, CHAT).len(), 2);
    assert_eq!(task_state(&harness, &first).as_deref(), Some("done"));
    assert_eq!(task_state(&harness, &second).as_deref(), Some("done"));
}
