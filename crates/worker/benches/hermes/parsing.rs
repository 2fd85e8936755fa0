//! Figure 7, progress parsing: recorded yt-dlp output through `parse_line` and the tracker,
//! beside counting the same lines.
use crate::error::{io_err, BenchError, Result};
use crate::options::Reps;
use crate::report::{Report, Row, Target, Unit};
use crate::scratch::Scratch;
use crate::WORKSPACE;
use hermes_worker::ytdlp::line::parse_line;
use hermes_worker::ytdlp::progress::ProgressTracker;
use std::path::{Path, PathBuf};
use std::time::Instant;

pub(crate) fn figure_parsing(_scratch: &Scratch, reps: &Reps, report: &mut Report) -> Result<()> {
    let corpus = Corpus::load(&Path::new(WORKSPACE).join("fixtures/ytdlp"), 1_000_000)?;
    let (mut ours, mut plain) = (vec![], vec![]);
    for _ in 0..reps.parses {
        ours.push(corpus.lines as f64 / time_secs(|| corpus.parse_all()));
        plain.push(corpus.lines as f64 / time_secs(|| corpus.count_lines()));
    }
    report.push_rows([Row::new(
        "7 parse_line + observe vs lines().count()",
        Unit::LinesPerSec,
        &ours,
        &plain,
        Target::AtLeast(1_000_000.0),
    )]);
    report.notes.push(format!(
        "7: the recorded fixtures/ytdlp/*.txt output ({} distinct lines, `OUT `/`ERR ` prefixes stripped) repeated to {} lines \
         ({:.1} MB); each fixture copy gets a fresh `ProgressTracker`, `Instant::now()` per line as in the driver.",
        corpus.distinct_lines,
        corpus.lines,
        corpus.text.len() as f64 / 1e6
    ));
    Ok(())
}

fn time_secs(f: impl FnOnce() -> usize) -> f64 {
    let started = Instant::now();
    std::hint::black_box(f());
    started.elapsed().as_secs_f64()
}

/// The fixtures' output lines, repeated: one string, cut into one range per fixture copy.
pub(crate) struct Corpus {
    pub(crate) text: String,
    pub(crate) fixtures: Vec<std::ops::Range<usize>>,
    pub(crate) lines: usize,
    distinct_lines: usize,
}

impl Corpus {
    pub(crate) fn load(dir: &Path, min_lines: usize) -> Result<Corpus> {
        let fixtures = fixture_outputs(dir)?;
        let distinct_lines: usize = fixtures.iter().map(|f| f.lines().count()).sum();
        if distinct_lines == 0 {
            return Err(BenchError::Protocol(format!(
                "no output lines in {}",
                dir.display()
            )));
        }
        let mut corpus = Corpus {
            text: String::new(),
            fixtures: vec![],
            lines: 0,
            distinct_lines,
        };
        while corpus.lines < min_lines {
            for fixture in &fixtures {
                let start = corpus.text.len();
                corpus.text.push_str(fixture);
                corpus.fixtures.push(start..corpus.text.len());
            }
            corpus.lines += distinct_lines;
        }
        Ok(corpus)
    }

    /// What the driver does with every line: parse it, feed it to the task's tracker.
    pub(crate) fn parse_all(&self) -> usize {
        let mut emitted = 0;
        for range in &self.fixtures {
            let mut tracker = ProgressTracker::new();
            for line in self.text[range.clone()].lines() {
                let event = parse_line(line);
                if tracker.observe(&event, Instant::now()).is_some() {
                    emitted += 1;
                }
                std::hint::black_box(&event);
            }
        }
        emitted
    }

    pub(crate) fn count_lines(&self) -> usize {
        std::hint::black_box(self.text.as_str()).lines().count()
    }
}

/// Each `*.txt` fixture's recorded output lines without the `OUT `/`ERR ` prefix, `\n`-ended.
fn fixture_outputs(dir: &Path) -> Result<Vec<String>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io_err(format!("list {}", dir.display())))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path).map_err(io_err(format!("read {}", path.display())))?;
            let mut out = String::new();
            for line in text.lines() {
                if let Some(body) = line.strip_prefix("OUT ").or_else(|| line.strip_prefix("ERR ")) {
                    out.push_str(body);
                    out.push('\n');
                }
            }
            Ok(out)
        })
        .collect()
}
