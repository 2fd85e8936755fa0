//! Figure 9, scale-out (DESIGN.md §7): jobs per minute of a front with two nodes beside the same
//! front with one node, on a throttled loopback media server, so that each job's time is its
//! transfer (as on real machines, where bandwidth and IP reputation are what runs out) and not
//! this 2-core machine's CPU. Real `redis-server`, release `hermes-bot` and `hermes-worker`,
//! the fake Bot API; each node takes one job at a time.
use crate::error::{BenchError, Result};
use crate::options::Reps;
use crate::report::{Report, Row, Target, Unit};
use crate::scratch::Scratch;
use crate::{WORKER_BIN, WORKSPACE};
use hermes_testkit::cluster::Cluster;
use std::path::Path;
use std::time::Duration;

/// Jobs per batch: a 1 MiB WAV each at [`RATE`] (~5 s of transfer), converted to mp3.
const JOBS: usize = 8;
const RATE: u64 = 200_000;
const BATCH_TIMEOUT: Duration = Duration::from_secs(300);

pub(crate) fn figure_scale_out(_scratch: &Scratch, reps: &Reps, report: &mut Report) -> Result<()> {
    let bot_bin = Path::new(WORKSPACE).join("target/release/hermes-bot");
    if !bot_bin.exists() {
        return Err(BenchError::Protocol(format!(
            "{} is not built (scripts/bench.sh builds it)",
            bot_bin.display()
        )));
    }
    let (mut two, mut one) = (Vec::new(), Vec::new());
    for rep in 0..reps.transfers {
        // Alternate the order so a drift in machine load hits both sides.
        let order: [usize; 2] = if rep % 2 == 0 { [2, 1] } else { [1, 2] };
        for nodes in order {
            let per_minute = batch(&bot_bin, nodes, rep)?;
            eprintln!("bench: figure 9: {nodes} node(s): {per_minute:.1} jobs/min");
            if nodes == 2 {
                two.push(per_minute);
            } else {
                one.push(per_minute);
            }
        }
    }
    report.push_rows([Row::new(
        format!("9 scale-out: {JOBS} jobs, 2 nodes vs 1 node"),
        Unit::JobsPerMin,
        &two,
        &one,
        Target::RatioAtLeast(1.8),
    )]);
    Ok(())
}

/// One batch of [`JOBS`] through a fresh cluster of `nodes` nodes: jobs per minute.
fn batch(bot_bin: &Path, nodes: usize, rep: usize) -> Result<f64> {
    let cluster =
        Cluster::start(bot_bin, Path::new(WORKER_BIN), nodes, 1).map_err(|source| BenchError::Io {
            what: "start the cluster".to_owned(),
            source,
        })?;
    if !cluster.wait_ready(Duration::from_secs(60)) {
        return Err(BenchError::Timeout("the front and nodes to start".to_owned()));
    }
    let urls: Vec<String> = (0..JOBS)
        .map(|n| cluster.paced_url(RATE, rep * 100 + nodes * 10 + n))
        .collect();
    let took = cluster
        .deliver(&[9001, 9002, 9003], &urls, BATCH_TIMEOUT)
        .map_err(BenchError::Protocol)?;
    Ok(JOBS as f64 * 60.0 / took.as_secs_f64())
}
