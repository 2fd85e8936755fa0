//! The bot's life: configuration from the environment, start (download root, database, worker,
//! Telegram client), long polling until SIGINT/SIGTERM, then an orderly stop; and the exit status
//! each outcome means.

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
use crate::handlers;
use crate::messages;
use crate::polling::{self, PollEnd};
use crate::reply::reply;

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

/// Runs the bot until SIGINT/SIGTERM (exit 0) or a fatal error (exit 1).
async fn run(config: BotConfig) -> i32 {
    let app = match start(config).await {
        Ok(app) => app,
        Err(error) => {
            eprintln!("hermes-bot: {error}");
            return EXIT_FAILURE;
        }
    };
    register_commands(&app).await;
    report_interrupted_tasks(&app).await;
    admin::spawn_auto_update(Arc::clone(&app));
    tracing::info!("hermes-bot is running");
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

async fn start(config: BotConfig) -> Result<Arc<App>, StartError> {
    let download_root = prepare_download_root(&config.download_dir)?;
    let db = Db::open(&config.database_url).await?;
    let queue = Arc::new(TaskQueue::from_env()?);
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
    let telegram =
        Telegram::new(config.bot_api_url()).with_max_wait(Duration::from_secs(config.max_retry_wait_secs));
    Ok(Arc::new(App::new(
        config,
        telegram,
        client,
        queue,
        db,
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

/// Tasks a previous process left unfinished are failed, and their chats told to resend.
async fn report_interrupted_tasks(app: &App) {
    let lost = match app.db.fail_interrupted_tasks("the bot restarted").await {
        Ok(lost) => lost,
        Err(error) => {
            tracing::warn!(%error, "cannot check for interrupted tasks");
            return;
        }
    };
    for task in lost {
        tracing::info!(task_id = %task.id, chat_id = task.chat_id, "telling the chat a task was lost");
        let text = format!("{}: {}", messages::BOT_RESTARTED, task.url);
        reply(app, task.chat_id, &text).await;
        app.remove_task_files(&app.task_dir(task.chat_id, &task.id));
    }
}
