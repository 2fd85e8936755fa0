//! Issue 15, many machines: one front and nodes joined by a real `redis-server` (started per
//! test on a free loopback port), the fake Bot API, real workers, media on 127.0.0.1. Each node
//! edits status messages and uploads itself; the front owns the jobs table.

mod bot_support;

use std::time::{Duration, Instant};

use bot_support::*;
use hermes_queue::{JobQueue, QueueConfig};
use hermes_testkit::media;
use hermes_testkit::redis::RedisServer;
use hermes_testkit::telegram::Call;
use serde_json::{json, Value};

const CLAIM_IDLE_SECS: &str = "3";

fn front(redis: &RedisServer, extra: &[(&str, &str)]) -> Harness {
    let url = redis.url();
    let mut env = vec![("HERMES_ROLE", "front"), ("QUEUE_URL", url.as_str())];
    env.extend_from_slice(extra);
    Harness::start(&env)
}

fn node(harness: &Harness, redis: &RedisServer, name: &str, extra: &[(&str, &str)]) -> BotProcess {
    let url = redis.url();
    let mut env = vec![
        ("HERMES_ROLE", "node"),
        ("QUEUE_URL", url.as_str()),
        ("HERMES_NODE_NAME", name),
        ("JOB_CLAIM_IDLE_SECS", CLAIM_IDLE_SECS),
        ("WORKER_CONCURRENCY", "2"),
    ];
    env.extend_from_slice(extra);
    harness.spawn_process(name, &env)
}

/// A 1 MiB WAV served at `rate` bytes/s; `n` makes the URL (and its job) distinct.
fn paced_url(harness: &Harness, rate: u64, n: usize) -> String {
    let wav = media::big_wav(1);
    let name = wav.file_name().expect("name").to_string_lossy().into_owned();
    harness.media.url(&format!("/slow/{rate}/{name}?n={n}"))
}

fn uploads(harness: &Harness) -> Vec<Call> {
    hermes_testkit::bot::uploads(&harness.api)
}

fn claimed_by(node: &BotProcess) -> usize {
    hermes_testkit::bot::jobs_claimed(&node.log())
}

/// Waits until `n` uploads succeeded (and a moment longer, for duplicates to show).
fn wait_for_uploads(harness: &Harness, n: usize, within: Duration) {
    let arrived = hermes_testkit::procs::wait_until(within, || uploads(harness).len() >= n);
    assert!(
        arrived,
        "{} of {n} uploads within {within:?}\ncalls: {:#?}\nfront log:\n{}",
        uploads(harness).len(),
        summarize(&harness.api.calls()),
        harness.log()
    );
    std::thread::sleep(Duration::from_secs(2));
}

fn chat_of(call: &Call) -> i64 {
    call.params["chat_id"].as_i64().unwrap_or_default()
}

#[test]
fn twelve_jobs_from_three_chats_are_spread_over_two_nodes_and_each_delivered_once() {
    let redis = RedisServer::start();
    let harness = front(&redis, &[]);
    let node1 = node(&harness, &redis, "node1", &[]);
    let node2 = node(&harness, &redis, "node2", &[]);
    let chats = [7401_i64, 7402, 7403];
    let mut urls = Vec::new();
    for i in 0..12 {
        let chat = chats[i % 3];
        let url = paced_url(&harness, 400_000, 100 + i);
        request_audio(&harness, chat, &url);
        urls.push((chat, url));
    }
    wait_for_uploads(&harness, 12, Duration::from_secs(120));

    let sent = uploads(&harness);
    assert_eq!(sent.len(), 12, "each job delivered exactly once");
    for chat in chats {
        assert_eq!(
            sent.iter().filter(|c| chat_of(c) == chat).count(),
            4,
            "chat {chat}"
        );
    }
    for (_, url) in &urls {
        let rows = tasks_for(&harness, url);
        assert_eq!(rows.len(), 1, "{url}");
        assert_eq!((rows[0].state.as_str(), rows[0].attempts), ("done", 1), "{url}");
    }
    let (one, two) = (claimed_by(&node1), claimed_by(&node2));
    assert_eq!(one + two, 12, "node1 {one}, node2 {two}");
    assert!(one >= 2 && two >= 2, "spread: node1 {one}, node2 {two}");
    // The front downloaded nothing itself; the nodes did, each into its own directory.
    assert!(!harness.log().contains("job claimed"));
}

#[test]
fn a_sigkilled_node_loses_its_job_to_the_other_node_which_delivers_it_once() {
    let redis = RedisServer::start();
    let harness = front(&redis, &[]);
    let mut node1 = node(&harness, &redis, "node1", &[]);
    let chat = 7411;
    let url = paced_url(&harness, 200_000, 200);
    let (status_id, _) = request_audio(&harness, chat, &url);
    harness.wait_for_message_text(chat, status_id, "%");
    assert_eq!(claimed_by(&node1), 1);
    let node2 = node(&harness, &redis, "node2", &[]);

    node1.kill();
    let killed_at = Instant::now();
    let mark = harness.mark();
    harness.wait_for("editMessageText", mark, |c| {
        c.params["message_id"] == json!(status_id) && text_of(c).contains("Resuming")
    });
    wait_for_uploads(&harness, 1, Duration::from_secs(60));
    // JOB_CLAIM_IDLE_SECS (3 s) + the download (~5 s) + conversion and upload, with slack.
    assert!(
        killed_at.elapsed() < Duration::from_secs(40),
        "{:?}",
        killed_at.elapsed()
    );
    assert_eq!(uploads(&harness).len(), 1, "delivered exactly once");
    let last = harness.wait_for_final_status(chat, status_id);
    assert!(last.contains("Completed") && !last.contains('%'), "{last}");
    assert_eq!(claimed_by(&node2), 1);
    let rows = tasks_for(&harness, &url);
    assert_eq!((rows[0].state.as_str(), rows[0].attempts), ("done", 2));
    // The survivor cleaned up after itself.
    let leftovers = std::fs::read_dir(node2.downloads.join(chat.to_string()))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(leftovers, 0);
}

#[test]
fn a_job_that_always_fails_ends_in_the_dead_letters_and_the_user_is_told_once() {
    let redis = RedisServer::start();
    let harness = front(&redis, &[("JOB_MAX_ATTEMPTS", "2")]);
    let _node1 = node(&harness, &redis, "node1", &[("JOB_MAX_ATTEMPTS", "2")]);
    let _node2 = node(&harness, &redis, "node2", &[("JOB_MAX_ATTEMPTS", "2")]);
    let chat = 7421;
    // Nothing listens on port 9: every attempt fails with a network error, on any node.
    let url = "http://127.0.0.1:9/never.wav";
    let (status_id, _) = request_audio(&harness, chat, url);
    let (message_id, _) = harness.wait_for_button(chat, 0, "Retry");
    assert_eq!(message_id, status_id);
    let text = harness.message_text(chat, status_id);
    assert!(text.contains("tried this download 2 times"), "{text}");
    std::thread::sleep(Duration::from_secs(3));
    let told = harness
        .api
        .calls()
        .iter()
        .filter(|c| c.params["chat_id"] == json!(chat) && button(c, "Retry").is_some())
        .count();
    assert_eq!(told, 1, "told once");
    assert_eq!(task_state(&harness, url).as_deref(), Some("failed"));
    let rows = tasks_for(&harness, url);
    let dead: Vec<(String, Value)> = block_on(async {
        let queue = JobQueue::connect(QueueConfig::new(redis.url(), "test"))
            .await
            .expect("connect");
        queue.dead_letters::<Value>().await.expect("dead letters")
    });
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].0, rows[0].id);
    assert_eq!(dead[0].1["url"], json!(url));
    assert!(uploads(&harness).is_empty());
}

#[test]
fn redis_restarted_mid_run_loses_nothing_and_jobs_sent_meanwhile_wait_in_sqlite() {
    let mut redis = RedisServer::start();
    let harness = front(&redis, &[]);
    let _node1 = node(&harness, &redis, "node1", &[("WORKER_CONCURRENCY", "1")]);
    let chat = 7431;
    let mut urls: Vec<String> = (0..3).map(|i| paced_url(&harness, 300_000, 300 + i)).collect();
    let (first_status, _) = request_audio(&harness, chat, &urls[0]);
    for url in &urls[1..] {
        request_audio(&harness, chat, url);
    }
    harness.wait_for_message_text(chat, first_status, "%");

    redis.stop();
    // Sent while Redis is away: the front keeps it in its jobs table.
    let late = paced_url(&harness, 300_000, 303);
    request_audio(&harness, chat, &late);
    let recorded = hermes_testkit::procs::wait_until(Duration::from_secs(10), || {
        task_state(&harness, &late).as_deref() == Some("queued")
    });
    assert!(recorded, "the front recorded the job without Redis");
    std::thread::sleep(Duration::from_secs(2));
    redis.start_again();
    urls.push(late);

    wait_for_uploads(&harness, 4, Duration::from_secs(120));
    assert_eq!(uploads(&harness).len(), 4, "each delivered exactly once");
    for url in &urls {
        assert_eq!(task_state(&harness, url).as_deref(), Some("done"), "{url}");
    }
}

#[test]
fn cancel_on_the_front_stops_the_job_on_its_node() {
    let redis = RedisServer::start();
    let harness = front(&redis, &[]);
    let node1 = node(&harness, &redis, "node1", &[]);
    let chat = 7441;
    let url = slow_url(&harness, 20_000, 400);
    let (status_id, _) = request_audio(&harness, chat, &url);
    harness.wait_for_message_text(chat, status_id, "%");
    let mark = harness.mark();
    harness.say(chat, "/cancel");
    harness.wait_for_text(chat, mark, "Cancelling");
    let cancelled = hermes_testkit::procs::wait_until(Duration::from_secs(20), || {
        task_state(&harness, &url).as_deref() == Some("cancelled")
    });
    assert!(
        cancelled,
        "front log:\n{}\nnode log:\n{}",
        harness.log(),
        node1.log()
    );
    harness.wait_for_message_text(chat, status_id, "Cancelled");
    let marker = node1.downloads.to_string_lossy().into_owned();
    let gone = hermes_testkit::procs::wait_until(Duration::from_secs(10), || {
        hermes_testkit::procs::processes_with_cmdline_containing(&marker).is_empty()
    });
    assert!(gone, "the node's yt-dlp was stopped");
    assert!(uploads(&harness).is_empty());
}

#[test]
fn a_node_without_queue_url_is_a_clear_configuration_error() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_hermes-bot"))
        .env_clear()
        .env("TELEGRAM_BOT_TOKEN", TOKEN)
        .env("HERMES_ROLE", "node")
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("QUEUE_URL"), "{stderr}");
}
