//! A whole scale-out deployment on this machine (DESIGN.md §7): a real `redis-server`, the fake
//! Bot API, a media server, one `hermes-bot` front and N nodes, and users who send links. For the
//! scale-out bench figure and `scripts/cluster-demo.sh`; the bot's own tests build theirs
//! step by step.

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use crate::bot::{self, Sandbox};
use crate::http::MediaServer;
use crate::media;
use crate::redis::RedisServer;
use crate::telegram::FakeBotApi;

pub struct Cluster {
    pub api: FakeBotApi,
    pub media: MediaServer,
    pub redis: RedisServer,
    pub dir: tempfile::TempDir,
    /// `(name, process)`: `front`, then `node1` …
    processes: Vec<(String, Child)>,
}

impl Cluster {
    /// Starts Redis, the front and `nodes` nodes (each taking `node_concurrency` jobs at once).
    pub fn start(
        bot_bin: &Path,
        worker_bin: &Path,
        nodes: usize,
        node_concurrency: usize,
    ) -> std::io::Result<Cluster> {
        let redis = RedisServer::start();
        let api = FakeBotApi::try_start(bot::TOKEN)?;
        let media = MediaServer::start(media::media_dir());
        let dir = tempfile::tempdir()?;
        // Each process runs in the sandbox: a relative program path would be looked up there.
        let sandbox = Sandbox {
            bot_bin: std::path::absolute(bot_bin)?,
            worker_bin: std::path::absolute(worker_bin)?,
            root: dir.path().to_owned(),
            api_url: api.base_url().to_owned(),
        };
        let queue_url = redis.url();
        let concurrency = node_concurrency.to_string();
        let mut cluster = Cluster {
            api,
            media,
            redis,
            dir,
            processes: Vec::new(),
        };
        let front_env = [("HERMES_ROLE", "front"), ("QUEUE_URL", queue_url.as_str())];
        let front = sandbox
            .command("front", &sandbox.root.join("front-downloads"), &front_env)?
            .spawn()?;
        cluster.processes.push(("front".to_owned(), front));
        for n in 1..=nodes {
            let name = format!("node{n}");
            let env = [
                ("HERMES_ROLE", "node"),
                ("QUEUE_URL", queue_url.as_str()),
                ("HERMES_NODE_NAME", name.as_str()),
                ("WORKER_CONCURRENCY", concurrency.as_str()),
            ];
            let downloads = sandbox.root.join(format!("{name}-downloads"));
            let node = sandbox.command(&name, &downloads, &env)?.spawn()?;
            cluster.processes.push((name, node));
        }
        Ok(cluster)
    }

    /// Waits until the front polls and every node takes jobs (their logs say so).
    pub fn wait_ready(&self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            let front = self.log("front").contains("hermes-bot is running");
            let nodes = self
                .processes
                .iter()
                .filter(|(name, _)| name != "front")
                .all(|(name, _)| self.log(name).contains("node is taking jobs"));
            if front && nodes {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A URL of a 1 MiB WAV served at `rate` bytes/s; `n` makes each distinct.
    pub fn paced_url(&self, rate: u64, n: usize) -> String {
        let wav = media::big_wav(1);
        let name = wav
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.media.url(&format!("/slow/{rate}/{name}?n={n}"))
    }

    /// Users in `chats` (round robin) each send one of `urls` as audio; waits until every file
    /// arrived (within `within`) and returns the time from the first request to the last upload.
    pub fn deliver(&self, chats: &[i64], urls: &[String], within: Duration) -> Result<Duration, String> {
        let before = bot::uploads(&self.api).len();
        let started = Instant::now();
        for (i, url) in urls.iter().enumerate() {
            let chat = chats[i % chats.len()];
            bot::request_audio(&self.api, chat, url, within).ok_or_else(|| {
                format!(
                    "no download keyboard for {url}; front log:\n{}",
                    self.log("front")
                )
            })?;
        }
        let deadline = started + within;
        loop {
            let arrived = bot::uploads(&self.api).len() - before;
            if arrived >= urls.len() {
                return Ok(started.elapsed());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{arrived} of {} files within {within:?}; front log:\n{}",
                    urls.len(),
                    self.log("front")
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Jobs each node claimed so far: `(name, count)`.
    pub fn claims(&self) -> Vec<(String, usize)> {
        self.processes
            .iter()
            .filter(|(name, _)| name != "front")
            .map(|(name, _)| (name.clone(), bot::jobs_claimed(&self.log(name))))
            .collect()
    }

    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.log_path(name)).unwrap_or_default()
    }

    pub fn log_path(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.log"))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for (_, child) in &mut self.processes {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        for (_, child) in &mut self.processes {
            while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
