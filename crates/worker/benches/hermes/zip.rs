//! Figure 4, ZIP: `write_archives` beside `cp` of the same files to the same disk.
use crate::error::{io_err, BenchError, Result};
use crate::options::Reps;
use crate::report::{Report, Row, Target, Unit};
use crate::scratch::Scratch;
use hermes_worker::archive::{write_archives, ArchiveOptions};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// Size of each generated ZIP input: ~5 MB, 20 of them, 100 MB in all (one part at the default
/// 100 MiB `ARCHIVE_MAX_SIZE_MB`).
const ZIP_TRACK_BYTES: usize = 5_000_000;
const ZIP_TRACKS: usize = 20;

pub(crate) fn figure_zip(scratch: &Scratch, reps: &Reps, report: &mut Report) -> Result<()> {
    let dir = scratch.subdir("zip")?;
    let mp3s = generate_tracks(&dir.join("src"), "mp3")?;
    let wavs = link_tracks(&mp3s, "wav")?;
    let total_bytes = (ZIP_TRACKS * ZIP_TRACK_BYTES) as f64;
    let (mut stored, mut deflated, mut cp) = (vec![], vec![], vec![]);
    let mut deflated_size = 0;
    for rep in 0..reps.zips {
        // Rotate the order, so whichever runs first (or last) is not always the same contender.
        for contender in (0..3).map(|i| (i + rep) % 3) {
            settle_disk();
            let out = dir.join(format!("out-{rep}-{contender}"));
            match contender {
                0 => stored.push(total_bytes / zip_once(&mp3s, &out)?.0 / 1e6),
                1 => {
                    let (secs, size) = zip_once(&wavs, &out)?;
                    deflated.push(total_bytes / secs / 1e6);
                    deflated_size = size;
                }
                _ => cp.push(total_bytes / cp_once(&mp3s, &out)? / 1e6),
            }
        }
    }
    report.push_rows([
        Row::new(
            "4a ZIP stored (.mp3 names) vs cp",
            Unit::MBps,
            &stored,
            &cp,
            Target::RatioAtLeast(0.5),
        ),
        Row::new(
            "4b ZIP deflate-6 (.wav names) vs cp",
            Unit::MBps,
            &deflated,
            &cp,
            Target::Info("info (why store)"),
        ),
    ]);
    report.notes.push(format!(
        "4: {ZIP_TRACKS} files × {ZIP_TRACK_BYTES} random bytes (incompressible, like real compressed media), `write_archives` \
         at the default 100 MiB part size and level 6, vs `cp` of the same files into an empty directory on the same file \
         system ({}); outputs deleted and `sync` run before each timed step (so no step pays for the previous one's \
         write-back; none of them syncs its own output), order rotated per rep. Deflate turned {total_bytes} bytes into {deflated_size} bytes \
         ({:+.3} %): no gain for much less speed, which is why already-compressed media are stored.",
        filesystem_of(&dir),
        (deflated_size as f64 / total_bytes - 1.0) * 100.0,
    ));
    Ok(())
}

/// Flushes dirty pages left by the previous step (best effort: only fairness depends on it).
fn settle_disk() {
    let _ = Command::new("sync").status();
}

fn generate_tracks(dir: &Path, ext: &str) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(io_err("create the ZIP source directory"))?;
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut tracks = Vec::with_capacity(ZIP_TRACKS);
    for n in 1..=ZIP_TRACKS {
        let path = dir.join(format!("track{n:02}.{ext}"));
        let bytes = rng.bytes(ZIP_TRACK_BYTES);
        std::fs::write(&path, bytes).map_err(io_err(format!("write {}", path.display())))?;
        tracks.push(path);
    }
    Ok(tracks)
}

/// The same bytes under another extension (hard links: no extra disk, same page cache).
fn link_tracks(tracks: &[PathBuf], ext: &str) -> Result<Vec<PathBuf>> {
    tracks
        .iter()
        .map(|track| {
            let link = track.with_extension(ext);
            std::fs::hard_link(track, &link).map_err(io_err(format!("link {}", link.display())))?;
            Ok(link)
        })
        .collect()
}

/// Seconds for one `write_archives` into `dest`, and the total size of the parts; the output is
/// removed afterwards.
fn zip_once(tracks: &[PathBuf], dest: &Path) -> Result<(f64, u64)> {
    let options = ArchiveOptions {
        max_part_bytes: 100 * 1024 * 1024,
        compression_level: 6,
    };
    let started = Instant::now();
    let parts = write_archives(tracks, dest, "bench", &options, &mut |_, _| {})
        .map_err(|e| BenchError::Protocol(format!("write_archives: {e}")))?;
    let secs = started.elapsed().as_secs_f64();
    let size = parts.iter().map(|p| p.size).sum();
    std::fs::remove_dir_all(dest).map_err(io_err("remove the ZIP output"))?;
    Ok((secs, size))
}

/// Seconds for `cp -- <tracks> <dest>/`; the copies are removed afterwards.
fn cp_once(tracks: &[PathBuf], dest: &Path) -> Result<f64> {
    std::fs::create_dir_all(dest).map_err(io_err("create the cp destination"))?;
    let started = Instant::now();
    let status = Command::new("cp")
        .arg("--")
        .args(tracks)
        .arg(dest)
        .status()
        .map_err(io_err("run cp"))?;
    let secs = started.elapsed().as_secs_f64();
    if !status.success() {
        return Err(BenchError::Protocol(format!("cp exited with {status}")));
    }
    std::fs::remove_dir_all(dest).map_err(io_err("remove the cp output"))?;
    Ok(secs)
}

fn filesystem_of(path: &Path) -> String {
    let mut stat = Command::new("stat");
    stat.args(["-f", "-c", "%T"]).arg(path);
    stat.output()
        .ok()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// A tiny PRNG for incompressible test data (no dependency needed for random-looking bytes).
struct XorShift(u64);

impl XorShift {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub(crate) fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 8);
        while out.len() < len {
            out.extend_from_slice(&self.next().to_le_bytes());
        }
        out.truncate(len);
        out
    }
}
