//! `hermes update-ytdlp` and the bot's `/update`: a fresh yt-dlp in a new environment, checked,
//! then switched to in one step, the previous one kept for `--rollback`.
//!
//! YouTube breaks old yt-dlp versions within weeks, so keeping yt-dlp fresh must be one command.
//! The managed toolchain (see `scripts/setup.sh`) lives in `HERMES_HOME` (default `./.hermes`):
//!
//! ```text
//! envs/<name>/          one virtual environment per install
//! venv -> envs/<name>   the one in use: the worker runs venv/bin/yt-dlp and venv/bin/deno
//! previous -> envs/…    the one before the last switch
//! ```
//!
//! An update installs `yt-dlp[default]` (which brings the `yt-dlp-ejs` solver scripts), `deno`
//! and `YTDLP_EXTRA_PACKAGES` into a new environment, checks that its yt-dlp runs and finds a
//! JavaScript runtime, and only then renames a new `venv` link over the old one (`rename(2)` is
//! atomic: every start of yt-dlp sees the old or the new environment, never half of one). A
//! failed install or check deletes the new environment and changes nothing. A yt-dlp already
//! running keeps its environment, which stays on disk (the worker also pins each task to the
//! environment it started with). Environments other than the current and the previous one are
//! deleted after a switch.
//!
//! `HERMES_PIP` replaces the installer: it is run as `HERMES_PIP <new environment dir>
//! <requirement>...` and must leave `bin/yt-dlp` (and `bin/deno`) there. Tests point it at a
//! script that builds a fake environment; the default is `python3 -m venv` then pip.
use hermes_protocol::JsSupport;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use thiserror::Error;

const HOME_VAR: &str = "HERMES_HOME";
const INSTALLER_VAR: &str = "HERMES_PIP";
const EXTRA_PACKAGES_VAR: &str = "YTDLP_EXTRA_PACKAGES";
/// What every environment gets.
const PACKAGES: [&str; 2] = ["yt-dlp[default]", "deno"];
/// pip resolving and downloading yt-dlp and Deno (~100 MB) takes ~45 s here; a stuck one is
/// stopped rather than holding the update lock forever.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(15 * 60);
const CHECK_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Error)]
pub enum ToolchainError {
    #[error("another update of {0} is running")]
    Busy(PathBuf),
    #[error("the install failed, nothing was changed: {0}")]
    Install(String),
    #[error("the new yt-dlp does not run, nothing was changed: {0}")]
    Broken(String),
    #[error("the new yt-dlp {0} finds no JavaScript runtime, nothing was changed")]
    NoJsRuntime(String),
    #[error("there is no previous yt-dlp to roll back to in {0}")]
    NoPrevious(PathBuf),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> ToolchainError {
    let context = context.into();
    move |source| ToolchainError::Io { context, source }
}

/// What a switch did: the yt-dlp versions before and after, and the new one's JavaScript support.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Switch {
    pub old: Option<String>,
    pub new: String,
    pub js: JsSupport,
}

impl Switch {
    /// `yt-dlp 2026.10.21 → 2026.10.26 (JS runtime deno 2.9.8, yt-dlp-ejs 0.8.0)`.
    pub fn summary(&self) -> String {
        let runtime = self.js.js_runtime.as_ref().map_or_else(
            || "no JS runtime".to_owned(),
            |r| format!("JS runtime {} {}", r.name, r.version),
        );
        let ejs = self
            .js
            .ejs
            .as_deref()
            .map_or_else(|| "no yt-dlp-ejs".to_owned(), |v| format!("yt-dlp-ejs {v}"));
        format!(
            "yt-dlp {} → {} ({runtime}, {ejs})",
            self.old.as_deref().unwrap_or("none"),
            self.new
        )
    }
}

#[derive(Debug, Clone)]
enum Installer {
    /// `python3 -m venv DIR`, then `DIR/bin/python -m pip install …`.
    Pip,
    /// `HERMES_PIP DIR REQUIREMENT…`.
    Program(PathBuf),
}

/// The managed toolchain of one `HERMES_HOME`.
#[derive(Debug, Clone)]
pub struct Toolchain {
    home: PathBuf,
    installer: Installer,
    extra_packages: Vec<String>,
}

impl Toolchain {
    /// `HERMES_HOME` (else `./.hermes`), `HERMES_PIP` and `YTDLP_EXTRA_PACKAGES` from the environment.
    pub fn from_env() -> Toolchain {
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        Toolchain {
            home: var(HOME_VAR).map_or_else(|| PathBuf::from(".hermes"), PathBuf::from),
            installer: var(INSTALLER_VAR).map_or(Installer::Pip, |p| Installer::Program(PathBuf::from(p))),
            extra_packages: var(EXTRA_PACKAGES_VAR)
                .map(|v| v.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_default(),
        }
    }

    pub fn home(&self) -> &Path {
        &self.home
    }

    /// The link the worker runs yt-dlp through.
    pub fn venv(&self) -> PathBuf {
        self.home.join("venv")
    }

    /// The yt-dlp version of the environment in use, if there is one that runs.
    async fn current_version(&self) -> Option<String> {
        ytdlp_version(&self.venv()).await.ok()
    }

    /// Installs the newest yt-dlp into a new environment, checks it and switches to it.
    pub async fn update(&self) -> Result<Switch, ToolchainError> {
        let _lock = self.lock()?;
        let envs = self.home.join("envs");
        std::fs::create_dir_all(&envs).map_err(io(format!("cannot create {}", envs.display())))?;
        let name = new_env_name();
        let dir = envs.join(&name);
        match self.install_and_check(&dir).await {
            Ok((new, js)) => {
                let old = self.current_version().await;
                self.switch_to(&format!("envs/{name}"))?;
                self.prune();
                Ok(Switch { old, new, js })
            }
            Err(error) => {
                if let Err(cleanup) = std::fs::remove_dir_all(&dir) {
                    if cleanup.kind() != std::io::ErrorKind::NotFound {
                        tracing::warn!(dir = %dir.display(), %cleanup, "cannot remove the failed environment");
                    }
                }
                Err(error)
            }
        }
    }

    /// Switches back to the environment in use before the last switch (which becomes the
    /// previous one in turn, so a second rollback undoes the first).
    pub async fn rollback(&self) -> Result<Switch, ToolchainError> {
        let _lock = self.lock()?;
        let previous = self.home.join("previous");
        let target =
            std::fs::read_link(&previous).map_err(|_| ToolchainError::NoPrevious(self.home.clone()))?;
        let target_dir = self.home.join(&target);
        let new = ytdlp_version(&target_dir).await.map_err(ToolchainError::Broken)?;
        let js = js_support(&target_dir).await;
        let old = self.current_version().await;
        self.switch_to(&target.to_string_lossy())?;
        Ok(Switch { old, new, js })
    }

    async fn install_and_check(&self, dir: &Path) -> Result<(String, JsSupport), ToolchainError> {
        let mut requirements: Vec<OsString> = PACKAGES.iter().map(OsString::from).collect();
        requirements.extend(self.extra_packages.iter().map(OsString::from));
        match &self.installer {
            Installer::Pip => {
                run_step("python3", &[OsString::from("-m"), "venv".into(), dir.into()]).await?;
                let mut args: Vec<OsString> = [
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "--upgrade",
                ]
                .map(OsString::from)
                .into();
                args.extend(requirements);
                run_step(dir.join("bin/python"), &args).await?;
            }
            Installer::Program(program) => {
                let mut args = vec![dir.as_os_str().to_owned()];
                args.extend(requirements);
                run_step(program, &args).await?;
            }
        }
        let version = ytdlp_version(dir).await.map_err(ToolchainError::Broken)?;
        let js = js_support(dir).await;
        if js.js_runtime.is_none() {
            return Err(ToolchainError::NoJsRuntime(version));
        }
        Ok((version, js))
    }

    /// Points `venv` at `target` (relative to the home) and `previous` at what `venv` pointed at.
    /// A `venv` that is a plain directory (made by hand) is first moved into `envs/`.
    fn switch_to(&self, target: &str) -> Result<(), ToolchainError> {
        let venv = self.venv();
        let before = match std::fs::symlink_metadata(&venv) {
            Ok(meta) if meta.file_type().is_symlink() => std::fs::read_link(&venv).ok(),
            Ok(_) => {
                let moved = format!("envs/manual-{}", new_env_name());
                std::fs::rename(&venv, self.home.join(&moved))
                    .map_err(io(format!("cannot move {} aside", venv.display())))?;
                Some(PathBuf::from(moved))
            }
            Err(_) => None,
        };
        replace_link(&venv, Path::new(target))?;
        if let Some(before) = before.filter(|before| before != Path::new(target)) {
            replace_link(&self.home.join("previous"), &before)?;
        }
        Ok(())
    }

    /// Deletes environments that are neither in use nor the previous one.
    fn prune(&self) {
        let keep: Vec<PathBuf> = ["venv", "previous"]
            .iter()
            .filter_map(|link| std::fs::read_link(self.home.join(link)).ok())
            .filter_map(|target| target.file_name().map(PathBuf::from))
            .collect();
        let Ok(entries) = std::fs::read_dir(self.home.join("envs")) else {
            return;
        };
        for entry in entries.flatten() {
            if !keep.iter().any(|name| name.as_os_str() == entry.file_name()) {
                if let Err(error) = std::fs::remove_dir_all(entry.path()) {
                    tracing::warn!(dir = %entry.path().display(), %error, "cannot remove an old environment");
                }
            }
        }
    }

    /// One update or rollback at a time (the bot's daily update and an admin's command may meet).
    fn lock(&self) -> Result<std::fs::File, ToolchainError> {
        std::fs::create_dir_all(&self.home).map_err(io(format!("cannot create {}", self.home.display())))?;
        let path = self.home.join("update.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io(format!("cannot open {}", path.display())))?;
        match file.try_lock() {
            Ok(()) => Ok(file),
            Err(std::fs::TryLockError::WouldBlock) => Err(ToolchainError::Busy(self.home.clone())),
            Err(std::fs::TryLockError::Error(source)) => Err(ToolchainError::Io {
                context: format!("cannot lock {}", path.display()),
                source,
            }),
        }
    }
}

/// `link` → `target`, replaced in one rename so nobody ever sees it missing.
fn replace_link(link: &Path, target: &Path) -> Result<(), ToolchainError> {
    let temporary = link.with_extension(format!("new-{}", std::process::id()));
    let _ = std::fs::remove_file(&temporary);
    std::os::unix::fs::symlink(target, &temporary)
        .map_err(io(format!("cannot create {}", temporary.display())))?;
    std::fs::rename(&temporary, link).map_err(io(format!("cannot switch {}", link.display())))
}

fn new_env_name() -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    format!(
        "env-{}-{:09}-{}",
        now.as_secs(),
        now.subsec_nanos(),
        std::process::id()
    )
}

/// Runs one installer step; its output is kept for the error message only.
async fn run_step(program: impl AsRef<Path>, args: &[OsString]) -> Result<(), ToolchainError> {
    let program = program.as_ref();
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let output = match tokio::time::timeout(INSTALL_TIMEOUT, command.output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(error)) => {
            return Err(ToolchainError::Install(format!(
                "cannot run {}: {error}",
                program.display()
            )))
        }
        Err(_) => {
            return Err(ToolchainError::Install(format!(
                "{} took longer than {INSTALL_TIMEOUT:?}",
                program.display()
            )))
        }
    };
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    Err(ToolchainError::Install(format!(
        "{} exited with {}: {last}",
        program.display(),
        output.status
    )))
}

async fn ytdlp_version(env_dir: &Path) -> Result<String, String> {
    let ytdlp = env_dir.join("bin/yt-dlp");
    let mut command = tokio::process::Command::new(&ytdlp);
    command
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let output = match tokio::time::timeout(CHECK_TIMEOUT, command.output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(error)) => return Err(format!("cannot run {}: {error}", ytdlp.display())),
        Err(_) => return Err(format!("{} --version did not answer", ytdlp.display())),
    };
    let version = String::from_utf8_lossy(&output.stdout)
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .to_owned();
    if output.status.success() && !version.is_empty() {
        Ok(version)
    } else {
        Err(format!(
            "{} --version exited with {}",
            ytdlp.display(),
            output.status
        ))
    }
}

/// The environment's yt-dlp header, with its own Deno passed as the worker passes it.
async fn js_support(env_dir: &Path) -> JsSupport {
    let mut command = tokio::process::Command::new(env_dir.join("bin/yt-dlp"));
    command.args(["--ignore-config", "--no-colors"]);
    let deno = env_dir.join("bin/deno");
    if deno.is_file() {
        let mut value = OsString::from("deno:");
        value.push(deno.as_os_str());
        command.arg("--js-runtimes").arg(value);
    }
    command
        .arg("-v")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    match tokio::time::timeout(CHECK_TIMEOUT, command.output()).await {
        Ok(Ok(output)) => JsSupport::from_verbose_output(&String::from_utf8_lossy(&output.stderr)),
        _ => JsSupport::default(),
    }
}
