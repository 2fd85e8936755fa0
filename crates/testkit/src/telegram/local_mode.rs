//! Local mode: the fake answers like a local Bot API server started with `--local`, where a file
//! parameter may name a file on the server's own disk (an absolute path or a `file://` URI)
//! instead of being uploaded, and files up to 2000 MB are accepted.
use std::path::PathBuf;

use serde_json::Value;

use super::call::{LocalFile, UploadedFile};
use super::request::ApiRequest;
use crate::percent::percent_decode;

/// Parameters that carry a file.
const FILE_PARAMS: [&str; 8] = [
    "audio",
    "video",
    "document",
    "photo",
    "voice",
    "animation",
    "video_note",
    "thumbnail",
];

/// The path a parameter names on the server's disk: `file:///a/b` (percent-decoded) or `/a/b`.
pub(super) fn local_path(reference: &str) -> Option<PathBuf> {
    let path = match reference.strip_prefix("file://") {
        Some(rest) => percent_decode(rest)?,
        None => reference.to_owned(),
    };
    path.starts_with('/').then(|| PathBuf::from(path))
}

impl LocalFile {
    /// The file as if it had been uploaded in the request's `field`, named like on disk.
    pub(super) fn as_upload(&self, field: &str) -> UploadedFile {
        UploadedFile {
            field: field.to_owned(),
            filename: self
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            content_type: None,
            bytes: self.bytes.clone(),
        }
    }
}

/// Reads every file a call names by local path into [`ApiRequest::local_files`], before the
/// method runs (an unreadable one is left out, and the method refuses it).
pub(super) fn read_local_files(request: &mut ApiRequest) {
    for field in FILE_PARAMS {
        let Some(Value::String(reference)) = request.params.get(field) else {
            continue;
        };
        let Some(path) = local_path(reference) else {
            continue;
        };
        if let Ok(bytes) = std::fs::read(&path) {
            request.local_files.push(LocalFile {
                field: field.to_owned(),
                path,
                bytes,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_file_uris_are_local_and_file_ids_are_not() {
        assert_eq!(local_path("/srv/a b.mp3"), Some(PathBuf::from("/srv/a b.mp3")));
        assert_eq!(
            local_path("file:///srv/a%20b.mp3"),
            Some(PathBuf::from("/srv/a b.mp3"))
        );
        assert_eq!(local_path("fake-audio-3"), None);
        assert_eq!(local_path("attach://file0"), None);
    }
}
