//! What the report says about the machine and the moment (CPU, RAM, tool versions, load), since
//! a figure means little without them.
use crate::memory::proc_field_kib;
use crate::options::Options;
use crate::WORKER_BIN;
use std::process::{Command, Stdio};

pub(crate) fn machine_info(options: &Options) -> Vec<(String, String)> {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mode = if options.quick { "--quick" } else { "full" };
    vec![
        (
            "date (UTC)".to_owned(),
            first_line_of("date", &["-u", "+%Y-%m-%d %H:%M:%S"]),
        ),
        (
            "machine".to_owned(),
            format!("{cpus} CPUs (nproc), {}, {} RAM", cpu_model(), total_ram()),
        ),
        ("kernel".to_owned(), first_line_of("uname", &["-sr"])),
        ("yt-dlp".to_owned(), first_line_of("yt-dlp", &["--version"])),
        ("ffmpeg".to_owned(), first_line_of("ffmpeg", &["-version"])),
        ("rustc".to_owned(), first_line_of("rustc", &["--version"])),
        ("worker binary".to_owned(), WORKER_BIN.to_owned()),
        ("mode".to_owned(), mode.to_owned()),
        ("load at start (uptime)".to_owned(), load_average()),
    ]
}

fn first_line_of(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()
        .and_then(|out| {
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .next()
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned())
}

fn total_ram() -> String {
    let kib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| proc_field_kib(&text, "MemTotal:"));
    kib.map_or_else(
        || "unknown".to_owned(),
        |kib| format!("{:.1} GiB", kib as f64 / 1024.0 / 1024.0),
    )
}

pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| text.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}
