//! The directory a command downloads into (`--out`): which commands have one, and creating it
//! in the resolved form the worker compares against.
use std::path::{Path, PathBuf};

use crate::args::Command;
use crate::error::CliError;

/// The directory a command downloads into, if it downloads.
pub(crate) fn requested_output_dir(command: &Command) -> Option<&Path> {
    match command {
        Command::Download(args) => Some(&args.out.out),
        Command::Playlist(args) => Some(&args.out.out),
        Command::Search(args) if args.pick.is_some() => Some(&args.out.out),
        _ => None,
    }
}

/// Creates the output directory and returns its canonical path: the worker compares paths after
/// resolving symbolic links, so it must receive the resolved one.
pub(crate) fn prepare_output_dir(dir: &Path) -> Result<PathBuf, CliError> {
    std::fs::create_dir_all(dir).map_err(CliError::io(format!("cannot create {}", dir.display())))?;
    let canonical =
        std::fs::canonicalize(dir).map_err(CliError::io(format!("cannot resolve {}", dir.display())))?;
    if canonical.to_str().is_none() {
        return Err(CliError::Usage(format!(
            "--out {} is not valid UTF-8",
            canonical.display()
        )));
    }
    Ok(canonical)
}

pub(crate) fn required(out_dir: Option<&Path>) -> Result<&Path, CliError> {
    out_dir.ok_or_else(|| CliError::Usage("this command needs an output directory (--out)".into()))
}

/// The directory as the request's `output_dir` ([`prepare_output_dir`] made sure it is UTF-8).
pub(crate) fn path_text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}
