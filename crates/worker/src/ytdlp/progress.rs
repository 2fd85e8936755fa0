//! Which `progress` events a task's yt-dlp lines turn into.
//!
//! [`ProgressTracker`] turns [`LineEvent`]s into the `progress` events of the wire contract
//! (DESIGN.md §2): an integer percent that never decreases, a status that follows the phases of
//! the download, and a throttle of at most one event per [`MIN_EMIT_INTERVAL`] unless the percent
//! moved by [`PERCENT_JUMP`] points. The clock is passed in (`now: Instant`), so the throttle is
//! tested without sleeping.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use hermes_protocol::{ProgressData, ProgressStatus};

use super::line::{LineEvent, RawProgress};

/// Minimum time between two `progress` events of one task…
pub const MIN_EMIT_INTERVAL: Duration = Duration::from_millis(250);
/// …unless the percent moved at least this many points since the last one.
pub const PERCENT_JUMP: u8 = 5;

/// `1_258_291.2` → `"1.2MB/s"`: one decimal, 1024-based units (what yt-dlp calls MiB), `B/s` as a
/// whole number. Unknown, zero, negative or non-finite speeds give `""`.
pub(crate) fn format_speed(bytes_per_sec: f64) -> String {
    if !bytes_per_sec.is_finite() || bytes_per_sec <= 0.0 {
        return String::new();
    }
    const UNITS: [&str; 4] = ["KB/s", "MB/s", "GB/s", "TB/s"];
    if bytes_per_sec < 1024.0 {
        return format!("{bytes_per_sec:.0}B/s");
    }
    let mut value = bytes_per_sec / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1}{}", UNITS[unit])
}

/// How far the current playlist item (or the single item) is.
#[derive(Debug, Clone)]
struct ItemProgress {
    /// Streams this item downloads (2 for `video+audio`), from [`LineEvent::FormatsSelected`].
    streams: u32,
    streams_done: u32,
    /// Fraction of the stream being downloaded.
    current: f64,
    stream_open: bool,
    /// Downloads done (post-processing, skipped as already there, or final file seen).
    complete: bool,
}

impl Default for ItemProgress {
    fn default() -> Self {
        ItemProgress {
            streams: 1,
            streams_done: 0,
            current: 0.0,
            stream_open: false,
            complete: false,
        }
    }
}

impl ItemProgress {
    fn fraction(&self) -> f64 {
        if self.complete {
            return 1.0;
        }
        // More streams than announced (no `[info]` line seen) stretch the denominator.
        let streams = self
            .streams
            .max(self.streams_done + u32::from(self.stream_open))
            .max(1);
        ((f64::from(self.streams_done) + self.current) / f64::from(streams)).clamp(0.0, 1.0)
    }

    fn start_stream(&mut self) {
        if self.stream_open {
            self.streams_done += 1;
        }
        self.stream_open = true;
        self.current = 0.0;
    }

    fn finish_stream(&mut self) {
        self.streams_done += 1;
        self.stream_open = false;
        self.current = 0.0;
    }
}

/// Turns [`LineEvent`]s of one task into the `progress` events to send (see the module docs).
///
/// Title: a single download's [`LineEvent::Title`] is kept in the state, so every event from the
/// next one on carries it (`ProgressData::title`); a playlist tracker ignores titles.
///
/// Percent: the overall fraction `(items done + fraction of the current item) / items`, where an
/// item's fraction counts each of its streams equally, mapped onto the percent range (0–100 by
/// default, see [`ProgressTracker::with_percent_range`]). It never decreases and stays ≤ 99 until
/// [`ProgressTracker::finish`], which alone reports 100 / `completed`.
#[derive(Debug, Clone)]
pub struct ProgressTracker {
    playlist: bool,
    items_total: u32,
    /// 0-based index of the current item.
    item_index: u32,
    item: ItemProgress,
    range_start: u8,
    range_end: u8,
    state: ProgressData,
    last_emit: Option<(Instant, ProgressData)>,
    /// The state changed since the last emitted event but the throttle held it back.
    pending: bool,
    finished: bool,
    /// Never emits by itself: the tracker of one item among several, read by whoever combines
    /// them (see [`ProgressTracker::quiet`]).
    quiet: bool,
    /// The current download speed in bytes/s, while downloading.
    speed_bps: Option<f64>,
}

impl Default for ProgressTracker {
    fn default() -> Self {
        ProgressTracker::new()
    }
}

impl ProgressTracker {
    /// A tracker for a single download (`youtube_dl`).
    pub fn new() -> Self {
        ProgressTracker {
            playlist: false,
            items_total: 1,
            item_index: 0,
            item: ItemProgress::default(),
            range_start: 0,
            range_end: 100,
            state: ProgressData::default(),
            last_emit: None,
            pending: false,
            finished: false,
            quiet: false,
            speed_bps: None,
        }
    }

    /// A tracker for a playlist of `total_items` (0 when unknown; `Downloading item N of M`
    /// lines correct it). Status is `downloading_playlist` throughout.
    pub fn for_playlist(total_items: u32) -> Self {
        ProgressTracker {
            playlist: true,
            items_total: total_items.max(1),
            ..ProgressTracker::new()
        }
    }

    /// Maps the download onto `start..=end` percent, leaving the rest for phases the caller
    /// reports itself with [`ProgressTracker::report`] (e.g. a playlist's ZIP step).
    pub fn with_percent_range(mut self, start: u8, end: u8) -> Self {
        self.range_end = end.min(100);
        self.range_start = start.min(self.range_end);
        self.state.percent = self.state.percent.max(self.range_start.min(99));
        self
    }

    /// A tracker that follows its lines but emits nothing, not even through
    /// [`ProgressTracker::flush`] or [`ProgressTracker::retrying`]: one item of a playlist whose
    /// items run concurrently, combined into the task's events by the caller.
    pub(crate) fn quiet(mut self) -> Self {
        self.quiet = true;
        self
    }

    /// How far the download is, 0.0–1.0 (items done plus the current item's fraction), before it
    /// is mapped onto the percent range.
    pub(crate) fn done_fraction(&self) -> f64 {
        if self.finished {
            return 1.0;
        }
        let items = f64::from(self.items_total.max(1));
        ((f64::from(self.item_index) + self.item.fraction()) / items).clamp(0.0, 1.0)
    }

    /// The current download speed in bytes/s, while a stream is downloading.
    pub(crate) fn speed_bps(&self) -> Option<f64> {
        self.speed_bps
    }

    /// Combined progress of concurrent downloads (see [`ProgressTracker::quiet`]): the percent is
    /// raised to at least `percent` (capped at 99 and the range end), the speed is their sum.
    pub(crate) fn report_combined(
        &mut self,
        percent: u8,
        speed_bps: Option<f64>,
        eta: u64,
        now: Instant,
    ) -> Option<ProgressData> {
        if self.finished {
            return None;
        }
        let status = self.downloading_status();
        self.set_status(status);
        self.state.percent = self.state.percent.max(percent.min(self.range_end).min(99));
        self.state.speed = speed_bps.map(format_speed).unwrap_or_default();
        self.state.eta = eta;
        self.emit_if_due(now)
    }

    /// The event announcing a finished `file`: the current state plus the file, always to be
    /// sent (a host may be waiting for it), never throttled and never repeated in later events.
    pub(crate) fn file_event(&mut self, file: hermes_protocol::FileEntry, now: Instant) -> ProgressData {
        self.pending = false;
        self.last_emit = Some((now, self.state.clone()));
        ProgressData {
            file: Some(file),
            ..self.state.clone()
        }
    }

    /// The current percent (the high-water mark).
    pub fn percent(&self) -> u8 {
        self.state.percent
    }

    /// The current state, emitted or not.
    pub(crate) fn snapshot(&self) -> ProgressData {
        self.state.clone()
    }

    /// Feeds one parsed line; returns the event to send now, if any.
    pub fn observe(&mut self, event: &LineEvent, now: Instant) -> Option<ProgressData> {
        if self.finished || !self.apply(event) {
            return None;
        }
        self.recompute_percent();
        self.emit_if_due(now)
    }

    /// A phase the lines do not show (preparing, zipping, …): sets the status and raises the
    /// percent to at least `percent` (never lowers it; capped at 99).
    pub fn report(&mut self, percent: u8, status: ProgressStatus, now: Instant) -> Option<ProgressData> {
        if self.finished {
            return None;
        }
        self.state.percent = self.state.percent.max(percent.min(99));
        self.set_status(status);
        self.emit_if_due(now)
    }

    /// A new yt-dlp attempt is about to start: forget the per-run position (yt-dlp starts over,
    /// the percent floor stays) and report `retrying`.
    pub fn retrying(&mut self, now: Instant) -> Option<ProgressData> {
        self.item_index = 0;
        self.item = ItemProgress::default();
        let percent = self.state.percent;
        self.report(percent, ProgressStatus::Retrying, now)
    }

    /// The update the throttle held back, once its interval has passed. Call it from a timer so
    /// the last state before a quiet phase (a long conversion) is not lost.
    pub fn flush(&mut self, now: Instant) -> Option<ProgressData> {
        if self.finished || !self.pending {
            return None;
        }
        self.emit_if_due(now)
    }

    /// The final `100` / `completed` event, always to be sent. Later calls to the tracker emit
    /// nothing.
    pub fn finish(&mut self) -> ProgressData {
        self.finished = true;
        self.pending = false;
        self.state.percent = 100;
        self.state.status = ProgressStatus::Completed;
        self.state.speed.clear();
        self.state.eta = 0;
        self.state.clone()
    }

    /// Updates the state for one event; `false` when the event cannot change it.
    fn apply(&mut self, event: &LineEvent) -> bool {
        let before = self.state.clone();
        let item_before = self.item.fraction();
        let index_before = self.item_index;
        match event {
            LineEvent::Progress(raw) => self.apply_raw_progress(raw),
            LineEvent::Destination(_) => {
                self.item.start_stream();
                self.set_status(self.downloading_status());
            }
            LineEvent::FormatsSelected { streams } => self.item.streams = (*streams).max(1),
            LineEvent::ExtractAudio(_) => self.downloads_done(ProgressStatus::Converting),
            LineEvent::Merger(_) => self.downloads_done(ProgressStatus::Processing),
            LineEvent::Postprocess {
                postprocessor,
                status,
            } => self.apply_postprocess(postprocessor, status),
            LineEvent::AlreadyDownloaded(_) | LineEvent::ArchiveSkip(_) | LineEvent::FinalFile(_) => {
                self.item.complete = true
            }
            LineEvent::PlaylistItem { index, count } => self.start_item(*index, *count),
            // A single download's title rides on every later event (display text only). A
            // playlist's progress carries none: its items' titles would take turns.
            LineEvent::Title(title) if !self.playlist => self.state.title = Some(title.clone()),
            LineEvent::Title(_) | LineEvent::Error(_) | LineEvent::Warning(_) | LineEvent::Other => {
                return false
            }
        }
        self.state != before || self.item.fraction() != item_before || self.item_index != index_before
    }

    fn apply_raw_progress(&mut self, raw: &RawProgress) {
        if raw.is_finished() {
            self.item.finish_stream();
        } else {
            if !self.item.stream_open {
                self.item.start_stream();
            }
            if let Some(fraction) = raw.fraction() {
                self.item.current = fraction;
            }
        }
        self.set_status(self.downloading_status());
        self.speed_bps = raw.speed_bps;
        self.state.speed = raw.speed_bps.map(format_speed).unwrap_or_default();
        self.state.eta = if raw.is_finished() {
            0
        } else {
            raw.eta_s.unwrap_or(0)
        };
        if raw.downloaded.is_some() {
            self.state.downloaded = raw.downloaded;
        }
        if raw.total.is_some() {
            self.state.total = raw.total;
        }
    }

    /// `started` of any post-processor but the trivial file move ends the item's downloads.
    fn apply_postprocess(&mut self, postprocessor: &str, status: &str) {
        if status != "started" || postprocessor == "MoveFiles" {
            return;
        }
        let phase = if postprocessor == "ExtractAudio" {
            ProgressStatus::Converting
        } else {
            ProgressStatus::Processing
        };
        self.downloads_done(phase);
    }

    fn downloads_done(&mut self, phase: ProgressStatus) {
        self.item.complete = true;
        self.set_status(phase);
    }

    fn start_item(&mut self, index: u32, count: u32) {
        if count > 0 {
            self.items_total = count;
        }
        self.item_index = index.saturating_sub(1).min(self.items_total - 1);
        self.item = ItemProgress::default();
        self.set_status(self.downloading_status());
    }

    fn downloading_status(&self) -> ProgressStatus {
        if self.playlist {
            ProgressStatus::DownloadingPlaylist
        } else {
            ProgressStatus::Downloading
        }
    }

    /// Sets the status; inside a playlist the post-processing phases of an item stay
    /// `downloading_playlist`, the status of the task as a whole. Speed and ETA only describe a
    /// running download, so they are cleared for any other status.
    fn set_status(&mut self, status: ProgressStatus) {
        if !matches!(
            status,
            ProgressStatus::Downloading | ProgressStatus::DownloadingPlaylist
        ) {
            self.state.speed.clear();
            self.state.eta = 0;
            self.speed_bps = None;
        }
        self.state.status = match status {
            ProgressStatus::Processing | ProgressStatus::Converting if self.playlist => {
                ProgressStatus::DownloadingPlaylist
            }
            other => other,
        };
    }

    fn recompute_percent(&mut self) {
        let items = f64::from(self.items_total.max(1));
        let overall = ((f64::from(self.item_index) + self.item.fraction()) / items).clamp(0.0, 1.0);
        let span = f64::from(self.range_end - self.range_start);
        let mapped = f64::from(self.range_start) + (overall * span).floor();
        let ceiling = self.range_end.min(99);
        let mapped = (mapped as u8).min(ceiling);
        self.state.percent = self.state.percent.max(mapped);
    }

    fn emit_if_due(&mut self, now: Instant) -> Option<ProgressData> {
        if self.quiet {
            return None;
        }
        let due = match &self.last_emit {
            None => true,
            Some((_, last)) if *last == self.state => {
                self.pending = false;
                return None;
            }
            Some((at, last)) => {
                self.state.percent >= last.percent.saturating_add(PERCENT_JUMP)
                    || now.saturating_duration_since(*at) >= MIN_EMIT_INTERVAL
            }
        };
        if !due {
            self.pending = true;
            return None;
        }
        self.pending = false;
        self.last_emit = Some((now, self.state.clone()));
        Some(self.state.clone())
    }
}

/// Locks a tracker shared by a run's line callback and its action; one poisoned by a panic
/// elsewhere is still a valid tracker.
pub(crate) fn lock(tracker: &Mutex<ProgressTracker>) -> MutexGuard<'_, ProgressTracker> {
    tracker.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ytdlp::final_files::FinalFile;
    use crate::ytdlp::line::parse_line;

    fn progress(downloaded: u64, total: u64) -> LineEvent {
        LineEvent::Progress(RawProgress {
            downloaded: Some(downloaded),
            total: Some(total),
            speed_bps: Some(1_258_291.0),
            eta_s: Some(7),
            percent: None,
            status: "downloading".into(),
        })
    }

    fn finished(total: u64) -> LineEvent {
        LineEvent::Progress(RawProgress {
            downloaded: Some(total),
            total: Some(total),
            status: "finished".into(),
            ..RawProgress::default()
        })
    }

    fn ms(base: Instant, millis: u64) -> Instant {
        base + Duration::from_millis(millis)
    }

    #[test]
    fn speed_formatting() {
        assert_eq!(format_speed(1_258_291.2), "1.2MB/s");
        assert_eq!(format_speed(512.0), "512B/s");
        assert_eq!(format_speed(1536.0), "1.5KB/s");
        assert_eq!(format_speed(3.0 * 1024.0 * 1024.0 * 1024.0), "3.0GB/s");
        assert_eq!(format_speed(0.0), "");
        assert_eq!(format_speed(-1.0), "");
        assert_eq!(format_speed(f64::NAN), "");
        assert_eq!(format_speed(f64::INFINITY), "");
    }

    #[test]
    fn first_update_is_emitted_then_throttled() {
        let t0 = Instant::now();
        let mut tracker = ProgressTracker::new();
        let first = tracker
            .observe(&progress(10, 1000), t0)
            .expect("first update is always sent");
        assert_eq!(first.percent, 1);
        assert_eq!(first.status, ProgressStatus::Downloading);
        assert_eq!(first.speed, "1.2MB/s");
        assert_eq!(
            (first.eta, first.downloaded, first.total),
            (7, Some(10), Some(1000))
        );
        // +1 point, 100 ms later: held back.
        assert_eq!(tracker.observe(&progress(20, 1000), ms(t0, 100)), None);
        // +5 points since the last *sent* one: sent despite the interval.
        assert_eq!(
            tracker
                .observe(&progress(60, 1000), ms(t0, 150))
                .map(|p| p.percent),
            Some(6)
        );
        // small moves: held back until 250 ms after the last sent one (at 150 ms).
        assert_eq!(tracker.observe(&progress(70, 1000), ms(t0, 399)), None);
        assert_eq!(
            tracker
                .observe(&progress(80, 1000), ms(t0, 400))
                .map(|p| p.percent),
            Some(8)
        );
    }

    #[test]
    fn held_back_update_is_flushed_once_due() {
        let t0 = Instant::now();
        let mut tracker = ProgressTracker::new();
        tracker.observe(&progress(10, 1000), t0);
        assert_eq!(tracker.observe(&progress(20, 1000), ms(t0, 50)), None);
        assert_eq!(tracker.flush(ms(t0, 200)), None, "not due yet");
        assert_eq!(tracker.flush(ms(t0, 250)).map(|p| p.percent), Some(2));
        assert_eq!(tracker.flush(ms(t0, 900)), None, "nothing pending any more");
    }

    #[test]
    fn unchanged_state_is_not_resent() {
        let t0 = Instant::now();
        let mut tracker = ProgressTracker::new();
        assert!(tracker.observe(&progress(10, 1000), t0).is_some());
        assert_eq!(tracker.observe(&progress(10, 1000), ms(t0, 1000)), None);
        assert_eq!(
            tracker.observe(&LineEvent::Warning("x".into()), ms(t0, 2000)),
            None
        );
        assert_eq!(tracker.observe(&LineEvent::Other, ms(t0, 3000)), None);
    }

    #[test]
    fn percent_never_decreases_and_stays_below_100_until_finish() {
        let t0 = Instant::now();
        let mut tracker = ProgressTracker::new();
        tracker.observe(&progress(900, 1000), t0);
        let later = tracker.observe(&progress(100, 1000), ms(t0, 1000));
        assert!(later.is_none_or(|p| p.percent == 90));
        tracker.observe(&progress(1000, 1000), ms(t0, 2000));
        assert_eq!(tracker.percent(), 99);
        let done = tracker.finish();
        assert_eq!(
            (done.percent, done.status, done.speed.as_str(), done.eta),
            (100, ProgressStatus::Completed, "", 0)
        );
        assert_eq!(
            tracker.observe(&progress(5, 10), ms(t0, 9000)),
            None,
            "nothing after finish"
        );
    }

    #[test]
    fn status_goes_downloading_then_converting() {
        let t0 = Instant::now();
        let mut tracker = ProgressTracker::new();
        tracker.observe(&LineEvent::Destination("a.webm".into()), t0);
        tracker.observe(&progress(500, 1000), ms(t0, 300));
        tracker.observe(&finished(1000), ms(t0, 600));
        let conv = tracker
            .observe(&LineEvent::ExtractAudio("a.mp3".into()), ms(t0, 900))
            .expect("status change");
        assert_eq!(
            (conv.status, conv.percent, conv.speed.as_str(), conv.eta),
            (ProgressStatus::Converting, 99, "", 0)
        );
    }

    #[test]
    fn merge_counts_both_streams() {
        let t0 = Instant::now();
        let mut tracker = ProgressTracker::new();
        tracker.observe(&LineEvent::FormatsSelected { streams: 2 }, t0);
        tracker.observe(&LineEvent::Destination("m.f0.mp4".into()), t0);
        tracker.observe(&progress(500, 1000), ms(t0, 300));
        assert_eq!(tracker.percent(), 25);
        tracker.observe(&finished(1000), ms(t0, 600));
        assert_eq!(tracker.percent(), 50);
        tracker.observe(&LineEvent::Destination("m.f1.m4a".into()), ms(t0, 900));
        tracker.observe(&progress(500, 1000), ms(t0, 1200));
        assert_eq!(tracker.percent(), 75);
        let merging = tracker
            .observe(&LineEvent::Merger("m.mp4".into()), ms(t0, 1500))
            .expect("sent");
        assert_eq!(
            (merging.status, merging.percent),
            (ProgressStatus::Processing, 99)
        );
    }

    #[test]
    fn postprocess_start_switches_status_but_move_files_does_not() {
        let t0 = Instant::now();
        let mut tracker = ProgressTracker::new();
        tracker.observe(&finished(1000), t0);
        let pp = |name: &str, status: &str| LineEvent::Postprocess {
            postprocessor: name.into(),
            status: status.into(),
        };
        assert_eq!(tracker.observe(&pp("MoveFiles", "started"), ms(t0, 300)), None);
        let ex = tracker
            .observe(&pp("ExtractAudio", "started"), ms(t0, 600))
            .expect("sent");
        assert_eq!(ex.status, ProgressStatus::Converting);
        assert_eq!(
            tracker.observe(&pp("ExtractAudio", "finished"), ms(t0, 900)),
            None
        );
    }

    #[test]
    fn playlist_overall_percent_and_status() {
        let t0 = Instant::now();
        let mut tracker = ProgressTracker::for_playlist(0);
        let first = tracker
            .observe(&LineEvent::PlaylistItem { index: 1, count: 4 }, t0)
            .expect("first");
        assert_eq!(
            (first.percent, first.status),
            (0, ProgressStatus::DownloadingPlaylist)
        );
        tracker.observe(&progress(500, 1000), ms(t0, 300));
        assert_eq!(tracker.percent(), 12);
        let conv = tracker
            .observe(&LineEvent::ExtractAudio("1.mp3".into()), ms(t0, 600))
            .expect("sent");
        assert_eq!(
            (conv.percent, conv.status, conv.speed.as_str()),
            (25, ProgressStatus::DownloadingPlaylist, "")
        );
        tracker.observe(&LineEvent::PlaylistItem { index: 3, count: 4 }, ms(t0, 900));
        assert_eq!(tracker.percent(), 50);
        tracker.observe(&LineEvent::FinalFile(FinalFile::default()), ms(t0, 1200));
        assert_eq!(tracker.percent(), 75);
        tracker.observe(&LineEvent::PlaylistItem { index: 4, count: 4 }, ms(t0, 1500));
        tracker.observe(&LineEvent::AlreadyDownloaded("4.mp3".into()), ms(t0, 1800));
        assert_eq!(tracker.percent(), 99);
    }

    #[test]
    fn percent_range_leaves_room_for_caller_phases() {
        let t0 = Instant::now();
        let mut tracker = ProgressTracker::for_playlist(2).with_percent_range(0, 90);
        tracker.observe(&LineEvent::PlaylistItem { index: 2, count: 2 }, t0);
        assert_eq!(tracker.percent(), 45);
        tracker.observe(&LineEvent::FinalFile(FinalFile::default()), ms(t0, 300));
        assert_eq!(tracker.percent(), 90);
        let zipping = tracker
            .report(95, ProgressStatus::Zipping, ms(t0, 600))
            .expect("sent");
        assert_eq!((zipping.percent, zipping.status), (95, ProgressStatus::Zipping));
        assert_eq!(
            tracker.report(10, ProgressStatus::Zipping, ms(t0, 900)),
            None,
            "percent floor stays 95"
        );
        assert_eq!(tracker.finish().percent, 100);
    }

    #[test]
    fn retrying_keeps_the_floor_and_restarts_positions() {
        let t0 = Instant::now();
        let mut tracker = ProgressTracker::new();
        tracker.observe(&progress(400, 1000), t0);
        let retry = tracker.retrying(ms(t0, 5000)).expect("sent");
        assert_eq!(
            (retry.status, retry.percent, retry.speed.as_str()),
            (ProgressStatus::Retrying, 40, "")
        );
        let again = tracker
            .observe(&progress(100, 1000), ms(t0, 6000))
            .expect("status back to downloading");
        assert_eq!((again.status, again.percent), (ProgressStatus::Downloading, 40));
        tracker.observe(&progress(600, 1000), ms(t0, 7000));
        assert_eq!(tracker.percent(), 60);
    }

    #[test]
    fn a_title_is_sent_at_once_and_stays_on_every_later_event() {
        let t0 = Instant::now();
        let mut tracker = ProgressTracker::new();
        let preparing = tracker.report(0, ProgressStatus::Preparing, t0).expect("first");
        assert_eq!(preparing.title, None);
        let titled = tracker
            .observe(&parse_line(r#"HERMES_TITLE {"title": "T\u00f6ne"}"#), ms(t0, 300))
            .expect("a new title is a change worth sending");
        assert_eq!(
            (titled.title.as_deref(), titled.status, titled.percent),
            (Some("Töne"), ProgressStatus::Preparing, 0)
        );
        // The same title again changes nothing.
        assert_eq!(
            tracker.observe(&LineEvent::Title("Töne".into()), ms(t0, 900)),
            None
        );
        let later = tracker
            .observe(&progress(500, 1000), ms(t0, 1200))
            .expect("progress");
        assert_eq!((later.title.as_deref(), later.percent), (Some("Töne"), 50));
        let retry = tracker.retrying(ms(t0, 2000)).expect("retrying");
        assert_eq!(retry.title.as_deref(), Some("Töne"), "same media after a retry");
        let file = tracker.file_event(
            hermes_protocol::FileEntry {
                path: "/d/x.mp3".into(),
                size: 1,
                name: None,
            },
            ms(t0, 3000),
        );
        assert_eq!(file.title.as_deref(), Some("Töne"));
        assert_eq!(tracker.finish().title.as_deref(), Some("Töne"));
    }

    #[test]
    fn a_playlist_tracker_ignores_titles() {
        let t0 = Instant::now();
        let mut tracker = ProgressTracker::for_playlist(2);
        tracker.observe(&LineEvent::PlaylistItem { index: 1, count: 2 }, t0);
        assert_eq!(
            tracker.observe(&LineEvent::Title("One".into()), ms(t0, 1000)),
            None
        );
        let next = tracker
            .observe(&LineEvent::PlaylistItem { index: 2, count: 2 }, ms(t0, 2000))
            .expect("sent");
        assert_eq!(next.title, None);
        assert_eq!(tracker.finish().title, None);
    }

    #[test]
    fn human_bar_drives_the_tracker_too() {
        let t0 = Instant::now();
        let mut tracker = ProgressTracker::new();
        let sent = tracker
            .observe(
                &parse_line("[download]  45.3% of ~  1.20MiB at  2.00MiB/s ETA 00:03"),
                t0,
            )
            .expect("first");
        assert_eq!(
            (sent.percent, sent.speed.as_str(), sent.eta, sent.total),
            (45, "2.0MB/s", 3, Some(1_258_291))
        );
    }

    #[test]
    fn aria2c_readout_drives_the_tracker_and_a_quiet_tracker_never_emits() {
        let t0 = Instant::now();
        let mut tracker = ProgressTracker::new();
        tracker.observe(&parse_line("[download] Destination: /d/a.webm.part"), t0);
        let sent = tracker
            .observe(
                &parse_line("[#a 5MiB/20MiB(25%) CN:8 DL:8MiB ETA:2s]"),
                ms(t0, 1000),
            )
            .expect("emitted");
        assert_eq!((sent.percent, sent.speed.as_str(), sent.eta), (25, "8.0MB/s", 2));

        let mut quiet = ProgressTracker::new().quiet();
        assert_eq!(
            quiet.observe(&parse_line("[#a 5MiB/20MiB(25%) CN:8 DL:8MiB ETA:2s]"), t0),
            None
        );
        assert_eq!(quiet.flush(ms(t0, 5000)), None);
        assert_eq!(quiet.done_fraction(), 0.25);
        assert_eq!(quiet.speed_bps(), Some(8.0 * 1024.0 * 1024.0));
        quiet.observe(
            &parse_line(r#"{"status": "finished", "total_bytes": 20971520}"#),
            t0,
        );
        quiet.observe(&parse_line("[ExtractAudio] Destination: /d/a.mp3"), t0);
        assert_eq!(quiet.done_fraction(), 1.0);
        assert_eq!(quiet.speed_bps(), None);
        assert_eq!(quiet.retrying(ms(t0, 6000)), None);
    }
}
