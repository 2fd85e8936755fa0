//! Name and path safety for everything the worker writes to disk.
//!
//! Two kinds of untrusted input reach the file system here: playlist titles (chosen by whoever
//! uploaded the playlist) become ZIP file names, and `output_dir` (sent by the host) becomes the
//! directory yt-dlp writes into. Both must stay harmless: a title must be one portable file name,
//! and an output directory must stay inside `DOWNLOAD_DIR` unless the operator opted out.

use std::io;
use std::path::{Component, Path, PathBuf};

/// Name used when a title sanitises to nothing (all dots, slashes, control characters...).
pub(crate) const FALLBACK_PLAYLIST_NAME: &str = "playlist";

/// Byte budget for a sanitised name. File names are limited to 255 *bytes* on Linux file systems,
/// and the archiver appends up to `.part9999.zip`; 200 leaves room for that even when every
/// character of the title takes four bytes (CJK, emoji).
pub(crate) const MAX_NAME_BYTES: usize = 200;

/// Characters Windows refuses in file names. Users save the ZIP Telegram sends them on any OS,
/// so these are replaced even though Linux would accept them.
const WINDOWS_RESERVED: &[char] = &['<', '>', ':', '"', '|', '?', '*'];

/// Turns an arbitrary playlist title into a single safe file-name stem.
///
/// The result contains no `/`, `\`, NUL, control or bidirectional-override characters, no `..`,
/// no leading or trailing dots or spaces, and no runs of whitespace. It has at most `max_chars`
/// characters and at most [`MAX_NAME_BYTES`] bytes, cut on a character boundary (never inside a
/// UTF-8 sequence). A title that sanitises to nothing becomes [`FALLBACK_PLAYLIST_NAME`].
pub(crate) fn sanitize_playlist_name(title: &str, max_chars: usize) -> String {
    let replaced = replace_unsafe_chars(title);
    let collapsed = collapse_whitespace(&replaced);
    let without_dot_runs = collapse_dot_runs(&collapsed);
    let trimmed = trim_dots_and_spaces(&without_dot_runs);
    let cut = cut_to_limits(trimmed, max_chars, MAX_NAME_BYTES);
    let finished = trim_dots_and_spaces(trim_dangling_joiners(cut));
    if finished.is_empty() {
        FALLBACK_PLAYLIST_NAME.to_string()
    } else {
        finished.to_string()
    }
}

/// Separators become `_` so `AC/DC` stays readable as `AC_DC`; invisible characters that could
/// disguise the name (controls, bidi overrides, zero-width spaces) become spaces or vanish.
fn replace_unsafe_chars(title: &str) -> String {
    title
        .chars()
        .filter(|c| !is_invisible_format_char(*c))
        .map(|c| match c {
            '/' | '\\' => '_',
            c if WINDOWS_RESERVED.contains(&c) => '_',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect()
}

/// Bidirectional controls can make `evil\u{202E}piz.exe` display as `evilexe.zip`; zero-width
/// spaces and the BOM make two names look identical. The zero-width *joiner* is kept because
/// multi-codepoint emoji (👨‍👩‍👧) need it.
fn is_invisible_format_char(c: char) -> bool {
    matches!(
        c,
        '\u{061C}'
            | '\u{200B}'
            | '\u{200C}'
            | '\u{200E}'
            | '\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
    )
}

fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Any run of two or more dots becomes a single dot, so no `..` can survive in any position.
fn collapse_dot_runs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '.' && out.ends_with('.') {
            continue;
        }
        out.push(c);
    }
    out
}

/// Leading dots hide files on Unix; trailing dots and spaces are silently dropped by Windows.
fn trim_dots_and_spaces(text: &str) -> &str {
    text.trim_matches(|c| c == '.' || c == ' ')
}

/// A cut can split a ZWJ emoji sequence; a joiner left at the end would glue onto `.zip`.
fn trim_dangling_joiners(text: &str) -> &str {
    text.trim_end_matches('\u{200D}')
}

/// The longest prefix with at most `max_chars` characters and at most `max_bytes` bytes.
fn cut_to_limits(text: &str, max_chars: usize, max_bytes: usize) -> &str {
    let mut end = 0;
    for (count, (index, c)) in text.char_indices().enumerate() {
        if count >= max_chars || index + c.len_utf8() > max_bytes {
            break;
        }
        end = index + c.len_utf8();
    }
    &text[..end]
}

/// Why an `output_dir` (or the task id used to build the default one) was refused.
#[derive(Debug, thiserror::Error)]
pub enum PathError {
    #[error("output_dir contains a NUL byte")]
    ContainsNul,
    #[error("task_id {0:?} cannot be used as a directory name")]
    InvalidTaskId(String),
    #[error("output_dir {requested} is outside the download directory {download_dir}")]
    OutsideDownloadDir {
        requested: PathBuf,
        download_dir: PathBuf,
    },
    #[error("output_dir {0} is the download directory itself; use a subdirectory")]
    IsDownloadDir(PathBuf),
    #[error(
        "output_dir {requested} leads through a symbolic link to {resolved}, outside the download directory"
    )]
    SymlinkEscape { requested: PathBuf, resolved: PathBuf },
    #[error("{0} is a symbolic link to nothing; it is never followed into creating a file")]
    DanglingSymlink(PathBuf),
    #[error("cannot determine the current directory: {0}")]
    CurrentDir(#[source] io::Error),
    #[error("cannot inspect {path}: {source}")]
    Inspect {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Decides where a task writes its files, as an absolute path.
///
/// `requested` is the host's `output_dir`; absent (or blank) means `download_dir/<task_id>`.
/// Relative paths are taken relative to the current directory, as the Python worker did, so a
/// host sending `./downloads/123/abc` with `DOWNLOAD_DIR=./downloads` keeps working. Unless
/// `allow_any` is set, the result must be strictly inside `download_dir`, checked twice: on the
/// lexically normalised paths (catches `..`) and on the paths with symbolic links resolved as far
/// as they exist (catches a link inside `download_dir` that points elsewhere).
pub(crate) fn resolve_output_dir(
    download_dir: &Path,
    requested: Option<&str>,
    task_id: &str,
    allow_any: bool,
) -> Result<PathBuf, PathError> {
    let cwd = std::env::current_dir().map_err(PathError::CurrentDir)?;
    let download_abs = normalize_lexically(&cwd.join(download_dir));
    let target = match requested.filter(|r| !r.trim().is_empty()) {
        Some(requested) => {
            if requested.contains('\0') {
                return Err(PathError::ContainsNul);
            }
            normalize_lexically(&cwd.join(requested))
        }
        None => download_abs.join(safe_task_component(task_id)?),
    };
    refuse_dangling_links(&target)?;
    if !allow_any {
        ensure_inside(&target, &download_abs)?;
    }
    Ok(target)
}

/// A dangling symbolic link anywhere on `path` would make a later `create_dir_all` or yt-dlp's
/// open create its target, wherever that is: refused, whatever `ALLOW_ANY_OUTPUT_DIR` says.
fn refuse_dangling_links(path: &Path) -> Result<(), PathError> {
    for prefix in path.ancestors() {
        let is_link = std::fs::symlink_metadata(prefix).is_ok_and(|meta| meta.file_type().is_symlink());
        if is_link && std::fs::metadata(prefix).is_err() {
            return Err(PathError::DanglingSymlink(prefix.to_path_buf()));
        }
    }
    Ok(())
}

/// The task id becomes one directory name, so it must be exactly one ordinary path component.
fn safe_task_component(task_id: &str) -> Result<&str, PathError> {
    let invalid = task_id.is_empty()
        || task_id == "."
        || task_id == ".."
        || task_id.len() > 255
        || task_id.chars().any(|c| c == '/' || c == '\\' || c.is_control());
    if invalid {
        Err(PathError::InvalidTaskId(task_id.to_string()))
    } else {
        Ok(task_id)
    }
}

fn ensure_inside(target: &Path, download_dir: &Path) -> Result<(), PathError> {
    if target == download_dir {
        return Err(PathError::IsDownloadDir(target.to_path_buf()));
    }
    if !target.starts_with(download_dir) {
        return Err(PathError::OutsideDownloadDir {
            requested: target.to_path_buf(),
            download_dir: download_dir.to_path_buf(),
        });
    }
    let resolved_root = resolve_existing_prefix(download_dir)?;
    let resolved_target = resolve_existing_prefix(target)?;
    if resolved_target == resolved_root || !resolved_target.starts_with(&resolved_root) {
        return Err(PathError::SymlinkEscape {
            requested: target.to_path_buf(),
            resolved: resolved_target,
        });
    }
    Ok(())
}

/// Resolves `.` and `..` without touching the file system. `..` at the root stays at the root,
/// which is what the kernel does too.
pub(crate) fn normalize_lexically(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Canonicalises the longest prefix of `path` that exists and appends the rest unchanged. The
/// missing tail cannot contain symbolic links (it does not exist yet), so this is where the
/// kernel would really put the directory once it is created.
fn resolve_existing_prefix(path: &Path) -> Result<PathBuf, PathError> {
    let mut missing_tail: Vec<&std::ffi::OsStr> = Vec::new();
    let mut prefix = path;
    loop {
        match std::fs::canonicalize(prefix) {
            Ok(resolved) => {
                return Ok(missing_tail
                    .iter()
                    .rev()
                    .fold(resolved, |acc, part| acc.join(part)))
            }
            Err(err) if is_missing(&err) => match (prefix.parent(), prefix.file_name()) {
                (Some(parent), Some(name)) => {
                    missing_tail.push(name);
                    prefix = parent;
                }
                _ => return Err(inspect_error(path, err)),
            },
            Err(err) => return Err(inspect_error(path, err)),
        }
    }
}

fn is_missing(err: &io::Error) -> bool {
    matches!(err.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory)
}

fn inspect_error(path: &Path, source: io::Error) -> PathError {
    PathError::Inspect {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_safe_name(name: &str, max_chars: usize) {
        assert!(!name.is_empty());
        assert!(!name.contains('/') && !name.contains('\\') && !name.contains('\0'));
        assert!(!name.contains(".."), "{name:?} contains ..");
        assert!(!name.chars().any(char::is_control), "{name:?} has a control char");
        assert!(
            !name.starts_with(['.', ' ']) && !name.ends_with(['.', ' ']),
            "{name:?}"
        );
        assert!(!name.contains("  "), "{name:?} has a whitespace run");
        assert!(name.chars().count() <= max_chars.max(FALLBACK_PLAYLIST_NAME.len()));
        assert!(name.len() <= MAX_NAME_BYTES, "{} bytes", name.len());
        assert!(format!("{name}.part99.zip").len() < 255);
    }

    #[test]
    fn traversal_titles_lose_their_separators_and_dots() {
        for (title, expected) in [
            ("../../etc", "_._etc"),
            ("a/b", "a_b"),
            ("a\\b", "a_b"),
            ("..", FALLBACK_PLAYLIST_NAME),
            (".", FALLBACK_PLAYLIST_NAME),
            ("...hidden", "hidden"),
            ("Best of... 2020", "Best of. 2020"),
        ] {
            let name = sanitize_playlist_name(title, 100);
            assert_eq!(name, expected, "title {title:?}");
            assert_safe_name(&name, 100);
        }
    }

    #[test]
    fn nul_and_control_characters_never_survive() {
        assert_eq!(sanitize_playlist_name("\0", 100), FALLBACK_PLAYLIST_NAME);
        assert_eq!(sanitize_playlist_name("a\0b", 100), "a b");
        assert_eq!(
            sanitize_playlist_name("line\nbreak\ttab\r", 100),
            "line break tab"
        );
        assert_eq!(
            sanitize_playlist_name("bell\u{7}\u{1b}[31mred", 100),
            "bell [31mred"
        );
    }

    #[test]
    fn whitespace_is_collapsed_and_trimmed() {
        assert_eq!(sanitize_playlist_name("  My   \u{3000}Mix \n ", 100), "My Mix");
        assert_eq!(sanitize_playlist_name(" . . ", 100), FALLBACK_PLAYLIST_NAME);
    }

    #[test]
    fn bidi_overrides_cannot_disguise_the_extension() {
        let name = sanitize_playlist_name("evil\u{202E}piz.exe\u{2066}x\u{200F}", 100);
        assert_eq!(name, "evilpiz.exex");
    }

    #[test]
    fn windows_reserved_characters_are_replaced() {
        assert_eq!(
            sanitize_playlist_name("What? <Live>: \"A|B*\"", 100),
            "What_ _Live__ _A_B__"
        );
    }

    #[test]
    fn long_ascii_titles_are_cut_to_max_chars() {
        let name = sanitize_playlist_name(&"x".repeat(500), 100);
        assert_eq!(name, "x".repeat(100));
        let name = sanitize_playlist_name(&"y".repeat(500), 1000);
        assert_eq!(name.len(), MAX_NAME_BYTES);
        assert_safe_name(&name, 1000);
    }

    #[test]
    fn cjk_titles_respect_the_byte_budget() {
        let title = "音".repeat(300);
        let name = sanitize_playlist_name(&title, 100);
        assert_eq!(name.chars().count(), 66, "66 × 3 bytes = 198 ≤ 200");
        assert_safe_name(&name, 100);
        let name = sanitize_playlist_name(&title, 10);
        assert_eq!(name, "音".repeat(10));
    }

    #[test]
    fn emoji_are_cut_on_char_boundaries_without_dangling_joiners() {
        let family = "👨\u{200D}👩\u{200D}👧";
        let title = format!("{family} {}", "🎵".repeat(100));
        for max_chars in 0..=120 {
            let name = sanitize_playlist_name(&title, max_chars);
            assert_safe_name(&name, max_chars);
            assert!(!name.ends_with('\u{200D}'), "{max_chars}: {name:?}");
        }
        assert_eq!(sanitize_playlist_name(&title, 2), "👨");
        assert_eq!(sanitize_playlist_name(&title, 5), family);
        let name = sanitize_playlist_name(&"🎵".repeat(300), 100);
        assert_eq!(name.chars().count(), 50, "50 × 4 bytes = 200");
    }

    #[test]
    fn empty_input_falls_back() {
        assert_eq!(sanitize_playlist_name("", 100), FALLBACK_PLAYLIST_NAME);
        assert_eq!(sanitize_playlist_name("///", 100), "___");
        assert_eq!(
            sanitize_playlist_name("\u{202E}\u{200B}", 100),
            FALLBACK_PLAYLIST_NAME
        );
    }

    #[test]
    fn lexical_normalisation_resolves_dots() {
        assert_eq!(normalize_lexically(Path::new("/a/./b/../c")), Path::new("/a/c"));
        assert_eq!(normalize_lexically(Path::new("/../../x")), Path::new("/x"));
    }

    /// A download directory under a fresh temp dir, plus a sibling directory outside it.
    fn download_layout() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let root = tempfile::tempdir().expect("temp dir");
        let downloads = root.path().join("downloads");
        let outside = root.path().join("elsewhere");
        std::fs::create_dir_all(&downloads).expect("create downloads");
        std::fs::create_dir_all(&outside).expect("create elsewhere");
        (root, downloads, outside)
    }

    /// `target` written relative to the current directory, the way the host sends it.
    fn relative_to_cwd(target: &Path) -> PathBuf {
        let cwd = std::env::current_dir().expect("cwd");
        let ups = cwd.components().count() - 1;
        let mut relative = PathBuf::from(".");
        for _ in 0..ups {
            relative.push("..");
        }
        relative.join(target.strip_prefix("/").expect("absolute"))
    }

    fn text(path: &Path) -> &str {
        path.to_str().expect("utf-8 temp path")
    }

    #[test]
    fn absent_output_dir_defaults_to_the_task_directory() {
        let (_root, downloads, _) = download_layout();
        let resolved = resolve_output_dir(&downloads, None, "task-1", false).expect("ok");
        assert_eq!(resolved, downloads.join("task-1"));
        let blank = resolve_output_dir(&downloads, Some("  "), "task-1", false).expect("ok");
        assert_eq!(blank, downloads.join("task-1"));
    }

    #[test]
    fn task_id_with_a_slash_is_refused() {
        let (_root, downloads, _) = download_layout();
        for bad in ["a/b", "../x", "..", ""] {
            let err = resolve_output_dir(&downloads, None, bad, false).expect_err(bad);
            assert!(matches!(err, PathError::InvalidTaskId(_)), "{bad}: {err}");
        }
    }

    #[test]
    fn paths_inside_the_download_dir_are_accepted_absolute_and_relative() {
        let (_root, downloads, _) = download_layout();
        let inside = downloads.join("123").join("abc");
        let absolute = resolve_output_dir(&downloads, Some(text(&inside)), "t", false);
        assert_eq!(absolute.expect("absolute inside"), inside);

        let relative = relative_to_cwd(&inside);
        assert!(relative.is_relative());
        let resolved = resolve_output_dir(&downloads, Some(text(&relative)), "t", false);
        assert_eq!(resolved.expect("relative inside"), inside);

        let wandering = format!("{}/x/../123/./abc", text(&downloads));
        let resolved = resolve_output_dir(&downloads, Some(&wandering), "t", false);
        assert_eq!(resolved.expect("dots that stay inside"), inside);
    }

    #[test]
    fn relative_download_dir_is_taken_from_the_current_directory() {
        let (_root, downloads, _) = download_layout();
        let relative_downloads = relative_to_cwd(&downloads);
        let requested = relative_downloads.join("123/abc");
        let resolved = resolve_output_dir(&relative_downloads, Some(text(&requested)), "t", false);
        assert_eq!(resolved.expect("inside"), downloads.join("123/abc"));
    }

    #[test]
    fn dot_dot_escapes_are_refused() {
        let (_root, downloads, _) = download_layout();
        let escape = format!("{}/123/../../elsewhere", text(&downloads));
        let err = resolve_output_dir(&downloads, Some(&escape), "t", false).expect_err("escape");
        assert!(matches!(err, PathError::OutsideDownloadDir { .. }), "{err}");
        let to_root = format!("{}/..", text(&downloads));
        assert!(resolve_output_dir(&downloads, Some(&to_root), "t", false).is_err());
        let itself = format!("{}/a/..", text(&downloads));
        let err = resolve_output_dir(&downloads, Some(&itself), "t", false).expect_err("self");
        assert!(matches!(err, PathError::IsDownloadDir(_)), "{err}");
    }

    #[test]
    fn absolute_paths_outside_are_refused_unless_allowed() {
        let (_root, downloads, outside) = download_layout();
        let err = resolve_output_dir(&downloads, Some(text(&outside)), "t", false).expect_err("outside");
        assert!(
            err.to_string().contains("outside the download directory"),
            "{err}"
        );
        let allowed = resolve_output_dir(&downloads, Some(text(&outside)), "t", true);
        assert_eq!(allowed.expect("allow_any"), outside);
        let prefix_trick = format!("{}-evil/x", text(&downloads));
        assert!(resolve_output_dir(&downloads, Some(&prefix_trick), "t", false).is_err());
    }

    #[test]
    fn symlink_inside_pointing_outside_is_refused() {
        let (_root, downloads, outside) = download_layout();
        let link = downloads.join("link");
        std::os::unix::fs::symlink(&outside, &link).expect("symlink");
        for requested in [link.clone(), link.join("sub/dir")] {
            let err = resolve_output_dir(&downloads, Some(text(&requested)), "t", false)
                .expect_err("symlink escape");
            assert!(matches!(err, PathError::SymlinkEscape { .. }), "{err}");
        }
        assert!(resolve_output_dir(&downloads, Some(text(&link)), "t", true).is_ok());
    }

    #[test]
    fn symlink_to_a_place_inside_and_a_symlinked_download_dir_are_fine() {
        let (root, downloads, _) = download_layout();
        std::fs::create_dir_all(downloads.join("real")).expect("mkdir");
        std::os::unix::fs::symlink(downloads.join("real"), downloads.join("alias")).expect("symlink");
        let via_alias = downloads.join("alias/job");
        let resolved = resolve_output_dir(&downloads, Some(text(&via_alias)), "t", false);
        assert_eq!(resolved.expect("alias stays inside"), via_alias);

        let linked_downloads = root.path().join("dl-link");
        std::os::unix::fs::symlink(&downloads, &linked_downloads).expect("symlink");
        let job = linked_downloads.join("job");
        let resolved = resolve_output_dir(&linked_downloads, Some(text(&job)), "t", false);
        assert_eq!(resolved.expect("download dir behind a link"), job);
    }

    #[test]
    fn nul_bytes_are_refused() {
        let (_root, downloads, _) = download_layout();
        let err = resolve_output_dir(&downloads, Some("a\0b"), "t", false).expect_err("nul");
        assert!(matches!(err, PathError::ContainsNul));
    }

    #[test]
    fn task_ids_must_be_single_components() {
        for bad in ["", ".", "..", "a/b", "a\\b", "a\nb", &"x".repeat(256)] {
            assert!(safe_task_component(bad).is_err(), "{bad:?}");
        }
        assert!(safe_task_component("c4a1f2e8-0b1d").is_ok());
    }
}
