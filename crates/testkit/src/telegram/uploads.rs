//! Files sent with a message: a fresh upload (checked against the size limit, given a `file_id`)
//! or one sent before, reused by its `file_id`.
use serde_json::{json, Value};

use super::call::UploadedFile;
use super::error::ApiError;
use super::local_mode::local_path;
use super::media::{image_dimensions, is_http_url, media_object, MediaKind};
use super::request::ApiRequest;
use super::state::{FakeState, StoredFile};

/// The media object a new message carries, and the kind it was stored as: a fresh upload (a part
/// named like the parameter, or the part an `attach://name` value points at), or a file sent
/// before, by `file_id`. Like Telegram, a fresh `sendAudio` of a file that is not MP3 or M4A
/// (Opus, FLAC, WAV…) arrives as a document, and its `file_id` is a document's.
pub(super) fn resolve_media(
    state: &mut FakeState,
    request: &ApiRequest,
    kind: MediaKind,
) -> Result<(Value, MediaKind), ApiError> {
    let field = kind.field();
    let stored_as = |upload: &UploadedFile| {
        let extension = upload
            .filename
            .rsplit_once('.')
            .map(|(_, ext)| ext.to_ascii_lowercase());
        match (kind, extension.as_deref()) {
            (MediaKind::Audio, Some("mp3" | "m4a")) => MediaKind::Audio,
            (MediaKind::Audio, _) => MediaKind::Document,
            _ => kind,
        }
    };
    let fresh = |state: &mut FakeState, upload: &UploadedFile| {
        let kind = stored_as(upload);
        store_upload(state, request, upload, kind).map(|object| (object, kind))
    };
    match request.params.get(field) {
        Some(Value::String(reference)) => {
            if let Some(part) = reference.strip_prefix("attach://") {
                let upload = request
                    .file(part)
                    .ok_or_else(|| ApiError::bad_request(format!("there is no {field} in the request")))?;
                fresh(state, upload)
            } else if is_http_url(reference) {
                Err(ApiError::bad_request("failed to get HTTP URL content"))
            } else if state.local_mode && local_path(reference).is_some() {
                let local = request
                    .local_file(field)
                    .ok_or_else(|| ApiError::bad_request("file not found"))?;
                fresh(state, &local.as_upload(field))
            } else {
                reuse_file(state, reference, kind).map(|object| (object, kind))
            }
        }
        None | Some(Value::Null) => {
            let upload = request
                .file(field)
                .ok_or_else(|| ApiError::bad_request(format!("there is no {field} in the request")))?;
            fresh(state, upload)
        }
        Some(_) => Err(ApiError::bad_request("wrong file identifier/HTTP URL specified")),
    }
}

fn reuse_file(state: &FakeState, file_id: &str, kind: MediaKind) -> Result<Value, ApiError> {
    let file = state
        .files
        .get(file_id)
        .ok_or_else(|| ApiError::bad_request("wrong file identifier/HTTP URL specified"))?;
    if file.kind != kind {
        return Err(ApiError::bad_request("type of file mismatch"));
    }
    Ok(file.object.clone())
}

fn store_upload(
    state: &mut FakeState,
    request: &ApiRequest,
    upload: &UploadedFile,
    kind: MediaKind,
) -> Result<Value, ApiError> {
    check_upload_size(state, upload)?;
    let thumbnail = match thumbnail_upload(request) {
        Some(thumbnail) => {
            check_upload_size(state, &thumbnail)?;
            Some(new_photo_size(state, &thumbnail.bytes))
        }
        None => None,
    };
    let (file_id, file_unique_id) = new_file_ids(state, kind);
    let mut object = match kind {
        MediaKind::Photo => {
            let (width, height) = image_dimensions(&upload.bytes);
            json!([{
                "file_id": file_id,
                "file_unique_id": file_unique_id,
                "width": width,
                "height": height,
                "file_size": upload.bytes.len(),
            }])
        }
        _ => media_object(kind, &file_id, &file_unique_id, upload, &request.params),
    };
    if let (Some(thumbnail), Some(fields)) = (thumbnail, object.as_object_mut()) {
        fields.insert("thumbnail".to_owned(), thumbnail);
    }
    let extension = upload.filename.rsplit_once('.').map_or("", |(_, ext)| ext);
    let file_path = format!(
        "{}/file_{}.{}",
        kind.storage_folder(),
        state.next_file_seq,
        extension
    );
    state.files.insert(
        file_id,
        StoredFile {
            kind,
            object: object.clone(),
            file_unique_id,
            file_size: upload.bytes.len(),
            file_path,
            bytes: upload.bytes.clone(),
        },
    );
    Ok(object)
}

fn check_upload_size(state: &FakeState, upload: &UploadedFile) -> Result<(), ApiError> {
    if upload.bytes.is_empty() {
        return Err(ApiError::bad_request("file must be non-empty"));
    }
    if u64::try_from(upload.bytes.len()).unwrap_or(u64::MAX) > state.upload_limit {
        return Err(ApiError::too_large());
    }
    Ok(())
}

/// The thumbnail sent with a file: a part (`attach://name`, or one named `thumbnail`), or in
/// local mode a file on disk.
fn thumbnail_upload(request: &ApiRequest) -> Option<UploadedFile> {
    match request.params.get("thumbnail") {
        Some(Value::String(reference)) => match reference.strip_prefix("attach://") {
            Some(part) => request.file(part).cloned(),
            None => request
                .local_file("thumbnail")
                .map(|local| local.as_upload("thumbnail")),
        },
        _ => request.file("thumbnail").cloned(),
    }
}

pub(super) fn new_file_ids(state: &mut FakeState, kind: MediaKind) -> (String, String) {
    state.next_file_seq += 1;
    let seq = state.next_file_seq;
    (format!("fake-{}-{seq}", kind.field()), format!("uniq{seq}"))
}

fn new_photo_size(state: &mut FakeState, bytes: &[u8]) -> Value {
    let (file_id, file_unique_id) = new_file_ids(state, MediaKind::Photo);
    let (width, height) = image_dimensions(bytes);
    json!({
        "file_id": file_id,
        "file_unique_id": file_unique_id,
        "width": width,
        "height": height,
        "file_size": bytes.len(),
    })
}
