//! A private copy of the cookie file for each yt-dlp run.
//!
//! yt-dlp rewrites its `--cookies` file when it exits. Tasks running at the same time would all
//! hand it `YOUTUBE_COOKIE_FILE` and overwrite each other's jar (and a crash mid-write would
//! leave it truncated), so each run gets its own copy, in a fresh 0700 directory, removed when
//! the run ends. What yt-dlp writes into the copy is dropped: the operator's file is the truth.
use std::ffi::OsString;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

/// Keeps the copy alive for one run; dropping it removes the copy and its directory.
pub(crate) struct PrivateCookies {
    _dir: tempfile::TempDir,
}

/// Points the `--cookies` option of `argv` (before the `--` that precedes the target) at a private
/// copy of the file it names. When the file cannot be copied (it was deleted meanwhile), the
/// option is dropped, as yt-dlp would refuse a missing file. `None` when there was nothing to copy.
pub(crate) fn use_private_copy(argv: &mut Vec<OsString>) -> Option<PrivateCookies> {
    let options_end = argv.iter().position(|arg| arg == "--").unwrap_or(argv.len());
    let at = argv[..options_end].iter().position(|arg| arg == "--cookies")?;
    let value = argv.get(at + 1)?.clone();
    match copy(&value) {
        Ok((copy_dir, copy_path)) => {
            argv[at + 1] = copy_path.into_os_string();
            Some(PrivateCookies { _dir: copy_dir })
        }
        Err(error) => {
            tracing::warn!(file = ?value, %error, "cannot copy the cookie file; this run goes without cookies");
            argv.drain(at..at + 2);
            None
        }
    }
}

fn copy(source: &OsString) -> std::io::Result<(tempfile::TempDir, std::path::PathBuf)> {
    let bytes = std::fs::read(source)?;
    let dir = tempfile::Builder::new().prefix("hermes-cookies-").tempdir()?;
    let path = dir.path().join("cookies.txt");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    file.write_all(&bytes)?;
    Ok((dir, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(items: &[&str]) -> Vec<OsString> {
        items.iter().map(OsString::from).collect()
    }

    #[test]
    fn the_cookie_option_points_at_a_private_copy_removed_with_the_guard() {
        let dir = tempfile::tempdir().unwrap();
        let original = dir.path().join("cookies.txt");
        std::fs::write(&original, "# Netscape HTTP Cookie File\n").unwrap();
        let mut args = argv(&[
            "--ignore-config",
            "--cookies",
            original.to_str().unwrap(),
            "--",
            "--cookies",
        ]);
        let guard = use_private_copy(&mut args).expect("copied");
        let copy = std::path::PathBuf::from(&args[2]);
        assert_ne!(copy, original);
        assert_eq!(std::fs::read(&copy).unwrap(), std::fs::read(&original).unwrap());
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(copy.metadata().unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(args[4], "--cookies", "the target is never touched");
        drop(guard);
        assert!(!copy.exists() && !copy.parent().unwrap().exists());
        assert!(original.exists());
    }

    #[test]
    fn a_vanished_cookie_file_drops_the_option_and_no_option_is_left_alone() {
        let mut args = argv(&["--cookies", "/nonexistent/cookies.txt", "--", "u"]);
        assert!(use_private_copy(&mut args).is_none());
        assert_eq!(args, argv(&["--", "u"]));
        let mut plain = argv(&["-v", "--", "--cookies"]);
        assert!(use_private_copy(&mut plain).is_none());
        assert_eq!(plain, argv(&["-v", "--", "--cookies"]));
    }
}
