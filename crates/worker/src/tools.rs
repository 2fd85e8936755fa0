//! Locating yt-dlp and ffmpeg and reading their versions (for `health_check`).
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use hermes_protocol::JsSupport;
use crate::config::Config;

/// How long a `--version` probe may take before the tool is reported as unavailable.
const PROBE_TIMEOUT: Duration = Duration::from_secs(15);

/// Resolves a configured program the way `execvp` would: a value with a `/` is a path, a bare
/// name is looked up in `PATH`. `None` when nothing executable is there.
pub fn resolve_program(program: &Path) -> Option<PathBuf> {
    if program.components().count() > 1 || program.is_absolute() {
        return is_executable(program).then(|| program.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata().map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

/// Versions of the external tools, probed once in the background at start-up.
#[derive(Debug, Clone, Default)]
pub struct ToolVersions {
    pub ytdlp: Option<String>,
    pub ffmpeg: Option<String>,
    /// yt-dlp's JavaScript runtime and `yt-dlp-ejs`, from its verbose header.
    pub js: JsSupport,
}

/// Tool versions for `health_check`: what this process probed, else what an earlier process
/// recorded for the same binaries (so a restart costs no Python start-up), else a probe now.
/// Either is kept with the fingerprint of the binaries it describes, so a yt-dlp switched by
/// `hermes update-ytdlp` while the worker runs is probed again at the next look.
#[derive(Default)]
pub struct ToolProbe {
    known: tokio::sync::Mutex<Option<(String, ToolVersions)>>,
}

impl ToolProbe {
    /// The versions, probing only when nothing is known for the current binaries; concurrent
    /// callers share one probe.
    pub async fn versions(&self, config: &Config) -> ToolVersions {
        let key = binaries_fingerprint(config);
        let mut known = self.known.lock().await;
        if let Some((probed_for, versions)) = known.as_ref() {
            if *probed_for == key {
                return versions.clone();
            }
        }
        let versions = probe(config).await;
        *known = Some((key, versions.clone()));
        versions
    }

    /// Versions recorded earlier for the binaries with fingerprint `key`
    /// (see [`binaries_fingerprint`]).
    pub async fn remember(&self, key: String, versions: ToolVersions) {
        *self.known.lock().await = Some((key, versions));
    }
}

/// Runs the `--version` probes and yt-dlp's verbose header, concurrently.
///
/// A Python start-up costs ~1 s of CPU, so the real yt-dlp is started once: its verbose header
/// names its version too. Only a yt-dlp whose header does not (a stand-in) is asked `--version`.
async fn probe(config: &Config) -> ToolVersions {
    let (header, ffmpeg) = tokio::join!(verbose_header(config), first_line_of(&config.ffmpeg_bin, "-version"));
    let ytdlp = match header.as_deref().and_then(version_from_header) {
        Some(version) => Some(version),
        None => first_line_of(&config.ytdlp_bin, "--version").await,
    };
    let js = header.as_deref().map(JsSupport::from_verbose_output).unwrap_or_default();
    ToolVersions { ytdlp, ffmpeg: ffmpeg.map(|line| ffmpeg_version(&line)), js }
}

/// `[debug] yt-dlp version stable@2026.10.26 from yt-dlp/yt-dlp [c91f8de0b] (pip)` → `2026.10.26`
/// (older releases print `[debug] yt-dlp version 2023.03.04 [392389b7d]`).
fn version_from_header(header: &str) -> Option<String> {
    let rest = header.lines().find_map(|line| line.trim().strip_prefix("[debug] yt-dlp version "))?;
    let word = rest.split_whitespace().next()?;
    let version = word.rsplit_once('@').map_or(word, |(_, version)| version);
    (!version.is_empty()).then(|| version.to_owned())
}

/// The fingerprints of every binary [`ToolVersions`] describes, as one key.
pub(crate) fn binaries_fingerprint(config: &Config) -> String {
    format!("{}\n{}\n{}", fingerprint(&config.ytdlp_bin), fingerprint(&config.ffmpeg_bin), js_fingerprint(config))
}

/// Identifies a binary's current state: its resolved path, size and modification time. A
/// program that cannot be found has the fingerprint `missing:<name>`.
pub fn fingerprint(program: &Path) -> String {
    let Some(path) = resolve_program(program) else {
        return format!("missing:{}", program.display());
    };
    let meta = std::fs::metadata(&path).ok();
    let size = meta.as_ref().map(|m| m.len()).unwrap_or(0);
    let mtime = meta
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{}|{size}|{mtime}", path.display())
}

/// The fingerprint of everything the JavaScript support depends on: yt-dlp, Deno and Node.
pub(crate) fn js_fingerprint(config: &Config) -> String {
    let node = config.node_bin.as_deref().map(fingerprint).unwrap_or_default();
    format!("{}#{}#{node}", fingerprint(&config.ytdlp_bin), fingerprint(&config.deno_bin))
}

/// The header of `yt-dlp -v` (with the runtimes every call gets), on stderr: version, optional
/// libraries, JavaScript runtimes. yt-dlp exits 2 for want of a URL after printing it, so the
/// exit status is not looked at. `None` when it cannot be run.
async fn verbose_header(config: &Config) -> Option<String> {
    let argv = crate::ytdlp::args::verbose_probe_argv(&crate::toolchain::toolchain_env(config));
    let mut command = tokio::process::Command::new(&config.ytdlp_bin);
    command.args(argv).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).kill_on_drop(true);
    let output = tokio::time::timeout(PROBE_TIMEOUT, command.output()).await.ok()?.ok()?;
    Some(String::from_utf8_lossy(&output.stderr).into_owned())
}

/// `ffmpeg version 5.1.9-0+deb12u1 Copyright ...` → `5.1.9-0+deb12u1`.
fn ffmpeg_version(line: &str) -> String {
    line.strip_prefix("ffmpeg version ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or(line)
        .to_owned()
}

async fn first_line_of(program: &Path, flag: &str) -> Option<String> {
    let mut command = tokio::process::Command::new(program);
    command.arg(OsStr::new(flag)).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null()).kill_on_drop(true);
    let output = tokio::time::timeout(PROBE_TIMEOUT, command.output()).await.ok()?.ok()?;
    if !output.status.success() {
        return None;
    }
    String::from_utf8_lossy(&output.stdout).lines().next().map(|l| l.trim().to_owned()).filter(|l| !l.is_empty())
}

/// ffprobe next to the configured ffmpeg (same directory, or on `PATH` for a bare name).
pub fn ffprobe_for(ffmpeg: &Path) -> PathBuf {
    match ffmpeg.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) => dir.join("ffprobe"),
        None => PathBuf::from("ffprobe"),
    }
}

/// A media file's duration in whole seconds, from ffprobe; `None` when it cannot tell. Used when
/// yt-dlp does not know the duration (a direct media link).
pub async fn probe_duration(ffmpeg: &Path, file: &Path) -> Option<u64> {
    let ffprobe = resolve_program(&ffprobe_for(ffmpeg))?;
    let mut command = tokio::process::Command::new(ffprobe);
    command
        .args(["-v", "error", "-show_entries", "format=duration", "-of", "default=noprint_wrappers=1:nokey=1", "--"])
        .arg(file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(PROBE_TIMEOUT, command.output()).await.ok()?.ok()?;
    let secs: f64 = String::from_utf8_lossy(&output.stdout).trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| secs.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_bare_names_through_path_and_rejects_missing() {
        assert!(resolve_program(Path::new("sh")).is_some());
        assert_eq!(resolve_program(Path::new("definitely-not-a-program-hermes")), None);
        assert_eq!(resolve_program(Path::new("/nonexistent/yt-dlp")), None);
    }

    #[test]
    fn the_verbose_header_names_the_version() {
        let header = "[debug] Command-line config: ['-v']\n[debug] yt-dlp version stable@2026.10.26 from yt-dlp/yt-dlp [c91f8de0b] (pip)\n";
        assert_eq!(version_from_header(header).as_deref(), Some("2026.10.26"));
        assert_eq!(version_from_header("[debug] yt-dlp version 2023.03.04 [392389b7d]").as_deref(), Some("2023.03.04"));
        assert_eq!(version_from_header("yt-dlp: error: You must provide at least one URL."), None);
    }

    #[test]
    fn ffmpeg_version_is_the_second_word() {
        assert_eq!(ffmpeg_version("ffmpeg version 5.1.9-0+deb12u1 Copyright (c) 2000"), "5.1.9-0+deb12u1");
        assert_eq!(ffmpeg_version("weird"), "weird");
    }
}
