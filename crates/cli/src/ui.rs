//! What `hermes` shows while a task runs: an indicatif progress bar on stderr fed by the worker's
//! `progress` events (percent, speed and ETA as the worker reports them), or, with `--json`, every
//! raw event as one NDJSON line on stdout. Final results are printed by the commands.
use hermes_host::render::{format_eta, render_status, StatusView};
use hermes_protocol::{to_json_line, Event, ProgressData, Response};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write;
use std::time::Duration;

const BAR_TEMPLATE: &str = "{spinner:.cyan} {prefix:.bold} [{bar:30.cyan/blue}] {pos:>3}% {wide_msg}";
const SPINNER_TEMPLATE: &str = "{spinner:.cyan} {prefix:.bold} {wide_msg}";
const TICK: Duration = Duration::from_millis(120);

pub(crate) struct Ui {
    json: bool,
    bar: Option<ProgressBar>,
    /// Paths already printed as they arrived (`progress` events with a finished `file`), so the
    /// final result does not print them again.
    printed: Vec<String>,
}

impl Ui {
    pub(crate) fn new(json: bool) -> Self {
        Ui {
            json,
            bar: None,
            printed: Vec::new(),
        }
    }

    pub(crate) fn json(&self) -> bool {
        self.json
    }

    /// Starts the live display of one task: a percent bar for downloads, a spinner for look-ups.
    /// Nothing is drawn in JSON mode or when stderr is not a terminal (indicatif hides itself).
    pub(crate) fn start(&mut self, label: &str, with_percent: bool) {
        self.clear();
        if self.json {
            return;
        }
        let (bar, template) = if with_percent {
            (ProgressBar::new(100), BAR_TEMPLATE)
        } else {
            (ProgressBar::new_spinner(), SPINNER_TEMPLATE)
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("█▉▊▋▌▍▎▏ "));
        }
        bar.set_prefix(label.to_owned());
        bar.enable_steady_tick(TICK);
        self.bar = Some(bar);
    }

    /// Shows one event of the running task.
    pub(crate) fn event(&mut self, response: &Response) {
        if self.json {
            print_stdout(&to_json_line(response));
            return;
        }
        if response.event != Event::Progress {
            return;
        }
        let Ok(progress) = response.payload::<ProgressData>() else {
            return;
        };
        if let Some(bar) = &self.bar {
            bar.set_position(u64::from(progress.percent.min(100)));
            bar.set_message(progress_message(&StatusView::from_progress(&progress)));
        }
        if let Some(file) = &progress.file {
            self.print_path(&file.path);
        }
    }

    /// Prints a finished file's path on stdout (above the bar), once.
    pub(crate) fn print_path(&mut self, path: &str) {
        if self.json || path.is_empty() || self.printed.iter().any(|p| p == path) {
            return;
        }
        match &self.bar {
            Some(bar) => bar.suspend(|| println_stdout(path)),
            None => println_stdout(path),
        }
        self.printed.push(path.to_owned());
    }

    /// Leaves a last message where the bar was (e.g. "cancelling…").
    pub(crate) fn abandon(&mut self, message: &str) {
        if let Some(bar) = self.bar.take() {
            bar.abandon_with_message(message.to_owned());
        }
    }

    /// Removes the bar so results print on a clean screen.
    pub(crate) fn clear(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// The text beside the bar: `1.2MB/s · ETA 45s` while downloading (the bar itself shows the
/// percent), the shared status line from `render` for the other phases.
pub(crate) fn progress_message(view: &StatusView) -> String {
    match view {
        StatusView::Downloading { speed, eta_secs, .. } => {
            let mut parts: Vec<String> = Vec::new();
            parts.extend(speed.clone());
            parts.extend(eta_secs.map(|secs| format!("ETA {}", format_eta(secs))));
            parts.join(" · ")
        }
        other => render_status(other),
    }
}

/// Writes to stdout, ignoring a closed pipe (`hermes --json ... | head -1` must not panic).
pub(crate) fn print_stdout(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

/// Like [`print_stdout`], adding the newline.
pub(crate) fn println_stdout(line: &str) {
    print_stdout(&format!("{line}\n"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downloading_shows_speed_and_eta_only_when_known() {
        let view = |speed: Option<&str>, eta_secs| StatusView::Downloading {
            percent: 40,
            speed: speed.map(str::to_owned),
            eta_secs,
        };
        assert_eq!(
            progress_message(&view(Some("1.2MB/s"), Some(45))),
            "1.2MB/s · ETA 45s"
        );
        assert_eq!(progress_message(&view(None, Some(185))), "ETA 3m 05s");
        assert_eq!(progress_message(&view(Some("3MB/s"), None)), "3MB/s");
        assert_eq!(progress_message(&view(None, None)), "");
        assert_eq!(progress_message(&StatusView::Converting), "🔄 Converting…");
    }
}
