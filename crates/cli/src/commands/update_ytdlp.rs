//! `hermes update-ytdlp [--rollback]`: a fresh managed yt-dlp (see `hermes_host::toolchain`);
//! no worker is started, this changes the yt-dlp that workers run.
use hermes_host::toolchain::Toolchain;

use crate::error::CliError;
use crate::ui::println_stdout;

/// Old → new versions on stdout.
pub(crate) async fn run(rollback: bool) -> Result<(), CliError> {
    let toolchain = Toolchain::from_env();
    if !rollback {
        eprintln!(
            "Installing the newest yt-dlp and Deno under {} (about a minute)…",
            toolchain.home().display()
        );
    }
    let switch = if rollback {
        toolchain.rollback().await?
    } else {
        toolchain.update().await?
    };
    println_stdout(&switch.summary());
    Ok(())
}
