//! The bot's configuration, read once from the environment at start-up.
//!
//! Every variable is validated here so that a typo in a deployment stops the bot with a message
//! naming the variable, instead of surfacing later as a confusing runtime failure.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use thiserror::Error;

use crate::role::{default_node_name, ClusterConfig, Role};

pub(crate) const TOKEN_VAR: &str = "TELEGRAM_BOT_TOKEN";
pub(crate) const API_URL_VAR: &str = "TELEGRAM_API_URL";
pub(crate) const UPLOAD_LIMIT_VAR: &str = "TELEGRAM_UPLOAD_LIMIT_MB";
pub(crate) const ALLOWED_CHATS_VAR: &str = "ALLOWED_CHAT_IDS";
pub(crate) const ADMIN_CHAT_VAR: &str = "ADMIN_CHAT_ID";
pub(crate) const DOWNLOAD_DIR_VAR: &str = "DOWNLOAD_DIR";
pub(crate) const KEEP_FILES_VAR: &str = "KEEP_FILES";
pub(crate) const DATABASE_URL_VAR: &str = "BOT_DATABASE_URL";
pub(crate) const POLL_TIMEOUT_VAR: &str = "TELEGRAM_POLL_TIMEOUT_SECS";
pub(crate) const MAX_QUEUED_VAR: &str = "MAX_QUEUED_PER_CHAT";
pub(crate) const SEARCHES_PER_CHAT_VAR: &str = "SEARCHES_PER_CHAT_PER_HOUR";
pub(crate) const MAX_RETRY_WAIT_VAR: &str = "TELEGRAM_MAX_RETRY_WAIT_SECS";

/// Downloads one chat may have queued or running at once; more are refused.
pub(crate) const DEFAULT_MAX_QUEUED_PER_CHAT: u64 = 20;
/// Searches one chat may start per hour: well below the worker's shared
/// `RATE_LIMIT_SEARCHES_PER_HOUR` (60), so one chat cannot use up everyone's searches.
pub(crate) const DEFAULT_SEARCHES_PER_CHAT_PER_HOUR: u64 = 15;
/// The longest Telegram flood-control wait taken inline (and `getUpdates`' cap).
pub(crate) const DEFAULT_MAX_RETRY_WAIT_SECS: u64 = 60;
/// The worker's cookie file, which the admin replaces with `/cookies` (same default as the worker).
pub(crate) const COOKIE_FILE_VAR: &str = "YOUTUBE_COOKIE_FILE";
pub(crate) const AUTO_UPDATE_VAR: &str = "YTDLP_AUTO_UPDATE";
pub(crate) const ROLE_VAR: &str = "HERMES_ROLE";
pub(crate) const QUEUE_URL_VAR: &str = "QUEUE_URL";
pub(crate) const NODE_NAME_VAR: &str = "HERMES_NODE_NAME";
pub(crate) const CLAIM_IDLE_VAR: &str = "JOB_CLAIM_IDLE_SECS";
pub(crate) const MAX_ATTEMPTS_VAR: &str = "JOB_MAX_ATTEMPTS";
pub(crate) const NODE_CONCURRENCY_VAR: &str = "WORKER_CONCURRENCY";
pub(crate) const LOCAL_MODE_VAR: &str = "TELEGRAM_LOCAL_MODE";
pub(crate) const STATUS_WHEN_DONE_VAR: &str = "STATUS_WHEN_DONE";
pub(crate) const GROUP_LINKS_VAR: &str = "GROUP_LINKS";

pub(crate) const DEFAULT_API_URL: &str = "https://api.telegram.org";
/// The public Bot API refuses uploads above 50 MB; a self-hosted Bot API server allows 2000.
pub(crate) const DEFAULT_UPLOAD_LIMIT_MB: u64 = 50;
/// What a local Bot API server (`--local`) accepts.
pub(crate) const LOCAL_UPLOAD_LIMIT_MB: u64 = 2000;
pub(crate) const DEFAULT_DOWNLOAD_DIR: &str = "./downloads";
/// The bot keeps its own SQLite file: the worker's database carries the worker's migrations, and
/// two migration sets in one file would make each side refuse the other's history.
pub(crate) const DEFAULT_DATABASE_URL: &str = "sqlite://./hermes-bot.db";
pub(crate) const DEFAULT_CLAIM_IDLE_SECS: u64 = 60;
pub(crate) const DEFAULT_MAX_ATTEMPTS: u64 = 3;
/// The worker's own default for `WORKER_CONCURRENCY`.
pub(crate) const DEFAULT_NODE_CONCURRENCY: u64 = 3;
/// Telegram holds a long poll for at most 50 s; 30 s is the customary value.
pub(crate) const DEFAULT_POLL_TIMEOUT_SECS: u32 = 30;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub(crate) enum ConfigError {
    #[error(
        "{TOKEN_VAR} is not set. Create a bot with @BotFather in Telegram, then start the bot \
         with {TOKEN_VAR}=<the token BotFather gave you>."
    )]
    MissingToken,
    #[error("{ROLE_VAR}={role} needs {QUEUE_URL_VAR}=redis://host:port/db, the Redis that joins the front and the nodes")]
    MissingQueueUrl { role: &'static str },
    #[error("{LOCAL_MODE_VAR}=true needs {API_URL_VAR}, the local Bot API server (telegram-bot-api --local) sharing this machine's disk")]
    LocalModeWithoutServer,
    #[error("{var}={value:?} is not valid: expected {expected}")]
    Invalid {
        var: &'static str,
        value: String,
        expected: &'static str,
    },
}

/// Everything `hermes-bot` reads from its environment (the worker reads its own variables).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BotConfig {
    pub(crate) token: String,
    /// Base URL of the Bot API without `/bot<token>`, e.g. `https://api.telegram.org`.
    pub(crate) api_url: String,
    pub(crate) upload_limit_mb: u64,
    /// Chats allowed to use the bot (besides the admin). Empty means nobody: a stranger gets
    /// answers to `/start` and `/chatid` only.
    pub(crate) allowed_chat_ids: Vec<i64>,
    /// `ALLOWED_CHAT_IDS=*`: a public bot, every chat is let in (an explicit choice).
    pub(crate) public: bool,
    /// The chat that sees worker details in `/ping`.
    pub(crate) admin_chat_id: Option<i64>,
    /// Root of all downloads: each task writes to `<download_dir>/<chat_id>/<task_id>`.
    pub(crate) download_dir: PathBuf,
    /// Keep downloaded files after delivery (for debugging); deleted by default.
    pub(crate) keep_files: bool,
    pub(crate) database_url: String,
    pub(crate) poll_timeout_secs: u32,
    /// `MAX_QUEUED_PER_CHAT`: a chat's queued and running downloads, at most.
    pub(crate) max_queued_per_chat: usize,
    /// `SEARCHES_PER_CHAT_PER_HOUR`: searches one chat may start per hour.
    pub(crate) searches_per_chat_per_hour: u32,
    /// `TELEGRAM_MAX_RETRY_WAIT_SECS`: the longest flood-control wait taken inline.
    pub(crate) max_retry_wait_secs: u64,
    /// `YOUTUBE_COOKIE_FILE` (default `./cookies.txt`, as the worker reads it).
    pub(crate) cookie_file: PathBuf,
    /// `YTDLP_AUTO_UPDATE=daily`: update the managed yt-dlp in the background once a day.
    pub(crate) auto_update_daily: bool,
    /// `HERMES_ROLE`: `all` (default), `front` or `node`.
    pub(crate) role: Role,
    pub(crate) cluster: ClusterConfig,
    /// `TELEGRAM_LOCAL_MODE`: the Bot API server runs `--local` on this machine, so files are
    /// sent by path (no multipart upload) and may be up to [`LOCAL_UPLOAD_LIMIT_MB`].
    pub(crate) local_mode: bool,
    /// `STATUS_WHEN_DONE`: what happens to a status message once its file arrived.
    pub(crate) status_when_done: StatusWhenDone,
    /// `GROUP_LINKS`: in groups, bare links start downloads too (by default only commands and
    /// mentions of the bot do).
    pub(crate) group_links: bool,
}

/// A delivered task's status message: one line (`collapse`, default) or gone (`delete`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StatusWhenDone {
    Collapse,
    Delete,
}

impl BotConfig {
    pub(crate) fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var_os(name))
    }

    /// Reads the configuration through `lookup`, so tests need not touch the process environment.
    pub(crate) fn from_lookup(lookup: impl Fn(&str) -> Option<OsString>) -> Result<Self, ConfigError> {
        let env = Env { lookup: &lookup };
        let token = env.text(TOKEN_VAR).ok_or(ConfigError::MissingToken)?;
        let public = env.text(ALLOWED_CHATS_VAR).as_deref() == Some("*");
        let role = match env.text(ROLE_VAR) {
            None => Role::All,
            Some(name) => {
                Role::from_name(&name).ok_or_else(|| invalid(ROLE_VAR, &name, "all, front or node"))?
            }
        };
        let queue_url = env.text(QUEUE_URL_VAR);
        match (role, &queue_url) {
            (Role::Front, None) => return Err(ConfigError::MissingQueueUrl { role: "front" }),
            (Role::Node, None) => return Err(ConfigError::MissingQueueUrl { role: "node" }),
            (_, Some(url)) if !url.starts_with("redis://") && !url.starts_with("rediss://") => {
                return Err(invalid(QUEUE_URL_VAR, url, "redis://host:port/db"))
            }
            _ => {}
        }
        let local_mode = env.flag(LOCAL_MODE_VAR)?;
        let api_url = env.text(API_URL_VAR);
        if local_mode && api_url.is_none() {
            return Err(ConfigError::LocalModeWithoutServer);
        }
        let status_when_done = match env
            .text(STATUS_WHEN_DONE_VAR)
            .map(|v| v.to_ascii_lowercase())
            .as_deref()
        {
            None | Some("collapse") => StatusWhenDone::Collapse,
            Some("delete") => StatusWhenDone::Delete,
            Some(other) => return Err(invalid(STATUS_WHEN_DONE_VAR, other, "collapse or delete")),
        };
        Ok(Self {
            token,
            api_url: api_url
                .map(|url| url.trim_end_matches('/').to_owned())
                .unwrap_or_else(|| DEFAULT_API_URL.to_owned()),
            upload_limit_mb: env.positive(
                UPLOAD_LIMIT_VAR,
                if local_mode {
                    LOCAL_UPLOAD_LIMIT_MB
                } else {
                    DEFAULT_UPLOAD_LIMIT_MB
                },
            )?,
            local_mode,
            status_when_done,
            group_links: env.flag(GROUP_LINKS_VAR)?,
            allowed_chat_ids: if public {
                Vec::new()
            } else {
                env.chat_ids(ALLOWED_CHATS_VAR)?
            },
            public,
            admin_chat_id: env.chat_id(ADMIN_CHAT_VAR)?,
            download_dir: PathBuf::from(
                env.text(DOWNLOAD_DIR_VAR)
                    .unwrap_or_else(|| DEFAULT_DOWNLOAD_DIR.to_owned()),
            ),
            keep_files: env.flag(KEEP_FILES_VAR)?,
            database_url: env
                .text(DATABASE_URL_VAR)
                .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned()),
            poll_timeout_secs: u32::try_from(
                env.positive(POLL_TIMEOUT_VAR, u64::from(DEFAULT_POLL_TIMEOUT_SECS))?
                    .min(50),
            )
            .unwrap_or(DEFAULT_POLL_TIMEOUT_SECS),
            max_queued_per_chat: usize::try_from(env.positive(MAX_QUEUED_VAR, DEFAULT_MAX_QUEUED_PER_CHAT)?)
                .unwrap_or(usize::MAX),
            searches_per_chat_per_hour: u32::try_from(
                env.positive(SEARCHES_PER_CHAT_VAR, DEFAULT_SEARCHES_PER_CHAT_PER_HOUR)?,
            )
            .unwrap_or(u32::MAX),
            max_retry_wait_secs: env.positive(MAX_RETRY_WAIT_VAR, DEFAULT_MAX_RETRY_WAIT_SECS)?,
            cookie_file: PathBuf::from(
                env.text(COOKIE_FILE_VAR)
                    .unwrap_or_else(|| "./cookies.txt".to_owned()),
            ),
            auto_update_daily: match env
                .text(AUTO_UPDATE_VAR)
                .map(|v| v.to_ascii_lowercase())
                .as_deref()
            {
                None | Some("off" | "false" | "no" | "0") => false,
                Some("daily") => true,
                Some(other) => return Err(invalid(AUTO_UPDATE_VAR, other, "daily or off")),
            },
            role,
            cluster: ClusterConfig {
                queue_url,
                node_name: env.text(NODE_NAME_VAR).unwrap_or_else(default_node_name),
                claim_idle: Duration::from_secs(env.positive(CLAIM_IDLE_VAR, DEFAULT_CLAIM_IDLE_SECS)?),
                max_attempts: u32::try_from(env.positive(MAX_ATTEMPTS_VAR, DEFAULT_MAX_ATTEMPTS)?)
                    .unwrap_or(u32::MAX),
                node_concurrency: usize::try_from(
                    env.positive(NODE_CONCURRENCY_VAR, DEFAULT_NODE_CONCURRENCY)?,
                )
                .unwrap_or(usize::MAX),
            },
        })
    }

    /// `{api_url}/bot{token}`: frankenstein appends `/{method}` to exactly this.
    pub(crate) fn bot_api_url(&self) -> String {
        format!("{}/bot{}", self.api_url, self.token)
    }

    pub(crate) fn upload_limit_bytes(&self) -> u64 {
        self.upload_limit_mb.saturating_mul(1024 * 1024)
    }

    /// Everyone with `ALLOWED_CHAT_IDS=*`; otherwise the listed chats and the admin (an owner
    /// who forgot to list their own chat must not lock themselves out). Nobody else: a bot is
    /// private unless its owner says otherwise.
    pub(crate) fn is_chat_allowed(&self, chat_id: i64) -> bool {
        self.public || self.allowed_chat_ids.contains(&chat_id) || self.is_admin(chat_id)
    }

    pub(crate) fn is_admin(&self, chat_id: i64) -> bool {
        self.admin_chat_id == Some(chat_id)
    }
}

struct Env<'a> {
    lookup: &'a dyn Fn(&str) -> Option<OsString>,
}

impl Env<'_> {
    /// The trimmed value; unset, blank and non-UTF-8 values count as unset for free text.
    fn text(&self, var: &str) -> Option<String> {
        let value = (self.lookup)(var)?;
        let value = value.to_str()?.trim();
        (!value.is_empty()).then(|| value.to_owned())
    }

    /// Like `text`, but a non-UTF-8 value is an error rather than silently ignored.
    fn strict_text(&self, var: &'static str, expected: &'static str) -> Result<Option<String>, ConfigError> {
        match (self.lookup)(var) {
            None => Ok(None),
            Some(value) => match value.to_str() {
                Some(text) => Ok(Some(text.trim().to_owned()).filter(|t| !t.is_empty())),
                None => Err(invalid(var, &value.to_string_lossy(), expected)),
            },
        }
    }

    fn positive(&self, var: &'static str, default: u64) -> Result<u64, ConfigError> {
        const EXPECTED: &str = "a whole number >= 1";
        match self.strict_text(var, EXPECTED)? {
            None => Ok(default),
            Some(text) => match text.parse::<u64>() {
                Ok(value) if value >= 1 => Ok(value),
                _ => Err(invalid(var, &text, EXPECTED)),
            },
        }
    }

    fn flag(&self, var: &'static str) -> Result<bool, ConfigError> {
        const EXPECTED: &str = "true or false";
        let Some(text) = self.strict_text(var, EXPECTED)? else {
            return Ok(false);
        };
        match text.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" => Ok(false),
            _ => Err(invalid(var, &text, EXPECTED)),
        }
    }

    fn chat_id(&self, var: &'static str) -> Result<Option<i64>, ConfigError> {
        const EXPECTED: &str = "a numeric chat id such as 123456789 or -1001234567890";
        match self.strict_text(var, EXPECTED)? {
            None => Ok(None),
            Some(text) => text
                .parse::<i64>()
                .map(Some)
                .map_err(|_| invalid(var, &text, EXPECTED)),
        }
    }

    /// A comma- or whitespace-separated list of chat ids.
    fn chat_ids(&self, var: &'static str) -> Result<Vec<i64>, ConfigError> {
        const EXPECTED: &str = "chat ids separated by commas, e.g. 123456789,-1001234567890";
        let Some(text) = self.strict_text(var, EXPECTED)? else {
            return Ok(Vec::new());
        };
        text.split(|c: char| c == ',' || c.is_whitespace())
            .filter(|part| !part.is_empty())
            .map(|part| part.parse::<i64>().map_err(|_| invalid(var, &text, EXPECTED)))
            .collect()
    }
}

fn invalid(var: &'static str, value: &str, expected: &'static str) -> ConfigError {
    ConfigError::Invalid {
        var,
        value: value.to_owned(),
        expected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hermes_host::test_support::lookup_from;

    fn config(vars: &[(&str, &str)]) -> Result<BotConfig, ConfigError> {
        BotConfig::from_lookup(lookup_from(vars))
    }

    #[test]
    fn missing_or_blank_token_is_a_clear_error() {
        for vars in [&[][..], &[(TOKEN_VAR, "  ")][..]] {
            let err = config(vars).expect_err("token required");
            assert_eq!(err, ConfigError::MissingToken);
            let text = err.to_string();
            assert!(text.contains(TOKEN_VAR) && text.contains("BotFather"), "{text}");
        }
    }

    #[test]
    fn defaults_apply_when_only_the_token_is_set() {
        let c = config(&[(TOKEN_VAR, "123:abc")]).expect("valid");
        assert_eq!(c.token, "123:abc");
        assert_eq!(c.api_url, DEFAULT_API_URL);
        assert_eq!(c.bot_api_url(), "https://api.telegram.org/bot123:abc");
        assert_eq!(c.upload_limit_mb, 50);
        assert_eq!(c.upload_limit_bytes(), 50 * 1024 * 1024);
        assert!(c.allowed_chat_ids.is_empty());
        assert!(!c.is_chat_allowed(-42), "an empty allow-list lets nobody in");
        let public = BotConfig::from_lookup(|name| match name {
            TOKEN_VAR => Some("123:abc".into()),
            ALLOWED_CHATS_VAR => Some(" * ".into()),
            _ => None,
        })
        .unwrap();
        assert!(
            public.public && public.is_chat_allowed(-42),
            "* makes a public bot"
        );
        assert_eq!(c.admin_chat_id, None);
        assert_eq!(c.download_dir, PathBuf::from("./downloads"));
        assert!(!c.keep_files);
        assert_eq!(c.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(c.poll_timeout_secs, 30);
        assert_eq!(c.max_queued_per_chat, 20);
        assert_eq!(c.searches_per_chat_per_hour, 15);
        assert_eq!(c.max_retry_wait_secs, 60);
    }

    #[test]
    fn limits_are_read() {
        let c = config(&[
            (TOKEN_VAR, "1:x"),
            (MAX_QUEUED_VAR, "3"),
            (SEARCHES_PER_CHAT_VAR, "4"),
            (MAX_RETRY_WAIT_VAR, "5"),
        ])
        .expect("valid");
        assert_eq!(
            (
                c.max_queued_per_chat,
                c.searches_per_chat_per_hour,
                c.max_retry_wait_secs
            ),
            (3, 4, 5)
        );
        assert!(config(&[(TOKEN_VAR, "1:x"), (MAX_QUEUED_VAR, "0")]).is_err());
    }

    #[test]
    fn local_mode_raises_the_upload_limit_and_needs_a_server() {
        let c = config(&[
            (TOKEN_VAR, "1:x"),
            (API_URL_VAR, "http://127.0.0.1:8081"),
            (LOCAL_MODE_VAR, "true"),
        ])
        .expect("valid");
        assert!(c.local_mode);
        assert_eq!(c.upload_limit_mb, LOCAL_UPLOAD_LIMIT_MB);
        assert_eq!(
            config(&[(TOKEN_VAR, "1:x"), (LOCAL_MODE_VAR, "true")]),
            Err(ConfigError::LocalModeWithoutServer)
        );
        let c = config(&[
            (TOKEN_VAR, "1:x"),
            (STATUS_WHEN_DONE_VAR, "Delete"),
            (GROUP_LINKS_VAR, "on"),
        ])
        .expect("valid");
        assert_eq!(
            (c.status_when_done, c.group_links, c.local_mode),
            (StatusWhenDone::Delete, true, false)
        );
        assert_eq!(c.upload_limit_mb, DEFAULT_UPLOAD_LIMIT_MB);
        assert!(config(&[(TOKEN_VAR, "1:x"), (STATUS_WHEN_DONE_VAR, "keep")]).is_err());
    }

    #[test]
    fn every_variable_is_read() {
        let c = config(&[
            (TOKEN_VAR, "1:x"),
            (API_URL_VAR, "http://127.0.0.1:8081/"),
            (UPLOAD_LIMIT_VAR, "2000"),
            (ALLOWED_CHATS_VAR, "1, -1001234, 77"),
            (ADMIN_CHAT_VAR, "77"),
            (DOWNLOAD_DIR_VAR, "/srv/dl"),
            (KEEP_FILES_VAR, "TRUE"),
            (DATABASE_URL_VAR, "sqlite:///tmp/b.db"),
            (POLL_TIMEOUT_VAR, "5"),
        ])
        .expect("valid");
        assert_eq!(c.bot_api_url(), "http://127.0.0.1:8081/bot1:x");
        assert_eq!(c.upload_limit_mb, 2000);
        assert_eq!(c.allowed_chat_ids, vec![1, -1001234, 77]);
        assert!(c.is_chat_allowed(77) && !c.is_chat_allowed(2));
        assert!(c.is_admin(77) && !c.is_admin(1));
        let admin_only = config(&[
            (TOKEN_VAR, "1:x"),
            (ALLOWED_CHATS_VAR, "5"),
            (ADMIN_CHAT_VAR, "9"),
        ])
        .expect("valid");
        assert!(admin_only.is_chat_allowed(9) && admin_only.is_chat_allowed(5));
        assert!(!admin_only.is_chat_allowed(6));
        assert_eq!(c.download_dir, PathBuf::from("/srv/dl"));
        assert!(c.keep_files);
        assert_eq!(c.database_url, "sqlite:///tmp/b.db");
        assert_eq!(c.poll_timeout_secs, 5);
    }

    #[test]
    fn roles_and_the_cluster_are_read() {
        let c = config(&[(TOKEN_VAR, "1:x")]).expect("valid");
        assert_eq!(c.role, Role::All, "one process, no Redis, by default");
        assert_eq!(c.cluster.queue_url, None);
        assert_eq!(c.cluster.claim_idle, Duration::from_secs(60));
        assert_eq!(c.cluster.max_attempts, 3);
        assert_eq!(c.cluster.node_concurrency, 3);
        assert!(c.cluster.queue_config().is_none());
        for role in ["front", "node"] {
            let err = config(&[(TOKEN_VAR, "1:x"), (ROLE_VAR, role)]).expect_err("needs redis");
            assert!(err.to_string().contains(QUEUE_URL_VAR), "{err}");
        }
        let node = config(&[
            (TOKEN_VAR, "1:x"),
            (ROLE_VAR, " Node "),
            (QUEUE_URL_VAR, "redis://127.0.0.1:6390/2"),
            (NODE_NAME_VAR, "n1"),
            (CLAIM_IDLE_VAR, "5"),
            (MAX_ATTEMPTS_VAR, "2"),
            (NODE_CONCURRENCY_VAR, "4"),
        ])
        .expect("valid");
        assert_eq!(node.role, Role::Node);
        let queue = node.cluster.queue_config().expect("queue");
        assert_eq!(
            (
                queue.url.as_str(),
                queue.consumer.as_str(),
                queue.claim_idle,
                queue.max_attempts
            ),
            ("redis://127.0.0.1:6390/2", "n1", Duration::from_secs(5), 2)
        );
        assert_eq!(node.cluster.node_concurrency, 4);
        for (var, value) in [
            (ROLE_VAR, "worker"),
            (QUEUE_URL_VAR, "http://127.0.0.1:6379"),
            (MAX_ATTEMPTS_VAR, "0"),
            (CLAIM_IDLE_VAR, "soon"),
        ] {
            let err = config(&[(TOKEN_VAR, "1:x"), (var, value)]).expect_err("invalid");
            assert!(err.to_string().contains(var), "{err}");
        }
    }

    #[test]
    fn poll_timeout_is_capped_at_telegrams_maximum() {
        let c = config(&[(TOKEN_VAR, "1:x"), (POLL_TIMEOUT_VAR, "600")]).expect("valid");
        assert_eq!(c.poll_timeout_secs, 50);
    }

    #[test]
    fn bad_values_name_the_variable() {
        let cases: &[(&str, &str)] = &[
            (UPLOAD_LIMIT_VAR, "0"),
            (UPLOAD_LIMIT_VAR, "fifty"),
            (ALLOWED_CHATS_VAR, "1,abc"),
            (ADMIN_CHAT_VAR, "@me"),
            (KEEP_FILES_VAR, "maybe"),
            (POLL_TIMEOUT_VAR, "-3"),
            (AUTO_UPDATE_VAR, "hourly"),
        ];
        for (var, value) in cases {
            let err = config(&[(TOKEN_VAR, "1:x"), (var, value)]).expect_err("invalid");
            let text = err.to_string();
            assert!(text.contains(var), "{text}");
            assert!(matches!(err, ConfigError::Invalid { var: v, .. } if v == *var));
        }
    }
}
