//! What this worker's configuration adds to every yt-dlp call (ffmpeg, cookies, JavaScript
//! runtimes, extractor arguments, plugins), resolved once per call so a task keeps the tools it
//! started with.
use super::args::YtdlpEnv;
use crate::config::Config;
use crate::program::resolve_program;
use crate::toolchain::pin_directory;

/// The yt-dlp environment of this worker: ffmpeg location, cookies (only when the file exists), JS runtimes and pass-through options.
pub fn ytdlp_env(config: &Config) -> YtdlpEnv {
    YtdlpEnv {
        ffmpeg_location: resolve_program(&config.ffmpeg_bin),
        cookie_file: config.existing_cookie_file(),
        ..toolchain_env(config)
    }
}

/// What the toolchain configuration adds to every yt-dlp call: the JavaScript runtimes
/// (`DENO_BIN`, `NODE_BIN`), `YTDLP_EXTRACTOR_ARGS` and `YTDLP_PLUGIN_DIRS`.
///
/// Deno is passed only when it can be found; its directories are resolved now, so a task keeps
/// the Deno it started with even if `hermes update-ytdlp` switches the environment meanwhile.
pub(crate) fn toolchain_env(config: &Config) -> YtdlpEnv {
    YtdlpEnv {
        deno: resolve_program(&config.deno_bin).map(|path| pin_directory(&path)),
        node: config
            .node_bin
            .as_ref()
            .map(|node| resolve_program(node).unwrap_or_else(|| node.clone())),
        extractor_args: config.ytdlp_extractor_args.clone(),
        plugin_dirs: config.ytdlp_plugin_dirs.clone(),
        ..YtdlpEnv::default()
    }
}
