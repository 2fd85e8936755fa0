//! Harness for the `hermes-bot` end-to-end tests: the real binary, the real worker, real yt-dlp
//! and ffmpeg, a fake Bot API and a media server, all on 127.0.0.1 and inside a temp dir.

#![allow(dead_code)] // each test crate uses its own part of the harness
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use hermes_testkit::bot::{self, Sandbox};
use hermes_testkit::http::MediaServer;
use hermes_testkit::media;
use hermes_testkit::telegram::{Call, FakeBotApi};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tempfile::TempDir;

#[allow(unused_imports)] // each test crate uses its own part, as above
pub use hermes_testkit::bot::{button, buttons, message_id_of, summarize, TOKEN, USER};
/// Every wait in these tests is bounded by this; most finish in a few seconds.
pub const WAIT: Duration = Duration::from_secs(30);

/// `hermes-worker` beside this package's binaries (see `hermes_testkit::bins`).
pub fn worker_bin() -> PathBuf {
    hermes_testkit::bins::worker_binary_beside(Path::new(env!("CARGO_BIN_EXE_hermes-bot")))
}

/// A running `hermes-bot` process with its own fake Telegram, media server and sandbox dir.
pub struct Harness {
    pub api: FakeBotApi,
    pub media: MediaServer,
    pub dir: TempDir,
    child: Option<Child>,
    env: Vec<(String, String)>,
}

impl Harness {
    /// Starts the bot with extra environment variables on top of the sandbox defaults.
    pub fn start(extra_env: &[(&str, &str)]) -> Harness {
        Self::start_with(extra_env, false)
    }

    /// [`Harness::start`] with YouTube answered offline: searches and look-ups from the recorded
    /// fixtures, downloads of watch URLs from [`Harness::serve_youtube_from`] (see
    /// [`fake_youtube_ytdlp`]).
    pub fn with_fake_youtube(extra_env: &[(&str, &str)]) -> Harness {
        Self::start_with(extra_env, true)
    }

    fn start_with(extra_env: &[(&str, &str)], fake_youtube: bool) -> Harness {
        let api = FakeBotApi::start(TOKEN);
        let media = MediaServer::start(media::media_dir());
        let dir = tempfile::tempdir().expect("tempdir");
        let mut env: Vec<(String, String)> = extra_env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        if fake_youtube {
            let ytdlp = fake_youtube_ytdlp(dir.path());
            env.push(("YTDLP_BIN".to_owned(), ytdlp.to_string_lossy().into_owned()));
        }
        let mut harness = Harness {
            api,
            media,
            dir,
            child: None,
            env,
        };
        harness.spawn_bot();
        harness
    }

    /// With [`Harness::with_fake_youtube`]: YouTube watch URLs download this local media
    /// instead; returns its URL on the media server.
    pub fn serve_youtube_from(&self, media: &Path) -> String {
        let local = self.media.media_url(media);
        std::fs::write(self.dir.path().join("youtube-target"), &local).expect("target file");
        local
    }

    /// (Re)starts the bot process against the same fake API, database and download dir.
    pub fn spawn_bot(&mut self) {
        let extra: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let mut command = self.command("bot", &self.downloads(), &extra);
        self.child = Some(command.spawn().expect("spawn hermes-bot"));
    }

    /// Another `hermes-bot` process (a node, a second front) against the same fake API and bot
    /// database, with its own download directory, worker database and log `<name>.log`.
    pub fn spawn_process(&self, name: &str, env: &[(&str, &str)]) -> BotProcess {
        let downloads = self.dir.path().join(format!("{name}-downloads"));
        let mut command = self.command(name, &downloads, env);
        BotProcess {
            name: name.to_owned(),
            log: self.dir.path().join(format!("{name}.log")),
            downloads,
            child: Some(command.spawn().expect("spawn hermes-bot")),
        }
    }

    fn command(&self, name: &str, downloads: &Path, env: &[(&str, &str)]) -> Command {
        let sandbox = Sandbox {
            bot_bin: PathBuf::from(env!("CARGO_BIN_EXE_hermes-bot")),
            worker_bin: worker_bin(),
            root: self.dir.path().to_owned(),
            api_url: self.api.base_url().to_owned(),
        };
        sandbox.command(name, downloads, env).expect("log file")
    }

    pub fn downloads(&self) -> PathBuf {
        self.dir.path().join("downloads")
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).expect("bot running")
    }

    /// SIGTERM, then wait (SIGKILL after 15 s); returns the exit code.
    pub fn stop(&mut self) -> Option<i32> {
        terminate(self.child.take()?)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("bot.log")).unwrap_or_default()
    }

    /// A user message in `chat` (user [`USER`] when the chat is not private).
    pub fn say(&self, chat: i64, text: &str) {
        bot::say(&self.api, chat, text);
    }

    /// A tap on a button with `data` under `message_id`.
    pub fn tap(&self, chat: i64, message_id: i32, data: &str) {
        bot::tap(&self.api, chat, message_id, data);
    }

    /// The first call of `method` (since `after`) matching `predicate`; panics with the bot log
    /// after [`WAIT`].
    pub fn wait_for(&self, method: &str, after: usize, predicate: impl Fn(&Call) -> bool) -> Call {
        self.api
            .wait_for_call_blocking(method, |c| c.seq >= after && predicate(c), WAIT)
            .unwrap_or_else(|| {
                panic!(
                    "no matching {method} within {WAIT:?}.\ncalls: {:#?}\nbot log:\n{}",
                    summarize(&self.api.calls()),
                    self.log()
                )
            })
    }

    /// `/settings`, then taps the audio format `format` (`mp3`, `m4a`, `opus`).
    pub fn set_audio_format(&self, chat: i64, format: &str) {
        let mark = self.mark();
        self.say(chat, "/settings");
        let (settings_id, button) = self.wait_for_button(chat, mark, format);
        self.tap(chat, settings_id, &button);
        self.wait_for_message_text(chat, settings_id, &format!("Audio format: {format}"));
    }

    /// An RSS feed `name` titled `title` of one Opus tone per frequency, `seconds` long each,
    /// items titled "`item` 1", "`item` 2", …; returns its URL.
    pub fn tone_feed(&self, name: &str, title: &str, item: &str, seconds: u32, freqs: &[u32]) -> String {
        let items = freqs
            .iter()
            .enumerate()
            .map(|(i, freq)| {
                let tone = media::tone_webm(seconds, *freq);
                let file = tone.file_name().expect("name").to_string_lossy().into_owned();
                hermes_testkit::http::FeedItem::new(format!("{item} {}", i + 1), format!("/media/{file}"))
            })
            .collect();
        self.media.add_feed(name, title, items)
    }

    /// `/playlist <feed>`, then taps "All" and "Audio"; returns the status message's id.
    pub fn playlist_all_as_audio(&self, chat: i64, feed: &str) -> i32 {
        let mark = self.mark();
        self.say(chat, &format!("/playlist {feed}"));
        let (message_id, all) = self.wait_for_button(chat, mark, "All");
        // Marked before the tap: the bot may answer before the next line runs.
        let after_all = self.mark();
        self.tap(chat, message_id, &all);
        let (message_id, audio) = self.wait_for_button(chat, after_all, "Audio");
        self.tap(chat, message_id, &audio);
        message_id
    }

    /// A message the bot sent to `chat` with text containing `needle`.
    pub fn wait_for_text(&self, chat: i64, after: usize, needle: &str) -> Call {
        self.wait_for("sendMessage", after, |c| {
            c.params["chat_id"] == chat && text_of(c).contains(needle)
        })
    }

    /// The next keyboard the bot sent or edited into `chat` containing a button labelled `label`.
    pub fn wait_for_button(&self, chat: i64, after: usize, label: &str) -> (i32, String) {
        bot::wait_for_button(&self.api, chat, after, label, WAIT).unwrap_or_else(|| {
            panic!(
                "no button {label:?} within {WAIT:?}.\ncalls: {:#?}\nbot log:\n{}",
                summarize(&self.api.calls()),
                self.log()
            )
        })
    }

    /// The text a message shows now.
    pub fn message_text(&self, chat: i64, message_id: i32) -> String {
        self.api
            .message(chat, message_id)
            .and_then(|m| m["text"].as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// Waits until message `message_id` shows text containing `needle`.
    pub fn wait_for_message_text(&self, chat: i64, message_id: i32, needle: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let text = self.message_text(chat, message_id);
            if text.contains(needle) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "message {message_id} never showed {needle:?}; it shows {text:?}\nbot log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for a task's final status: "✅ Completed" without the "/cancel" hint. A `progress`
    /// event with status `completed` shows "✅ Completed" too, but before the file is delivered
    /// and with "/cancel" still there.
    pub fn wait_for_final_status(&self, chat: i64, message_id: i32) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let text = self.message_text(chat, message_id);
            if text.contains("✅ Completed") && !text.contains("/cancel") {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "message {message_id} never showed the final status; it shows {text:?}\nbot log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn mark(&self) -> usize {
        self.api.calls().len()
    }

    /// Processes below the bot whose command line mentions this sandbox (yt-dlp, ffmpeg).
    pub fn download_processes(&self) -> Vec<String> {
        let marker = self.downloads().to_string_lossy().into_owned();
        hermes_testkit::procs::descendants(self.pid())
            .into_iter()
            .filter(|p| {
                p.cmdline.contains(&marker) || p.cmdline.contains("yt-dlp") || p.cmdline.contains("ffmpeg")
            })
            .map(|p| p.cmdline)
            .collect()
    }

    pub fn worker_pid(&self) -> Option<u32> {
        hermes_testkit::procs::descendants(self.pid())
            .into_iter()
            .find(|p| p.cmdline.contains("hermes-worker") && p.ppid == self.pid())
            .map(|p| p.pid)
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("---- hermes-bot log ----\n{}", self.log());
        }
        self.stop();
    }
}

/// A `hermes-bot` process beside the harness's own, killed when dropped.
pub struct BotProcess {
    pub name: String,
    pub log: PathBuf,
    pub downloads: PathBuf,
    child: Option<Child>,
}

impl BotProcess {
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).expect("process running")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL: no clean-up of any kind, as a machine that dies.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then wait (SIGKILL after 15 s); returns the exit code.
    pub fn stop(&mut self) -> Option<i32> {
        terminate(self.child.take()?)
    }
}

impl Drop for BotProcess {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("---- {} log ----\n{}", self.name, self.log());
        }
        self.kill();
    }
}

/// SIGTERM, then wait (SIGKILL after 15 s); returns the exit code.
fn terminate(mut child: Child) -> Option<i32> {
    let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(future)
}

/// Every task the bot recorded for `url`, oldest first.
pub fn tasks_for(harness: &Harness, url: &str) -> Vec<hermes_bot::db::TaskRow> {
    let url = url.to_owned();
    let db_url = format!("sqlite://{}", harness.dir.path().join("bot.db").display());
    block_on(async move {
        let Ok(db) = hermes_bot::db::Db::open(&db_url).await else {
            return Vec::new();
        };
        let rows = db.tasks_for_url(&url).await.unwrap_or_default();
        db.close().await;
        rows
    })
}

/// The state the bot recorded for its newest task with `url`.
pub fn task_state(harness: &Harness, url: &str) -> Option<String> {
    tasks_for(harness, url).last().map(|t| t.state.clone())
}

/// Sends `url`, taps 🎵 Audio, and returns the status message id and the call mark before it.
pub fn request_audio(harness: &Harness, chat: i64, url: &str) -> (i32, usize) {
    let mark = harness.mark();
    harness.say(chat, url);
    let (message_id, data) = harness.wait_for_button(chat, mark, "Audio");
    assert!(data.len() <= 64 && !data.contains("http"), "{data}");
    harness.tap(chat, message_id, &data);
    (message_id, mark)
}

/// A `YTDLP_BIN` for the search tests: searches go to `scripts/fake-yt-dlp` (recorded YouTube
/// answers), and any other yt-dlp run has YouTube watch URLs replaced by the local media URL
/// written in `<cwd>/youtube-target`, then runs the real yt-dlp. Test plumbing only.
pub fn fake_youtube_ytdlp(dir: &std::path::Path) -> std::path::PathBuf {
    let fake = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/fake-yt-dlp");
    let fake = fake.canonicalize().expect("scripts/fake-yt-dlp");
    let script = dir.join("yt-dlp-dispatch");
    let body = format!(
        r#"#!/usr/bin/env python3
import os, sys
args = sys.argv[1:]
youtube = any("youtube.com" in a or "youtu.be" in a for a in args)
lookup = "-J" in args or "--dump-single-json" in args
if any(a.startswith("ytsearch") for a in args) or (youtube and lookup):
    os.execv({fake:?}, [{fake:?}] + args)
target = open(os.path.join(os.getcwd(), "youtube-target")).read().strip()
args = [target if ("youtube.com/watch" in a or "youtu.be/" in a) else a for a in args]
os.execvp("yt-dlp", ["yt-dlp"] + args)
"#,
        fake = fake.to_string_lossy()
    );
    std::fs::write(&script, body).expect("write dispatcher");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    script
}

pub fn wait_until_empty(dir: &Path) {
    let empty = hermes_testkit::procs::wait_until(Duration::from_secs(5), || {
        std::fs::read_dir(dir).map_or(true, |mut d| d.next().is_none())
    });
    assert!(empty, "task files left in {}", dir.display());
}

/// A download at `rate` bytes/s of a 2 MB file: still running whenever the test looks.
pub fn slow_url(harness: &Harness, rate: u64, n: usize) -> String {
    let wav = media::big_wav(2);
    let name = wav.file_name().expect("name").to_string_lossy().into_owned();
    harness.media.url(&format!("/slow/{rate}/{name}?n={n}"))
}

pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            !stat
                .rsplit(')')
                .next()
                .unwrap_or_default()
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(false)
}

pub fn text_of(call: &Call) -> String {
    call.params["text"].as_str().unwrap_or_default().to_owned()
}

/// Percentages shown by progress bars in `texts`, in order.
pub fn percents(texts: &[String]) -> Vec<u8> {
    texts
        .iter()
        .filter(|t| t.contains('▓') || t.contains('░'))
        .filter_map(|t| {
            let after_bar = t.split(['▓', '░']).next_back()?;
            let number: String = after_bar
                .trim_start()
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            number.parse().ok()
        })
        .collect()
}

/// Runs ffprobe on `bytes` and returns the first audio codec name.
pub fn probe_codec(bytes: &[u8], dir: &Path, name: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write probe file");
    let output = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "a:0",
            "-show_entries",
            "stream=codec_name",
            "-of",
            "csv=p=0",
        ])
        .arg(&path)
        .output()
        .expect("run ffprobe");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// A rate for `/slow/<rate>/` that makes `file` take about `seconds` to download.
pub fn rate_for(file: &Path, seconds: u64) -> u64 {
    let size = std::fs::metadata(file).expect("media file").len();
    (size / seconds).max(1000)
}
