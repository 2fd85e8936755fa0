//! The one place that builds yt-dlp argument vectors.
//!
//! Everything here is a pure function returning the argv *without* the program name, so the
//! runner can spawn `YTDLP_BIN` with it directly (never through a shell) and tests can assert it
//! element by element. Every flag below was checked against the real yt-dlp 2026.10.26:
//!
//! - `--print` switches on quiet mode, so downloads pass `--no-quiet` as well, otherwise every
//!   progress and `Destination:` line vanishes.
//! - Progress, `[download] Destination:`, `[ExtractAudio] Destination:`, `Downloading item N of M`
//!   and the `--print` output all go to stdout; stderr carries only `WARNING:` / `ERROR:` lines.
//! - [`PROGRESS_TEMPLATE`] makes yt-dlp print one compact JSON object per progress update,
//!   [`FINAL_FILE_PRINT`] one JSON object per final file, after every post-processor has run, and
//!   [`TITLE_PRINT`] (single downloads) the title just before the download starts.
//! - `--no-colors` is accepted without a warning (as is `--color never`).
//! - The target is always last, right after `--`, so a URL or query beginning with `-` can never
//!   be read as an option.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

pub(crate) use hermes_protocol::AudioFormat;

use super::final_files::{FINAL_FILE_PRINT, FINAL_FILE_TEMPLATE};

/// `--progress-template` for downloads: one JSON object per update with only the fields the
/// progress parser reads (`null` fields are left out), ~80 bytes a line instead of the ~700 of
/// the full `%(progress)j` dictionary. The parser accepts both forms.
pub(crate) const PROGRESS_TEMPLATE: &str =
    "download:%(progress.{status,downloaded_bytes,total_bytes,total_bytes_estimate,speed,eta})j";

/// `--progress-template` for post-processors: `{"status": "started", "postprocessor": "Merger"}`
/// when each one starts and finishes, so the status can switch to converting/processing at once.
pub(crate) const POSTPROCESS_TEMPLATE: &str = "postprocess:%(progress.{status,postprocessor})j";

/// `--print` for single downloads: once yt-dlp has extracted the item and chosen its formats,
/// just before the download starts, [`TITLE_MARKER`] and a one-key JSON object
/// (`HERMES_TITLE {"title": "Tone \u00e9"}`; `{}` when there is no title). `before_dl`, not
/// `video`: a `video:` print would imply `--simulate`. JSON escapes newlines, so it is one line.
/// The title is display text for `progress`, never a file name.
pub(crate) const TITLE_PRINT: &str = "before_dl:HERMES_TITLE %(.{title})j";

/// Prefix of the line [`TITLE_PRINT`] makes yt-dlp print on stdout.
pub(crate) const TITLE_MARKER: &str = "HERMES_TITLE ";

/// Output template for a single download: the title as yt-dlp sanitises it, cut to 180
/// UTF-8 bytes (on a character boundary) so that the name, with its
/// extension and `.part`/`.fNNN` suffixes, fits the file system's 255-byte limit even for a
/// 1000-character title. Not `--trim-filenames`: measured with yt-dlp 2026.10.26, it counts
/// characters (3–4 bytes each in many scripts), it cuts the whole path rather than the name, and
/// it cuts nothing when a directory above contains a dot (`/tmp/.tmpX/...`: it splits at the
/// last two dots of the path). yt-dlp cuts before it sanitises, and sanitising turns `/`, `?`,
/// `:` … into 3-byte look-alikes: 180 leaves room for some of those and for the suffixes.
pub const SINGLE_OUTPUT_TEMPLATE: &str = "%(title).180B.%(ext)s";

/// Output template for playlist items: the playlist position first, so the tracks of a ZIP sort
/// in playlist order; the title cut like [`SINGLE_OUTPUT_TEMPLATE`]'s.
pub const PLAYLIST_OUTPUT_TEMPLATE: &str = "%(playlist_index)03d - %(title).180B.%(ext)s";

/// Tallest video a `Video` download picks unless an explicit selector says otherwise.
pub(crate) const VIDEO_MAX_HEIGHT: u32 = 1080;

/// Audio bitrate cap (kbit/s) of the fallback selector used when the best audio is not known to
/// fit under `BEST_AUDIO_LIMIT_MB`.
pub(crate) const LIMITED_AUDIO_ABR_KBPS: u32 = 128;

/// Maximum `ytsearchN:` count; more is never useful for a chat UI and only slows the search.
pub(crate) const MAX_SEARCH_RESULTS: u32 = 50;

/// What the worker's environment contributes to every yt-dlp call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct YtdlpEnv {
    /// `FFMPEG_BIN`, passed as `--ffmpeg-location` (binary or its directory).
    pub ffmpeg_location: Option<PathBuf>,
    /// `YOUTUBE_COOKIE_FILE`; the caller passes it only when the file exists, because yt-dlp
    /// aborts on a missing cookie file.
    pub cookie_file: Option<PathBuf>,
    /// `DENO_BIN` (or the managed Deno): `--js-runtimes deno:PATH`, so yt-dlp solves YouTube's
    /// JavaScript challenges with it wherever it is installed.
    pub deno: Option<PathBuf>,
    /// `NODE_BIN`: `--js-runtimes node:PATH` (yt-dlp enables only Deno unless told otherwise).
    pub node: Option<PathBuf>,
    /// `YTDLP_EXTRACTOR_ARGS`: each one `--extractor-args` (e.g. for a PO-token provider).
    pub extractor_args: Vec<String>,
    /// `YTDLP_PLUGIN_DIRS`: each one `--plugin-dirs`.
    pub plugin_dirs: Vec<PathBuf>,
}

/// Audio extraction or a video download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaMode {
    /// `-x --audio-format F --audio-quality Q` (Q: `0` best … `10` worst, or a bitrate like `128K`).
    Audio { format: AudioFormat, quality: String },
    /// Best video up to [`VIDEO_MAX_HEIGHT`] merged with the best audio into MP4.
    Video,
}

impl MediaMode {
    /// The mode of a request: audio in `audio`'s container at `quality` when it extracts audio
    /// (`audio` is `None` for a video, whatever `audio_format` said), else video.
    pub(crate) fn new(audio: Option<AudioFormat>, quality: &str) -> MediaMode {
        match audio {
            Some(format) => MediaMode::Audio {
                format,
                quality: quality.to_owned(),
            },
            None => MediaMode::Video,
        }
    }
}

/// Playlist options: download every entry (or the first `end`), optionally skipping entries
/// already recorded in `archive_file` (`--download-archive`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlaylistSpec {
    pub end: Option<u32>,
    pub archive_file: Option<PathBuf>,
    /// `--playlist-items N,M,…`: only the items at these 1-based positions, named and archived
    /// exactly as in a run over the whole playlist (several processes, each with its share of
    /// the items, download a playlist concurrently). Empty: every item.
    pub items: Vec<u32>,
}

/// One `youtube_dl` or `playlist` download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadSpec<'a> {
    pub url: &'a str,
    /// Directory the files land in. `%` is escaped, so any directory name is taken literally.
    pub output_dir: &'a Path,
    /// yt-dlp output template relative to `output_dir`, e.g. [`SINGLE_OUTPUT_TEMPLATE`].
    pub output_template: &'a str,
    pub mode: MediaMode,
    /// An explicit yt-dlp format selector from the request; it wins over the mode's default.
    pub format: Option<&'a str>,
    /// `BEST_AUDIO_LIMIT_MB`: the largest best-audio stream taken as is.
    pub best_audio_limit_mb: u64,
    /// `None` downloads the single item a URL names (`--no-playlist`).
    pub playlist: Option<PlaylistSpec>,
    /// The task-private file final paths are printed into (`--print-to-file`).
    pub final_files_log: &'a Path,
    /// `--max-filesize`: yt-dlp refuses a larger file when the server announces its size.
    pub max_filesize_mb: u64,
    /// How the file should look when delivered (single downloads; the default for playlists).
    pub shape: FileShape,
}

/// What a single download adds for delivery (issue 17): a size the default format should fit,
/// metadata and cover inside the file, a thumbnail beside it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileShape {
    /// A request's own `max_filesize_mb`: without an explicit `format`, the default video
    /// selector first tries formats whose announced size fits under it (see
    /// [`video_format_selector`]). The size cap stays the guard either way.
    pub fit_mb: Option<u64>,
    /// `--embed-metadata`, plus `--embed-thumbnail --convert-thumbnails jpg` where the
    /// container can carry a cover.
    pub embed_metadata: bool,
    /// `--write-thumbnail`: the source's thumbnail lands beside the file as `<stem>.<image ext>`
    /// (the output template with the image's extension), for the worker to make Telegram's
    /// thumbnail from. Its name is derived from the final file's, never read from any output.
    pub write_thumbnail: bool,
}

/// argv for a download (single item or playlist).
pub fn download_argv(env: &YtdlpEnv, spec: &DownloadSpec<'_>) -> Vec<OsString> {
    let mut argv = common_args(env);
    argv.extend(strs(&[
        "--newline",
        "--no-quiet",
        "--progress-template",
        PROGRESS_TEMPLATE,
        "--progress-template",
        POSTPROCESS_TEMPLATE,
        "--print",
        FINAL_FILE_PRINT,
        "--print-to-file",
        FINAL_FILE_TEMPLATE,
    ]));
    // The file argument of --print-to-file is an output template too.
    argv.push(OsString::from_vec(escape_template_percent(
        spec.final_files_log.as_os_str(),
    )));
    // The title for `progress`, single downloads only (a playlist's progress carries none).
    if spec.playlist.is_none() {
        push_pair(&mut argv, "--print", TITLE_PRINT);
    }
    push_pair(&mut argv, "--max-filesize", format!("{}M", spec.max_filesize_mb));
    push_playlist_args(&mut argv, spec.playlist.as_ref());
    push_pair(&mut argv, "-f", format_selector(spec));
    push_mode_args(&mut argv, &spec.mode);
    push_shape_args(&mut argv, &spec.mode, &spec.shape);
    argv.push("-o".into());
    argv.push(output_path(spec.output_dir, spec.output_template));
    push_target(&mut argv, spec.url);
    argv
}

/// `argv` with every connection sent through the worker's egress proxy (`--proxy URL` first,
/// so the target stays last).
pub fn with_proxy(argv: Vec<OsString>, proxy_url: &str) -> Vec<OsString> {
    let mut proxied = Vec::with_capacity(argv.len() + 2);
    push_pair(&mut proxied, "--proxy", proxy_url);
    proxied.extend(argv);
    proxied
}

/// How a download may use several connections (`CONCURRENT_FRAGMENTS`, `EXTERNAL_DOWNLOADER`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransferArgs {
    /// `--concurrent-fragments N`: fragments of HLS/DASH streams fetched N at a time (1 = off).
    pub(crate) concurrent_fragments: u32,
    /// aria2c, when it is to download plain http(s) files with [`ARIA2C_ARGS`].
    pub aria2c: Option<PathBuf>,
}

/// aria2c's options: 8 connections per file in 1 MiB pieces, and no preallocation, so a file on
/// disk never claims more than was written (the size cap measures files on disk). yt-dlp adds
/// its own (`--all-proxy` from `--proxy`, `--console-log-level=warn`, ...); later options win.
pub(crate) const ARIA2C_ARGS: &str = "aria2c:-x8 -s8 -k1M --file-allocation=none";

/// `argv` of a download with `transfer` applied, in front so the target stays last. HLS and DASH
/// stay with yt-dlp's native downloader (`--concurrent-fragments` applies there); aria2c takes
/// the plain http(s) files, reached through the same `--proxy` (yt-dlp passes it as
/// `--all-proxy`) and reporting progress through its own readout lines.
pub(crate) fn with_transfer(argv: Vec<OsString>, transfer: &TransferArgs) -> Vec<OsString> {
    let mut front = Vec::with_capacity(argv.len() + 8);
    push_pair(
        &mut front,
        "--concurrent-fragments",
        transfer.concurrent_fragments.max(1).to_string(),
    );
    if let Some(aria2c) = &transfer.aria2c {
        push_pair(&mut front, "--downloader", aria2c.as_os_str());
        push_pair(&mut front, "--downloader", "dash,m3u8:native");
        push_pair(&mut front, "--downloader-args", ARIA2C_ARGS);
    }
    front.extend(argv);
    front
}

/// argv for metadata only: `--dump-single-json` prints one JSON document and downloads nothing.
///
/// `flat_playlist = true` lists a playlist (`--flat-playlist --yes-playlist`: one entry per item,
/// no per-item extraction, for `playlist` and `playlist_preview`); `false` describes the single
/// item the URL names (`--no-playlist`, for `get_video_info` and `get_formats`). `--no-quiet` is
/// deliberately absent: it would put the `[generic] …` chatter on stdout in front of the JSON.
pub(crate) fn info_argv(
    env: &YtdlpEnv,
    url: &str,
    flat_playlist: bool,
    playlist_end: Option<u32>,
) -> Vec<OsString> {
    let mut argv = common_args(env);
    argv.extend(strs(&["--dump-single-json", "--skip-download"]));
    if flat_playlist {
        argv.extend(strs(&["--flat-playlist", "--yes-playlist"]));
    } else {
        argv.push("--no-playlist".into());
    }
    if let Some(end) = playlist_end {
        push_pair(&mut argv, "--playlist-end", end.to_string());
    }
    push_target(&mut argv, url);
    argv
}

/// argv for a YouTube search: target `ytsearch{n}:{query}` as ONE argv element, whatever the
/// query contains, listed flat (no per-video extraction) as one JSON document.
/// `n` is clamped to 1..=[`MAX_SEARCH_RESULTS`].
pub(crate) fn search_argv(env: &YtdlpEnv, query: &str, n: u32) -> Vec<OsString> {
    let mut argv = common_args(env);
    argv.extend(strs(&[
        "--flat-playlist",
        "--dump-single-json",
        "--skip-download",
    ]));
    let n = n.clamp(1, MAX_SEARCH_RESULTS);
    push_target(&mut argv, &format!("ytsearch{n}:{query}"));
    argv
}

/// The `BEST_AUDIO_LIMIT_MB` rule as one yt-dlp selector, tried left to right:
/// the best audio-only stream whose size is known and under the limit (exact, then approximate
/// size), else the best audio-only stream at most [`LIMITED_AUDIO_ABR_KBPS`], else any best
/// audio, else the best combined format (a direct media link through the generic extractor has
/// no size, bitrate or codec info and ends up here; `-x` then extracts its audio).
pub fn audio_format_selector(best_audio_limit_mb: u64) -> String {
    let limit = best_audio_limit_mb;
    let abr = LIMITED_AUDIO_ABR_KBPS;
    format!("ba[filesize<{limit}M]/ba[filesize_approx<{limit}M]/ba[abr<={abr}]/ba/b")
}

/// Tried after an explicit `format` when extracting audio.
pub(crate) const AUDIO_FALLBACK_SELECTOR: &str = "bestaudio/best";

/// H.264 video in MP4: what every Telegram client plays inline (VP9 and AV1 often not).
const INLINE_VIDEO: &str = "[vcodec^=avc1][ext=mp4]";
/// AAC audio, the companion of [`INLINE_VIDEO`] in MP4.
const INLINE_AUDIO: &str = "[acodec^=mp4a]";

/// Default video selector, tried left to right:
///
/// 1. with `fit_mb` (a request's `max_filesize_mb`), formats whose announced size fits under it
///    (`filesize`/`filesize_approx`, the `?` letting unknown sizes through): H.264 + AAC first,
///    then any codec. The video of a merge gets 90 % of the budget, leaving room for the audio;
/// 2. the best H.264 video up to [`VIDEO_MAX_HEIGHT`] plus AAC audio (or such a combined
///    format), so Telegram plays it inline;
/// 3. best video up to that height plus best audio, else the best combined format up to that
///    height, else the best of anything (formats of unknown height, such as a direct media link,
///    only match this last one).
///
/// When nothing announces a size or a codec, each step falls through to the next; the size cap
/// (`--max-filesize` and the worker's own count) still stops what is too large.
pub(crate) fn video_format_selector(fit_mb: Option<u64>) -> String {
    let h = VIDEO_MAX_HEIGHT;
    let (v, a) = (INLINE_VIDEO, INLINE_AUDIO);
    let mut alternatives = Vec::new();
    if let Some(limit) = fit_mb {
        let whole = fits(limit);
        let video = fits(limit * 9 / 10);
        alternatives.extend([
            format!("bv*[height<={h}]{v}{video}+ba{a}"),
            format!("b[height<={h}]{v}{a}{whole}"),
            format!("bv*[height<={h}]{video}+ba"),
            format!("b[height<={h}]{whole}"),
        ]);
    }
    alternatives.extend([
        format!("bv*[height<={h}]{v}+ba{a}"),
        format!("b[height<={h}]{v}{a}"),
        format!("bv*[height<={h}]+ba"),
        format!("b[height<={h}]"),
        "b".to_owned(),
    ]);
    alternatives.join("/")
}

/// yt-dlp filters passing a format whose exact or approximate size, when announced, is under
/// `mb` MiB.
fn fits(mb: u64) -> String {
    format!("[filesize<?{mb}M][filesize_approx<?{mb}M]")
}

/// Flags every invocation shares: deterministic output whatever config file or terminal the host
/// has, no cache directory (the worker may run with a read-only or shared home), ffmpeg and
/// cookies from the worker's configuration.
fn common_args(env: &YtdlpEnv) -> Vec<OsString> {
    let mut argv = strs(&["--ignore-config", "--no-colors", "--no-cache-dir"]);
    if let Some(ffmpeg) = &env.ffmpeg_location {
        push_pair(&mut argv, "--ffmpeg-location", ffmpeg.as_os_str());
    }
    if let Some(cookies) = &env.cookie_file {
        push_pair(&mut argv, "--cookies", cookies.as_os_str());
    }
    for (runtime, path) in [("deno", &env.deno), ("node", &env.node)] {
        if let Some(path) = path {
            let mut value = OsString::from(format!("{runtime}:"));
            value.push(path.as_os_str());
            push_pair(&mut argv, "--js-runtimes", value);
        }
    }
    for args in &env.extractor_args {
        push_pair(&mut argv, "--extractor-args", args.as_str());
    }
    for dir in &env.plugin_dirs {
        push_pair(&mut argv, "--plugin-dirs", dir.as_os_str());
    }
    argv
}

/// argv that makes yt-dlp print its verbose header (`[debug] JS runtimes: …`, `[debug] Optional
/// libraries: …`) on stderr and stop at once for want of a URL: what `health_check` reads the
/// JavaScript support from. No cookies, so the probe cannot rewrite the cookie jar.
pub(crate) fn verbose_probe_argv(env: &YtdlpEnv) -> Vec<OsString> {
    let env = YtdlpEnv {
        cookie_file: None,
        ..env.clone()
    };
    let mut argv = common_args(&env);
    argv.push("-v".into());
    argv
}

fn push_playlist_args(argv: &mut Vec<OsString>, playlist: Option<&PlaylistSpec>) {
    let Some(playlist) = playlist else {
        argv.push("--no-playlist".into());
        return;
    };
    argv.push("--yes-playlist".into());
    if let Some(end) = playlist.end {
        push_pair(argv, "--playlist-end", end.to_string());
    }
    if !playlist.items.is_empty() {
        let items: Vec<String> = playlist.items.iter().map(u32::to_string).collect();
        push_pair(argv, "--playlist-items", items.join(","));
    }
    if let Some(archive) = &playlist.archive_file {
        push_pair(argv, "--download-archive", archive.as_os_str());
    }
}

fn format_selector(spec: &DownloadSpec<'_>) -> String {
    if let Some(explicit) = spec.format.filter(|f| !f.trim().is_empty()) {
        // Extracting audio, a selector that matches nothing (`bestaudio` on a source without an
        // audio-only stream) falls back instead of failing, as the Python worker does.
        return match spec.mode {
            MediaMode::Audio { .. } => format!("{explicit}/{AUDIO_FALLBACK_SELECTOR}"),
            MediaMode::Video => explicit.to_string(),
        };
    }
    match spec.mode {
        MediaMode::Audio { .. } => audio_format_selector(spec.best_audio_limit_mb),
        MediaMode::Video => video_format_selector(spec.shape.fit_mb),
    }
}

/// Whether yt-dlp can put a cover into this container: MP3 (ID3), M4A/MP4 (ffmpeg or mutagen),
/// Opus and FLAC (mutagen, which yt-dlp's default install brings). WAV cannot carry one.
fn can_embed_cover(mode: &MediaMode) -> bool {
    match mode {
        MediaMode::Audio { format, .. } => !matches!(format, AudioFormat::Wav),
        MediaMode::Video => true,
    }
}

fn push_shape_args(argv: &mut Vec<OsString>, mode: &MediaMode, shape: &FileShape) {
    if shape.write_thumbnail {
        argv.push("--write-thumbnail".into());
    }
    if shape.embed_metadata {
        argv.push("--embed-metadata".into());
        if can_embed_cover(mode) {
            argv.extend(strs(&["--embed-thumbnail", "--convert-thumbnails", "jpg"]));
        }
    }
}

fn push_mode_args(argv: &mut Vec<OsString>, mode: &MediaMode) {
    match mode {
        MediaMode::Audio { format, quality } => {
            argv.push("-x".into());
            push_pair(argv, "--audio-format", format.as_str());
            push_pair(argv, "--audio-quality", quality.as_str());
        }
        MediaMode::Video => push_pair(argv, "--merge-output-format", "mp4"),
    }
}

/// `<output_dir>/<template>` for `-o`. The directory is not a template, so its `%` are doubled
/// (`%%` is yt-dlp's literal percent). Works on raw bytes: the directory need not be UTF-8.
fn output_path(output_dir: &Path, template: &str) -> OsString {
    let mut bytes = escape_template_percent(output_dir.as_os_str());
    if !bytes.is_empty() && !bytes.ends_with(b"/") {
        bytes.push(b'/');
    }
    bytes.extend_from_slice(template.as_bytes());
    OsString::from_vec(bytes)
}

fn escape_template_percent(dir: &OsStr) -> Vec<u8> {
    let mut out = Vec::with_capacity(dir.len() + 4);
    for &byte in dir.as_bytes() {
        if byte == b'%' {
            out.push(b'%');
        }
        out.push(byte);
    }
    out
}

/// `--` then the target: always the last two elements.
fn push_target(argv: &mut Vec<OsString>, target: &str) {
    argv.push("--".into());
    argv.push(target.into());
}

fn push_pair(argv: &mut Vec<OsString>, flag: &str, value: impl Into<OsString>) {
    argv.push(flag.into());
    argv.push(value.into());
}

fn strs(items: &[&str]) -> Vec<OsString> {
    items.iter().map(OsString::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_plain() -> YtdlpEnv {
        YtdlpEnv::default()
    }

    fn env_full() -> YtdlpEnv {
        YtdlpEnv {
            ffmpeg_location: Some(PathBuf::from("/usr/bin/ffmpeg")),
            cookie_file: Some(PathBuf::from("/etc/hermes/cookies.txt")),
            ..YtdlpEnv::default()
        }
    }

    fn every_argv(env: &YtdlpEnv) -> Vec<Vec<String>> {
        vec![
            strings(&download_argv(env, &spec("https://youtu.be/x", MediaMode::Video))),
            strings(&info_argv(env, "https://youtu.be/x", false, None)),
            strings(&search_argv(env, "q", 5)),
            strings(&verbose_probe_argv(env)),
        ]
    }

    #[test]
    fn deno_bin_enables_deno_at_its_path_in_every_call() {
        let env = YtdlpEnv {
            deno: Some(PathBuf::from("/srv/hermes/.hermes/envs/a/bin/deno")),
            ..YtdlpEnv::default()
        };
        for argv in every_argv(&env) {
            assert_eq!(
                value_of(&argv, "--js-runtimes"),
                "deno:/srv/hermes/.hermes/envs/a/bin/deno"
            );
        }
        for argv in every_argv(&env_plain()) {
            assert!(!argv.contains(&"--js-runtimes".to_string()), "{argv:?}");
        }
    }

    #[test]
    fn node_bin_enables_node_at_its_path_beside_deno() {
        let env = YtdlpEnv {
            node: Some(PathBuf::from("/usr/local/bin/node")),
            ..YtdlpEnv::default()
        };
        for argv in every_argv(&env) {
            assert_eq!(value_of(&argv, "--js-runtimes"), "node:/usr/local/bin/node");
        }
        let both = YtdlpEnv {
            deno: Some(PathBuf::from("/d/deno")),
            ..env
        };
        let argv = strings(&info_argv(&both, "u", false, None));
        let runtimes: Vec<&String> = argv
            .iter()
            .enumerate()
            .filter(|(_, a)| *a == "--js-runtimes")
            .map(|(i, _)| &argv[i + 1])
            .collect();
        assert_eq!(runtimes, ["deno:/d/deno", "node:/usr/local/bin/node"]);
        assert_target_last(&argv, "u");
    }

    #[test]
    fn extractor_args_and_plugin_dirs_are_passed_through_one_flag_each() {
        let env = YtdlpEnv {
            extractor_args: vec![
                "youtube:player_client=default".into(),
                "youtubepot-bgutilhttp:base_url=http://127.0.0.1:4416".into(),
            ],
            plugin_dirs: vec![PathBuf::from("/opt/yt-plugins")],
            ..YtdlpEnv::default()
        };
        for argv in every_argv(&env) {
            let extractor: Vec<&String> = argv
                .iter()
                .enumerate()
                .filter(|(_, a)| *a == "--extractor-args")
                .map(|(i, _)| &argv[i + 1])
                .collect();
            assert_eq!(
                extractor,
                [
                    "youtube:player_client=default",
                    "youtubepot-bgutilhttp:base_url=http://127.0.0.1:4416"
                ]
            );
            assert_eq!(value_of(&argv, "--plugin-dirs"), "/opt/yt-plugins");
        }
    }

    #[test]
    fn the_verbose_probe_never_passes_cookies() {
        let argv = strings(&verbose_probe_argv(&env_full()));
        assert!(!argv.contains(&"--cookies".to_string()), "{argv:?}");
        assert_eq!(argv.last().map(String::as_str), Some("-v"));
        assert!(argv.contains(&"--ignore-config".to_string()));
    }

    fn audio(format: AudioFormat, quality: &str) -> MediaMode {
        MediaMode::Audio {
            format,
            quality: quality.to_string(),
        }
    }

    fn spec<'a>(url: &'a str, mode: MediaMode) -> DownloadSpec<'a> {
        DownloadSpec {
            url,
            output_dir: Path::new("/dl/task-1"),
            output_template: SINGLE_OUTPUT_TEMPLATE,
            mode,
            format: None,
            best_audio_limit_mb: 15,
            playlist: None,
            final_files_log: Path::new("/tmp/private/final-files.jsonl"),
            max_filesize_mb: 2000,
            shape: FileShape::default(),
        }
    }

    fn strings(argv: &[OsString]) -> Vec<String> {
        argv.iter().map(|a| a.to_string_lossy().into_owned()).collect()
    }

    /// The value following `flag`, asserting the flag appears exactly once.
    fn value_of(argv: &[String], flag: &str) -> String {
        let positions: Vec<usize> = argv
            .iter()
            .enumerate()
            .filter(|(_, a)| *a == flag)
            .map(|(i, _)| i)
            .collect();
        assert_eq!(positions.len(), 1, "{flag} should appear once in {argv:?}");
        argv[positions[0] + 1].clone()
    }

    fn assert_target_last(argv: &[String], target: &str) {
        let n = argv.len();
        assert_eq!(argv[n - 2], "--", "{argv:?}");
        assert_eq!(argv[n - 1], target, "{argv:?}");
        assert_eq!(argv.iter().filter(|a| *a == "--").count(), 1, "{argv:?}");
    }

    /// The start of a single download's argv (a playlist's has no `--print` of the title).
    const DOWNLOAD_PREFIX: [&str; 18] = [
        "--ignore-config",
        "--no-colors",
        "--no-cache-dir",
        "--newline",
        "--no-quiet",
        "--progress-template",
        PROGRESS_TEMPLATE,
        "--progress-template",
        POSTPROCESS_TEMPLATE,
        "--print",
        FINAL_FILE_PRINT,
        "--print-to-file",
        FINAL_FILE_TEMPLATE,
        "/tmp/private/final-files.jsonl",
        "--print",
        TITLE_PRINT,
        "--max-filesize",
        "2000M",
    ];

    #[test]
    fn a_single_download_prints_its_title_before_downloading_and_a_playlist_does_not() {
        assert_eq!(TITLE_PRINT, "before_dl:HERMES_TITLE %(.{title})j");
        assert!(TITLE_PRINT.contains(TITLE_MARKER));
        let single = strings(&download_argv(
            &env_plain(),
            &spec("https://youtu.be/x", MediaMode::Video),
        ));
        let prints: Vec<&String> = single
            .iter()
            .enumerate()
            .filter(|(_, a)| *a == "--print")
            .map(|(i, _)| &single[i + 1])
            .collect();
        assert_eq!(prints, [FINAL_FILE_PRINT, TITLE_PRINT]);
        assert!(
            single.contains(&"--no-quiet".to_string()),
            "--print implies --quiet"
        );

        let mut s = spec("https://y/p", audio(AudioFormat::Mp3, "0"));
        s.output_template = PLAYLIST_OUTPUT_TEMPLATE;
        s.playlist = Some(PlaylistSpec::default());
        let playlist = strings(&download_argv(&env_plain(), &s));
        assert_eq!(value_of(&playlist, "--print"), FINAL_FILE_PRINT);
        assert!(!playlist.contains(&TITLE_PRINT.to_string()), "{playlist:?}");
    }

    #[test]
    fn final_paths_go_to_the_private_file_percent_escaped_and_the_cap_is_passed() {
        let mut s = spec("https://youtu.be/x", MediaMode::Video);
        s.final_files_log = Path::new("/tmp/50%/files.jsonl");
        s.max_filesize_mb = 49;
        let argv = strings(&download_argv(&env_plain(), &s));
        assert_eq!(value_of(&argv, "--print-to-file"), FINAL_FILE_TEMPLATE);
        let at = argv.iter().position(|a| a == "--print-to-file").unwrap();
        assert_eq!(argv[at + 2], "/tmp/50%%/files.jsonl");
        assert_eq!(value_of(&argv, "--max-filesize"), "49M");
    }

    #[test]
    fn the_proxy_comes_first_and_the_target_stays_last() {
        let argv = strings(&with_proxy(
            info_argv(&env_plain(), "http://x/y", false, None),
            "http://127.0.0.1:5555",
        ));
        assert_eq!(&argv[..2], ["--proxy", "http://127.0.0.1:5555"]);
        assert_target_last(&argv, "http://x/y");
    }

    #[test]
    fn audio_mp3_full_argv() {
        let argv = strings(&download_argv(
            &env_plain(),
            &spec("https://youtu.be/x", audio(AudioFormat::Mp3, "0")),
        ));
        let mut expected: Vec<String> = DOWNLOAD_PREFIX.iter().map(|s| s.to_string()).collect();
        expected.extend(
            [
                "--no-playlist",
                "-f",
                "ba[filesize<15M]/ba[filesize_approx<15M]/ba[abr<=128]/ba/b",
                "-x",
                "--audio-format",
                "mp3",
                "--audio-quality",
                "0",
                "-o",
                "/dl/task-1/%(title).180B.%(ext)s",
                "--",
                "https://youtu.be/x",
            ]
            .map(String::from),
        );
        assert_eq!(argv, expected);
    }

    #[test]
    fn audio_m4a_uses_its_format_and_quality() {
        let argv = strings(&download_argv(
            &env_plain(),
            &spec("https://youtu.be/x", audio(AudioFormat::M4a, "5")),
        ));
        assert_eq!(value_of(&argv, "--audio-format"), "m4a");
        assert_eq!(value_of(&argv, "--audio-quality"), "5");
        assert!(argv.contains(&"-x".to_string()));
        assert!(!argv.contains(&"--merge-output-format".to_string()));
    }

    #[test]
    fn audio_selector_follows_the_best_audio_limit() {
        let mut s = spec("https://youtu.be/x", audio(AudioFormat::Opus, "0"));
        s.best_audio_limit_mb = 40;
        let argv = strings(&download_argv(&env_plain(), &s));
        assert_eq!(
            value_of(&argv, "-f"),
            "ba[filesize<40M]/ba[filesize_approx<40M]/ba[abr<=128]/ba/b"
        );
    }

    #[test]
    fn video_default_caps_height_and_merges_to_mp4() {
        let argv = strings(&download_argv(
            &env_plain(),
            &spec("https://youtu.be/x", MediaMode::Video),
        ));
        assert_eq!(
            value_of(&argv, "-f"),
            "bv*[height<=1080][vcodec^=avc1][ext=mp4]+ba[acodec^=mp4a]/b[height<=1080][vcodec^=avc1][ext=mp4][acodec^=mp4a]/bv*[height<=1080]+ba/b[height<=1080]/b"
        );
        assert_eq!(value_of(&argv, "--merge-output-format"), "mp4");
        for flag in ["--write-thumbnail", "--embed-metadata", "--embed-thumbnail"] {
            assert!(
                !argv.contains(&flag.to_string()),
                "{flag} only when asked: {argv:?}"
            );
        }
        assert!(!argv.contains(&"-x".to_string()));
        assert!(!argv.contains(&"--audio-format".to_string()));
        assert!(argv.starts_with(&DOWNLOAD_PREFIX.map(String::from)));
        assert_target_last(&argv, "https://youtu.be/x");
    }

    #[test]
    fn explicit_format_wins_in_both_modes() {
        for (mode, selector) in [
            (MediaMode::Video, "137+140"),
            (audio(AudioFormat::Mp3, "0"), "137+140/bestaudio/best"),
        ] {
            let mut s = spec("https://youtu.be/x", mode);
            s.format = Some("137+140");
            let argv = strings(&download_argv(&env_plain(), &s));
            assert_eq!(value_of(&argv, "-f"), selector);
        }
    }

    #[test]
    fn extracting_audio_an_explicit_format_falls_back_to_bestaudio_best() {
        let mut s = spec("https://youtu.be/x", audio(AudioFormat::Mp3, "2"));
        s.format = Some("bestaudio");
        let argv = strings(&download_argv(&env_plain(), &s));
        assert_eq!(value_of(&argv, "-f"), "bestaudio/bestaudio/best");
        assert_eq!(value_of(&argv, "--audio-quality"), "2");
    }

    #[test]
    fn blank_explicit_format_falls_back_to_the_default() {
        let mut s = spec("https://youtu.be/x", MediaMode::Video);
        s.format = Some("  ");
        let argv = strings(&download_argv(&env_plain(), &s));
        assert_eq!(value_of(&argv, "-f"), video_format_selector(None));
    }

    #[test]
    fn a_size_to_fit_puts_fitting_formats_first_and_keeps_the_plain_default_last() {
        let mut s = spec("https://youtu.be/x", MediaMode::Video);
        s.shape.fit_mb = Some(50);
        let selector = value_of(&strings(&download_argv(&env_plain(), &s)), "-f");
        let alternatives: Vec<&str> = selector.split('/').collect();
        assert_eq!(
            alternatives[..4],
            [
                "bv*[height<=1080][vcodec^=avc1][ext=mp4][filesize<?45M][filesize_approx<?45M]+ba[acodec^=mp4a]",
                "b[height<=1080][vcodec^=avc1][ext=mp4][acodec^=mp4a][filesize<?50M][filesize_approx<?50M]",
                "bv*[height<=1080][filesize<?45M][filesize_approx<?45M]+ba",
                "b[height<=1080][filesize<?50M][filesize_approx<?50M]",
            ]
        );
        assert_eq!(alternatives[4..].join("/"), video_format_selector(None));
        // An explicit format still wins, and audio keeps its own rule.
        s.format = Some("18");
        assert_eq!(value_of(&strings(&download_argv(&env_plain(), &s)), "-f"), "18");
        let mut a = spec("https://youtu.be/x", audio(AudioFormat::Mp3, "0"));
        a.shape.fit_mb = Some(50);
        assert_eq!(
            value_of(&strings(&download_argv(&env_plain(), &a)), "-f"),
            audio_format_selector(15)
        );
    }

    #[test]
    fn embedding_metadata_adds_the_cover_where_the_container_can_hold_one() {
        let shape = FileShape {
            embed_metadata: true,
            write_thumbnail: true,
            fit_mb: None,
        };
        for (mode, cover) in [
            (audio(AudioFormat::Mp3, "0"), true),
            (audio(AudioFormat::M4a, "0"), true),
            (audio(AudioFormat::Opus, "0"), true),
            (audio(AudioFormat::Flac, "0"), true),
            (audio(AudioFormat::Wav, "0"), false),
            (MediaMode::Video, true),
        ] {
            let mut s = spec("https://youtu.be/x", mode.clone());
            s.shape = shape;
            let argv = strings(&download_argv(&env_plain(), &s));
            assert!(argv.contains(&"--embed-metadata".to_string()), "{argv:?}");
            assert!(argv.contains(&"--write-thumbnail".to_string()), "{argv:?}");
            assert_eq!(argv.contains(&"--embed-thumbnail".to_string()), cover, "{mode:?}");
            if cover {
                assert_eq!(value_of(&argv, "--convert-thumbnails"), "jpg");
            }
            assert_target_last(&argv, "https://youtu.be/x");
        }
    }

    #[test]
    fn cookies_and_ffmpeg_are_passed_when_configured() {
        let argv = strings(&download_argv(
            &env_full(),
            &spec("https://youtu.be/x", MediaMode::Video),
        ));
        assert_eq!(value_of(&argv, "--cookies"), "/etc/hermes/cookies.txt");
        assert_eq!(value_of(&argv, "--ffmpeg-location"), "/usr/bin/ffmpeg");
        for argv in [
            info_argv(&env_full(), "u", false, None),
            search_argv(&env_full(), "q", 5),
        ] {
            let argv = strings(&argv);
            assert_eq!(value_of(&argv, "--cookies"), "/etc/hermes/cookies.txt");
        }
    }

    #[test]
    fn no_cookie_flag_without_a_cookie_file() {
        let argv = strings(&download_argv(
            &env_plain(),
            &spec("https://youtu.be/x", MediaMode::Video),
        ));
        assert!(!argv.contains(&"--cookies".to_string()));
        assert!(!argv.contains(&"--ffmpeg-location".to_string()));
    }

    #[test]
    fn url_starting_with_dash_stays_after_the_separator() {
        let url = "-f worst --exec rm";
        let argv = strings(&download_argv(&env_plain(), &spec(url, MediaMode::Video)));
        assert_target_last(&argv, url);
        let argv = strings(&info_argv(&env_plain(), url, false, None));
        assert_target_last(&argv, url);
    }

    #[test]
    fn search_query_with_shell_metacharacters_is_one_element() {
        let query = "a; rm -rf / | cat & echo $HOME `id` \"q\" 'x'\nnext";
        let argv = strings(&search_argv(&env_plain(), query, 5));
        assert_target_last(&argv, &format!("ytsearch5:{query}"));
        assert_eq!(
            argv[..argv.len() - 2],
            [
                "--ignore-config",
                "--no-colors",
                "--no-cache-dir",
                "--flat-playlist",
                "--dump-single-json",
                "--skip-download"
            ]
        );
    }

    #[test]
    fn search_count_is_clamped() {
        assert_eq!(
            strings(&search_argv(&env_plain(), "q", 0))
                .last()
                .map(String::as_str),
            Some("ytsearch1:q")
        );
        assert_eq!(
            strings(&search_argv(&env_plain(), "q", 1000))
                .last()
                .map(String::as_str),
            Some("ytsearch50:q")
        );
    }

    #[test]
    fn playlist_download_with_end_and_archive() {
        let mut s = spec(
            "https://www.youtube.com/playlist?list=PL1",
            audio(AudioFormat::Mp3, "0"),
        );
        s.output_template = PLAYLIST_OUTPUT_TEMPLATE;
        s.playlist = Some(PlaylistSpec {
            end: Some(25),
            archive_file: Some(PathBuf::from("/dl/archive.txt")),
            items: Vec::new(),
        });
        let argv = strings(&download_argv(&env_plain(), &s));
        assert!(argv.contains(&"--yes-playlist".to_string()));
        assert!(!argv.contains(&"--no-playlist".to_string()));
        assert_eq!(value_of(&argv, "--playlist-end"), "25");
        assert_eq!(value_of(&argv, "--download-archive"), "/dl/archive.txt");
        assert_eq!(
            value_of(&argv, "-o"),
            "/dl/task-1/%(playlist_index)03d - %(title).180B.%(ext)s"
        );
    }

    #[test]
    fn single_download_never_follows_a_playlist() {
        let argv = strings(&download_argv(
            &env_plain(),
            &spec("https://youtu.be/x?list=PL1", MediaMode::Video),
        ));
        assert!(argv.contains(&"--no-playlist".to_string()));
        assert!(!argv.contains(&"--yes-playlist".to_string()));
        assert!(!argv.contains(&"--playlist-end".to_string()));
    }

    #[test]
    fn percent_in_output_dir_is_escaped_and_non_utf8_survives() {
        let mut s = spec("u", MediaMode::Video);
        let dir = PathBuf::from(OsString::from_vec(b"/dl/100%\xff/".to_vec()));
        s.output_dir = &dir;
        let argv = download_argv(&env_plain(), &s);
        let o = argv.iter().position(|a| a == "-o").map(|i| argv[i + 1].clone());
        assert_eq!(
            o.map(OsString::into_vec),
            Some(b"/dl/100%%\xff/%(title).180B.%(ext)s".to_vec())
        );
    }

    #[test]
    fn info_argv_single_item_and_flat_playlist() {
        let single = strings(&info_argv(&env_plain(), "https://youtu.be/x", false, None));
        assert_eq!(
            single,
            [
                "--ignore-config",
                "--no-colors",
                "--no-cache-dir",
                "--dump-single-json",
                "--skip-download",
                "--no-playlist",
                "--",
                "https://youtu.be/x"
            ]
        );
        let flat = strings(&info_argv(&env_plain(), "https://y/p", true, Some(5)));
        assert!(flat.contains(&"--flat-playlist".to_string()));
        assert!(flat.contains(&"--yes-playlist".to_string()));
        assert_eq!(value_of(&flat, "--playlist-end"), "5");
        assert!(
            !flat.contains(&"--no-quiet".to_string()),
            "chatter would precede the JSON"
        );
        assert_target_last(&flat, "https://y/p");
    }

    #[test]
    fn playlist_items_are_selected_by_their_positions() {
        let mut s = spec("https://y/p", audio(AudioFormat::Mp3, "0"));
        s.output_template = PLAYLIST_OUTPUT_TEMPLATE;
        s.playlist = Some(PlaylistSpec {
            end: None,
            archive_file: Some(PathBuf::from("/dl/a.txt")),
            items: vec![7],
        });
        let argv = strings(&download_argv(&env_plain(), &s));
        assert_eq!(value_of(&argv, "--playlist-items"), "7");
        s.playlist = Some(PlaylistSpec {
            end: None,
            archive_file: None,
            items: vec![2, 6, 10],
        });
        assert_eq!(
            value_of(&strings(&download_argv(&env_plain(), &s)), "--playlist-items"),
            "2,6,10"
        );
        s.playlist = Some(PlaylistSpec {
            end: None,
            archive_file: Some(PathBuf::from("/dl/a.txt")),
            items: vec![7],
        });
        let argv = strings(&download_argv(&env_plain(), &s));
        assert_eq!(value_of(&argv, "--download-archive"), "/dl/a.txt");
        assert!(argv.contains(&"--yes-playlist".to_string()));
        assert!(!argv.contains(&"--playlist-end".to_string()));
        assert_target_last(&argv, "https://y/p");
    }

    #[test]
    fn transfer_options_come_first_and_keep_hls_native() {
        let base = download_argv(&env_plain(), &spec("https://youtu.be/x", MediaMode::Video));
        let plain = strings(&with_transfer(
            base.clone(),
            &TransferArgs {
                concurrent_fragments: 4,
                aria2c: None,
            },
        ));
        assert_eq!(&plain[..2], ["--concurrent-fragments", "4"]);
        assert!(!plain.contains(&"--downloader".to_string()));
        assert_eq!(plain[2..], strings(&base)[..]);

        let aria = strings(&with_transfer(
            base.clone(),
            &TransferArgs {
                concurrent_fragments: 0,
                aria2c: Some(PathBuf::from("/usr/bin/aria2c")),
            },
        ));
        assert_eq!(
            &aria[..8],
            [
                "--concurrent-fragments",
                "1",
                "--downloader",
                "/usr/bin/aria2c",
                "--downloader",
                "dash,m3u8:native",
                "--downloader-args",
                "aria2c:-x8 -s8 -k1M --file-allocation=none"
            ]
        );
        assert_target_last(&aria, "https://youtu.be/x");
        // The proxy still comes first of all and reaches aria2c through yt-dlp.
        let proxied = strings(&with_proxy(
            with_transfer(base, &TransferArgs::default()),
            "http://127.0.0.1:1",
        ));
        assert_eq!(&proxied[..2], ["--proxy", "http://127.0.0.1:1"]);
    }
}
