//! `hermes` bench: the DESIGN.md §5 figures, each measured beside a baseline **in the same run**.
//!
//! Run it through `scripts/bench.sh` (setup, release build, then
//! `cargo bench -p hermes-worker --bench hermes -- [--quick] [--json] [--only 1,4]`).
//!
//! Why baselines: the machine this runs on has two cores shared with compilers and test suites, so
//! an absolute number from one run says little on its own. Every figure is therefore printed next
//! to something measured the same way, at the same moment, on the same machine (`/bin/true`, bare
//! yt-dlp, `cp`, an idle worker, `lines().count()`), and as the ratio of the two medians.
//!
//! Every protocol figure drives the release `hermes-worker` binary as a child process over its
//! real stdin/stdout, with `DATABASE_URL`, `DOWNLOAD_DIR` and `TEMP_DIR` in a temporary directory;
//! media come from `hermes_testkit` (ffmpeg-generated) through its loopback `MediaServer`.
//! Timestamps of worker output are taken by a reader thread the moment a line is read, so the
//! bench's own bookkeeping is not counted as worker time.
//!
//! This is a measuring tool, not product code: a figure that cannot run (a tool missing, an action
//! answering `error`) is reported as `n/a` with the reason, and the other figures still run.

mod cached_search;
mod error;
mod load;
mod machine;
mod memory;
mod options;
mod overhead;
mod parsing;
mod report;
mod scale_out;
mod scratch;
mod self_check;
mod startup;
mod stats;
mod transfers;
mod worker;
mod zip;

use crate::cached_search::figure_cached_search;
use crate::error::Result;
use crate::load::figure_load_and_memory;
use crate::machine::{load_average, machine_info};
use crate::memory::figure_memory_only;
use crate::options::{Options, Reps};
use crate::overhead::figure_overhead;
use crate::parsing::figure_parsing;
use crate::report::{Missing, Report};
use crate::scale_out::figure_scale_out;
use crate::scratch::Scratch;
use crate::startup::figure_startup;
use crate::transfers::figure_transfers;
use crate::zip::figure_zip;
use std::time::{Duration, Instant};

/// The worker binary cargo built for this bench (the release profile: `target/release`).
pub(crate) const WORKER_BIN: &str = env!("CARGO_BIN_EXE_hermes-worker");
/// The workspace root, for `fixtures/` and `scripts/`.
pub(crate) const WORKSPACE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
pub(crate) const LINE_TIMEOUT: Duration = Duration::from_secs(30);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo bench` always passes `--bench`; `cargo test --benches` (or `--all-targets`) does not,
    // and must not start a minute of measurements: it checks the bench's own arithmetic instead.
    if !args.iter().any(|a| a == "--bench") {
        self_check::run();
        return;
    }
    let options = match Options::parse(args.into_iter()) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("hermes bench: {message}\n{USAGE}");
            std::process::exit(2);
        }
    };
    let report = run_all(&options);
    if options.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_table());
    }
}

const USAGE: &str = "usage: hermes bench [--quick] [--json] [--only 1,2,...]\n  \
--quick  fewer repetitions\n  --json   machine-readable output\n  --only   run only these figures (1-9)";

fn run_all(options: &Options) -> Report {
    let reps = Reps::new(options.quick);
    let mut report = Report {
        machine: machine_info(options),
        ..Report::default()
    };
    let scratch = match Scratch::create() {
        Ok(scratch) => scratch,
        Err(error) => {
            report.notes.push(format!("cannot create scratch space: {error}"));
            return report;
        }
    };
    type Figure = fn(&Scratch, &Reps, &mut Report) -> Result<()>;
    let figures: [(u8, &str, &str, Figure); 9] = [
        (1, "1 start-up", "< 5 ms", figure_startup),
        (
            2,
            "2 health_check under load / 6 memory",
            "< 5 ms",
            figure_load_and_memory,
        ),
        (3, "3 worker overhead", "ratio ≤ 1.03", figure_overhead),
        (4, "4 ZIP", "ratio ≥ 0.5", figure_zip),
        (5, "5 cached search", "≥ 50 k req/s", figure_cached_search),
        (7, "7 progress parsing", "≥ 1 M lines/s", figure_parsing),
        (6, "6 memory", "< 10 MiB", figure_memory_only),
        (
            8,
            "8 concurrency and connections",
            "ratios ≤ 0.25 / 0.2",
            figure_transfers,
        ),
        (9, "9 scale-out", "ratio ≥ 1.8", figure_scale_out),
    ];
    for (number, name, target, run) in figures {
        if !options.wants(number) {
            continue;
        }
        eprintln!("bench: figure {name} …");
        let started = Instant::now();
        if let Err(error) = run(&scratch, &reps, &mut report) {
            eprintln!("bench: figure {name} could not run: {error}");
            report.missing.push(Missing {
                figure: name.to_owned(),
                target: target.to_owned(),
                reason: error.to_string(),
            });
        }
        eprintln!(
            "bench: figure {name} took {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    report
        .machine
        .push(("load at end (uptime)".to_owned(), load_average()));
    // Figures run in dependency order (6 needs 1 and 2); the table reads in figure order.
    report
        .rows
        .sort_by(|a, b| figure_key(&a.figure).cmp(figure_key(&b.figure)));
    report
}

/// `"2b health_check …"` → `"2b"`.
fn figure_key(figure: &str) -> &str {
    figure.split_whitespace().next().unwrap_or(figure)
}
