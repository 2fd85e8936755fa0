//! Packs a finished playlist into one or more ZIP parts that each fit under a size limit.
//!
//! Telegram refuses uploads over a fixed size, so the limit is a hard promise: **no part on disk
//! is larger than `max_part_bytes`** unless it holds a single track that alone is larger. The
//! promise is kept by planning with the exact byte layout the `zip` crate writes (local headers,
//! ZIP64 extra fields, central directory, end records) using each track's *stored* size, and by
//! never letting a deflated entry end up larger than its stored form (see [`write_archives`]).
//!
//! The planner ([`plan_parts`], [`ArchiveSizer`]) is pure so it can be property-tested without
//! touching the disk.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use zip::result::ZipError;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipArchive, ZipWriter, ZIP64_BYTES_THR, ZIP64_ENTRY_THR};

/// Extensions of formats that are already compressed: deflating them costs CPU and saves nothing.
const STORED_EXTENSIONS: &[&str] = &["mp3", "m4a", "aac", "opus", "ogg", "mp4", "webm", "mkv", "flac"];

/// Copy buffer: large enough that copying stored media runs at disk speed.
const COPY_BUFFER_BYTES: usize = 1 << 20;

/// Byte sizes of the fixed parts of ZIP records (APPNOTE 4.3), as the `zip` crate writes them.
const LOCAL_HEADER_BYTES: u64 = 30;
const CENTRAL_HEADER_BYTES: u64 = 46;
const END_RECORD_BYTES: u64 = 22;
const ZIP64_END_RECORD_BYTES: u64 = 56;
const ZIP64_END_LOCATOR_BYTES: u64 = 20;
/// ZIP64 extended-information field: 4-byte field header + two 8-byte sizes.
const ZIP64_SIZES_FIELD_BYTES: u64 = 4 + 16;

/// How the caller wants the parts cut and compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveOptions {
    /// Upper bound for every part file on disk, in bytes.
    pub max_part_bytes: u64,
    /// Deflate level 1-9 for entries that are not already-compressed media. 0 (or less) stores
    /// everything, as `zipfile` does with `compresslevel=0`; values above 9 mean 9.
    pub compression_level: i64,
}

/// One finished ZIP file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivePart {
    pub path: PathBuf,
    /// File name of `path`, e.g. `Mix.part2.zip`.
    pub name: String,
    /// Size on disk in bytes.
    pub size: u64,
    /// Entry names inside the ZIP, in track order.
    pub entries: Vec<String>,
}

/// Why the archive could not be written. No part and no temporary file is left behind.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("no tracks to archive")]
    NoTracks,
    #[error("track {0} does not exist")]
    MissingTrack(PathBuf),
    #[error("track {0} is not a regular file")]
    NotAFile(PathBuf),
    #[error("track {0} changed size while it was being archived")]
    TrackChanged(PathBuf),
    #[error("archive name {0:?} is not a plain file name")]
    InvalidBaseName(String),
    #[error("not enough disk space to write the archive")]
    DiskFull,
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot write ZIP file {path}: {source}")]
    Zip {
        path: PathBuf,
        #[source]
        source: ZipError,
    },
    #[error("archive part {path} came out at {size} bytes, over the {limit}-byte limit")]
    PartOverLimit { path: PathBuf, size: u64, limit: u64 },
}

/// How an entry's bytes are put into the ZIP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryMethod {
    Stored,
    Deflated,
}

/// Chooses [`EntryMethod::Stored`] for already-compressed media (by extension, any case).
pub fn method_for(path: &Path, compression_level: i64) -> EntryMethod {
    let is_media = path.extension().and_then(|ext| ext.to_str()).is_some_and(|ext| {
        STORED_EXTENSIONS
            .iter()
            .any(|known| ext.eq_ignore_ascii_case(known))
    });
    if is_media || compression_level <= 0 {
        EntryMethod::Stored
    } else {
        EntryMethod::Deflated
    }
}

/// What the planner needs to know about one track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedEntry {
    /// Entry name inside the ZIP (its UTF-8 byte length enters the headers twice).
    pub name: String,
    /// Size of the source file, which is also the entry's largest possible compressed size.
    pub size: u64,
    pub method: EntryMethod,
}

impl PlannedEntry {
    /// Whether the entry is written with ZIP64 size fields. For a deflated entry this is decided
    /// on zlib-rs's worst-case output (level 1 can grow random data by 1/8), because the `zip`
    /// crate refuses to finish an entry whose compressed size outgrows 4 GiB without it.
    pub(crate) fn large_file(&self) -> bool {
        let worst_case = match self.method {
            EntryMethod::Stored => self.size,
            EntryMethod::Deflated => deflate_worst_case(self.size),
        };
        worst_case >= ZIP64_BYTES_THR
    }
}

/// zlib-rs's conservative `deflateBound` for raw deflate.
fn deflate_worst_case(size: u64) -> u64 {
    size.saturating_add(size.saturating_add(7) >> 3)
        .saturating_add(size.saturating_add(63) >> 6)
        .saturating_add(5)
}

/// Running byte count of a ZIP file being planned, mirroring what `zip` 9.8 writes: a local
/// header (+ ZIP64 field when large) and the data per entry, then one central header per entry
/// (+ ZIP64 sizes and/or offset), then the end record (+ ZIP64 end record and locator when the
/// central directory starts or grows past 4 GiB or there are more than 65 535 entries).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ArchiveSizer {
    data_end: u64,
    central_bytes: u64,
    entries: usize,
}

impl ArchiveSizer {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Appends an entry whose data takes at most `entry.size` bytes.
    pub(crate) fn add(&mut self, entry: &PlannedEntry) {
        let name_bytes = entry.name.len() as u64;
        let large = entry.large_file();
        let header_start = self.data_end;
        let local_extra = if large { ZIP64_SIZES_FIELD_BYTES } else { 0 };
        self.data_end = self
            .data_end
            .saturating_add(LOCAL_HEADER_BYTES + name_bytes + local_extra)
            .saturating_add(entry.size);
        self.central_bytes = self
            .central_bytes
            .saturating_add(CENTRAL_HEADER_BYTES + name_bytes)
            .saturating_add(central_zip64_field_bytes(large, entry.size, header_start));
        self.entries += 1;
    }

    /// Size of the finished file: exact when every entry is stored, an upper bound otherwise.
    pub(crate) fn total(&self) -> u64 {
        let needs_zip64_end =
            self.entries > ZIP64_ENTRY_THR || self.central_bytes.max(self.data_end) > ZIP64_BYTES_THR;
        let zip64_end = if needs_zip64_end {
            ZIP64_END_RECORD_BYTES + ZIP64_END_LOCATOR_BYTES
        } else {
            0
        };
        self.data_end
            .saturating_add(self.central_bytes)
            .saturating_add(END_RECORD_BYTES + zip64_end)
    }

    /// The total after adding `entry`, without adding it.
    pub(crate) fn total_with(&self, entry: &PlannedEntry) -> u64 {
        let mut next = self.clone();
        next.add(entry);
        next.total()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries == 0
    }
}

fn central_zip64_field_bytes(large: bool, size: u64, header_start: u64) -> u64 {
    let sizes = if large || size >= ZIP64_BYTES_THR { 16 } else { 0 };
    let offset = if header_start >= ZIP64_BYTES_THR { 8 } else { 0 };
    if sizes + offset == 0 {
        0
    } else {
        4 + sizes + offset
    }
}

/// Upper bound of the size of a ZIP holding exactly `entries` (exact when all are stored).
pub fn archive_size_bound<'a>(entries: impl IntoIterator<Item = &'a PlannedEntry>) -> u64 {
    let mut sizer = ArchiveSizer::new();
    for entry in entries {
        sizer.add(entry);
    }
    sizer.total()
}

/// Splits `entries` greedily, in order, into parts whose planned size fits `max_part_bytes`.
/// An entry too large for any part gets a part of its own. Returns indices into `entries`;
/// every index appears exactly once, ascending.
pub(crate) fn plan_parts(entries: &[PlannedEntry], max_part_bytes: u64) -> Vec<Vec<usize>> {
    let mut parts: Vec<Vec<usize>> = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    let mut sizer = ArchiveSizer::new();
    for (index, entry) in entries.iter().enumerate() {
        if !sizer.is_empty() && sizer.total_with(entry) > max_part_bytes {
            parts.push(std::mem::take(&mut current));
            sizer = ArchiveSizer::new();
        }
        sizer.add(entry);
        current.push(index);
    }
    if !current.is_empty() {
        parts.push(current);
    }
    parts
}

/// Entry names for `paths`: each file's name, made unique across the whole archive set
/// (ignoring case, so extracting every part into one folder on any OS overwrites nothing) by
/// inserting ` (2)`, ` (3)`, ... before the extension. Backslashes become `_` because Windows
/// extractors treat them as directory separators.
pub(crate) fn unique_entry_names(paths: &[PathBuf]) -> Vec<String> {
    let mut taken: HashSet<String> = HashSet::new();
    paths
        .iter()
        .enumerate()
        .map(|(index, path)| unique_entry_name(&mut taken, path, index))
        .collect()
}

/// The entry name of the `index`-th track, given the names `taken` before it (lower-cased).
fn unique_entry_name(taken: &mut HashSet<String>, path: &Path, index: usize) -> String {
    let base = entry_base_name(path, index);
    let (stem, ext) = split_extension(&base);
    let mut candidate = base.clone();
    let mut counter = 2u64;
    while !taken.insert(candidate.to_lowercase()) {
        candidate = format!("{stem} ({counter}){ext}");
        counter += 1;
    }
    candidate
}

fn entry_base_name(path: &Path, index: usize) -> String {
    match path.file_name() {
        Some(name) => name.to_string_lossy().replace('\\', "_"),
        None => format!("track{}", index + 1),
    }
}

/// `("song", ".mp3")`; a leading dot is part of the stem, not an extension.
fn split_extension(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(dot) if dot > 0 => name.split_at(dot),
        _ => (name, ""),
    }
}

/// File names of the parts: `{base}.zip` alone, or `{base}.part1.zip`, `{base}.part2.zip`, ...
pub(crate) fn part_file_names(base_name: &str, parts: usize) -> Vec<String> {
    if parts == 1 {
        vec![format!("{base_name}.zip")]
    } else {
        (1..=parts).map(|n| format!("{base_name}.part{n}.zip")).collect()
    }
}

/// Writes `tracks` into `{base_name}.zip` or `{base_name}.partN.zip` files in `dest_dir`.
///
/// Synchronous and I/O-bound: call it from `spawn_blocking`. `on_progress(done, total)` is called
/// with source bytes copied so far and the total, and never goes backwards.
///
/// Every part is written under a temporary name and all parts are renamed only once every one
/// is complete, so on any error nothing of this call remains in `dest_dir`.
///
/// Deflated entries are planned at their stored size. If a part comes out over the limit
/// because deflate *grew* some entries (incompressible data that is not on the media list), the
/// part is rewritten with those entries stored, which makes it exactly its planned size.
pub fn write_archives(
    tracks: &[PathBuf],
    dest_dir: &Path,
    base_name: &str,
    opts: &ArchiveOptions,
    on_progress: &mut dyn FnMut(u64, u64),
) -> Result<Vec<ArchivePart>, ArchiveError> {
    if tracks.is_empty() {
        return Err(ArchiveError::NoTracks);
    }
    validate_base_name(base_name)?;
    let sources = inspect_tracks(tracks, opts.compression_level)?;
    let planned: Vec<PlannedEntry> = sources.iter().map(|s| s.entry.clone()).collect();
    let plan = plan_parts(&planned, opts.max_part_bytes);
    let names = part_file_names(base_name, plan.len());
    fs::create_dir_all(dest_dir).map_err(|e| io_error("create directory", dest_dir, e))?;

    let mut files = PartFiles::new();
    let mut progress = Progress::new(planned.iter().map(|e| e.size).sum(), on_progress);
    let mut buffer = vec![0u8; COPY_BUFFER_BYTES];
    progress.report();
    let mut parts = Vec::with_capacity(plan.len());
    for (indices, name) in plan.iter().zip(names) {
        let members: Vec<&TrackSource> = indices.iter().map(|&i| &sources[i]).collect();
        let temp = files.create_temp(dest_dir)?;
        let size = write_part_within_limit(&temp, &members, opts, &mut buffer, &mut progress)?;
        parts.push(ArchivePart {
            path: dest_dir.join(&name),
            name,
            size,
            entries: members.iter().map(|m| m.entry.name.clone()).collect(),
        });
    }
    files.commit(parts.iter().map(|p| p.path.clone()).collect())?;
    Ok(parts)
}

/// Writes the ZIP parts of a playlist while it is still downloading: tracks are pushed in
/// playlist order as they become available, each is copied into the open part at once, and a
/// part is closed (and renamed to its final `{base}.partN.zip`) as soon as the next track does not
/// fit. The parts are the ones [`write_archives`] makes of the same tracks (the same greedy rule,
/// the same size promise, the same entry names), so zipping costs almost nothing after the last
/// track. Until [`ArchiveStream::finish`], dropping it deletes every part it wrote.
pub(crate) struct ArchiveStream {
    // Field order: the open part's writer is dropped (and finalises its temp file) before
    // `files` deletes that file.
    current: Option<OpenPart>,
    files: PartFiles,
    dest_dir: PathBuf,
    base_name: String,
    opts: ArchiveOptions,
    buffer: Vec<u8>,
    taken: HashSet<String>,
    pushed: usize,
    parts: Vec<ArchivePart>,
}

struct OpenPart {
    temp: PathBuf,
    zip: ZipWriter<QuietOnFailure<BufWriter<File>>>,
    members: Vec<TrackSource>,
    sizer: ArchiveSizer,
}

impl ArchiveStream {
    pub(crate) fn new(
        dest_dir: &Path,
        base_name: &str,
        opts: ArchiveOptions,
    ) -> Result<ArchiveStream, ArchiveError> {
        validate_base_name(base_name)?;
        fs::create_dir_all(dest_dir).map_err(|e| io_error("create directory", dest_dir, e))?;
        Ok(ArchiveStream {
            current: None,
            files: PartFiles::new(),
            dest_dir: dest_dir.to_path_buf(),
            base_name: base_name.to_owned(),
            opts,
            buffer: vec![0u8; COPY_BUFFER_BYTES],
            taken: HashSet::new(),
            pushed: 0,
            parts: Vec::new(),
        })
    }

    /// Adds the next track (in playlist order). Returns the part this closed, when the track did
    /// not fit into the open one: that part is complete, under its final name, and will not change.
    pub(crate) fn push(&mut self, track: &Path) -> Result<Option<ArchivePart>, ArchiveError> {
        let meta = fs::metadata(track).map_err(|e| track_open_error(track, e))?;
        if !meta.is_file() {
            return Err(ArchiveError::NotAFile(track.to_path_buf()));
        }
        let name = unique_entry_name(&mut self.taken, track, self.pushed);
        self.pushed += 1;
        let source = TrackSource {
            path: track.to_path_buf(),
            modified: meta.modified().ok(),
            entry: PlannedEntry {
                name,
                size: meta.len(),
                method: method_for(track, self.opts.compression_level),
            },
        };
        let full = self
            .current
            .as_ref()
            .is_some_and(|open| open.sizer.total_with(&source.entry) > self.opts.max_part_bytes);
        let closed = if full {
            let number = self.parts.len() + 1;
            Some(self.close_current(Some(number))?)
        } else {
            None
        };
        if self.current.is_none() {
            let temp = self.files.create_temp(&self.dest_dir)?;
            let file = OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(&temp)
                .map_err(|e| io_error("open", &temp, e))?;
            let zip = ZipWriter::new(QuietOnFailure::new(BufWriter::new(file)));
            self.current = Some(OpenPart {
                temp,
                zip,
                members: Vec::new(),
                sizer: ArchiveSizer::new(),
            });
        }
        let open = self.current.as_mut().expect("a part is open");
        open.zip
            .start_file(
                source.entry.name.as_str(),
                entry_options(&source, source.entry.method, &self.opts),
            )
            .map_err(|e| zip_error(&open.temp, e))?;
        copy_track(&source, &mut open.zip, &mut self.buffer, None)?;
        open.sizer.add(&source.entry);
        open.members.push(source);
        Ok(closed)
    }

    /// Closes the last part and keeps every part: `{base}.zip` when there is only one.
    pub(crate) fn finish(mut self) -> Result<Vec<ArchivePart>, ArchiveError> {
        if self.current.is_none() {
            return Err(ArchiveError::NoTracks);
        }
        let number = (!self.parts.is_empty()).then(|| self.parts.len() + 1);
        self.close_current(number)?;
        self.files.committed = true;
        Ok(std::mem::take(&mut self.parts))
    }

    /// Finishes the open part, enforces the size promise as [`write_archives`] does (rewriting
    /// with stored entries when deflate grew some), and renames it to its final name.
    fn close_current(&mut self, number: Option<usize>) -> Result<ArchivePart, ArchiveError> {
        let OpenPart {
            temp, zip, members, ..
        } = self.current.take().ok_or(ArchiveError::NoTracks)?;
        let writer = zip.finish().map_err(|e| zip_error(&temp, e))?;
        let file = writer.into_file().map_err(|e| io_error("write", &temp, e))?;
        let mut size = file.metadata().map_err(|e| io_error("inspect", &temp, e))?.len();
        drop(file);
        let refs: Vec<&TrackSource> = members.iter().collect();
        if size > self.opts.max_part_bytes {
            let grown = entries_that_grew(&temp)?;
            if !grown.is_empty() {
                let mut methods: Vec<EntryMethod> = members.iter().map(|m| m.entry.method).collect();
                for index in grown {
                    methods[index] = EntryMethod::Stored;
                }
                size = write_part(&temp, &refs, &methods, &self.opts, &mut self.buffer, None)?;
            }
        }
        if size > self.opts.max_part_bytes && members.len() > 1 {
            return Err(ArchiveError::PartOverLimit {
                path: temp,
                size,
                limit: self.opts.max_part_bytes,
            });
        }
        let name = match number {
            Some(n) => format!("{}.part{n}.zip", self.base_name),
            None => format!("{}.zip", self.base_name),
        };
        let path = self.dest_dir.join(&name);
        self.files.promote(&temp, &path)?;
        let part = ArchivePart {
            path,
            name,
            size,
            entries: members.iter().map(|m| m.entry.name.clone()).collect(),
        };
        self.parts.push(part.clone());
        Ok(part)
    }
}

/// A track as found on disk when archiving started.
struct TrackSource {
    path: PathBuf,
    modified: Option<SystemTime>,
    entry: PlannedEntry,
}

fn inspect_tracks(tracks: &[PathBuf], level: i64) -> Result<Vec<TrackSource>, ArchiveError> {
    let names = unique_entry_names(tracks);
    tracks
        .iter()
        .zip(names)
        .map(|(path, name)| {
            let meta = fs::metadata(path).map_err(|e| track_open_error(path, e))?;
            if !meta.is_file() {
                return Err(ArchiveError::NotAFile(path.clone()));
            }
            Ok(TrackSource {
                path: path.clone(),
                modified: meta.modified().ok(),
                entry: PlannedEntry {
                    name,
                    size: meta.len(),
                    method: method_for(path, level),
                },
            })
        })
        .collect()
}

fn validate_base_name(base_name: &str) -> Result<(), ArchiveError> {
    let unsafe_name = base_name.is_empty()
        || base_name == "."
        || base_name == ".."
        || base_name.contains(['/', '\\', '\0']);
    if unsafe_name {
        Err(ArchiveError::InvalidBaseName(base_name.to_string()))
    } else {
        Ok(())
    }
}

/// Writes one part and enforces the size promise; returns its size on disk.
fn write_part_within_limit(
    temp: &Path,
    members: &[&TrackSource],
    opts: &ArchiveOptions,
    buffer: &mut [u8],
    progress: &mut Progress<'_>,
) -> Result<u64, ArchiveError> {
    let mut methods: Vec<EntryMethod> = members.iter().map(|m| m.entry.method).collect();
    let mut size = write_part(temp, members, &methods, opts, buffer, Some(progress))?;
    if size > opts.max_part_bytes {
        let grown = entries_that_grew(temp)?;
        if !grown.is_empty() {
            for index in grown {
                methods[index] = EntryMethod::Stored;
            }
            size = write_part(temp, members, &methods, opts, buffer, None)?;
        }
    }
    if size > opts.max_part_bytes && members.len() > 1 {
        return Err(ArchiveError::PartOverLimit {
            path: temp.to_path_buf(),
            size,
            limit: opts.max_part_bytes,
        });
    }
    Ok(size)
}

/// Indices of entries whose compressed data is larger than the original.
fn entries_that_grew(part: &Path) -> Result<Vec<usize>, ArchiveError> {
    let file = File::open(part).map_err(|e| io_error("reopen", part, e))?;
    let mut archive = ZipArchive::new(file).map_err(|e| zip_error(part, e))?;
    let mut grown = Vec::new();
    for index in 0..archive.len() {
        let entry = archive.by_index_raw(index).map_err(|e| zip_error(part, e))?;
        if entry.compressed_size() > entry.size() {
            grown.push(index);
        }
    }
    Ok(grown)
}

/// Writes a complete ZIP to `temp` (truncating it) and returns its size on disk. Progress is
/// only reported on the first attempt so it never runs backwards.
fn write_part(
    temp: &Path,
    members: &[&TrackSource],
    methods: &[EntryMethod],
    opts: &ArchiveOptions,
    buffer: &mut [u8],
    mut progress: Option<&mut Progress<'_>>,
) -> Result<u64, ArchiveError> {
    let file = OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(temp)
        .map_err(|e| io_error("open", temp, e))?;
    let mut zip = ZipWriter::new(QuietOnFailure::new(BufWriter::new(file)));
    for (member, method) in members.iter().zip(methods) {
        zip.start_file(member.entry.name.as_str(), entry_options(member, *method, opts))
            .map_err(|e| zip_error(temp, e))?;
        copy_track(member, &mut zip, buffer, progress.as_deref_mut())?;
    }
    let writer = zip.finish().map_err(|e| zip_error(temp, e))?;
    let file = writer.into_file().map_err(|e| io_error("write", temp, e))?;
    let size = file.metadata().map_err(|e| io_error("inspect", temp, e))?.len();
    Ok(size)
}

fn entry_options(member: &TrackSource, method: EntryMethod, opts: &ArchiveOptions) -> SimpleFileOptions {
    let base = SimpleFileOptions::default()
        .large_file(member.entry.large_file())
        .unix_permissions(0o644);
    let base = match member.modified.and_then(zip_date_time) {
        Some(time) => base.last_modified_time(time),
        None => base,
    };
    match method {
        EntryMethod::Stored => base.compression_method(CompressionMethod::Stored),
        EntryMethod::Deflated => base
            .compression_method(CompressionMethod::Deflated)
            .compression_level(Some(opts.compression_level.clamp(1, 9))),
    }
}

/// Copies exactly the planned number of bytes; a track that shrank or grew since it was
/// measured would break the size plan, so that is an error rather than a silent overrun.
fn copy_track(
    member: &TrackSource,
    out: &mut impl Write,
    buffer: &mut [u8],
    mut progress: Option<&mut Progress<'_>>,
) -> Result<(), ArchiveError> {
    let path = &member.path;
    let mut source = File::open(path).map_err(|e| track_open_error(path, e))?;
    let expected = member.entry.size;
    let mut copied: u64 = 0;
    loop {
        let read = match source.read(buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_error("read", path, e)),
        };
        copied += read as u64;
        if copied > expected {
            return Err(ArchiveError::TrackChanged(path.clone()));
        }
        out.write_all(&buffer[..read])
            .map_err(|e| io_error("write archive for", path, e))?;
        if let Some(progress) = progress.as_deref_mut() {
            progress.advance(read as u64);
        }
    }
    if copied != expected {
        return Err(ArchiveError::TrackChanged(path.clone()));
    }
    Ok(())
}

/// ZIP timestamps are local civil time without a zone; the worker runs in UTC containers, so
/// UTC is used. Times outside 1980-2107 cannot be represented and fall back to the ZIP default.
fn zip_date_time(time: SystemTime) -> Option<DateTime> {
    let secs = time.duration_since(UNIX_EPOCH).ok()?.as_secs();
    let days = i64::try_from(secs / 86_400).ok()?;
    let secs_of_day = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    DateTime::from_date_and_time(
        u16::try_from(year).ok()?,
        month,
        day,
        (secs_of_day / 3600) as u8,
        (secs_of_day / 60 % 60) as u8,
        (secs_of_day % 60) as u8,
    )
    .ok()
}

/// Days since 1970-01-01 to (year, month, day), Howard Hinnant's `civil_from_days`.
fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Bytes-done accounting for the caller's progress callback.
struct Progress<'a> {
    done: u64,
    total: u64,
    callback: &'a mut dyn FnMut(u64, u64),
}

impl<'a> Progress<'a> {
    fn new(total: u64, callback: &'a mut dyn FnMut(u64, u64)) -> Self {
        Self {
            done: 0,
            total,
            callback,
        }
    }

    fn advance(&mut self, bytes: u64) {
        self.done = (self.done + bytes).min(self.total);
        self.report();
    }

    fn report(&mut self) {
        (self.callback)(self.done, self.total);
    }
}

/// The temporary and final files of one [`write_archives`] call. Unless [`PartFiles::commit`]
/// succeeds, dropping it deletes every file it created, including parts already renamed, so a
/// failure (or a panic) never leaves a partial archive set behind.
struct PartFiles {
    temps: Vec<PathBuf>,
    finals: Vec<PathBuf>,
    committed: bool,
}

/// Distinguishes temp files of concurrent calls in the same process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl PartFiles {
    fn new() -> Self {
        Self {
            temps: Vec::new(),
            finals: Vec::new(),
            committed: false,
        }
    }

    /// Creates a fresh hidden file. The name does not contain the playlist name so it stays
    /// short whatever the title, and `create_new` makes a clash with anything existing an
    /// error instead of an overwrite.
    fn create_temp(&mut self, dir: &Path) -> Result<PathBuf, ArchiveError> {
        loop {
            let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = dir.join(format!(".hermes-zip-{}-{n}.tmp", std::process::id()));
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(_) => {
                    self.temps.push(path.clone());
                    return Ok(path);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(io_error("create", &path, e)),
            }
        }
    }

    /// Renames one temp to its final name at once (a part of an [`ArchiveStream`]); it is still
    /// deleted if the set is never committed.
    fn promote(&mut self, temp: &Path, target: &Path) -> Result<(), ArchiveError> {
        fs::rename(temp, target).map_err(|e| io_error("rename", temp, e))?;
        self.temps.retain(|t| t != temp);
        self.finals.push(target.to_path_buf());
        Ok(())
    }

    /// Renames the temps (in creation order) to `finals`.
    fn commit(&mut self, finals: Vec<PathBuf>) -> Result<(), ArchiveError> {
        let temps = std::mem::take(&mut self.temps);
        for (index, (temp, target)) in temps.iter().zip(&finals).enumerate() {
            if let Err(e) = fs::rename(temp, target) {
                self.temps = temps[index..].to_vec();
                return Err(io_error("rename", temp, e));
            }
            self.finals.push(target.clone());
        }
        self.committed = true;
        Ok(())
    }
}

impl Drop for PartFiles {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        for path in self.temps.iter().chain(&self.finals) {
            // Best effort: the error that brought us here is the one worth reporting.
            let _ = fs::remove_file(path);
        }
    }
}

/// Passes writes through until the first I/O error, then swallows everything.
///
/// `ZipWriter` finalizes itself when dropped and prints to stderr (our log stream) if that
/// fails, which after a full disk it always would. The part is deleted anyway, so after a
/// failure the remaining writes are pointless: accepting them silently keeps the log clean.
struct QuietOnFailure<W> {
    inner: W,
    failed: bool,
    position: u64,
    end: u64,
}

impl<W: Write + Seek> QuietOnFailure<W> {
    fn new(inner: W) -> Self {
        Self {
            inner,
            failed: false,
            position: 0,
            end: 0,
        }
    }

    fn note<T>(&mut self, result: io::Result<T>) -> io::Result<T> {
        if result.is_err() {
            self.failed = true;
        }
        result
    }
}

impl<W: Write + Seek> QuietOnFailure<BufWriter<W>> {
    /// Flushes the buffer and hands back the file.
    fn into_file(self) -> Result<W, io::Error> {
        self.inner.into_inner().map_err(|e| e.into_error())
    }
}

impl<W: Write + Seek> Write for QuietOnFailure<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.failed {
            return Ok(buf.len());
        }
        let result = self.inner.write(buf);
        let written = self.note(result)?;
        self.position += written as u64;
        self.end = self.end.max(self.position);
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.failed {
            return Ok(());
        }
        let result = self.inner.flush();
        self.note(result)
    }
}

impl<W: Write + Seek> Seek for QuietOnFailure<W> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        if self.failed {
            self.position = match pos {
                SeekFrom::Start(offset) => offset,
                SeekFrom::Current(delta) => self.position.saturating_add_signed(delta),
                SeekFrom::End(delta) => self.end.saturating_add_signed(delta),
            };
            return Ok(self.position);
        }
        let result = self.inner.seek(pos);
        self.position = self.note(result)?;
        Ok(self.position)
    }
}

fn zip_error(path: &Path, err: ZipError) -> ArchiveError {
    match err {
        ZipError::Io(source) => io_error("write", path, source),
        source => ArchiveError::Zip {
            path: path.to_path_buf(),
            source,
        },
    }
}

fn track_open_error(path: &Path, err: io::Error) -> ArchiveError {
    if err.kind() == io::ErrorKind::NotFound {
        ArchiveError::MissingTrack(path.to_path_buf())
    } else {
        io_error("open track", path, err)
    }
}

/// ENOSPC/EFBIG/EDQUOT all mean "the disk cannot take this", which the user can act on.
fn io_error(action: &'static str, path: &Path, source: io::Error) -> ArchiveError {
    if is_disk_full(&source) {
        ArchiveError::DiskFull
    } else {
        ArchiveError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}

fn is_disk_full(err: &io::Error) -> bool {
    const ENOSPC: i32 = 28;
    const EFBIG: i32 = 27;
    const EDQUOT: i32 = 122;
    matches!(
        err.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::FileTooLarge | io::ErrorKind::QuotaExceeded
    ) || matches!(err.raw_os_error(), Some(ENOSPC | EFBIG | EDQUOT))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, size: u64, method: EntryMethod) -> PlannedEntry {
        PlannedEntry {
            name: name.to_string(),
            size,
            method,
        }
    }

    #[test]
    fn media_extensions_are_stored_whatever_their_case() {
        for name in ["a.mp3", "b.M4A", "c.opus", "d.Flac", "e.webm", "f.MKV", "g.ogg"] {
            assert_eq!(method_for(Path::new(name), 6), EntryMethod::Stored, "{name}");
        }
        for name in ["a.wav", "b.txt", "c", ".mp3", "d.mp3.part"] {
            assert_eq!(method_for(Path::new(name), 6), EntryMethod::Deflated, "{name}");
        }
        assert_eq!(method_for(Path::new("a.wav"), 0), EntryMethod::Stored);
    }

    #[test]
    fn sizer_matches_the_zip_record_layout() {
        // 30 + 5 + 10 local, 46 + 5 central, 22 end.
        assert_eq!(
            archive_size_bound([&entry("a.mp3", 10, EntryMethod::Stored)]),
            118
        );
        assert_eq!(archive_size_bound(std::iter::empty()), 22);
    }

    #[test]
    fn large_entries_get_zip64_fields_and_end_records() {
        let big = entry("big.mkv", 5 << 30, EntryMethod::Stored);
        let small = entry("s.mp3", 1, EntryMethod::Stored);
        let expected_local = 30 + 7 + 20 + (5 << 30) + 30 + 5 + 1;
        // big: sizes in ZIP64; small: offset past 4 GiB in ZIP64.
        let expected_central = (46 + 7 + 20) + (46 + 5 + 12);
        let expected = expected_local + expected_central + 22 + 56 + 20;
        assert_eq!(archive_size_bound([&big, &small]), expected);
    }

    #[test]
    fn deflated_entries_switch_to_zip64_before_they_could_overflow() {
        let near = entry("n.wav", ZIP64_BYTES_THR - (100 << 20), EntryMethod::Deflated);
        assert!(near.large_file());
        let stored = PlannedEntry {
            method: EntryMethod::Stored,
            ..near.clone()
        };
        assert!(!stored.large_file());
    }

    #[test]
    fn planner_is_greedy_and_isolates_oversized_entries() {
        let entries: Vec<PlannedEntry> = [10, 10, 500, 10, 10, 10]
            .iter()
            .enumerate()
            .map(|(i, &size)| entry(&format!("{i}.mp3"), size, EntryMethod::Stored))
            .collect();
        // Two 10-byte entries: 2 × (30 + 5 + 10) + 2 × (46 + 5) + 22 = 214.
        let plan = plan_parts(&entries, 214);
        assert_eq!(plan, vec![vec![0, 1], vec![2], vec![3, 4], vec![5]]);
        assert_eq!(plan_parts(&entries, u64::MAX), vec![vec![0, 1, 2, 3, 4, 5]]);
        assert!(plan_parts(&[], 1000).is_empty());
    }

    #[test]
    fn duplicate_names_are_disambiguated_case_insensitively() {
        let paths: Vec<PathBuf> = [
            "a/Song.mp3",
            "b/song.mp3",
            "c/song.mp3",
            "d/song (2).mp3",
            "x\\y",
            "/",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        assert_eq!(
            unique_entry_names(&paths),
            [
                "Song.mp3",
                "song (2).mp3",
                "song (3).mp3",
                "song (2) (2).mp3",
                "x_y",
                "track6"
            ]
        );
    }

    #[test]
    fn part_names_follow_the_python_worker() {
        assert_eq!(part_file_names("Mix", 1), ["Mix.zip"]);
        assert_eq!(part_file_names("Mix", 2), ["Mix.part1.zip", "Mix.part2.zip"]);
    }

    #[test]
    fn civil_dates_convert_correctly() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(3_652), (1980, 1, 1));
        let time = UNIX_EPOCH + std::time::Duration::from_secs(1_709_210_096);
        let zip_time = zip_date_time(time).expect("2024 is representable");
        assert_eq!((zip_time.year(), zip_time.month(), zip_time.day()), (2024, 2, 29));
        assert_eq!(
            (zip_time.hour(), zip_time.minute(), zip_time.second()),
            (12, 34, 56)
        );
        assert!(zip_date_time(UNIX_EPOCH).is_none(), "1970 predates DOS time");
    }

    #[test]
    fn disk_full_errors_are_recognised() {
        assert!(is_disk_full(&io::Error::from_raw_os_error(28)));
        assert!(is_disk_full(&io::Error::from_raw_os_error(27)));
        assert!(is_disk_full(&io::Error::from(io::ErrorKind::StorageFull)));
        assert!(!is_disk_full(&io::Error::from(io::ErrorKind::PermissionDenied)));
        assert!(matches!(
            io_error("write", Path::new("x"), io::Error::from_raw_os_error(28)),
            ArchiveError::DiskFull
        ));
    }
}
