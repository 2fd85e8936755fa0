//! Text rendering of task progress for Telegram messages and the terminal.
//!
//! Everything here is pure string formatting so the bot and the CLI show exactly the same
//! status lines, and so the formats can be pinned by table-driven tests.

use hermes_protocol::{HealthOk, ProgressData, ProgressStatus};

use crate::task_queue::{TaskSnapshot, TaskState};

/// Number of cells in the progress bar; each cell stands for 10 %.
const BAR_CELLS: usize = 10;
const FILLED_CELL: char = '▓';
const EMPTY_CELL: char = '░';
const SEPARATOR: &str = " · ";
/// Failure messages come from yt-dlp and the internet; a Telegram message caps at 4096 chars,
/// so a status line only ever carries the head of the message.
const MAX_FAILURE_MESSAGE_CHARS: usize = 200;

/// Renders `▓▓▓▓▓▓░░░░ 60% · 1.2MB/s · ETA 45s`.
///
/// `percent` above 100 is clamped to 100 (the worker never sends more, but a buggy or
/// foreign worker must not make the bar overflow). The speed part is left out when the
/// speed is unknown (`None`, empty or blank) and the ETA part when `eta_secs` is `None`.
fn render_progress(percent: u8, speed: Option<&str>, eta_secs: Option<u64>) -> String {
    let percent = percent.min(100);
    let mut line = progress_bar(percent);
    line.push_str(&format!(" {percent}%"));
    if let Some(speed) = known_speed(speed) {
        line.push_str(SEPARATOR);
        line.push_str(speed);
    }
    if let Some(secs) = eta_secs {
        line.push_str(SEPARATOR);
        line.push_str("ETA ");
        line.push_str(&format_eta(secs));
    }
    line
}

/// The bar alone: one filled cell per whole 10 % (floor), so a cell only fills once it is earned.
fn progress_bar(percent: u8) -> String {
    let filled = usize::from(percent.min(100)) / 10;
    let mut bar = String::with_capacity(BAR_CELLS * FILLED_CELL.len_utf8());
    bar.extend(std::iter::repeat_n(FILLED_CELL, filled));
    bar.extend(std::iter::repeat_n(EMPTY_CELL, BAR_CELLS - filled));
    bar
}

/// yt-dlp reports an empty speed before the first bytes arrive; treat blank like absent.
fn known_speed(speed: Option<&str>) -> Option<&str> {
    speed.map(str::trim).filter(|s| !s.is_empty())
}

/// Formats a remaining time compactly, keeping two units at most so the line stays short:
/// `45s`, `3m 05s`, `1h 02m`. Hours are not rolled into days: a download that long is rare
/// and `27h 46m` reads fine.
pub fn format_eta(secs: u64) -> String {
    const MINUTE: u64 = 60;
    const HOUR: u64 = 60 * MINUTE;
    if secs < MINUTE {
        format!("{secs}s")
    } else if secs < HOUR {
        format!("{}m {:02}s", secs / MINUTE, secs % MINUTE)
    } else {
        format!("{}h {:02}m", secs / HOUR, (secs % HOUR) / MINUTE)
    }
}

/// A media duration as a clock: `3:05`, `1:02:03`.
pub fn format_clock(secs: u64) -> String {
    if secs >= 3600 {
        format!("{}:{:02}:{:02}", secs / 3600, (secs % 3600) / 60, secs % 60)
    } else {
        format!("{}:{:02}", secs / 60, secs % 60)
    }
}

/// `text` cut to `max` characters on a char boundary, with an ellipsis when cut.
/// `text` on one line, runs of whitespace (newlines, tabs) as one space: text from a page or a
/// feed (a title, a channel) must not add lines of its own to a message, such as a fake link.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_owned(),
        Some((cut, _)) => format!("{}…", &text[..cut]),
    }
}

/// The JavaScript side of yt-dlp for `hermes health` and `/ping`:
/// `deno 2.9.8 · yt-dlp-ejs 0.8.0`, or what is missing and what to run about it.
pub fn js_support_text(health: &HealthOk) -> String {
    let runtime = health
        .js_runtime
        .as_ref()
        .map(|r| format!("{} {}", r.name, r.version));
    let ejs = health.ejs.as_deref().map(|v| format!("yt-dlp-ejs {v}"));
    match (runtime, ejs) {
        (Some(runtime), Some(ejs)) => format!("{runtime} · {ejs}"),
        (runtime, ejs) => format!(
            "{} · {} (YouTube degraded: run `hermes update-ytdlp`)",
            runtime.unwrap_or_else(|| "no runtime".to_owned()),
            ejs.unwrap_or_else(|| "no yt-dlp-ejs".to_owned())
        ),
    }
}

/// What a status line shows: one variant per phase a task goes through, independent of where
/// the information came from (a worker `progress` event, a [`TaskSnapshot`], a final event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusView {
    /// Waiting for a slot; `position` is 1-based when known.
    Queued {
        position: Option<usize>,
    },
    Preparing,
    Downloading {
        percent: u8,
        speed: Option<String>,
        eta_secs: Option<u64>,
    },
    /// yt-dlp post-processing (merging, fixing up) after the download itself.
    Processing,
    Converting,
    /// The worker reports retries as `progress` with `status: "retrying"`.
    Retrying,
    Zipping,
    /// The file is ready and going up to the chat (a bot's own phase, not a worker status).
    Uploading,
    Completed,
    Failed {
        message: String,
    },
    Cancelled,
}

impl StatusView {
    /// Maps the data of a worker `progress` event to a view. The protocol sends `eta` 0 when it
    /// is unknown.
    ///
    /// Unknown statuses fall back to the download bar: every progress event carries a
    /// percent, so showing it is more useful than hiding a status we do not know yet.
    pub fn from_progress(progress: &ProgressData) -> Self {
        match progress.status {
            ProgressStatus::Preparing | ProgressStatus::Searching => Self::Preparing,
            ProgressStatus::Processing => Self::Processing,
            ProgressStatus::Converting => Self::Converting,
            ProgressStatus::Retrying => Self::Retrying,
            ProgressStatus::Zipping => Self::Zipping,
            ProgressStatus::Completed => Self::Completed,
            ProgressStatus::Downloading | ProgressStatus::DownloadingPlaylist | ProgressStatus::Other => {
                Self::Downloading {
                    percent: progress.percent,
                    speed: known_speed(Some(&progress.speed)).map(str::to_owned),
                    eta_secs: (progress.eta > 0).then_some(progress.eta),
                }
            }
        }
    }
}

impl From<&TaskSnapshot> for StatusView {
    fn from(task: &TaskSnapshot) -> Self {
        match task.state {
            TaskState::Queued => Self::Queued {
                position: task.queue_position,
            },
            TaskState::Running => Self::Downloading {
                percent: task.percent,
                speed: known_speed(Some(&task.speed)).map(str::to_owned),
                eta_secs: None,
            },
            TaskState::Done => Self::Completed,
            TaskState::Failed => Self::Failed {
                message: task.failure.clone().unwrap_or_default(),
            },
            TaskState::Cancelled => Self::Cancelled,
        }
    }
}

/// Renders one status line, e.g. `⏳ Queued (#2)` or `⬇️ ▓▓░░░░░░░░ 20% · 1.2MB/s`.
pub fn render_status(state: &StatusView) -> String {
    match state {
        StatusView::Queued { position: Some(1) } => "⏳ Queued (#1) — next in line".to_owned(),
        StatusView::Queued {
            position: Some(position),
        } => format!("⏳ Queued (#{position}) — {} ahead of you", position - 1),
        StatusView::Queued { position: None } => "⏳ Queued".to_owned(),
        StatusView::Preparing => "🔎 Preparing…".to_owned(),
        StatusView::Downloading {
            percent,
            speed,
            eta_secs,
        } => format!("⬇️ {}", render_progress(*percent, speed.as_deref(), *eta_secs)),
        StatusView::Processing => "⚙️ Processing…".to_owned(),
        StatusView::Converting => "🔄 Converting…".to_owned(),
        StatusView::Retrying => "🔁 Retrying…".to_owned(),
        StatusView::Zipping => "📦 Zipping…".to_owned(),
        StatusView::Uploading => "⬆️ Uploading…".to_owned(),
        StatusView::Completed => "✅ Completed".to_owned(),
        StatusView::Failed { message } => match failure_summary(message) {
            Some(summary) => format!("❌ Failed: {summary}"),
            None => "❌ Failed".to_owned(),
        },
        StatusView::Cancelled => "🚫 Cancelled".to_owned(),
    }
}

/// First non-blank line of a failure message, cut to [`MAX_FAILURE_MESSAGE_CHARS`] on a char
/// boundary (an ellipsis marks the cut). `None` when there is nothing to show.
fn failure_summary(message: &str) -> Option<String> {
    let line = message.lines().map(str::trim).find(|l| !l.is_empty())?;
    Some(shorten(line, MAX_FAILURE_MESSAGE_CHARS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_bar_cells_follow_floor_of_percent() {
        let cases: &[(u8, &str)] = &[
            (0, "░░░░░░░░░░ 0%"),
            (1, "░░░░░░░░░░ 1%"),
            (9, "░░░░░░░░░░ 9%"),
            (10, "▓░░░░░░░░░ 10%"),
            (55, "▓▓▓▓▓░░░░░ 55%"),
            (60, "▓▓▓▓▓▓░░░░ 60%"),
            (99, "▓▓▓▓▓▓▓▓▓░ 99%"),
            (100, "▓▓▓▓▓▓▓▓▓▓ 100%"),
            (101, "▓▓▓▓▓▓▓▓▓▓ 100%"),
            (255, "▓▓▓▓▓▓▓▓▓▓ 100%"),
        ];
        for (percent, expected) in cases {
            assert_eq!(
                render_progress(*percent, None, None),
                *expected,
                "percent {percent}"
            );
        }
    }

    #[test]
    fn progress_line_parts_appear_only_when_known() {
        let cases: &[(u8, Option<&str>, Option<u64>, &str)] = &[
            (
                60,
                Some("1.2MB/s"),
                Some(45),
                "▓▓▓▓▓▓░░░░ 60% · 1.2MB/s · ETA 45s",
            ),
            (60, None, Some(45), "▓▓▓▓▓▓░░░░ 60% · ETA 45s"),
            (60, Some(""), Some(45), "▓▓▓▓▓▓░░░░ 60% · ETA 45s"),
            (60, Some("   "), None, "▓▓▓▓▓▓░░░░ 60%"),
            (60, Some("1.2MB/s"), None, "▓▓▓▓▓▓░░░░ 60% · 1.2MB/s"),
            (
                30,
                Some(" 800KiB/s "),
                Some(185),
                "▓▓▓░░░░░░░ 30% · 800KiB/s · ETA 3m 05s",
            ),
            (
                2,
                Some("10KB/s"),
                Some(3720),
                "░░░░░░░░░░ 2% · 10KB/s · ETA 1h 02m",
            ),
            (0, None, Some(0), "░░░░░░░░░░ 0% · ETA 0s"),
        ];
        for (percent, speed, eta, expected) in cases {
            assert_eq!(
                render_progress(*percent, *speed, *eta),
                *expected,
                "{percent} {speed:?} {eta:?}"
            );
        }
    }

    #[test]
    fn eta_switches_units_at_minute_and_hour_boundaries() {
        let cases: &[(u64, &str)] = &[
            (0, "0s"),
            (45, "45s"),
            (59, "59s"),
            (60, "1m 00s"),
            (61, "1m 01s"),
            (185, "3m 05s"),
            (3599, "59m 59s"),
            (3600, "1h 00m"),
            (3720, "1h 02m"),
            (3659, "1h 00m"),
            (100_000, "27h 46m"),
            (u64::MAX, "5124095576030431h 00m"),
        ];
        for (secs, expected) in cases {
            assert_eq!(format_eta(*secs), *expected, "{secs}s");
        }
    }

    #[test]
    fn status_lines_cover_every_phase() {
        let cases: Vec<(StatusView, &str)> = vec![
            (
                StatusView::Queued { position: Some(2) },
                "⏳ Queued (#2) — 1 ahead of you",
            ),
            (
                StatusView::Queued { position: Some(1) },
                "⏳ Queued (#1) — next in line",
            ),
            (StatusView::Queued { position: None }, "⏳ Queued"),
            (StatusView::Preparing, "🔎 Preparing…"),
            (
                StatusView::Downloading {
                    percent: 60,
                    speed: Some("1.2MB/s".into()),
                    eta_secs: Some(45),
                },
                "⬇️ ▓▓▓▓▓▓░░░░ 60% · 1.2MB/s · ETA 45s",
            ),
            (
                StatusView::Downloading {
                    percent: 0,
                    speed: None,
                    eta_secs: None,
                },
                "⬇️ ░░░░░░░░░░ 0%",
            ),
            (StatusView::Processing, "⚙️ Processing…"),
            (StatusView::Converting, "🔄 Converting…"),
            (StatusView::Retrying, "🔁 Retrying…"),
            (StatusView::Zipping, "📦 Zipping…"),
            (StatusView::Uploading, "⬆️ Uploading…"),
            (StatusView::Completed, "✅ Completed"),
            (
                StatusView::Failed {
                    message: "Video unavailable".into(),
                },
                "❌ Failed: Video unavailable",
            ),
            (
                StatusView::Failed {
                    message: "\n  ERROR: private video \nTraceback ...".into(),
                },
                "❌ Failed: ERROR: private video",
            ),
            (
                StatusView::Failed {
                    message: "  \n ".into(),
                },
                "❌ Failed",
            ),
            (StatusView::Cancelled, "🚫 Cancelled"),
        ];
        for (view, expected) in cases {
            assert_eq!(render_status(&view), expected, "{view:?}");
        }
    }

    #[test]
    fn shortened_text() {
        assert_eq!(shorten("héllo", 10), "héllo");
        assert_eq!(shorten("héllo wörld", 5), "héllo…");
    }

    #[test]
    fn long_failure_message_is_cut_on_a_char_boundary() {
        let message = "é".repeat(MAX_FAILURE_MESSAGE_CHARS + 50);
        let line = render_status(&StatusView::Failed { message });
        let summary = line.strip_prefix("❌ Failed: ").expect("prefix");
        assert_eq!(summary.chars().count(), MAX_FAILURE_MESSAGE_CHARS + 1);
        assert!(summary.ends_with('…'));

        let exact = "x".repeat(MAX_FAILURE_MESSAGE_CHARS);
        let line = render_status(&StatusView::Failed {
            message: exact.clone(),
        });
        assert_eq!(line, format!("❌ Failed: {exact}"));
    }

    #[tokio::test]
    async fn queue_snapshots_map_to_views() {
        use crate::task_queue::TaskQueue;
        let queue = TaskQueue::new(1, 1);
        for id in ["run", "wait", "done", "failed", "cancelled"] {
            assert!(queue.enqueue(id, 7, "youtube_dl"));
        }
        let view_of = |id: &str| {
            let task = queue.task(id).expect("tracked");
            render_status(&StatusView::from(&task))
        };
        assert_eq!(view_of("wait"), "⏳ Queued (#2) — 1 ahead of you");
        queue.acquire("run").await.expect("free slot");
        assert!(queue.update_progress("run", 55, "2.0MiB/s"));
        assert_eq!(view_of("run"), "⬇️ ▓▓▓▓▓░░░░░ 55% · 2.0MiB/s");
        assert_eq!(view_of("wait"), "⏳ Queued (#1) — next in line");
        assert!(queue.complete("run"));
        assert_eq!(view_of("run"), "✅ Completed");

        queue.acquire("wait").await.expect("slot freed");
        assert!(queue.fail("wait", "ERROR: Video unavailable\nmore"));
        assert_eq!(view_of("wait"), "❌ Failed: ERROR: Video unavailable");
        assert_eq!(queue.cancel("done"), crate::task_queue::CancelOutcome::WasQueued);
        assert_eq!(view_of("done"), "🚫 Cancelled");
    }

    /// `progress` data as the worker sends it (`eta` 0: unknown).
    fn progress(status: &str, percent: u8, speed: &str, eta: u64) -> ProgressData {
        let data = serde_json::json!({ "status": status, "percent": percent, "speed": speed, "eta": eta });
        serde_json::from_value(data).expect("progress data")
    }

    #[test]
    fn worker_progress_statuses_map_to_views() {
        let cases: Vec<(&str, StatusView)> = vec![
            ("preparing", StatusView::Preparing),
            ("searching", StatusView::Preparing),
            ("processing", StatusView::Processing),
            ("converting", StatusView::Converting),
            ("retrying", StatusView::Retrying),
            ("zipping", StatusView::Zipping),
            ("completed", StatusView::Completed),
            (
                "downloading",
                StatusView::Downloading {
                    percent: 42,
                    speed: Some("2MB/s".into()),
                    eta_secs: Some(7),
                },
            ),
            (
                "downloading_playlist",
                StatusView::Downloading {
                    percent: 42,
                    speed: Some("2MB/s".into()),
                    eta_secs: Some(7),
                },
            ),
            (
                "something_new",
                StatusView::Downloading {
                    percent: 42,
                    speed: Some("2MB/s".into()),
                    eta_secs: Some(7),
                },
            ),
        ];
        for (status, expected) in cases {
            assert_eq!(
                StatusView::from_progress(&progress(status, 42, "2MB/s", 7)),
                expected,
                "{status}"
            );
        }
        assert_eq!(
            StatusView::from_progress(&progress("downloading", 0, "", 0)),
            StatusView::Downloading {
                percent: 0,
                speed: None,
                eta_secs: None
            }
        );
    }
}
