//! Figure 5, cached `youtube_search` throughput beside `health_check` throughput.
use crate::error::{io_err, BenchError, Result};
use crate::options::Reps;
use crate::report::{Report, Row, Target, Unit};
use crate::scratch::Scratch;
use crate::stats::{millis, percentile};
use crate::worker::{expect_event, WorkerProc};
use crate::{LINE_TIMEOUT, WORKSPACE};
use hermes_protocol::{health_check_request, search_request, Request};
use std::io::Write;
use std::path::Path;
use std::process::ChildStdin;
use std::time::Instant;

/// Query used to prime and then hit the search cache (the fake yt-dlp has a fixture for it).
const CACHED_QUERY: &str = "lofi hip hop";

/// One flood: requests/s over the whole batch and the per-request latency percentiles.
struct Flood {
    per_sec: f64,
    p99_ms: f64,
}

pub(crate) fn figure_cached_search(scratch: &Scratch, reps: &Reps, report: &mut Report) -> Result<()> {
    let dir = scratch.subdir("search")?;
    let fake = Path::new(WORKSPACE).join("scripts/fake-yt-dlp");
    let mut worker = WorkerProc::spawn(&dir, &[("YTDLP_BIN", fake.into_os_string())])?;
    prime_search_cache(&mut worker)?;
    let (mut search_rps, mut search_p99, mut health_rps, mut health_p99) = (vec![], vec![], vec![], vec![]);
    let n = reps.flood_requests;
    for round in 0..reps.flood_rounds {
        let search = flood(
            &mut worker,
            n,
            |i| search_request(&format!("s{round}-{i}"), CACHED_QUERY, 5),
            "search_results",
        )?;
        search_rps.push(search.per_sec);
        search_p99.push(search.p99_ms);
        let health = flood(
            &mut worker,
            n,
            |i| health_check_request(&format!("h{round}-{i}")),
            "health_ok",
        )?;
        health_rps.push(health.per_sec);
        health_p99.push(health.p99_ms);
    }
    worker.finish()?;
    report.push_rows([
        Row::new(
            "5a cached youtube_search vs health_check",
            Unit::ReqPerSec,
            &search_rps,
            &health_rps,
            Target::AtLeast(50_000.0),
        ),
        Row::new(
            "5b  … p99 latency in the flood",
            Unit::Ms,
            &search_p99,
            &health_p99,
            Target::Info("info"),
        ),
    ]);
    report.notes.push(format!(
        "5: cache primed by one search through the fake yt-dlp, then {n} requests for the same query written by one thread \
         (one write each) while another reads; req/s = {n} / (first write → last answer), {} round(s) alternating with the \
         same flood of `health_check` (the protocol's own ceiling). Latency includes queueing behind the flood.",
        reps.flood_rounds
    ));
    Ok(())
}

fn prime_search_cache(worker: &mut WorkerProc) -> Result<()> {
    for (task, want_cached) in [("prime", false), ("primed", true)] {
        worker.send(&search_request(task, CACHED_QUERY, 5))?;
        let (_, event) = worker.final_event(task, LINE_TIMEOUT, |_| {})?;
        expect_event(&event, "search_results")?;
        if want_cached && event["data"]["from_cache"] != true {
            return Err(BenchError::Protocol(
                "the second search was not answered from the cache".to_owned(),
            ));
        }
    }
    Ok(())
}

/// Writes `n` requests from a writer thread while this thread reads the answers.
fn flood(
    worker: &mut WorkerProc,
    n: usize,
    make: impl Fn(usize) -> Request,
    expected: &str,
) -> Result<Flood> {
    let lines: Vec<String> = (0..n).map(|i| hermes_protocol::to_json_line(&make(i))).collect();
    let stdin = worker.take_stdin()?;
    let writer = std::thread::spawn(move || write_flood(stdin, lines));
    let answers = read_flood(worker, n, expected);
    let (stdin, sent) = writer
        .join()
        .map_err(|_| BenchError::Protocol("the writer thread panicked".to_owned()))?;
    worker.restore_stdin(stdin.map_err(io_err("write the flood"))?);
    let answers = answers?;
    let first = sent
        .first()
        .copied()
        .ok_or_else(|| BenchError::Protocol("nothing was sent".to_owned()))?;
    let last = answers.iter().flatten().max().copied().unwrap_or(first);
    let latencies: Vec<f64> = sent
        .iter()
        .zip(&answers)
        .filter_map(|(s, a)| a.map(|a| millis(a - *s)))
        .collect();
    Ok(Flood {
        per_sec: n as f64 / (last - first).as_secs_f64(),
        p99_ms: percentile(&latencies, 99.0),
    })
}

/// The stdin handed back (or the write error) and the moment each line was written.
type FloodWrite = (std::io::Result<ChildStdin>, Vec<Instant>);

fn write_flood(mut stdin: ChildStdin, lines: Vec<String>) -> FloodWrite {
    let mut sent = Vec::with_capacity(lines.len());
    for line in &lines {
        sent.push(Instant::now());
        if let Err(error) = stdin.write_all(line.as_bytes()) {
            return (Err(error), sent);
        }
    }
    (Ok(stdin), sent)
}

/// The answer time of every request index; checks each answer is the expected event. Only the
/// `task_id` and `event` values are looked at, without a full JSON parse, so the reading side
/// costs the worker (which shares the two cores) as little CPU as possible.
fn read_flood(worker: &WorkerProc, n: usize, expected: &str) -> Result<Vec<Option<Instant>>> {
    let mut answers = vec![None; n];
    let mut received = 0;
    while received < n {
        let line = worker.next_line(LINE_TIMEOUT, "flood answers")?;
        let event = string_field(&line.text, "event").unwrap_or("");
        if event == "progress" {
            continue;
        }
        if event != expected {
            return Err(BenchError::Protocol(format!(
                "expected `{expected}` in the flood, got: {}",
                line.text
            )));
        }
        let index = string_field(&line.text, "task_id")
            .and_then(|id| id.rsplit('-').next())
            .and_then(|i| i.parse::<usize>().ok())
            .filter(|i| *i < n)
            .ok_or_else(|| BenchError::Protocol(format!("unexpected task_id in {}", line.text)))?;
        answers[index] = Some(line.at);
        received += 1;
    }
    Ok(answers)
}

/// The first `"key": "value"` string value in a compact JSON line (top-level keys come first in
/// the worker's events, and the bench's task ids need no escaping).
pub(crate) fn string_field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let quoted = format!("\"{key}\"");
    let rest = &line[line.find(&quoted)? + quoted.len()..];
    let rest = rest
        .trim_start()
        .strip_prefix(':')?
        .trim_start()
        .strip_prefix('"')?;
    rest.split('"').next()
}
