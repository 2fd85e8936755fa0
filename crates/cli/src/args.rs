//! Command line of `hermes` (clap derive). Usage errors exit with clap's code 2.
use clap::{Args, Parser, Subcommand, ValueEnum};
use hermes_protocol::AudioFormat;
use std::path::PathBuf;

/// Download media with yt-dlp and ffmpeg through the Hermes worker.
#[derive(Debug, Parser)]
#[command(name = "hermes", version, propagate_version = true)]
pub(crate) struct Cli {
    /// Print the worker's raw event stream as NDJSON on stdout (for scripts) instead of text.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Download one video, or its audio with --audio.
    Download(DownloadArgs),
    /// Download a playlist into ZIP archive(s) (audio unless --video).
    Playlist(PlaylistArgs),
    /// Search YouTube and print a numbered table; --pick K downloads result K as audio.
    Search(SearchArgs),
    /// Show title, duration, channel and more for a URL.
    Info { url: String },
    /// List the formats offered for a URL (video tiers, or audio with --audio).
    Formats {
        url: String,
        #[arg(long)]
        audio: bool,
    },
    /// Check the worker and print its version and the yt-dlp / ffmpeg versions.
    Health,
    /// Inspect or clean the worker's search and metadata cache.
    Cache {
        #[command(subcommand)]
        action: CacheAction,
    },
    /// Install the newest yt-dlp (with its JS runtime) into a new managed environment and switch
    /// to it; --rollback switches back to the previous one. (HERMES_HOME, default ./.hermes)
    #[command(name = "update-ytdlp")]
    UpdateYtdlp {
        #[arg(long)]
        rollback: bool,
    },
}

#[derive(Debug, Args)]
pub(crate) struct DownloadArgs {
    pub(crate) url: String,
    /// Extract the audio (default format mp3). Put it after the URL when giving no format.
    #[arg(long, value_name = "FORMAT", num_args = 0..=1, default_missing_value = "mp3")]
    pub(crate) audio: Option<AudioChoice>,
    /// A yt-dlp format selector, e.g. "bestvideo[height<=720]+bestaudio" or an id from `formats`.
    #[arg(long, value_name = "SEL")]
    pub(crate) format: Option<String>,
    #[command(flatten)]
    pub(crate) out: OutArgs,
}

#[derive(Debug, Args)]
pub(crate) struct PlaylistArgs {
    pub(crate) url: String,
    /// Download only the first N items.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) limit: Option<u32>,
    /// Keep the videos instead of extracting audio.
    #[arg(long)]
    pub(crate) video: bool,
    /// Split the ZIP into parts of at most N MB.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) zip_mb: Option<u64>,
    #[command(flatten)]
    pub(crate) out: OutArgs,
}

#[derive(Debug, Args)]
pub(crate) struct SearchArgs {
    pub(crate) query: String,
    /// Number of results (1-20).
    #[arg(short = 'n', long = "limit", value_name = "N", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..=20))]
    pub(crate) count: u32,
    /// Download result K (1-based) as mp3.
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) pick: Option<u32>,
    #[command(flatten)]
    pub(crate) out: OutArgs,
}

#[derive(Debug, Args)]
pub(crate) struct OutArgs {
    /// Directory for the downloaded files.
    #[arg(long, value_name = "DIR", default_value = "./downloads")]
    pub(crate) out: PathBuf,
}

#[derive(Debug, Subcommand)]
pub(crate) enum CacheAction {
    /// Entry counts, hit/miss counters and TTL.
    Stats,
    /// Remove expired entries.
    Cleanup,
}

/// The audio formats offered on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum AudioChoice {
    Mp3,
    M4a,
    Opus,
    Flac,
}

impl From<AudioChoice> for AudioFormat {
    fn from(choice: AudioChoice) -> Self {
        match choice {
            AudioChoice::Mp3 => AudioFormat::Mp3,
            AudioChoice::M4a => AudioFormat::M4a,
            AudioChoice::Opus => AudioFormat::Opus,
            AudioChoice::Flac => AudioFormat::Flac,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("hermes").chain(args.iter().copied()))
    }

    #[test]
    fn audio_flag_takes_an_optional_format() {
        let Command::Download(bare) = parse(&["download", "http://x", "--audio"]).expect("ok").command else {
            panic!("download")
        };
        assert_eq!(bare.audio, Some(AudioChoice::Mp3));
        let Command::Download(flac) = parse(&["download", "http://x", "--audio", "flac"])
            .expect("ok")
            .command
        else {
            panic!("download")
        };
        assert_eq!(flac.audio, Some(AudioChoice::Flac));
        let Command::Download(video) = parse(&["download", "http://x"]).expect("ok").command else {
            panic!("download")
        };
        assert_eq!(video.audio, None);
        assert_eq!(video.out.out, PathBuf::from("./downloads"));
    }

    #[test]
    fn usage_errors_use_exit_code_two() {
        for args in [
            &["download"][..],
            &["search", "q", "-n", "0"],
            &["download", "u", "--audio", "wav"],
            &["nope"],
        ] {
            let error = parse(args).expect_err("usage error");
            assert_eq!(error.exit_code(), 2, "{args:?}");
        }
    }

    #[test]
    fn update_ytdlp_takes_rollback() {
        assert!(matches!(
            parse(&["update-ytdlp"]).expect("ok").command,
            Command::UpdateYtdlp { rollback: false }
        ));
        assert!(matches!(
            parse(&["update-ytdlp", "--rollback"]).expect("ok").command,
            Command::UpdateYtdlp { rollback: true }
        ));
    }

    #[test]
    fn json_is_global() {
        let cli = parse(&["health", "--json"]).expect("ok");
        assert!(cli.json);
        assert!(matches!(cli.command, Command::Health));
    }
}
