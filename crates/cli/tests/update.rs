//! `hermes update-ytdlp` end to end (issue 13): a new environment is installed, checked and
//! switched to in one rename; a failed install or a yt-dlp without a JavaScript runtime changes
//! nothing; `--rollback` goes back (and forth); only the current and previous environments stay.
//!
//! The installer is `HERMES_PIP`, pointed at a script that builds a fake environment (a
//! `bin/yt-dlp` that answers `--version` and prints a verbose header, and a `bin/deno`), so the
//! test needs no network; the default installer (`python3 -m venv` + pip) is what
//! `scripts/setup.sh` runs for real.
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;

/// The `HERMES_PIP` stand-in (`fixtures/fake-pip`, shared with the bot tests).
const INSTALLER: &str = include_str!("../../../fixtures/fake-pip");

struct Home {
    dir: tempfile::TempDir,
    installer: PathBuf,
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Home {
    fn new() -> Home {
        let dir = tempfile::tempdir().expect("tempdir");
        let installer = dir.path().join("fake-pip");
        std::fs::write(&installer, INSTALLER).expect("installer");
        std::fs::set_permissions(&installer, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        Home { dir, installer }
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("hermes-home")
    }

    fn hermes(&self, args: &[&str], version: &str, mode: &str) -> Run {
        let output = Command::new(env!("CARGO_BIN_EXE_hermes"))
            .args(args)
            .current_dir(self.dir.path())
            .env("HERMES_HOME", self.home())
            .env("HERMES_PIP", &self.installer)
            .env("FAKE_VERSION", version)
            .env("FAKE_INSTALL", mode)
            .env_remove("YTDLP_EXTRA_PACKAGES")
            .output()
            .expect("run hermes");
        Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    fn update(&self, version: &str, mode: &str) -> Run {
        self.hermes(&["update-ytdlp"], version, mode)
    }

    /// The version the managed `venv/bin/yt-dlp` answers now (what the worker would run).
    fn current(&self) -> String {
        let output = Command::new(self.home().join("venv/bin/yt-dlp"))
            .arg("--version")
            .output()
            .expect("run yt-dlp");
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    fn envs(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.home().join("envs"))
            .expect("envs")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    fn link(&self, name: &str) -> PathBuf {
        std::fs::read_link(self.home().join(name)).unwrap_or_default()
    }
}

fn ok(run: &Run) -> &str {
    assert_eq!(
        run.code,
        Some(0),
        "stdout: {}\nstderr: {}",
        run.stdout,
        run.stderr
    );
    run.stdout.trim()
}

fn failed<'a>(run: &'a Run, needle: &str) -> &'a str {
    assert_eq!(
        run.code,
        Some(1),
        "stdout: {}\nstderr: {}",
        run.stdout,
        run.stderr
    );
    assert!(run.stderr.contains(needle), "{needle:?} not in {}", run.stderr);
    &run.stderr
}

#[test]
fn update_switches_to_a_checked_new_environment_and_reports_old_and_new() {
    let home = Home::new();
    let first = home.update("2026.01.01", "");
    assert_eq!(
        ok(&first),
        "yt-dlp none → 2026.01.01 (JS runtime deno 2.9.8, yt-dlp-ejs 0.8.0)"
    );
    assert_eq!(home.current(), "2026.01.01");
    assert!(
        home.link("venv").starts_with("envs"),
        "a relative link: {:?}",
        home.link("venv")
    );
    let installed = std::fs::read_to_string(home.home().join("venv/requirements")).expect("requirements");
    assert_eq!(installed.trim(), "yt-dlp[default] deno");

    let second = home.update("2026.02.02", "");
    assert_eq!(
        ok(&second),
        "yt-dlp 2026.01.01 → 2026.02.02 (JS runtime deno 2.9.8, yt-dlp-ejs 0.8.0)"
    );
    assert_eq!(home.current(), "2026.02.02");
    let first_env = home.link("previous");
    assert!(
        home.home().join(&first_env).join("bin/yt-dlp").is_file(),
        "the previous environment is kept"
    );

    // A third switch keeps only the current and the previous environment.
    ok(&home.update("2026.03.03", ""));
    assert_eq!(home.envs().len(), 2, "{:?}", home.envs());
    assert!(!home.home().join(&first_env).exists());
}

#[test]
fn a_failed_install_or_a_yt_dlp_without_a_runtime_leaves_the_old_one_in_place() {
    let home = Home::new();
    ok(&home.update("2026.01.01", ""));
    let before = (home.link("venv"), home.envs());

    failed(
        &home.update("2026.02.02", "fail"),
        "the install failed, nothing was changed",
    );
    assert_eq!(home.current(), "2026.01.01");
    assert_eq!(
        (home.link("venv"), home.envs()),
        before,
        "no half-made environment is left"
    );

    failed(
        &home.update("2026.02.02", "nodeno"),
        "finds no JavaScript runtime, nothing was changed",
    );
    assert_eq!(home.current(), "2026.01.01");
    assert_eq!((home.link("venv"), home.envs()), before);
    assert!(
        !home.home().join("previous").exists(),
        "nothing to roll back to yet"
    );
    failed(
        &home.hermes(&["update-ytdlp", "--rollback"], "", ""),
        "no previous yt-dlp to roll back to",
    );
}

#[test]
fn rollback_switches_back_and_forth() {
    let home = Home::new();
    ok(&home.update("2026.01.01", ""));
    ok(&home.update("2026.02.02", ""));
    let rolled = home.hermes(&["update-ytdlp", "--rollback"], "", "");
    assert_eq!(
        ok(&rolled),
        "yt-dlp 2026.02.02 → 2026.01.01 (JS runtime deno 2.9.8, yt-dlp-ejs 0.8.0)"
    );
    assert_eq!(home.current(), "2026.01.01");
    let again = home.hermes(&["update-ytdlp", "--rollback"], "", "");
    assert_eq!(
        ok(&again),
        "yt-dlp 2026.01.01 → 2026.02.02 (JS runtime deno 2.9.8, yt-dlp-ejs 0.8.0)"
    );
    assert_eq!(home.current(), "2026.02.02");
    assert_eq!(home.envs().len(), 2);
}
