//! The bench's own logic (statistics, verdicts, the output parsing it relies on, the corpus),
//! checked without measuring anything: what `cargo test -p hermes-worker --bench hermes` runs.
//! Panics on the first wrong answer, which fails `cargo test`.
use crate::cached_search::string_field;
use crate::options::Options;
use crate::parsing::Corpus;
use crate::report::{markdown_table, si, three_digits, Row, Target, Unit};
use crate::stats::{percentile, summarize};
use crate::WORKSPACE;
use hermes_protocol::health_check_request;
use std::path::Path;

pub(crate) fn run() {
    percentiles_are_nearest_rank();
    summaries_take_the_middle();
    verdicts_follow_the_target();
    numbers_print_with_three_digits();
    string_field_reads_top_level_values();
    table_columns_line_up();
    options_parse_and_refuse();
    corpus_strips_prefixes_and_repeats();
    eprintln!("hermes bench: self-check passed (run the measurements with scripts/bench.sh)");
}

fn percentiles_are_nearest_rank() {
    let samples: Vec<f64> = (1..=100).rev().map(f64::from).collect();
    assert_eq!(percentile(&samples, 50.0), 50.0);
    assert_eq!(percentile(&samples, 99.0), 99.0);
    assert_eq!(percentile(&samples, 100.0), 100.0);
    assert_eq!(percentile(&samples, 0.0), 1.0);
    assert_eq!(percentile(&[], 99.0), 0.0);
}

fn summaries_take_the_middle() {
    let odd = summarize(&[3.0, 1.0, 2.0]).expect("three samples");
    assert_eq!((odd.median, odd.min, odd.max, odd.n), (2.0, 1.0, 3.0, 3));
    let even = summarize(&[4.0, 1.0, 3.0, 2.0]).expect("four samples");
    assert_eq!(even.median, 2.5);
    assert!(summarize(&[]).is_none());
    assert!(
        Row::new("x", Unit::Ms, &[1.0], &[], Target::Info("")).is_none(),
        "no baseline, no row"
    );
}

fn verdicts_follow_the_target() {
    assert_eq!(Target::Below(5.0).verdict(4.9, 10.0), "PASS");
    assert_eq!(Target::Below(5.0).verdict(5.0, 0.1), "FAIL");
    assert_eq!(Target::AtLeast(50_000.0).verdict(49_999.0, 9.0), "FAIL");
    assert_eq!(Target::RatioAtMost(1.03).verdict(1e9, 1.03), "PASS");
    assert_eq!(Target::RatioAtLeast(0.5).verdict(0.0, 0.49), "FAIL");
    assert_eq!(Target::Info("x").verdict(1.0, 1.0), "info");
    let row = Row::new(
        "r",
        Unit::Ms,
        &[2.0, 4.0, 3.0],
        &[1.0, 2.0, 1.5],
        Target::RatioAtMost(1.03),
    )
    .expect("row");
    assert_eq!(row.ratio(), 2.0);
    assert_eq!(row.verdict(), "FAIL");
    assert_eq!(row.cell(row.ours), "3.00 ms (2.00–4.00)");
}

fn numbers_print_with_three_digits() {
    assert_eq!(three_digits(0.1234), "0.123");
    assert_eq!(three_digits(12.34), "12.3");
    assert_eq!(three_digits(1234.5), "1234");
    assert_eq!(si(12_345.0), "12.3 k");
    assert_eq!(si(1_234_567.0), "1.23 M");
    assert_eq!(
        Target::AtLeast(1e6).describe(Unit::LinesPerSec),
        "≥ 1.00 M lines/s"
    );
}

fn string_field_reads_top_level_values() {
    let line = r#"{"task_id":"s0-12","event":"search_results","data":{"task_id":"inner"}}"#;
    assert_eq!(string_field(line, "task_id"), Some("s0-12"));
    assert_eq!(string_field(line, "event"), Some("search_results"));
    assert_eq!(string_field(r#"{"task_id" : "a b"}"#, "task_id"), Some("a b"));
    assert_eq!(string_field(r#"{"task_id":1}"#, "task_id"), None);
    assert_eq!(string_field("{}", "event"), None);
    // The writer's real output shape, through the protocol crate.
    let sent = hermes_protocol::to_json_line(&health_check_request("h3-7"));
    assert_eq!(string_field(&sent, "task_id"), Some("h3-7"));
}

fn table_columns_line_up() {
    let cells = |a: &str, b: &str| vec![a.to_owned(), b.to_owned()];
    let table = markdown_table(&[
        cells("figure", "ratio"),
        cells("1a start → ready", "0.5"),
        cells("x", "12.345"),
    ]);
    let widths: Vec<usize> = table.lines().map(|l| l.chars().count()).collect();
    assert_eq!(widths.len(), 4, "header, rule and two rows: {table}");
    assert!(widths.iter().all(|w| *w == widths[0]), "ragged table:\n{table}");
}

fn options_parse_and_refuse() {
    let args = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>().into_iter();
    let options = Options::parse(args(&["--bench", "--quick", "--only", "1,4", "--json"])).expect("valid");
    assert!(options.quick && options.json);
    assert!(options.wants(4) && !options.wants(2));
    assert!(Options::parse(args(&["--only=10"])).is_err(), "figures are 1-9");
    assert!(Options::parse(args(&["--only"])).is_err());
    assert!(Options::parse(args(&["--fast"])).is_err());
}

fn corpus_strips_prefixes_and_repeats() {
    let corpus = Corpus::load(&Path::new(WORKSPACE).join("fixtures/ytdlp"), 1_000).expect("fixtures load");
    assert!(corpus.lines >= 1_000 && corpus.text.lines().count() == corpus.lines);
    assert!(corpus
        .text
        .lines()
        .all(|l| !l.starts_with("OUT ") && !l.starts_with("ERR ")));
    assert!(
        !corpus.text.lines().any(|l| l.starts_with("# ")),
        "fixture headers must not be parsed"
    );
    assert!(
        corpus.parse_all() > 0,
        "the recorded downloads must produce progress events"
    );
    assert_eq!(corpus.count_lines(), corpus.lines);
}
