//! Playlist ZIP parts, checked against real files and an independent reader (Python's zipfile).

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use hermes_protocol::ErrorCode;
use hermes_worker::archive::{
    archive_size_bound, method_for, write_archives, ArchiveError, ArchiveOptions, ArchivePart, EntryMethod,
    PlannedEntry,
};
use hermes_worker::error::WorkerError;
use proptest::prelude::*;
use serde_json::{json, Value};

const ZIP_STORED: u64 = 0;
const ZIP_DEFLATED: u64 = 8;

/// Verifies every part with Python's `zipfile`: `testzip()` finds nothing, the names are exactly
/// the expected ones in order, and every entry's bytes equal its source file. Prints each
/// entry's `[compress_type, compress_size, file_size]`.
const VERIFY_SCRIPT: &str = r#"
import json, sys, zipfile
out = {}
for part in json.load(sys.stdin):
    with zipfile.ZipFile(part["zip"]) as z:
        bad = z.testzip()
        assert bad is None, "corrupt entry %r in %s" % (bad, part["zip"])
        want = [e["name"] for e in part["entries"]]
        assert z.namelist() == want, (z.namelist(), want)
        types = {}
        for e in part["entries"]:
            with open(e["src"], "rb") as f:
                assert z.read(e["name"]) == f.read(), "%s differs from %s" % (e["name"], e["src"])
            info = z.getinfo(e["name"])
            types[e["name"]] = [info.compress_type, info.compress_size, info.file_size]
        out[part["zip"]] = types
print(json.dumps(out))
"#;

/// A track to create: its file name and content.
#[derive(Debug, Clone)]
struct TrackSpec {
    name: String,
    size: u64,
    random: bool,
}

/// Incompressible bytes (xorshift) or highly compressible text.
fn content(size: u64, random: bool, seed: u64) -> Vec<u8> {
    if !random {
        return b"hermes playlist "
            .iter()
            .copied()
            .cycle()
            .take(size as usize)
            .collect();
    }
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..size)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

fn create_tracks(dir: &Path, specs: &[TrackSpec]) -> Vec<PathBuf> {
    specs
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let path = dir.join(&spec.name);
            fs::write(&path, content(spec.size, spec.random, i as u64 + 1)).expect("write track");
            path
        })
        .collect()
}

/// Runs the Python verifier over `parts` (entries map to `sources` by name) and returns
/// `{zip path: {entry: [compress_type, compress_size, file_size]}}`.
fn verify_with_python(parts: &[ArchivePart], sources: &[PathBuf]) -> Value {
    let spec: Vec<Value> = parts
        .iter()
        .map(|part| {
            let entries: Vec<Value> = part
                .entries
                .iter()
                .map(|name| {
                    let src = sources
                        .iter()
                        .find(|s| s.file_name().and_then(|n| n.to_str()) == Some(name.as_str()))
                        .expect("every entry has a source of the same name");
                    json!({"name": name, "src": src})
                })
                .collect();
            json!({"zip": part.path, "entries": entries})
        })
        .collect();
    let mut child = Command::new("python3")
        .args(["-c", VERIFY_SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(serde_json::to_string(&spec).expect("json").as_bytes())
        .expect("feed python");
    let output = child.wait_with_output().expect("python finishes");
    assert!(
        output.status.success(),
        "python zipfile rejected the archive:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("python prints json")
}

fn entry_info(types: &Value, part: &ArchivePart, entry: &str, field: usize) -> u64 {
    types[part.path.to_str().expect("utf-8 path")][entry][field]
        .as_u64()
        .expect("numeric entry info")
}

fn compress_type(types: &Value, part: &ArchivePart, entry: &str) -> u64 {
    entry_info(types, part, entry, 0)
}

/// Whether deflate made this entry larger than its original.
fn grew(types: &Value, part: &ArchivePart, entry: &str) -> bool {
    entry_info(types, part, entry, 1) > entry_info(types, part, entry, 2)
}

fn dir_listing(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect()
}

fn planned(path: &Path, level: i64) -> PlannedEntry {
    PlannedEntry {
        name: path.file_name().expect("name").to_string_lossy().into_owned(),
        size: fs::metadata(path).expect("track exists").len(),
        method: method_for(path, level),
    }
}

fn archive(
    tracks: &[PathBuf],
    dest: &Path,
    base: &str,
    max_part_bytes: u64,
) -> Result<Vec<ArchivePart>, ArchiveError> {
    let opts = ArchiveOptions {
        max_part_bytes,
        compression_level: 6,
    };
    write_archives(tracks, dest, base, &opts, &mut |_, _| {})
}

/// Checks every promise `write_archives` makes about a successful result.
fn check_parts(
    parts: &[ArchivePart],
    tracks: &[PathBuf],
    specs: &[TrackSpec],
    dest: &Path,
    base: &str,
    limit: u64,
) {
    assert!(!parts.is_empty());
    let all_entries: Vec<&String> = parts.iter().flat_map(|p| &p.entries).collect();
    let all_names: Vec<&String> = specs.iter().map(|s| &s.name).collect();
    assert_eq!(all_entries, all_names, "every track exactly once, in order");

    for (n, part) in parts.iter().enumerate() {
        let expected_name = if parts.len() == 1 {
            format!("{base}.zip")
        } else {
            format!("{base}.part{}.zip", n + 1)
        };
        assert_eq!(part.name, expected_name);
        assert_eq!(part.path, dest.join(&expected_name));
        let on_disk = fs::metadata(&part.path).expect("part exists").len();
        assert_eq!(part.size, on_disk);
        assert!(
            on_disk <= limit || part.entries.len() == 1,
            "{} is {on_disk} bytes > {limit} with {} entries",
            part.name,
            part.entries.len()
        );
        let entries: Vec<PlannedEntry> = part
            .entries
            .iter()
            .map(|name| planned(&dest_source(tracks, name), 6))
            .collect();
        if entries.iter().all(|e| e.method == EntryMethod::Stored) {
            assert_eq!(
                on_disk,
                archive_size_bound(&entries),
                "the model is exact when stored"
            );
        }
    }

    let expected_files: BTreeSet<String> = parts.iter().map(|p| p.name.clone()).collect();
    assert_eq!(dir_listing(dest), expected_files, "no temp files left");

    let types = verify_with_python(parts, tracks);
    for part in parts {
        let entries: Vec<PlannedEntry> = part
            .entries
            .iter()
            .map(|name| planned(&dest_source(tracks, name), 6))
            .collect();
        let bound = archive_size_bound(&entries);
        // Only deflate growing an entry can push a part past its stored-size plan, and then
        // only while the part still fits (or holds a single track).
        if part.size > bound {
            assert!(part.entries.iter().any(|name| grew(&types, part, name)));
            assert!(part.size <= limit || part.entries.len() == 1);
        }
        for name in &part.entries {
            let spec = specs.iter().find(|s| &s.name == name).expect("spec");
            let kind = compress_type(&types, part, name);
            if method_for(Path::new(name), 6) == EntryMethod::Stored {
                assert_eq!(kind, ZIP_STORED, "{name} is media");
            } else if !spec.random && spec.size >= 64 {
                assert_eq!(kind, ZIP_DEFLATED, "{name} compresses well");
            } else {
                assert!(kind == ZIP_DEFLATED || kind == ZIP_STORED, "{name}: {kind}");
            }
        }
    }
}

fn dest_source(tracks: &[PathBuf], name: &str) -> PathBuf {
    tracks
        .iter()
        .find(|t| t.file_name().and_then(|n| n.to_str()) == Some(name))
        .cloned()
        .expect("source for entry")
}

const EXTENSIONS: &[&str] = &["mp3", "M4A", "opus", "txt", "wav", "bin"];

fn track_spec() -> impl Strategy<Value = (u64, usize, bool)> {
    (
        prop_oneof![Just(0u64), 1u64..64, 64u64..4096, 4096u64..40_000],
        0..EXTENSIONS.len(),
        any::<bool>(),
    )
}

proptest! {
    // No regression files: the shared tree only takes the files we list; the failing input is
    // printed in full instead.
    #![proptest_config(ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn parts_respect_the_limit_and_hold_every_track_once(
        limit in 1024u64..65_536,
        raw in prop::collection::vec(track_spec(), 0..=12),
        fill_exactly in any::<bool>(),
    ) {
        let mut specs: Vec<TrackSpec> = raw
            .iter()
            .enumerate()
            .map(|(i, &(size, ext, random))| TrackSpec {
                name: format!("t{i:02}.{}", EXTENSIONS[ext]),
                size,
                random,
            })
            .collect();
        let exact_pair = fill_exactly && specs.len() >= 2 && {
            // Size the second track so the first two fill a part to the byte.
            let entries: Vec<PlannedEntry> = specs[..2]
                .iter()
                .enumerate()
                .map(|(i, s)| PlannedEntry {
                    name: s.name.clone(),
                    size: if i == 1 { 0 } else { s.size },
                    method: method_for(Path::new(&s.name), 6),
                })
                .collect();
            let overhead = archive_size_bound(&entries);
            if overhead <= limit {
                specs[1].size = limit - overhead;
                true
            } else {
                false
            }
        };

        let src = tempfile::tempdir().expect("src dir");
        let dest = tempfile::tempdir().expect("dest dir");
        let tracks = create_tracks(src.path(), &specs);
        let mut seen: Vec<(u64, u64)> = Vec::new();
        let opts = ArchiveOptions { max_part_bytes: limit, compression_level: 6 };
        let result = write_archives(&tracks, dest.path(), "Mix", &opts, &mut |done, total| {
            seen.push((done, total));
        });

        if specs.is_empty() {
            prop_assert!(matches!(result, Err(ArchiveError::NoTracks)));
            prop_assert!(dir_listing(dest.path()).is_empty());
            return Ok(());
        }
        let parts = result.expect("archiving succeeds");
        check_parts(&parts, &tracks, &specs, dest.path(), "Mix", limit);

        let total: u64 = specs.iter().map(|s| s.size).sum();
        prop_assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0), "progress went backwards");
        prop_assert_eq!(seen.last().copied(), Some((total, total)));

        if exact_pair {
            prop_assert_eq!(&parts[0].entries[..2], &[specs[0].name.clone(), specs[1].name.clone()]);
            let both_stored = specs[..2]
                .iter()
                .all(|s| method_for(Path::new(&s.name), 6) == EntryMethod::Stored);
            if both_stored {
                prop_assert_eq!(parts[0].entries.len(), 2, "an exactly full part takes nothing more");
                prop_assert_eq!(parts[0].size, limit);
            }
        }
    }
}

fn specs(list: &[(&str, u64, bool)]) -> Vec<TrackSpec> {
    list.iter()
        .map(|&(name, size, random)| TrackSpec {
            name: name.to_string(),
            size,
            random,
        })
        .collect()
}

#[test]
fn everything_that_fits_goes_into_one_plain_zip() {
    let specs = specs(&[("a.mp3", 3000, true), ("b.txt", 5000, false), ("c.M4A", 10, true)]);
    let src = tempfile::tempdir().expect("src");
    let dest = tempfile::tempdir().expect("dest");
    let tracks = create_tracks(src.path(), &specs);
    let parts = archive(&tracks, dest.path(), "x", 1 << 20).expect("archive");
    assert_eq!(parts.len(), 1);
    assert_eq!(parts[0].name, "x.zip");
    check_parts(&parts, &tracks, &specs, dest.path(), "x", 1 << 20);
    let types = verify_with_python(&parts, &tracks);
    assert_eq!(compress_type(&types, &parts[0], "a.mp3"), ZIP_STORED);
    assert_eq!(compress_type(&types, &parts[0], "c.M4A"), ZIP_STORED);
    assert_eq!(compress_type(&types, &parts[0], "b.txt"), ZIP_DEFLATED);
}

#[test]
fn overflowing_tracks_are_split_into_numbered_parts() {
    let specs = specs(&[
        ("1.mp3", 4000, true),
        ("2.mp3", 4000, true),
        ("3.opus", 4000, true),
        ("4.flac", 100, true),
    ]);
    let src = tempfile::tempdir().expect("src");
    let dest = tempfile::tempdir().expect("dest");
    let tracks = create_tracks(src.path(), &specs);
    let parts = archive(&tracks, dest.path(), "x", 9000).expect("archive");
    let names: Vec<&str> = parts.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["x.part1.zip", "x.part2.zip"]);
    assert_eq!(parts[0].entries, ["1.mp3", "2.mp3"]);
    assert_eq!(parts[1].entries, ["3.opus", "4.flac"]);
    check_parts(&parts, &tracks, &specs, dest.path(), "x", 9000);
}

#[test]
fn incompressible_deflated_tracks_still_fit_a_part_planned_to_the_byte() {
    // Deflate makes random data larger; the part is planned at stored size, so the writer must
    // fall back to storing the entries that grew.
    let specs = specs(&[
        ("noise.bin", 30_000, true),
        ("noise.wav", 20_000, true),
        ("a.mp3", 900, true),
    ]);
    let src = tempfile::tempdir().expect("src");
    let dest = tempfile::tempdir().expect("dest");
    let tracks = create_tracks(src.path(), &specs);
    let entries: Vec<PlannedEntry> = tracks.iter().map(|t| planned(t, 6)).collect();
    let limit = archive_size_bound(&entries);
    let parts = archive(&tracks, dest.path(), "noise", limit).expect("archive");
    assert_eq!(
        parts.len(),
        1,
        "all three fit: the plan counts them at stored size"
    );
    assert_eq!(parts[0].size, limit);
    check_parts(&parts, &tracks, &specs, dest.path(), "noise", limit);
    let types = verify_with_python(&parts, &tracks);
    assert_eq!(compress_type(&types, &parts[0], "noise.bin"), ZIP_STORED);
    assert_eq!(compress_type(&types, &parts[0], "noise.wav"), ZIP_STORED);
}

#[test]
fn compressible_neighbours_let_a_grown_entry_stay_deflated_within_the_limit() {
    let specs = specs(&[("noise.bin", 30_000, true), ("t.txt", 9000, false)]);
    let src = tempfile::tempdir().expect("src");
    let dest = tempfile::tempdir().expect("dest");
    let tracks = create_tracks(src.path(), &specs);
    let entries: Vec<PlannedEntry> = tracks.iter().map(|t| planned(t, 6)).collect();
    let limit = archive_size_bound(&entries);
    let parts = archive(&tracks, dest.path(), "mixed", limit).expect("archive");
    assert_eq!(parts.len(), 1);
    assert!(parts[0].size < limit, "the text saves more than the noise costs");
    check_parts(&parts, &tracks, &specs, dest.path(), "mixed", limit);
    let types = verify_with_python(&parts, &tracks);
    assert_eq!(compress_type(&types, &parts[0], "t.txt"), ZIP_DEFLATED);
}

#[test]
fn duplicate_file_names_get_distinct_entries() {
    let src = tempfile::tempdir().expect("src");
    let dest = tempfile::tempdir().expect("dest");
    let a = src.path().join("a");
    let b = src.path().join("b");
    fs::create_dir_all(&a).expect("mkdir");
    fs::create_dir_all(&b).expect("mkdir");
    fs::write(a.join("song.mp3"), b"first").expect("write");
    fs::write(b.join("song.mp3"), b"second").expect("write");
    let tracks = vec![a.join("song.mp3"), b.join("song.mp3")];
    let parts = archive(&tracks, dest.path(), "dup", 1 << 20).expect("archive");
    assert_eq!(parts[0].entries, ["song.mp3", "song (2).mp3"]);
    let script = "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); \
                  print(z.read('song.mp3').decode(), z.read('song (2).mp3').decode())";
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(&parts[0].path)
        .output()
        .expect("python3");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "first second");
}

#[test]
fn bad_inputs_are_refused_before_anything_is_written() {
    let src = tempfile::tempdir().expect("src");
    let dest = tempfile::tempdir().expect("dest");
    let tracks = create_tracks(src.path(), &specs(&[("a.mp3", 10, true)]));
    assert!(matches!(
        archive(&[], dest.path(), "x", 1000),
        Err(ArchiveError::NoTracks)
    ));
    for base in ["", ".", "..", "a/b", "a\\b"] {
        let err = archive(&tracks, dest.path(), base, 1000).expect_err(base);
        assert!(matches!(err, ArchiveError::InvalidBaseName(_)), "{base}: {err}");
    }
    let ghost = src.path().join("ghost.mp3");
    let err = archive(&[tracks[0].clone(), ghost.clone()], dest.path(), "x", 1000).expect_err("ghost");
    assert!(
        matches!(&err, ArchiveError::MissingTrack(p) if *p == ghost),
        "{err}"
    );
    assert_eq!(WorkerError::from(err).code(), ErrorCode::FileNotFound);
    let err = archive(&[src.path().to_path_buf()], dest.path(), "x", 1000).expect_err("dir");
    assert!(matches!(err, ArchiveError::NotAFile(_)), "{err}");
    assert!(dir_listing(dest.path()).is_empty());
}

/// Runs an archive of three parts and lets `sabotage` act on the tracks once part two starts.
fn archive_with_sabotage(sabotage: impl Fn(&[PathBuf])) -> (ArchiveError, tempfile::TempDir) {
    let src = tempfile::tempdir().expect("src");
    let dest = tempfile::tempdir().expect("dest");
    let tracks = create_tracks(
        src.path(),
        &specs(&[
            ("1.mp3", 5000, true),
            ("2.mp3", 5000, true),
            ("3.mp3", 5000, true),
        ]),
    );
    let opts = ArchiveOptions {
        max_part_bytes: 6000,
        compression_level: 6,
    };
    let mut fired = false;
    let err = write_archives(&tracks, dest.path(), "x", &opts, &mut |done, _| {
        if done > 5000 && !fired {
            fired = true;
            sabotage(&tracks);
        }
    })
    .expect_err("sabotaged archive fails");
    (err, dest)
}

#[test]
fn a_track_vanishing_midway_leaves_no_part_and_no_temp_file() {
    let (err, dest) = archive_with_sabotage(|tracks| fs::remove_file(&tracks[2]).expect("rm"));
    assert!(
        matches!(&err, ArchiveError::MissingTrack(p) if p.ends_with("3.mp3")),
        "{err}"
    );
    assert!(
        dir_listing(dest.path()).is_empty(),
        "left: {:?}",
        dir_listing(dest.path())
    );
}

#[test]
fn a_track_growing_midway_leaves_no_part_and_no_temp_file() {
    let (err, dest) = archive_with_sabotage(|tracks| {
        let mut file = fs::OpenOptions::new()
            .append(true)
            .open(&tracks[2])
            .expect("open");
        file.write_all(b"more").expect("append");
    });
    assert!(
        matches!(&err, ArchiveError::TrackChanged(p) if p.ends_with("3.mp3")),
        "{err}"
    );
    assert!(
        dir_listing(dest.path()).is_empty(),
        "left: {:?}",
        dir_listing(dest.path())
    );
}

/// A 1 MiB tmpfs, unmounted when dropped.
struct SmallTmpfs {
    dir: tempfile::TempDir,
}

impl SmallTmpfs {
    fn mount() -> Option<Self> {
        let dir = tempfile::tempdir().ok()?;
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
            .arg(dir.path())
            .stderr(Stdio::null())
            .status()
            .ok()?;
        status.success().then_some(Self { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SmallTmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

#[test]
fn a_full_disk_is_reported_as_disk_full_and_cleaned_up() {
    let Some(tmpfs) = SmallTmpfs::mount() else {
        println!("note: cannot mount a tmpfs here (not root?); disk-full test skipped");
        return;
    };
    let src = tempfile::tempdir().expect("src");
    let tracks = create_tracks(
        src.path(),
        &specs(&[
            ("1.mp3", 600_000, true),
            ("2.mp3", 600_000, true),
            ("3.txt", 600_000, true),
        ]),
    );
    let dest = tmpfs.path().join("out");
    for limit in [700_000, 10 << 20] {
        let err = archive(&tracks, &dest, "big", limit).expect_err("does not fit in 1 MiB");
        assert!(matches!(err, ArchiveError::DiskFull), "limit {limit}: {err}");
        assert_eq!(WorkerError::from(err).code(), ErrorCode::DiskFull);
        assert!(dir_listing(&dest).is_empty(), "left: {:?}", dir_listing(&dest));
    }
    let fits = archive(&tracks[..1], &dest, "small", 10 << 20).expect("one track fits");
    assert_eq!(fits.len(), 1);
    verify_with_python(&fits, &tracks);
}
