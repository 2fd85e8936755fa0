//! Worker configuration: every environment variable of the protocol guide with its default, plus
//! ours (DESIGN.md §3). Read once at start-up; a value that does not parse stops start-up with a
//! message naming the variable, rather than running with a surprise default.
pub(crate) mod error;
pub(crate) mod profile;
pub(crate) mod transfer;

use crate::egress::EgressPolicy;
pub use error::ConfigError;
use profile::{WireProfile, WIRE_PROFILE_VAR};
use serde::Serialize;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, Serialize)]
pub struct Config {
    pub(crate) youtube_cookie_file: PathBuf,
    pub best_audio_limit_mb: u64,
    pub(crate) node_bin: Option<PathBuf>,
    pub(crate) max_retries: u32,
    pub(crate) retry_delay_seconds: u64,
    pub(crate) yt_timeout_secs: u64,
    pub(crate) ipc_timeout_secs: u64,
    pub(crate) download_dir: PathBuf,
    pub(crate) temp_dir: PathBuf,
    pub enable_search_cache: bool,
    pub cache_expiry_hours: u64,
    pub(crate) archive_max_size_mb: u64,
    pub(crate) archive_compression_level: i64,
    pub(crate) playlist_name_max_length: usize,
    pub(crate) rate_limit_searches_per_hour: u32,
    pub(crate) log_level: String,
    pub ytdlp_bin: PathBuf,
    pub ffmpeg_bin: PathBuf,
    pub(crate) worker_concurrency: usize,
    pub database_url: String,
    pub(crate) allow_any_output_dir: bool,
    /// `EGRESS_ALLOW_CIDRS`, as given (the parsed form is in [`Config::egress`]).
    pub(crate) egress_allow_cidrs: String,
    /// `ALLOW_PRIVATE_URLS`: yt-dlp may reach any address (schemes are still limited to http/https).
    pub(crate) allow_private_urls: bool,
    /// `MAX_FILESIZE_MB`: no single downloaded file may grow larger (a request may ask for less).
    pub(crate) max_filesize_mb: u64,
    /// The policy every yt-dlp run's egress proxy enforces, built once from the two above.
    #[serde(skip)]
    pub egress: Arc<EgressPolicy>,
    /// Transfer speed-ups: `PLAYLIST_CONCURRENCY`, `CONCURRENT_FRAGMENTS`, `EXTERNAL_DOWNLOADER`.
    #[serde(flatten)]
    pub transfer: transfer::TransferConfig,
    /// `WIRE_PROFILE`, or `python` when started as `-m worker.application` (DESIGN.md §2.1).
    pub(crate) wire_profile: WireProfile,
    /// `DENO_BIN`: the Deno yt-dlp runs YouTube's JavaScript with (default: the managed one,
    /// then `deno` on `PATH`; see [`crate::toolchain`]).
    pub(crate) deno_bin: PathBuf,
    /// `YTDLP_EXTRACTOR_ARGS`: whitespace-separated, each passed as one `--extractor-args`
    /// (e.g. for a PO-token provider). Not shown in `health_check`: it may hold tokens.
    #[serde(skip)]
    pub(crate) ytdlp_extractor_args: Vec<String>,
    /// `YTDLP_PLUGIN_DIRS`: `:`-separated directories, each passed as `--plugin-dirs`.
    pub(crate) ytdlp_plugin_dirs: Vec<PathBuf>,
}

impl Config {
    /// Reads the process environment and the start arguments (`-m worker.application` selects
    /// the python wire profile).
    pub fn from_env_and_args(args: &[std::ffi::OsString]) -> Result<Config, ConfigError> {
        Config::from_lookup_and_args(|name| std::env::var(name).ok(), args)
    }

    /// Reads configuration through `lookup` (a seam for tests; empty values count as unset).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        Config::from_lookup_and_args::<&str>(lookup, &[])
    }

    pub(crate) fn from_lookup_and_args<A: AsRef<std::ffi::OsStr>>(
        lookup: impl Fn(&str) -> Option<String>,
        args: &[A],
    ) -> Result<Config, ConfigError> {
        let env = Env(&lookup);
        let egress_allow_cidrs = env.get("EGRESS_ALLOW_CIDRS").unwrap_or_default();
        let egress_cidrs = EgressPolicy::parse_cidrs(&egress_allow_cidrs).map_err(|bad| ConfigError {
            var: "EGRESS_ALLOW_CIDRS",
            value: bad,
            expected: "comma-separated networks such as 127.0.0.1/32",
        })?;
        let allow_private_urls = env.flag("ALLOW_PRIVATE_URLS", false)?;
        let config = Config {
            youtube_cookie_file: env.path("YOUTUBE_COOKIE_FILE", "./cookies.txt"),
            best_audio_limit_mb: env.parse("BEST_AUDIO_LIMIT_MB", 15, "a whole number of MB")?,
            node_bin: env.get("NODE_BIN").map(PathBuf::from),
            max_retries: env.parse("MAX_RETRIES", 3, "a whole number")?,
            retry_delay_seconds: env.parse("RETRY_DELAY_SECONDS", 5, "whole seconds")?,
            yt_timeout_secs: env.positive("YT_TIMEOUT", 300, "whole seconds > 0")?,
            ipc_timeout_secs: env.positive("IPC_TIMEOUT", 600, "whole seconds > 0")?,
            download_dir: env.path("DOWNLOAD_DIR", "./downloads"),
            temp_dir: env.path("TEMP_DIR", "./temp"),
            enable_search_cache: env.flag("ENABLE_SEARCH_CACHE", true)?,
            cache_expiry_hours: env.parse("CACHE_EXPIRY_HOURS", 24, "whole hours")?,
            archive_max_size_mb: env.positive("ARCHIVE_MAX_SIZE_MB", 100, "a whole number of MB > 0")?,
            archive_compression_level: env.compression_level()?,
            playlist_name_max_length: env.positive("PLAYLIST_NAME_MAX_LENGTH", 100, "a whole number > 0")?,
            rate_limit_searches_per_hour: env.parse(
                "RATE_LIMIT_SEARCHES_PER_HOUR",
                60,
                "a whole number (0 = unlimited)",
            )?,
            log_level: env.get("LOG_LEVEL").unwrap_or_else(|| "info".to_owned()),
            ytdlp_bin: env.tool("YTDLP_BIN", "yt-dlp"),
            ffmpeg_bin: env.path("FFMPEG_BIN", "ffmpeg"),
            worker_concurrency: env.positive("WORKER_CONCURRENCY", 3, "a whole number > 0")?,
            database_url: env
                .get("DATABASE_URL")
                .unwrap_or_else(|| "sqlite://./hermes.db".to_owned()),
            allow_any_output_dir: env.flag("ALLOW_ANY_OUTPUT_DIR", false)?,
            egress: Arc::new(EgressPolicy::new(egress_cidrs, allow_private_urls)),
            egress_allow_cidrs,
            allow_private_urls,
            max_filesize_mb: env.positive("MAX_FILESIZE_MB", 2000, "a whole number of MB > 0")?,
            transfer: transfer::TransferConfig {
                playlist_concurrency: env.positive("PLAYLIST_CONCURRENCY", 4, "a whole number > 0")?,
                concurrent_fragments: env.positive("CONCURRENT_FRAGMENTS", 4, "a whole number > 0")?,
                external_downloader: env.parse(
                    "EXTERNAL_DOWNLOADER",
                    Default::default(),
                    "aria2c or none",
                )?,
            },
            wire_profile: WireProfile::select(env.get(WIRE_PROFILE_VAR).as_deref(), args)?,
            deno_bin: env.tool("DENO_BIN", "deno"),
            ytdlp_extractor_args: env
                .get("YTDLP_EXTRACTOR_ARGS")
                .map(|v| v.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_default(),
            ytdlp_plugin_dirs: env
                .get("YTDLP_PLUGIN_DIRS")
                .map(|v| {
                    std::env::split_paths(&v)
                        .filter(|p| !p.as_os_str().is_empty())
                        .collect()
                })
                .unwrap_or_default(),
        };
        Ok(config)
    }

    pub(crate) fn yt_timeout(&self) -> Duration {
        Duration::from_secs(self.yt_timeout_secs)
    }

    pub(crate) fn ipc_timeout(&self) -> Duration {
        Duration::from_secs(self.ipc_timeout_secs)
    }

    pub(crate) fn retry_delay(&self) -> Duration {
        Duration::from_secs(self.retry_delay_seconds)
    }

    /// `DATABASE_URL` as sqlx must read it to open the file the profile means.
    pub(crate) fn sqlx_database_url(&self) -> String {
        self.wire_profile
            .sqlx_database_url(&self.database_url)
            .into_owned()
    }

    /// The size cap of one request: `MAX_FILESIZE_MB`, or the request's `max_filesize_mb` when
    /// smaller (a request can lower the cap, never raise it).
    pub(crate) fn max_filesize_mb_for(&self, requested: Option<u64>) -> u64 {
        requested
            .filter(|mb| *mb > 0)
            .map_or(self.max_filesize_mb, |mb| mb.min(self.max_filesize_mb))
    }

    /// The cookie file, only when it exists (yt-dlp errors out on a missing `--cookies` file).
    pub(crate) fn existing_cookie_file(&self) -> Option<PathBuf> {
        self.youtube_cookie_file
            .is_file()
            .then(|| self.youtube_cookie_file.clone())
    }
}

struct Env<'a, F: Fn(&str) -> Option<String>>(&'a F);

impl<F: Fn(&str) -> Option<String>> Env<'_, F> {
    fn get(&self, var: &str) -> Option<String> {
        (self.0)(var)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    fn path(&self, var: &str, default: &str) -> PathBuf {
        PathBuf::from(self.get(var).unwrap_or_else(|| default.to_owned()))
    }

    /// A program: the variable, else the managed toolchain's (see [`crate::toolchain`]), else
    /// the bare name (looked up on `PATH` when run).
    fn tool(&self, var: &str, name: &str) -> PathBuf {
        self.get(var)
            .map(PathBuf::from)
            .or_else(|| crate::toolchain::managed_tool(self.get("HERMES_HOME").as_deref(), name))
            .unwrap_or_else(|| PathBuf::from(name))
    }

    fn parse<T: FromStr>(
        &self,
        var: &'static str,
        default: T,
        expected: &'static str,
    ) -> Result<T, ConfigError> {
        match self.get(var) {
            None => Ok(default),
            Some(value) => value.parse().map_err(|_| ConfigError { var, value, expected }),
        }
    }

    fn positive<T: FromStr + PartialOrd + Default>(
        &self,
        var: &'static str,
        default: T,
        expected: &'static str,
    ) -> Result<T, ConfigError> {
        let value = self.parse(var, default, expected)?;
        if value > T::default() {
            Ok(value)
        } else {
            Err(ConfigError {
                var,
                value: self.get(var).unwrap_or_default(),
                expected,
            })
        }
    }

    fn flag(&self, var: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.get(var).map(|v| v.to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) if matches!(v.as_str(), "1" | "true" | "yes" | "on") => Ok(true),
            Some(v) if matches!(v.as_str(), "0" | "false" | "no" | "off") => Ok(false),
            Some(value) => Err(ConfigError {
                var,
                value,
                expected: "true or false",
            }),
        }
    }

    fn compression_level(&self) -> Result<i64, ConfigError> {
        const VAR: &str = "ARCHIVE_COMPRESSION_LEVEL";
        const EXPECTED: &str = "a whole number 0-9";
        let level: i64 = self.parse(VAR, 6, EXPECTED)?;
        if (0..=9).contains(&level) {
            Ok(level)
        } else {
            Err(ConfigError {
                var: VAR,
                value: level.to_string(),
                expected: EXPECTED,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> =
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|k| vars.get(k).cloned())
    }

    #[test]
    fn defaults_match_the_guide() {
        let c = config(&[]).unwrap();
        assert_eq!(c.youtube_cookie_file, PathBuf::from("./cookies.txt"));
        assert_eq!(
            (c.best_audio_limit_mb, c.max_retries, c.retry_delay_seconds),
            (15, 3, 5)
        );
        assert_eq!((c.yt_timeout_secs, c.ipc_timeout_secs), (300, 600));
        assert_eq!(c.download_dir, PathBuf::from("./downloads"));
        assert_eq!(c.temp_dir, PathBuf::from("./temp"));
        assert!(c.enable_search_cache);
        assert_eq!(
            (
                c.cache_expiry_hours,
                c.archive_max_size_mb,
                c.archive_compression_level
            ),
            (24, 100, 6)
        );
        assert_eq!(
            (c.playlist_name_max_length, c.rate_limit_searches_per_hour),
            (100, 60)
        );
        assert_eq!(c.log_level, "info");
        assert_eq!(
            (c.ytdlp_bin.to_str(), c.ffmpeg_bin.to_str()),
            (Some("yt-dlp"), Some("ffmpeg"))
        );
        assert_eq!(c.worker_concurrency, 3);
        assert_eq!(c.database_url, "sqlite://./hermes.db");
        assert!(!c.allow_any_output_dir);
        assert_eq!(c.node_bin, None);
        assert_eq!(c.max_filesize_mb, 2000);
        assert!(!c.allow_private_urls);
        assert_eq!(*c.egress, EgressPolicy::default());
        assert_eq!(c.transfer, transfer::TransferConfig::default());
        assert_eq!(c.deno_bin, PathBuf::from("deno"));
        assert!(c.ytdlp_extractor_args.is_empty() && c.ytdlp_plugin_dirs.is_empty());
    }

    #[test]
    fn tools_default_to_the_managed_environment_then_path() {
        use std::os::unix::fs::PermissionsExt;
        let home = tempfile::tempdir().unwrap();
        let home_text = home.path().to_str().unwrap();
        for tool in ["yt-dlp", "deno"] {
            let path = home.path().join("venv/bin").join(tool);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let c = config(&[("HERMES_HOME", home_text)]).unwrap();
        assert_eq!(c.ytdlp_bin, home.path().join("venv/bin/yt-dlp"));
        assert_eq!(c.deno_bin, home.path().join("venv/bin/deno"));
        let c = config(&[
            ("HERMES_HOME", home_text),
            ("YTDLP_BIN", "/opt/y"),
            ("DENO_BIN", "/opt/deno"),
        ])
        .unwrap();
        assert_eq!(
            (c.ytdlp_bin.to_str(), c.deno_bin.to_str()),
            (Some("/opt/y"), Some("/opt/deno"))
        );
        let c = config(&[("HERMES_HOME", "/nonexistent/hermes")]).unwrap();
        assert_eq!(
            (c.ytdlp_bin.to_str(), c.deno_bin.to_str()),
            (Some("yt-dlp"), Some("deno"))
        );
    }

    #[test]
    fn a_request_can_lower_the_size_cap_but_never_raise_it() {
        let config =
            Config::from_lookup(|name| (name == "MAX_FILESIZE_MB").then(|| "50".to_owned())).unwrap();
        assert_eq!(config.max_filesize_mb_for(None), 50);
        assert_eq!(config.max_filesize_mb_for(Some(10)), 10);
        assert_eq!(config.max_filesize_mb_for(Some(u64::MAX)), 50);
        assert_eq!(
            config.max_filesize_mb_for(Some(0)),
            50,
            "0 is no cap of the request's, not an unlimited one"
        );
    }

    #[test]
    fn extractor_args_and_plugin_dirs_are_lists() {
        let c = config(&[
            (
                "YTDLP_EXTRACTOR_ARGS",
                "youtube:player_client=default,web  youtubepot-bgutilhttp:base_url=http://127.0.0.1:4416",
            ),
            ("YTDLP_PLUGIN_DIRS", "/opt/plugins:/srv/more"),
        ])
        .unwrap();
        assert_eq!(
            c.ytdlp_extractor_args,
            [
                "youtube:player_client=default,web",
                "youtubepot-bgutilhttp:base_url=http://127.0.0.1:4416"
            ]
        );
        assert_eq!(
            c.ytdlp_plugin_dirs,
            [PathBuf::from("/opt/plugins"), PathBuf::from("/srv/more")]
        );
    }

    #[test]
    fn values_are_read() {
        let c = config(&[
            ("MAX_RETRIES", "7"),
            ("ENABLE_SEARCH_CACHE", "false"),
            ("YTDLP_BIN", "/opt/y"),
            ("WORKER_CONCURRENCY", " 5 "),
        ])
        .unwrap();
        assert_eq!(c.max_retries, 7);
        assert!(!c.enable_search_cache);
        assert_eq!(c.ytdlp_bin, PathBuf::from("/opt/y"));
        assert_eq!(c.worker_concurrency, 5);
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (var, value) in [
            ("MAX_RETRIES", "abc"),
            ("YT_TIMEOUT", "0"),
            ("ENABLE_SEARCH_CACHE", "maybe"),
            ("ARCHIVE_COMPRESSION_LEVEL", "12"),
            ("WORKER_CONCURRENCY", "-1"),
            ("ARCHIVE_MAX_SIZE_MB", "0"),
            ("EGRESS_ALLOW_CIDRS", "127.0.0.1/33"),
            ("ALLOW_PRIVATE_URLS", "sometimes"),
            ("MAX_FILESIZE_MB", "0"),
            ("WIRE_PROFILE", "perl"),
            ("PLAYLIST_CONCURRENCY", "0"),
            ("CONCURRENT_FRAGMENTS", "x"),
            ("EXTERNAL_DOWNLOADER", "curl"),
        ] {
            let err = config(&[(var, value)]).unwrap_err();
            assert_eq!(err.var, var);
            assert!(err.to_string().contains(var), "{err}");
        }
    }
}
