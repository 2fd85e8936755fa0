//! The commands of `hermes`: each builds its request(s) with the protocol's builders, runs them
//! through a [`Session`] (progress, Ctrl-C) and prints the final event's data.
use super::args::{CacheAction, Command, DownloadArgs, PlaylistArgs, SearchArgs};
use super::interrupt::Interrupts;
use super::ui::{println_stdout, Ui};
use super::CliError;
use hermes_bot::client::{expect_event, new_task_id, WorkerClient, WorkerConfig};
use hermes_bot::render::{format_eta, render_status, StatusView};
use hermes_protocol::{
    cache_cleanup_request, cache_stats_request, download_request, get_formats_request_mode,
    health_check_request, playlist_request_opts, search_request, video_info_request, AudioFormat,
    CacheCleanupDone, CacheStats, DownloadDone, Event, FormatList, FormatMode, HealthOk, PlaylistDone,
    Request, SearchResult, SearchResults, VideoInfo,
};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::time::{timeout_at, Instant};

/// After Ctrl-C, how long to wait for the worker to confirm the cancellation with the task's
/// final event before stopping the worker anyway.
const CANCEL_WAIT: Duration = Duration::from_secs(3);
/// The CLI stops its worker right after the last task, or after a cancellation; waiting the
/// library's default 5 s for a worker that does not react would only delay the exit.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
const TITLE_WIDTH: usize = 48;
const CHANNEL_WIDTH: usize = 20;

/// The directory a command downloads into, if it downloads.
pub fn requested_output_dir(command: &Command) -> Option<&Path> {
    match command {
        Command::Download(args) => Some(&args.out.out),
        Command::Playlist(args) => Some(&args.out.out),
        Command::Search(args) if args.pick.is_some() => Some(&args.out.out),
        _ => None,
    }
}

/// Creates the output directory and returns its canonical path: the worker compares paths after
/// resolving symbolic links, so it must receive the resolved one.
pub fn prepare_output_dir(dir: &Path) -> Result<PathBuf, CliError> {
    std::fs::create_dir_all(dir).map_err(CliError::io(format!("cannot create {}", dir.display())))?;
    let canonical = std::fs::canonicalize(dir).map_err(CliError::io(format!("cannot resolve {}", dir.display())))?;
    if canonical.to_str().is_none() {
        return Err(CliError::Usage(format!("--out {} is not valid UTF-8", canonical.display())));
    }
    Ok(canonical)
}

/// The worker for this run. It refuses an `output_dir` outside its `DOWNLOAD_DIR` (or equal to
/// it), so the download root becomes the parent of the chosen directory; only `/` itself has no
/// parent, and then the check is switched off for this private worker. The search cache goes to
/// the user's cache directory rather than into whatever directory `hermes` is run from.
pub fn worker_config(mut config: WorkerConfig, out_dir: Option<&Path>) -> WorkerConfig {
    config.shutdown_grace = SHUTDOWN_GRACE;
    if let Some(dir) = out_dir {
        config = match dir.parent() {
            Some(parent) => config.with_env("DOWNLOAD_DIR", parent.to_string_lossy()),
            None => config.with_env("ALLOW_ANY_OUTPUT_DIR", "true"),
        };
    }
    if std::env::var_os("DATABASE_URL").is_none() {
        if let Some(url) = user_cache_database_url() {
            config = config.with_env("DATABASE_URL", url);
        }
    }
    config
}

/// `sqlite:$XDG_CACHE_HOME/hermes/hermes.db` (or `~/.cache/hermes/...`), created if needed;
/// `None` leaves the worker's default. Spelled `sqlite:<absolute path>` because both wire
/// profiles read that alike; `sqlite:///abs` would be a relative path to a worker in the python
/// profile (which reads `DATABASE_URL` as SQLAlchemy does).
fn user_cache_database_url() -> Option<String> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").filter(|h| !h.is_empty()).map(|home| PathBuf::from(home).join(".cache")))?;
    let dir = base.join("hermes");
    std::fs::create_dir_all(&dir).ok()?;
    Some(format!("sqlite:{}", dir.join("hermes.db").to_str()?))
}

pub struct Session<'a> {
    client: &'a WorkerClient,
    ui: Ui,
    interrupts: &'a mut Interrupts,
}

impl<'a> Session<'a> {
    pub fn new(client: &'a WorkerClient, ui: Ui, interrupts: &'a mut Interrupts) -> Self {
        Session { client, ui, interrupts }
    }

    pub fn finish(&mut self) {
        self.ui.clear();
    }

    pub async fn dispatch(&mut self, command: &Command, out_dir: Option<&Path>) -> Result<(), CliError> {
        match command {
            Command::Download(args) => self.download(args, required(out_dir)?).await,
            Command::Playlist(args) => self.playlist(args, required(out_dir)?).await,
            Command::Search(args) => self.search(args, out_dir).await,
            Command::Info { url } => self.info(url).await,
            Command::Formats { url, audio } => self.formats(url, *audio).await,
            Command::Health => self.health().await,
            Command::Cache { action } => self.cache(action).await,
            Command::UpdateYtdlp { rollback } => update_ytdlp(*rollback).await,
        }
    }

    async fn download(&mut self, args: &DownloadArgs, out_dir: &Path) -> Result<(), CliError> {
        let audio = args.audio.map(AudioFormat::from);
        let request = single_download(&args.url, audio, args.format.as_deref(), out_dir);
        let done: DownloadDone = self.run(&request, "Downloading", true, Event::Done).await?;
        self.print_download(&done);
        Ok(())
    }

    async fn playlist(&mut self, args: &PlaylistArgs, out_dir: &Path) -> Result<(), CliError> {
        let mut request =
            playlist_request_opts(&new_task_id("cli"), &args.url, &path_text(out_dir), args.limit, !args.video);
        if let Some(mb) = args.zip_mb {
            request = request.with_params(json!({ "archive_max_size_mb": mb }));
        }
        let done: PlaylistDone = self.run(&request, "Playlist", true, Event::Done).await?;
        if !self.ui.json() {
            eprintln!(
                "{} {}: {} tracks, {} failed",
                render_status(&StatusView::Completed),
                done.playlist_name,
                done.total_tracks_downloaded,
                done.failed_tracks
            );
            for file in &done.files {
                self.ui.print_path(&file.path);
            }
        }
        Ok(())
    }

    async fn search(&mut self, args: &SearchArgs, out_dir: Option<&Path>) -> Result<(), CliError> {
        let request = search_request(&new_task_id("cli"), &args.query, args.count);
        let found: SearchResults = self.run(&request, "Searching", false, Event::SearchResults).await?;
        if !self.ui.json() {
            println_stdout(&search_table(&found.results));
        }
        let Some(pick) = args.pick else { return Ok(()) };
        let chosen = usize::try_from(pick).ok().and_then(|k| found.results.get(k.checked_sub(1)?));
        let Some(chosen) = chosen else {
            return Err(CliError::Usage(format!("--pick {pick}: there are only {} results", found.results.len())));
        };
        let request = single_download(&chosen.url, Some(AudioFormat::Mp3), None, required(out_dir)?);
        let done: DownloadDone = self.run(&request, "Downloading", true, Event::Done).await?;
        self.print_download(&done);
        Ok(())
    }

    async fn info(&mut self, url: &str) -> Result<(), CliError> {
        let request = video_info_request(&new_task_id("cli"), url);
        let info: VideoInfo = self.run(&request, "Looking up", false, Event::VideoInfo).await?;
        if !self.ui.json() {
            println_stdout(&info_text(&info));
        }
        Ok(())
    }

    async fn formats(&mut self, url: &str, audio: bool) -> Result<(), CliError> {
        let mode = if audio { FormatMode::Audio } else { FormatMode::Video };
        let request = get_formats_request_mode(&new_task_id("cli"), url, mode);
        let list: FormatList = self.run(&request, "Looking up", false, Event::FormatList).await?;
        if !self.ui.json() {
            println_stdout(&formats_table(&list));
        }
        Ok(())
    }

    async fn health(&mut self) -> Result<(), CliError> {
        let request = health_check_request(&new_task_id("cli"));
        let health: HealthOk = self.run(&request, "Checking", false, Event::HealthOk).await?;
        if !self.ui.json() {
            println_stdout(&health_text(&health));
        }
        Ok(())
    }

    async fn cache(&mut self, action: &CacheAction) -> Result<(), CliError> {
        let task_id = new_task_id("cli");
        match action {
            CacheAction::Stats => {
                let stats: CacheStats =
                    self.run(&cache_stats_request(&task_id), "Cache", false, Event::CacheStats).await?;
                if !self.ui.json() {
                    println_stdout(&cache_stats_text(&stats));
                }
            }
            CacheAction::Cleanup => {
                let done: CacheCleanupDone =
                    self.run(&cache_cleanup_request(&task_id), "Cache", false, Event::CacheCleanupDone).await?;
                if !self.ui.json() {
                    println_stdout(&format!(
                        "removed {} search and {} metadata entries",
                        done.removed_search, done.removed_metadata
                    ));
                }
            }
        }
        Ok(())
    }

    /// The files of a finished download; those already printed as they arrived are not repeated.
    fn print_download(&mut self, done: &DownloadDone) {
        if self.ui.json() {
            return;
        }
        let title = done.title.as_deref().unwrap_or(&done.filename);
        eprintln!("{} {title}", render_status(&StatusView::Completed));
        if done.files.is_empty() {
            self.ui.print_path(&done.file_path);
        }
        for file in &done.files {
            self.ui.print_path(&file.path);
        }
    }

    /// Runs one request to its final event and decodes the payload of `expected`. Progress is
    /// shown as it arrives; an `error` event becomes [`CliError::Worker`]; Ctrl-C cancels the
    /// task in the worker and becomes [`CliError::Interrupted`].
    async fn run<T: serde::de::DeserializeOwned>(
        &mut self,
        request: &Request,
        label: &str,
        with_percent: bool,
        expected: Event,
    ) -> Result<T, CliError> {
        let mut stream = self.client.send(request)?;
        self.ui.start(label, with_percent);
        let final_event = loop {
            tokio::select! {
                event = stream.next() => {
                    let Some(event) = event else {
                        return Err(hermes_bot::client::ClientError::StreamEnded(request.task_id.clone()).into());
                    };
                    self.ui.event(&event);
                    if event.event.is_final() {
                        break event;
                    }
                }
                exit_code = self.interrupts.recv() => {
                    self.ui.abandon("cancelling…");
                    self.cancel_and_wait(&mut stream).await;
                    return Err(CliError::Interrupted { exit_code });
                }
            }
        };
        self.ui.clear();
        Ok(expect_event(&final_event, expected)?)
    }

    /// Asks the worker to cancel the task and waits (at most [`CANCEL_WAIT`], or until a second
    /// Ctrl-C) for its final event, which tells that the worker has killed yt-dlp and ffmpeg and
    /// removed the partial files.
    async fn cancel_and_wait(&mut self, stream: &mut hermes_bot::client::EventStream) {
        let deadline = Instant::now() + CANCEL_WAIT;
        let client = self.client;
        let ui = &mut self.ui;
        let confirmation = async {
            if let Err(error) = client.cancel(stream.task_id()).await {
                tracing::warn!(%error, "cannot cancel the task in the worker");
            }
            while let Some(event) = stream.next().await {
                ui.event(&event);
            }
        };
        tokio::select! {
            waited = timeout_at(deadline, confirmation) => {
                if waited.is_err() {
                    tracing::warn!("the worker did not confirm the cancellation in time; stopping it");
                }
            }
            _ = self.interrupts.recv() => {}
        }
    }
}

fn required(out_dir: Option<&Path>) -> Result<&Path, CliError> {
    out_dir.ok_or_else(|| CliError::Usage("this command needs an output directory (--out)".into()))
}

fn path_text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// A `youtube_dl` request: audio extraction in `audio` format when given, an explicit yt-dlp
/// format selector when given.
fn single_download(url: &str, audio: Option<AudioFormat>, format: Option<&str>, out_dir: &Path) -> Request {
    let mut request = download_request(&new_task_id("cli"), url, audio.is_some(), &path_text(out_dir));
    if let Some(audio) = audio {
        request = request.with_params(json!({ "audio_format": audio.as_str() }));
    }
    if let Some(format) = format {
        request = request.with_params(json!({ "format": format }));
    }
    request
}

fn search_table(results: &[SearchResult]) -> String {
    if results.is_empty() {
        return "no results".to_owned();
    }
    let mut lines = vec![format!(
        "{:>2}  {}  {}  {:>8}  URL",
        "#",
        pad("Title", TITLE_WIDTH),
        pad("Channel", CHANNEL_WIDTH),
        "Length"
    )];
    for (index, result) in results.iter().enumerate() {
        let channel = result.channel.as_deref().or(result.artist.as_deref()).unwrap_or("");
        lines.push(format!(
            "{:>2}  {}  {}  {:>8}  {}",
            index + 1,
            pad(&result.title, TITLE_WIDTH),
            pad(channel, CHANNEL_WIDTH),
            clock(result.duration_string.as_deref(), result.duration),
            result.url
        ));
    }
    lines.join("\n")
}

fn info_text(info: &VideoInfo) -> String {
    let mut lines = vec![format!("Title:     {}", info.title)];
    if let Some(channel) = info.channel.as_deref().or(info.artist.as_deref()) {
        lines.push(format!("Channel:   {channel}"));
    }
    lines.push(format!("Duration:  {}", clock(info.duration_string.as_deref(), info.duration)));
    if let Some(views) = info.view_count {
        lines.push(format!("Views:     {views}"));
    }
    lines.push(format!("URL:       {}", info.url));
    if info.is_private || info.is_age_restricted {
        lines.push(format!("Private: {} · Age-restricted: {}", info.is_private, info.is_age_restricted));
    }
    lines.join("\n")
}

fn formats_table(list: &FormatList) -> String {
    let mut lines = vec![
        format!("{} ({})", list.title, clock(list.duration_string.as_deref(), list.duration)),
        format!("{}  {}  {:<5}  {:>9}", pad("FORMAT (--format)", 28), pad("Label", 24), "Ext", "Size"),
    ];
    for option in &list.formats {
        let size = option.filesize_approx.map(human_size).unwrap_or_else(|| "?".to_owned());
        lines.push(format!("{}  {}  {:<5}  {:>9}", pad(&option.format_id, 28), pad(&option.label, 24), option.ext, size));
    }
    lines.join("\n")
}

/// `hermes update-ytdlp [--rollback]`: old → new versions on stdout.
pub async fn update_ytdlp(rollback: bool) -> Result<(), CliError> {
    let toolchain = hermes_bot::toolchain::Toolchain::from_env();
    if !rollback {
        eprintln!("Installing the newest yt-dlp and Deno under {} (about a minute)…", toolchain.home().display());
    }
    let switch = if rollback { toolchain.rollback().await? } else { toolchain.update().await? };
    println_stdout(&switch.summary());
    Ok(())
}

fn health_text(health: &HealthOk) -> String {
    let status = if health.status.is_empty() { "ok" } else { health.status.as_str() };
    [
        format!("{} {} ({status})", health.worker, health.version),
        format!("yt-dlp   {}", health.ytdlp.as_deref().unwrap_or("not found")),
        format!("JS       {}", hermes_bot::render::js_support_text(health)),
        format!("ffmpeg   {}", health.ffmpeg.as_deref().unwrap_or("not found")),
        format!("active tasks {} · uptime {}", health.active_tasks, format_eta(health.uptime_s.max(0.0) as u64)),
    ]
    .join("\n")
}

fn cache_stats_text(stats: &CacheStats) -> String {
    [
        format!("cache          {}", if stats.cache_enabled { "enabled" } else { "disabled" }),
        format!("search entries {}", stats.search_entries),
        format!("metadata       {}", stats.metadata_entries),
        format!("hits / misses  {} / {}", stats.hits, stats.misses),
        format!("ttl            {} h", stats.ttl_hours),
    ]
    .join("\n")
}

/// `3:05`, `1:02:03`; yt-dlp's own string when it gave one; `?` when unknown.
fn clock(text: Option<&str>, secs: Option<u64>) -> String {
    if let Some(text) = text.filter(|t| !t.is_empty()) {
        return text.to_owned();
    }
    match secs {
        Some(secs) if secs >= 3600 => format!("{}:{:02}:{:02}", secs / 3600, secs % 3600 / 60, secs % 60),
        Some(secs) => format!("{}:{:02}", secs / 60, secs % 60),
        None => "?".to_owned(),
    }
}

fn human_size(bytes: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    format!("{:.1} MiB", bytes as f64 / MIB)
}

/// Cuts or pads `text` to exactly `width` characters (an ellipsis marks a cut), so table
/// columns line up with titles in any script.
fn pad(text: &str, width: usize) -> String {
    let count = text.chars().count();
    if count <= width {
        return format!("{text}{}", " ".repeat(width - count));
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pad_cuts_on_char_boundaries_and_pads_short_text() {
        assert_eq!(pad("abc", 5), "abc  ");
        assert_eq!(pad("héllo wörld", 6), "héllo…");
        assert_eq!(pad("日本語のタイトル", 4).chars().count(), 4);
    }

    #[test]
    fn clock_prefers_the_source_string() {
        assert_eq!(clock(Some("3:33"), Some(1)), "3:33");
        assert_eq!(clock(None, Some(185)), "3:05");
        assert_eq!(clock(Some(""), Some(3723)), "1:02:03");
        assert_eq!(clock(None, None), "?");
    }

    #[test]
    fn download_request_carries_format_and_audio_choice() {
        let request = single_download("http://x/a", Some(AudioFormat::Flac), Some("bestaudio"), Path::new("/d/out"));
        assert_eq!(request.params["extract_audio"], json!(true));
        assert_eq!(request.params["audio_format"], json!("flac"));
        assert_eq!(request.params["format"], json!("bestaudio"));
        assert_eq!(request.params["output_dir"], json!("/d/out"));
        let video = single_download("http://x/a", None, None, Path::new("/d/out"));
        assert_eq!(video.params["extract_audio"], json!(false));
        assert!(!video.params.contains_key("audio_format"));
    }

    #[test]
    fn search_table_numbers_results_from_one() {
        let results = vec![
            SearchResult { title: "First".into(), url: "u1".into(), duration: Some(61), ..Default::default() },
            SearchResult { title: "Second".into(), url: "u2".into(), channel: Some("Chan".into()), ..Default::default() },
        ];
        let table = search_table(&results);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[1].starts_with(" 1  First") && lines[1].contains("1:01") && lines[1].ends_with("u1"));
        assert!(lines[2].starts_with(" 2  Second") && lines[2].contains("Chan") && lines[2].contains('?'));
    }

    #[test]
    fn output_dir_gets_its_parent_as_download_root() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = prepare_output_dir(&root.path().join("a/b")).expect("created");
        assert!(dir.is_dir() && dir.is_absolute());
        let config = worker_config(WorkerConfig::new("hermes-worker"), Some(&dir));
        assert_eq!(config.shutdown_grace, SHUTDOWN_GRACE);
        let download_dir = config.env.iter().find(|(k, _)| k == "DOWNLOAD_DIR").map(|(_, v)| v.clone());
        assert_eq!(download_dir.as_deref(), dir.parent().and_then(Path::to_str));
    }
}
