//! The report: one row per figure beside its same-run baseline (ratio, target, verdict), printed
//! as a table or as JSON.
use crate::stats::{summarize, Summary};
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Unit {
    Ms,
    MiB,
    MBps,
    ReqPerSec,
    LinesPerSec,
    JobsPerMin,
}

impl Unit {
    fn label(self) -> &'static str {
        match self {
            Unit::Ms => "ms",
            Unit::MiB => "MiB",
            Unit::MBps => "MB/s",
            Unit::ReqPerSec => "req/s",
            Unit::LinesPerSec => "lines/s",
            Unit::JobsPerMin => "jobs/min",
        }
    }

    pub(crate) fn format(self, value: f64) -> String {
        match self {
            Unit::ReqPerSec | Unit::LinesPerSec => si(value),
            _ => three_digits(value),
        }
    }
}

/// 3 significant digits without scientific notation: 0.123, 1.23, 12.3, 123, 1234.
pub(crate) fn three_digits(value: f64) -> String {
    let magnitude = value.abs();
    let decimals = if magnitude >= 100.0 {
        0
    } else if magnitude >= 10.0 {
        1
    } else if magnitude >= 1.0 {
        2
    } else {
        3
    };
    format!("{value:.decimals$}")
}

/// 12 345 → "12.3 k", 1 234 567 → "1.23 M".
pub(crate) fn si(value: f64) -> String {
    if value >= 1e6 {
        format!("{} M", three_digits(value / 1e6))
    } else if value >= 1e3 {
        format!("{} k", three_digits(value / 1e3))
    } else {
        three_digits(value)
    }
}

/// What a row is judged against. Absolute targets apply to our median; ratio targets to
/// ours / baseline.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target {
    Below(f64),
    AtLeast(f64),
    RatioAtMost(f64),
    RatioAtLeast(f64),
    Info(&'static str),
}

impl Target {
    pub(crate) fn describe(self, unit: Unit) -> String {
        match self {
            Target::Below(v) => format!("< {} {}", unit.format(v), unit.label()),
            Target::AtLeast(v) => format!("≥ {} {}", unit.format(v), unit.label()),
            Target::RatioAtMost(r) => format!("ratio ≤ {r}"),
            Target::RatioAtLeast(r) => format!("ratio ≥ {r}"),
            Target::Info(text) => text.to_owned(),
        }
    }

    pub(crate) fn verdict(self, ours: f64, ratio: f64) -> &'static str {
        let pass = match self {
            Target::Below(v) => ours < v,
            Target::AtLeast(v) => ours >= v,
            Target::RatioAtMost(r) => ratio <= r,
            Target::RatioAtLeast(r) => ratio >= r,
            Target::Info(_) => return "info",
        };
        if pass {
            "PASS"
        } else {
            "FAIL"
        }
    }
}

pub(crate) struct Row {
    pub(crate) figure: String,
    unit: Unit,
    pub(crate) ours: Summary,
    pub(crate) baseline: Summary,
    pub(crate) target: Target,
}

impl Row {
    pub(crate) fn new(
        figure: impl Into<String>,
        unit: Unit,
        ours: &[f64],
        baseline: &[f64],
        target: Target,
    ) -> Option<Row> {
        Some(Row {
            figure: figure.into(),
            unit,
            ours: summarize(ours)?,
            baseline: summarize(baseline)?,
            target,
        })
    }

    pub(crate) fn ratio(&self) -> f64 {
        self.ours.median / self.baseline.median
    }

    pub(crate) fn verdict(&self) -> &'static str {
        self.target.verdict(self.ours.median, self.ratio())
    }

    pub(crate) fn cell(&self, s: Summary) -> String {
        let f = |v| self.unit.format(v);
        format!(
            "{} {} ({}–{})",
            f(s.median),
            self.unit.label(),
            f(s.min),
            f(s.max)
        )
    }

    pub(crate) fn to_json(&self) -> Value {
        let summary = |s: Summary| json!({"median": s.median, "min": s.min, "max": s.max, "n": s.n});
        json!({
            "figure": self.figure,
            "unit": self.unit.label(),
            "ours": summary(self.ours),
            "baseline": summary(self.baseline),
            "ratio": self.ratio(),
            "target": self.target.describe(self.unit),
            "verdict": self.verdict(),
        })
    }
}

/// A figure that could not be measured, and why.
pub(crate) struct Missing {
    pub(crate) figure: String,
    pub(crate) target: String,
    pub(crate) reason: String,
}

#[derive(Default)]
pub(crate) struct Report {
    pub(crate) machine: Vec<(String, String)>,
    pub(crate) rows: Vec<Row>,
    pub(crate) missing: Vec<Missing>,
    pub(crate) notes: Vec<String>,
}

impl Report {
    pub(crate) fn push_rows(&mut self, rows: impl IntoIterator<Item = Option<Row>>) {
        self.rows.extend(rows.into_iter().flatten());
    }

    pub(crate) fn to_table(&self) -> String {
        let mut out = String::new();
        for (key, value) in &self.machine {
            out.push_str(&format!("{key}: {value}\n"));
        }
        out.push('\n');
        let header = [
            "figure",
            "ours (median, min–max)",
            "baseline (median, min–max)",
            "ratio",
            "target",
            "verdict",
        ];
        let mut lines: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
        for row in &self.rows {
            lines.push(vec![
                row.figure.clone(),
                row.cell(row.ours),
                row.cell(row.baseline),
                format!("{:.3}", row.ratio()),
                row.target.describe(row.unit),
                row.verdict().to_owned(),
            ]);
        }
        for missing in &self.missing {
            let reason = format!("n/a: {}", missing.reason);
            let dash = "—".to_owned();
            lines.push(vec![
                missing.figure.clone(),
                dash.clone(),
                dash.clone(),
                dash,
                missing.target.clone(),
                reason,
            ]);
        }
        out.push_str(&markdown_table(&lines));
        if !self.notes.is_empty() {
            out.push('\n');
            for note in &self.notes {
                out.push_str(&format!("- {note}\n"));
            }
        }
        out
    }

    pub(crate) fn to_json(&self) -> Value {
        let machine: serde_json::Map<String, Value> = self
            .machine
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        let missing: Vec<Value> = self
            .missing
            .iter()
            .map(|m| json!({"figure": m.figure, "target": m.target, "verdict": "n/a", "reason": m.reason}))
            .collect();
        json!({
            "machine": machine,
            "rows": self.rows.iter().map(Row::to_json).collect::<Vec<_>>(),
            "missing": missing,
            "notes": self.notes,
        })
    }
}

/// A GitHub-flavoured Markdown table, columns padded to their widest cell (by characters).
pub(crate) fn markdown_table(lines: &[Vec<String>]) -> String {
    let columns = lines.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            lines
                .iter()
                .map(|l| l.get(c).map_or(0, |s| s.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let render = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell}{}", " ".repeat(width - cell.chars().count())))
            .collect();
        format!("| {} |\n", padded.join(" | "))
    };
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        out.push_str(&render(line));
        if i == 0 {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            out.push_str(&format!("|-{}-|\n", rule.join("-|-")));
        }
    }
    out
}
