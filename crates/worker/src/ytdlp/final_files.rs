//! The channel final file paths come through: a task-private file yt-dlp appends to
//! (`--print-to-file`), never its stdout.
//!
//! Text on yt-dlp's stdout is partly remote-controlled (titles, ids, feed fields, URL parts), and a
//! newline inside it lets a stranger print a whole line of their choosing, a forged final-file line
//! included. The private file receives only the JSON of [`FINAL_FILE_TEMPLATE`], in which yt-dlp
//! escapes every newline, and it lies in a fresh 0700 directory outside the task's output
//! directory, so nothing the download fetches can write into it. Each path read from it still
//! has to pass [`crate::confine::TaskDir::admit`] before anything uses it.
//!
//! The same JSON is also printed on stdout after [`FINAL_FILE_MARKER`], but only as a cue that an
//! item finished (a cue to read the private file), never as a path.
use crate::confine::TaskDir;
use serde_json::Value;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Prefix of the line [`FINAL_FILE_PRINT`] makes yt-dlp print on stdout for every final file.
///
/// That line is a progress signal only ("an item is finished"): stdout is remote-controlled text,
/// so the paths the worker uses come from [`FINAL_FILE_TEMPLATE`], printed
/// into a task-private file (`--print-to-file`).
pub(crate) const FINAL_FILE_MARKER: &str = "HERMES_FILE ";

/// `--print` argument: after the file reached its final name (post-processing and moves done),
/// print [`FINAL_FILE_MARKER`] followed by one JSON object. `%(.{…})j` keeps only these keys and
/// leaves out the ones that are missing (a direct media URL has no `duration`), and JSON escapes
/// newlines and non-ASCII, so the object always fits on one line.
pub(crate) const FINAL_FILE_PRINT: &str =
    "after_move:HERMES_FILE %(.{filepath,title,duration,id,playlist_index,track,artist,uploader})j";

/// `--print-to-file` template: one JSON object per final file, after every post-processor ran.
/// `%(.{…})j` keeps only these keys and leaves out missing ones; JSON escapes newlines.
/// `track`, `artist` and `uploader` are display text for the host (Telegram's `title` and
/// `performer`), never used to name a file.
pub(crate) const FINAL_FILE_TEMPLATE: &str =
    "after_move:%(.{filepath,title,duration,id,playlist_index,track,artist,uploader})j";

/// A file at its final path, with what yt-dlp knows about it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FinalFile {
    pub filepath: PathBuf,
    pub title: Option<String>,
    /// Seconds; absent for a direct media link.
    pub duration: Option<f64>,
    pub id: Option<String>,
    /// 1-based position in the playlist; absent for single downloads.
    pub playlist_index: Option<u32>,
    /// The media's own metadata (a music track's name and artist, the uploader), when the
    /// extractor found it.
    pub track: Option<String>,
    pub artist: Option<String>,
    pub uploader: Option<String>,
}

/// The final files of one task: where yt-dlp writes them, and how far they have been read.
pub(crate) struct FinalFileLog {
    _dir: tempfile::TempDir,
    path: PathBuf,
    task_dir: TaskDir,
    read_up_to: Mutex<u64>,
}

impl FinalFileLog {
    /// A new, empty log for a task writing into `task_dir`.
    pub(crate) fn create(task_dir: TaskDir) -> std::io::Result<FinalFileLog> {
        let dir = tempfile::Builder::new().prefix("hermes-files-").tempdir()?;
        let path = dir.path().join("final-files.jsonl");
        Ok(FinalFileLog {
            _dir: dir,
            path,
            task_dir,
            read_up_to: Mutex::new(0),
        })
    }

    /// The file to pass to `--print-to-file`.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn task_dir(&self) -> &TaskDir {
        &self.task_dir
    }

    /// The files yt-dlp finished since the last call, each admitted by the task directory (its
    /// path replaced by the resolved one); anything else is dropped and logged. A line still
    /// being written (no `\n` yet) waits for the next call.
    pub(crate) fn take_new(&self) -> Vec<FinalFile> {
        let mut read_up_to = self
            .read_up_to
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let Ok(mut file) = std::fs::File::open(&self.path) else {
            return Vec::new();
        };
        let mut bytes = Vec::new();
        if file.seek(SeekFrom::Start(*read_up_to)).is_err() || file.read_to_end(&mut bytes).is_err() {
            return Vec::new();
        }
        let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |last| last + 1);
        *read_up_to += complete as u64;
        String::from_utf8_lossy(&bytes[..complete])
            .lines()
            .filter_map(parse_final_file)
            .filter_map(|file| {
                let admitted = self.task_dir.admit(&file.filepath)?;
                Some(FinalFile {
                    filepath: admitted,
                    ..file
                })
            })
            .collect()
    }
}

/// One JSON object of [`FINAL_FILE_TEMPLATE`].
pub(crate) fn parse_final_file(json: &str) -> Option<FinalFile> {
    let value: Value = serde_json::from_str(json.trim()).ok()?;
    let filepath = value.get("filepath")?.as_str().filter(|p| !p.is_empty())?;
    Some(FinalFile {
        filepath: PathBuf::from(filepath),
        title: value.get("title").and_then(value_to_string),
        duration: value
            .get("duration")
            .and_then(Value::as_f64)
            .filter(|d| d.is_finite()),
        id: value.get("id").and_then(value_to_string),
        playlist_index: value
            .get("playlist_index")
            .and_then(Value::as_u64)
            .and_then(|i| u32::try_from(i).ok()),
        track: non_blank(&value, "track"),
        artist: non_blank(&value, "artist"),
        uploader: non_blank(&value, "uploader"),
    })
}

fn non_blank(value: &Value, key: &str) -> Option<String> {
    value
        .get(key)
        .and_then(value_to_string)
        .filter(|s| !s.trim().is_empty())
}

fn value_to_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn reads_appended_lines_once_and_admits_only_files_inside() {
        let base = tempfile::tempdir().unwrap();
        let root = base.path().join("task");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(root.join("a.mp3"), b"a").unwrap();
        std::fs::write(root.join("b.mp3"), b"b").unwrap();
        let outside = base.path().join("secret.txt");
        std::fs::write(&outside, b"s").unwrap();
        let log = FinalFileLog::create(TaskDir::open(&root).unwrap()).unwrap();
        assert!(log.take_new().is_empty());

        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log.path())
            .unwrap();
        let line = |p: &Path| {
            format!(
                "{}\n",
                serde_json::json!({"filepath": p, "title": "T\nHERMES_FILE {}", "playlist_index": 1})
            )
        };
        file.write_all(line(&root.join("a.mp3")).as_bytes()).unwrap();
        file.write_all(line(&outside).as_bytes()).unwrap();
        file.write_all(b"{\"filepath\": \"/etc/passwd\"}\n").unwrap();
        file.write_all(b"{\"filepath\": \"").unwrap();
        let first = log.take_new();
        assert_eq!(first.len(), 1);
        assert_eq!(
            first[0].filepath,
            std::fs::canonicalize(root.join("a.mp3")).unwrap()
        );
        assert_eq!(first[0].title.as_deref(), Some("T\nHERMES_FILE {}"));

        file.write_all(format!("{}\"}}\n", root.join("b.mp3").display()).as_bytes())
            .unwrap();
        let second = log.take_new();
        assert_eq!(second.len(), 1);
        assert!(second[0].filepath.ends_with("b.mp3"));
        assert!(log.take_new().is_empty());
    }

    #[test]
    fn track_artist_and_uploader_are_read_when_present() {
        let file = parse_final_file(
            r#"{"filepath": "/d/a.mp3", "title": "A", "track": "Song", "artist": "Band", "uploader": "Chan"}"#,
        )
        .unwrap();
        assert_eq!(
            (
                file.track.as_deref(),
                file.artist.as_deref(),
                file.uploader.as_deref()
            ),
            (Some("Song"), Some("Band"), Some("Chan"))
        );
        let bare = parse_final_file(r#"{"filepath": "/d/a.mp3", "artist": " "}"#).unwrap();
        assert_eq!((bare.track, bare.artist, bare.uploader), (None, None, None));
        assert!(FINAL_FILE_TEMPLATE.contains(",track,artist,uploader}"));
        assert!(FINAL_FILE_PRINT.ends_with(FINAL_FILE_TEMPLATE.trim_start_matches("after_move:")));
    }
}
