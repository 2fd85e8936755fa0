//! The bot's life: configuration from the environment, start of its role (download root, worker,
//! Telegram client; the database for `all` and `front`), long polling (or, on a node, taking
//! jobs) until SIGINT/SIGTERM, then an orderly stop; and the exit status each outcome means.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;

use hermes_host::client::{ClientError, LocateError, WorkerClient, WorkerConfig};
use hermes_host::task_queue::{QueueConfigError, TaskQueue};

use crate::admin;
use crate::api::Telegram;
use crate::app::App;
use crate::config::BotConfig;
use crate::db::{Db, DbError};
use crate::engine::Engine;
use crate::front;
use crate::front_link::FrontLink;
use crate::handlers;
use crate::node;
use crate::polling::{self, PollEnd};
use crate::resume;
use crate::role::{Dispatch, Role};

/// Exit status for a configuration error (missing token, bad variable).
const EXIT_CONFIG: i32 = 2;
/// Exit status when the bot cannot start or Telegram refuses the token.
const EXIT_FAILURE: i32 = 1;
/// How long the worker may finish its tasks at shutdown before it is terminated.
const WORKER_SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

#[derive(Debug, Error)]
enum StartError {
    #[error("cannot create the download directory {path}: {source}")]
    DownloadDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Database(#[from] DbError),
    #[error(transparent)]
    Queue(#[from] QueueConfigError),
    #[error("cannot start the worker: {0}")]
    Worker(#[from] ClientError),
    #[error("cannot start the worker: {0}")]
    WorkerNotFound(#[from] LocateError),
}

/// The `hermes-bot` binary: configuration from the environment, logs on stderr, exit status.
pub fn main() -> i32 {
    let config = match BotConfig::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("hermes-bot: {error}");
            return EXIT_CONFIG;
        }
    };
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("hermes-bot: cannot start the async runtime: {error}");
            return EXIT_FAILURE;
        }
    };
    runtime.block_on(run(config))
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // A second initialisation (in-process tests) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Runs the role until SIGINT/SIGTERM (exit 0) or a fatal error (exit 1).
async fn run(config: BotConfig) -> i32 {
    match config.role {
        Role::Node => run_node(config).await,
        Role::All | Role::Front => run_bot(config).await,
    }
}

/// `all` and `front`: polls Telegram until stopped.
async fn run_bot(config: BotConfig) -> i32 {
    let app = match start_bot(config).await {
        Ok(app) => app,
        Err(error) => {
            eprintln!("hermes-bot: {error}");
            return EXIT_FAILURE;
        }
    };
    register_commands(&app).await;
    match &app.dispatch {
        Dispatch::Local => resume::resume_interrupted(&app).await,
        Dispatch::Front(link) => front::spawn(Arc::clone(&app), Arc::clone(link)),
    }
    admin::spawn_auto_update(Arc::clone(&app));
    tracing::info!(role = ?app.config.role, "hermes-bot is running");
    let status = match polling::poll_until_stopped(Arc::clone(&app)).await {
        PollEnd::Stopped => 0,
        PollEnd::TokenRefused => EXIT_FAILURE,
    };
    app.begin_shutdown();
    app.client.shutdown().await;
    app.db.close().await;
    tracing::info!("hermes-bot stopped");
    status
}

/// `node`: takes jobs from Redis until stopped. No database, no polling.
async fn run_node(config: BotConfig) -> i32 {
    let Some(queue_config) = config.cluster.queue_config() else {
        eprintln!("hermes-bot: a node needs QUEUE_URL");
        return EXIT_CONFIG;
    };
    let concurrency = config.cluster.node_concurrency;
    // Per-chat limits are the front's: a node only bounds what it takes at once.
    let queue = TaskQueue::new(concurrency, concurrency);
    let engine = match start_engine(config, queue) {
        Ok(engine) => engine,
        Err(error) => {
            eprintln!("hermes-bot: {error}");
            return EXIT_FAILURE;
        }
    };
    node::run(Arc::clone(&engine), queue_config, concurrency).await;
    tracing::info!("hermes-bot node stopped");
    0
}

async fn start_bot(config: BotConfig) -> Result<Arc<App>, StartError> {
    let db = Db::open(&config.database_url).await?;
    let dispatch = match (config.role, config.cluster.queue_config()) {
        (Role::Front, Some(queue)) => Dispatch::Front(FrontLink::new(queue)),
        _ => Dispatch::Local,
    };
    let queue = TaskQueue::from_env()?;
    let engine = start_engine(config, queue)?;
    Ok(Arc::new(App::new(engine, db, dispatch)))
}

/// The download root, the worker (cancelled through the queue's hook) and the Telegram client.
fn start_engine(config: BotConfig, queue: TaskQueue) -> Result<Arc<Engine>, StartError> {
    let download_root = prepare_download_root(&config.download_dir)?;
    let queue = Arc::new(queue);
    let mut worker = WorkerConfig::locate()?
        // The worker only writes inside its own DOWNLOAD_DIR: make it ours.
        .with_env("DOWNLOAD_DIR", download_root.to_string_lossy());
    worker.shutdown_grace = WORKER_SHUTDOWN_GRACE;
    let client = WorkerClient::spawn(worker)?;
    let cancel_client = client.clone();
    queue.set_cancel_hook(Arc::new(move |task_id: &str| {
        let client = cancel_client.clone();
        let task_id = task_id.to_owned();
        tokio::spawn(async move {
            if let Err(error) = client.cancel(&task_id).await {
                tracing::warn!(%task_id, %error, "worker cancel failed");
            }
        });
    }));
    let telegram = Telegram::new(config.bot_api_url())
        .with_max_wait(Duration::from_secs(config.max_retry_wait_secs))
        .in_local_mode(config.local_mode);
    Ok(Arc::new(Engine::new(
        config,
        telegram,
        client,
        queue,
        download_root,
    )))
}

/// Creates `DOWNLOAD_DIR` and returns it absolute.
fn prepare_download_root(dir: &Path) -> Result<PathBuf, StartError> {
    let error = |source| StartError::DownloadDir {
        path: dir.to_owned(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(error)?;
    dir.canonicalize().map_err(error)
}

async fn register_commands(app: &App) {
    if let Err(error) = app.telegram.set_commands(handlers::COMMANDS).await {
        tracing::warn!(%error, "setMyCommands failed; the command menu may be outdated");
    }
}
