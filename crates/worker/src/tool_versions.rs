//! The versions of yt-dlp, ffmpeg and yt-dlp's JavaScript support, for `health_check`: probed
//! once per set of binaries (a probe costs a Python start-up), keyed by their fingerprints.
use crate::config::Config;
use crate::program::{output_within, resolve_program};
use hermes_protocol::JsSupport;
use std::ffi::OsStr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

/// How long a `--version` probe may take before the tool is reported as unavailable.
const PROBE_TIMEOUT: Duration = Duration::from_secs(15);

/// Versions of the external tools, probed once in the background at start-up.
#[derive(Debug, Clone, Default)]
pub(crate) struct ToolVersions {
    pub(crate) ytdlp: Option<String>,
    pub(crate) ffmpeg: Option<String>,
    /// yt-dlp's JavaScript runtime and `yt-dlp-ejs`, from its verbose header.
    pub(crate) js: JsSupport,
}

/// Tool versions for `health_check`: what this process probed, else what an earlier process
/// recorded for the same binaries (so a restart costs no Python start-up), else a probe now.
/// Either is kept with the fingerprint of the binaries it describes, so a yt-dlp switched by
/// `hermes update-ytdlp` while the worker runs is probed again at the next look.
#[derive(Default)]
pub(crate) struct ToolProbe {
    known: tokio::sync::Mutex<Option<(String, ToolVersions)>>,
}

impl ToolProbe {
    /// The versions, probing only when nothing is known for the current binaries; concurrent
    /// callers share one probe.
    pub(crate) async fn versions(&self, config: &Config) -> ToolVersions {
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
    pub(crate) async fn remember(&self, key: String, versions: ToolVersions) {
        *self.known.lock().await = Some((key, versions));
    }
}

/// Runs the `--version` probes and yt-dlp's verbose header, concurrently.
///
/// A Python start-up costs ~1 s of CPU, so the real yt-dlp is started once: its verbose header
/// names its version too. Only a yt-dlp whose header does not (a stand-in) is asked `--version`.
async fn probe(config: &Config) -> ToolVersions {
    let (header, ffmpeg) = tokio::join!(
        verbose_header(config),
        first_line_of(&config.ffmpeg_bin, "-version")
    );
    let ytdlp = match header.as_deref().and_then(version_from_header) {
        Some(version) => Some(version),
        None => first_line_of(&config.ytdlp_bin, "--version").await,
    };
    let js = header
        .as_deref()
        .map(JsSupport::from_verbose_output)
        .unwrap_or_default();
    ToolVersions {
        ytdlp,
        ffmpeg: ffmpeg.map(|line| ffmpeg_version(&line)),
        js,
    }
}

/// `[debug] yt-dlp version stable@2026.10.26 from yt-dlp/yt-dlp [c91f8de0b] (pip)` → `2026.10.26`
/// (older releases print `[debug] yt-dlp version 2023.03.04 [392389b7d]`).
fn version_from_header(header: &str) -> Option<String> {
    let rest = header
        .lines()
        .find_map(|line| line.trim().strip_prefix("[debug] yt-dlp version "))?;
    let word = rest.split_whitespace().next()?;
    let version = word.rsplit_once('@').map_or(word, |(_, version)| version);
    (!version.is_empty()).then(|| version.to_owned())
}

/// The fingerprints of every binary [`ToolVersions`] describes, as one key.
pub(crate) fn binaries_fingerprint(config: &Config) -> String {
    format!(
        "{}\n{}\n{}",
        fingerprint(&config.ytdlp_bin),
        fingerprint(&config.ffmpeg_bin),
        js_fingerprint(config)
    )
}

/// Identifies a binary's current state: its resolved path, size and modification time. A
/// program that cannot be found has the fingerprint `missing:<name>`.
pub(crate) fn fingerprint(program: &Path) -> String {
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
    format!(
        "{}#{}#{node}",
        fingerprint(&config.ytdlp_bin),
        fingerprint(&config.deno_bin)
    )
}

/// The header of `yt-dlp -v` (with the runtimes every call gets), on stderr: version, optional
/// libraries, JavaScript runtimes. yt-dlp exits 2 for want of a URL after printing it, so the
/// exit status is not looked at. `None` when it cannot be run.
async fn verbose_header(config: &Config) -> Option<String> {
    let argv = crate::ytdlp::args::verbose_probe_argv(&crate::ytdlp::env::toolchain_env(config));
    let mut command = tokio::process::Command::new(&config.ytdlp_bin);
    command.args(argv).stdout(Stdio::null()).stderr(Stdio::piped());
    let output = output_within(command, PROBE_TIMEOUT).await?;
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
    command
        .arg(OsStr::new(flag))
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let output = output_within(command, PROBE_TIMEOUT).await?;
    if !output.status.success() {
        return None;
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .next()
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verbose_header_names_the_version() {
        let header = "[debug] Command-line config: ['-v']\n[debug] yt-dlp version stable@2026.10.26 from yt-dlp/yt-dlp [c91f8de0b] (pip)\n";
        assert_eq!(version_from_header(header).as_deref(), Some("2026.10.26"));
        assert_eq!(
            version_from_header("[debug] yt-dlp version 2023.03.04 [392389b7d]").as_deref(),
            Some("2023.03.04")
        );
        assert_eq!(
            version_from_header("yt-dlp: error: You must provide at least one URL."),
            None
        );
    }

    #[test]
    fn ffmpeg_version_is_the_second_word() {
        assert_eq!(
            ffmpeg_version("ffmpeg version 5.1.9-0+deb12u1 Copyright (c) 2000"),
            "5.1.9-0+deb12u1"
        );
        assert_eq!(ffmpeg_version("weird"), "weird");
    }
}
