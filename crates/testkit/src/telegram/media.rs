//! Kinds of media and the objects a message carries for them (`Audio`, `Video`, a `PhotoSize`
//! array, ...), with MIME types and image dimensions read from the bytes.
use serde_json::{json, Map, Value};

use super::call::UploadedFile;
use super::values::{param_i64, value_as_text};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MediaKind {
    Audio,
    Video,
    Document,
    Photo,
    Voice,
    Animation,
}

impl MediaKind {
    pub(super) fn for_method(method: &str) -> Option<MediaKind> {
        Some(match method {
            "sendAudio" => MediaKind::Audio,
            "sendVideo" => MediaKind::Video,
            "sendDocument" => MediaKind::Document,
            "sendPhoto" => MediaKind::Photo,
            "sendVoice" => MediaKind::Voice,
            "sendAnimation" => MediaKind::Animation,
            _ => return None,
        })
    }

    /// The parameter, and the `Message` field, that carries this kind of file.
    pub(super) fn field(self) -> &'static str {
        match self {
            MediaKind::Audio => "audio",
            MediaKind::Video => "video",
            MediaKind::Document => "document",
            MediaKind::Photo => "photo",
            MediaKind::Voice => "voice",
            MediaKind::Animation => "animation",
        }
    }

    /// The folder Telegram puts this kind under in `getFile` paths.
    pub(super) fn storage_folder(self) -> &'static str {
        match self {
            MediaKind::Audio => "music",
            MediaKind::Video => "videos",
            MediaKind::Document => "documents",
            MediaKind::Photo => "photos",
            MediaKind::Voice => "voice",
            MediaKind::Animation => "animations",
        }
    }
}

pub(super) fn is_http_url(text: &str) -> bool {
    let lower = text.trim_start().to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// The `Audio`/`Video`/`Document`/`Voice`/`Animation` object for an upload. Telegram reads
/// duration, size and tags from the file; the fake takes what the bot declared in the request.
pub(super) fn media_object(
    kind: MediaKind,
    file_id: &str,
    file_unique_id: &str,
    upload: &UploadedFile,
    params: &Map<String, Value>,
) -> Value {
    let mut object = json!({
        "file_id": file_id,
        "file_unique_id": file_unique_id,
        "file_size": upload.bytes.len(),
        "mime_type": mime_type_for(&upload.filename),
    });
    if kind != MediaKind::Voice {
        object["file_name"] = json!(upload.filename);
    }
    let declared = |name: &str| param_i64(params, name).unwrap_or(0).max(0);
    if matches!(
        kind,
        MediaKind::Audio | MediaKind::Video | MediaKind::Voice | MediaKind::Animation
    ) {
        object["duration"] = json!(declared("duration"));
    }
    if matches!(kind, MediaKind::Video | MediaKind::Animation) {
        object["width"] = json!(declared("width"));
        object["height"] = json!(declared("height"));
    }
    if kind == MediaKind::Audio {
        for tag in ["performer", "title"] {
            if let Some(value) = params.get(tag).filter(|value| !value.is_null()) {
                object[tag] = Value::String(value_as_text(value));
            }
        }
    }
    object
}

fn mime_type_for(filename: &str) -> &'static str {
    let extension = filename.rsplit_once('.').map(|(_, ext)| ext.to_ascii_lowercase());
    match extension.as_deref() {
        Some("mp3") => "audio/mpeg",
        Some("m4a") => "audio/mp4",
        Some("ogg" | "opus" | "oga") => "audio/ogg",
        Some("flac") => "audio/flac",
        Some("wav") => "audio/x-wav",
        Some("mp4") => "video/mp4",
        Some("webm") => "video/webm",
        Some("mkv") => "video/x-matroska",
        Some("zip") => "application/zip",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("png") => "image/png",
        Some("txt") => "text/plain",
        _ => "application/octet-stream",
    }
}

/// Width and height from a PNG or JPEG header; (0, 0) for anything else.
pub(super) fn image_dimensions(bytes: &[u8]) -> (u32, u32) {
    png_dimensions(bytes)
        .or_else(|| jpeg_dimensions(bytes))
        .unwrap_or((0, 0))
}

fn png_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    if !bytes.starts_with(b"\x89PNG\r\n\x1a\n") || bytes.get(12..16)? != b"IHDR" {
        return None;
    }
    Some((be_u32(bytes.get(16..20)?)?, be_u32(bytes.get(20..24)?)?))
}

/// Walks the JPEG segments to the first start-of-frame marker, which holds the dimensions.
fn jpeg_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut index = 2;
    loop {
        if *bytes.get(index)? != 0xFF {
            return None;
        }
        let marker = *bytes.get(index + 1)?;
        match marker {
            0xFF => index += 1,
            0x01 | 0xD0..=0xD9 => index += 2,
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                let height = be_u16(bytes.get(index + 5..index + 7)?)?;
                let width = be_u16(bytes.get(index + 7..index + 9)?)?;
                return Some((u32::from(width), u32::from(height)));
            }
            _ => index += 2 + usize::from(be_u16(bytes.get(index + 2..index + 4)?)?),
        }
    }
}

fn be_u16(bytes: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes(bytes.try_into().ok()?))
}

fn be_u32(bytes: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_dimensions_read_png_and_jpeg_headers() {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        png.extend_from_slice(&[0, 0, 1, 0x40, 0, 0, 0, 0xF0]);
        assert_eq!(image_dimensions(&png), (320, 240));
        let jpeg = [
            0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 0, 0, 0xFF, 0xC0, 0, 11, 8, 0, 90, 0, 160, 3,
        ];
        assert_eq!(image_dimensions(&jpeg), (160, 90));
        assert_eq!(image_dimensions(b"GIF89a"), (0, 0));
        assert_eq!(image_dimensions(&[0xFF, 0xD8, 0xFF, 0xE0, 0xFF]), (0, 0));
    }
}
