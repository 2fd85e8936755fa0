//! The queue against a real redis-server on a loopback port (hermes-testkit starts and stops it).
use hermes_queue::{Claim, Claimed, JobQueue, QueueConfig, ResultReader};
use hermes_testkit::redis::RedisServer;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Job {
    chat: i64,
    url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Outcome {
    state: String,
}

const WAIT: Duration = Duration::from_millis(200);

fn config(server: &RedisServer, consumer: &str) -> QueueConfig {
    QueueConfig {
        claim_idle: Duration::from_millis(800),
        max_attempts: 2,
        ..QueueConfig::new(server.url(), consumer)
    }
}

fn job(n: i64) -> Job {
    Job {
        chat: n % 3,
        url: format!("http://127.0.0.1/{n}"),
    }
}

async fn claim(queue: &JobQueue) -> Claim<Job> {
    queue.claim_next(WAIT).await.unwrap()
}

fn held(claim: Claim<Job>) -> Claimed<Job> {
    match claim {
        Claim::Job(claimed) => claimed,
        other => panic!("expected a job, got {other:?}"),
    }
}

#[tokio::test]
async fn jobs_are_spread_over_nodes_and_each_is_handed_out_once() {
    let server = RedisServer::start();
    let front = JobQueue::connect(config(&server, "front")).await.unwrap();
    for n in 0..12 {
        front.enqueue(&format!("j{n}"), &job(n)).await.unwrap();
    }
    let (a, b) = (
        JobQueue::connect(config(&server, "a")).await.unwrap(),
        JobQueue::connect(config(&server, "b")).await.unwrap(),
    );
    let (mut seen_a, mut seen_b) = (Vec::new(), Vec::new());
    loop {
        let (ca, cb) = (claim(&a).await, claim(&b).await);
        if ca == Claim::Idle && cb == Claim::Idle {
            break;
        }
        for (queue, claim, seen) in [(&a, ca, &mut seen_a), (&b, cb, &mut seen_b)] {
            if let Claim::Job(claimed) = claim {
                assert_eq!(claimed.attempt, 1);
                assert_eq!(claimed.job, job(claimed.job_id[1..].parse().unwrap()));
                queue.mark_delivered(&claimed.job_id).await.unwrap();
                queue.ack(&claimed).await.unwrap();
                seen.push(claimed.job_id);
            }
        }
    }
    assert!(
        !seen_a.is_empty() && !seen_b.is_empty(),
        "{seen_a:?} / {seen_b:?}"
    );
    let all: BTreeSet<_> = seen_a.iter().chain(&seen_b).cloned().collect();
    assert_eq!(all.len(), 12);
    assert_eq!(seen_a.len() + seen_b.len(), 12, "a job was handed out twice");
    assert_eq!(a.pending_count().await.unwrap(), 0);
}

#[tokio::test]
async fn a_silent_nodes_job_is_taken_over_and_a_heartbeating_one_is_not() {
    let server = RedisServer::start();
    let front = JobQueue::connect(config(&server, "front")).await.unwrap();
    let (a, b) = (
        JobQueue::connect(config(&server, "a")).await.unwrap(),
        JobQueue::connect(config(&server, "b")).await.unwrap(),
    );
    front.enqueue("beating", &job(1)).await.unwrap();
    let mine = held(claim(&a).await);
    // While a heartbeats, b finds nothing, well past the idle time.
    let until = Instant::now() + Duration::from_millis(2000);
    while Instant::now() < until {
        assert!(a.heartbeat(&mine).await.unwrap());
        assert_eq!(claim(&b).await, Claim::Idle);
    }
    // a falls silent: b takes the job over as its second attempt, and a learns it lost it.
    tokio::time::sleep(Duration::from_millis(900)).await;
    let taken = held(claim(&b).await);
    assert_eq!(
        (taken.job_id.as_str(), taken.attempt, &taken.job),
        ("beating", 2, &job(1))
    );
    assert!(
        !a.heartbeat(&mine).await.unwrap(),
        "a must learn that b holds the job now"
    );
    assert!(b.heartbeat(&taken).await.unwrap());
}

#[tokio::test]
async fn a_job_past_its_attempts_goes_to_the_dead_letter_stream_once() {
    let server = RedisServer::start();
    let a = JobQueue::connect(config(&server, "a")).await.unwrap();
    a.enqueue("doomed", &job(7)).await.unwrap();
    // Started twice (max_attempts = 2), each time by a node that died.
    assert_eq!(held(claim(&a).await).attempt, 1);
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(held(claim(&a).await).attempt, 2);
    tokio::time::sleep(Duration::from_millis(900)).await;
    match claim(&a).await {
        Claim::Dead(dead) => assert_eq!((dead.job_id.as_str(), dead.attempt), ("doomed", 2)),
        other => panic!("expected the job's death, got {other:?}"),
    }
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(claim(&a).await, Claim::Idle, "a dead job is not handed out again");
    assert_eq!(
        a.dead_letters::<Job>().await.unwrap(),
        [("doomed".to_owned(), job(7))]
    );
    assert_eq!(a.pending_count().await.unwrap(), 0);
}

#[tokio::test]
async fn a_requeued_job_keeps_its_attempts() {
    let server = RedisServer::start();
    let a = JobQueue::connect(config(&server, "a")).await.unwrap();
    a.enqueue("flaky", &job(2)).await.unwrap();
    let first = held(claim(&a).await);
    a.requeue(&first).await.unwrap();
    let second = held(claim(&a).await);
    assert_eq!((second.job_id.as_str(), second.attempt), ("flaky", 2));
    a.requeue(&second).await.unwrap();
    assert!(matches!(claim(&a).await, Claim::Dead(_)));
}

#[tokio::test]
async fn a_job_delivered_before_its_node_died_is_acknowledged_not_redone() {
    let server = RedisServer::start();
    let (a, b) = (
        JobQueue::connect(config(&server, "a")).await.unwrap(),
        JobQueue::connect(config(&server, "b")).await.unwrap(),
    );
    a.enqueue("sent", &job(3)).await.unwrap();
    let claimed = held(claim(&a).await);
    a.mark_delivered(&claimed.job_id).await.unwrap();
    // a dies here, before its XACK.
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(claim(&b).await, Claim::Idle);
    assert_eq!(b.pending_count().await.unwrap(), 0);
}

#[tokio::test]
async fn cancel_is_seen_by_the_node_that_holds_the_job() {
    let server = RedisServer::start();
    let (front, node) = (
        JobQueue::connect(config(&server, "front")).await.unwrap(),
        JobQueue::connect(config(&server, "n")).await.unwrap(),
    );
    front.enqueue("c1", &job(4)).await.unwrap();
    let claimed = held(claim(&node).await);
    assert!(!node.is_cancelled(&claimed.job_id).await.unwrap());
    front.cancel("c1").await.unwrap();
    assert!(node.is_cancelled(&claimed.job_id).await.unwrap());
}

#[tokio::test]
async fn queued_jobs_and_unrecorded_results_survive_a_redis_restart() {
    let mut server = RedisServer::start();
    let front = JobQueue::connect(config(&server, "front")).await.unwrap();
    let node = JobQueue::connect(config(&server, "n")).await.unwrap();
    let mut results = ResultReader::connect(config(&server, "front")).await.unwrap();
    for n in 0..3 {
        front.enqueue(&format!("r{n}"), &job(n)).await.unwrap();
    }
    node.publish_result(
        "r9",
        &Outcome {
            state: "delivered".into(),
        },
    )
    .await
    .unwrap();
    let read = results.next::<Outcome>(WAIT).await.unwrap().expect("a result");
    assert_eq!(read.job_id, "r9");
    // Restarted before the front recorded it.
    server.restart();
    // The same connections reconnect by themselves; callers retry meanwhile.
    let mut got = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while got.len() < 3 && Instant::now() < deadline {
        match node.claim_next::<Job>(WAIT).await {
            Ok(Claim::Job(claimed)) => {
                node.ack(&claimed).await.unwrap();
                got.insert(claimed.job_id);
            }
            Ok(_) => {}
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    assert_eq!(got, ["r0", "r1", "r2"].map(String::from).into_iter().collect());
    // A new reader for the same front (a restarted front) gets the unrecorded result first.
    let mut again = ResultReader::connect(config(&server, "front")).await.unwrap();
    let read = again
        .next::<Outcome>(WAIT)
        .await
        .unwrap()
        .expect("the unrecorded result");
    assert_eq!(
        (read.job_id.as_str(), read.result.state.as_str()),
        ("r9", "delivered")
    );
    again.ack(&read).await.unwrap();
    assert_eq!(again.next::<Outcome>(WAIT).await.unwrap(), None);
    drop(results);
}

#[tokio::test]
async fn a_held_job_is_never_taken_over_and_stops_on_cancel() {
    let server = RedisServer::start();
    let (a, b) = (
        JobQueue::connect(config(&server, "a")).await.unwrap(),
        JobQueue::connect(config(&server, "b")).await.unwrap(),
    );
    a.enqueue("held", &job(5)).await.unwrap();
    let claimed = held(claim(&a).await);
    let hold = a.hold(&claimed);
    let until = Instant::now() + Duration::from_millis(2500);
    while Instant::now() < until {
        assert_eq!(claim(&b).await, Claim::Idle, "a held job must not be taken over");
    }
    assert!(!hold.stopped().is_cancelled());
    b.cancel("held").await.unwrap();
    tokio::time::timeout(Duration::from_secs(2), hold.stopped().cancelled())
        .await
        .expect("the hold stops on cancel");
    assert_eq!(hold.reason(), Some(hermes_queue::Stop::Cancelled));
}

#[tokio::test]
async fn a_hold_learns_that_its_job_was_taken_over() {
    let server = RedisServer::start();
    let (a, b) = (
        JobQueue::connect(config(&server, "a")).await.unwrap(),
        JobQueue::connect(config(&server, "b")).await.unwrap(),
    );
    a.enqueue("lost", &job(6)).await.unwrap();
    let claimed = held(claim(&a).await);
    // a was silent (no hold yet) long enough for b to take the job.
    tokio::time::sleep(Duration::from_millis(900)).await;
    let _taken = held(claim(&b).await);
    let hold = a.hold(&claimed);
    tokio::time::timeout(Duration::from_secs(2), hold.stopped().cancelled())
        .await
        .expect("the hold learns it lost the job");
    assert_eq!(hold.reason(), Some(hermes_queue::Stop::TakenOver));
}
