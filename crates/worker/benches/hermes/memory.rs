//! Figure 6, memory: VmRSS/VmHWM from `/proc`, idle (sampled by figure 1's start-ups) beside a
//! `sleep` process; the peak under load is measured with figure 2.
use crate::error::{io_err, BenchError, Result};
use crate::options::Reps;
use crate::report::{Report, Row, Target, Unit};
use crate::scratch::Scratch;
use std::process::Command;
use std::time::{Duration, Instant};

/// VmRSS and VmHWM (KiB) from `/proc/<pid>/status`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Memory {
    pub(crate) rss_kib: u64,
    pub(crate) hwm_kib: u64,
}

pub(crate) fn memory_of(pid: u32) -> Result<Memory> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).map_err(io_err(format!("read {path}")))?;
    let field = |name| {
        proc_field_kib(&text, name).ok_or_else(|| BenchError::Protocol(format!("no {name} in {path}")))
    };
    Ok(Memory {
        rss_kib: field("VmRSS:")?,
        hwm_kib: field("VmHWM:")?,
    })
}

pub(crate) fn proc_field_kib(text: &str, name: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(name))?;
    line[name.len()..].split_whitespace().next()?.parse().ok()
}

pub(crate) fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Idle memory gathered by the start-up figure, reported by figure 6.
static IDLE_MEMORY: std::sync::Mutex<Vec<Memory>> = std::sync::Mutex::new(Vec::new());

pub(crate) fn remember_idle(memory: Memory) {
    IDLE_MEMORY.lock().unwrap_or_else(|p| p.into_inner()).push(memory);
}

fn idle_memory() -> Vec<Memory> {
    IDLE_MEMORY.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

pub(crate) fn figure_memory_only(_scratch: &Scratch, _reps: &Reps, report: &mut Report) -> Result<()> {
    let idle = idle_memory();
    if idle.is_empty() {
        return Err(BenchError::Protocol(
            "needs figure 1 (idle samples come from its start-ups)".to_owned(),
        ));
    }
    let rss: Vec<f64> = idle.iter().map(|m| mib(m.rss_kib)).collect();
    let hwm: Vec<f64> = idle.iter().map(|m| mib(m.hwm_kib)).collect();
    let sleep = sleep_rss_mib()?;
    report.push_rows([
        Row::new(
            "6a VmRSS idle after start-up vs `sleep`",
            Unit::MiB,
            &rss,
            &[sleep],
            Target::Below(10.0),
        ),
        Row::new(
            "6b VmHWM idle after start-up vs `sleep`",
            Unit::MiB,
            &hwm,
            &[sleep],
            Target::Below(10.0),
        ),
    ]);
    report.notes.push(
        "6: idle = read from /proc/<pid>/status right after the start-up figure's `health_ok` (1a/1b workers); \
         baseline = VmRSS of a `sleep` process (the floor of any dynamically linked process here). \
         The peak under 3 downloads is row 6c (measured with figure 2)."
            .to_owned(),
    );
    Ok(())
}

fn sleep_rss_mib() -> Result<f64> {
    let mut child = Command::new("sleep")
        .arg("10")
        .spawn()
        .map_err(io_err("spawn sleep"))?;
    let pid = child.id();
    let comm = format!("/proc/{pid}/comm");
    let deadline = Instant::now() + Duration::from_secs(5);
    // Wait until the exec has happened, so the numbers are sleep's and not the forked bench's.
    while std::fs::read_to_string(&comm)
        .map(|c| c.trim() != "sleep")
        .unwrap_or(true)
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(50));
    let memory = memory_of(pid);
    let _ = child.kill();
    let _ = child.wait();
    Ok(mib(memory?.rss_kib))
}
