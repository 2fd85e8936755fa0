//! The bot's SQLite database (sqlx, embedded migrations in `crates/bot/migrations`, runtime
//! queries only): the jobs table (every download's state, the one owner of it), per-chat
//! settings and the upload-once `file_id` cache.

use std::time::{SystemTime, UNIX_EPOCH};

use hermes_protocol::AudioFormat;
use serde::{Deserialize, Serialize};
use sqlx::sqlite::SqlitePool;
use sqlx::Row;
use thiserror::Error;

use crate::media_mode::MediaMode;
use hermes_host::task_queue::TaskState;

#[derive(Debug, Error)]
pub enum DbError {
    #[error("cannot open the bot database {url}: {source}")]
    Open {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    /// SQLite cannot read the file. Unlike the worker's cache, this file holds real state
    /// (tasks, settings, uploads), so it is never moved aside or replaced: the bot stops.
    #[error(
        "the bot database {url} is damaged ({problem}). It holds the bot's tasks, settings and \
         uploads, so it is left untouched: restore it from a backup, or move it away to start \
         with an empty one"
    )]
    Damaged { url: String, problem: String },
    #[error("bot database query failed: {0}")]
    Query(#[from] sqlx::Error),
}

/// How a cached upload was sent, so it is re-sent with the same method (Telegram refuses a
/// `file_id` sent as another kind of media).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum SendMethod {
    Audio,
    Video,
    Document,
}

impl SendMethod {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SendMethod::Audio => "audio",
            SendMethod::Video => "video",
            SendMethod::Document => "document",
        }
    }

    fn from_name(name: &str) -> Option<SendMethod> {
        match name {
            "audio" => Some(SendMethod::Audio),
            "video" => Some(SendMethod::Video),
            "document" => Some(SendMethod::Document),
            _ => None,
        }
    }
}

/// The identity of a downloadable result: the same media in the same mode and format is the
/// same file, whoever asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UploadKey {
    /// `links::normalize_key` of the link.
    pub(crate) media_key: String,
    pub(crate) mode: MediaMode,
    /// The audio format (`mp3`), or the video format selector (`best` by default).
    pub(crate) format: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CachedUpload {
    pub(crate) file_id: String,
    pub(crate) method: SendMethod,
    pub(crate) title: Option<String>,
    #[serde(default)]
    pub(crate) performer: Option<String>,
    #[serde(default)]
    pub(crate) caption: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ChatSettings {
    pub(crate) default_mode: MediaMode,
    pub(crate) audio_format: AudioFormat,
}

impl Default for ChatSettings {
    fn default() -> Self {
        Self {
            default_mode: MediaMode::Audio,
            audio_format: AudioFormat::Mp3,
        }
    }
}

/// A task as recorded when it was created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewTask<'a> {
    pub(crate) id: &'a str,
    pub(crate) chat_id: i64,
    pub(crate) kind: &'a str,
    pub(crate) url: &'a str,
    pub(crate) status_message_id: Option<i32>,
    /// The job as JSON, to run it again after a restart.
    pub(crate) job: &'a str,
    /// `false` on the front until Redis has the job.
    pub(crate) enqueued: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRow {
    pub id: String,
    pub chat_id: i64,
    pub kind: String,
    pub url: String,
    pub state: String,
    pub progress: u8,
    pub file_path: Option<String>,
    pub error: Option<String>,
    pub status_message_id: Option<i32>,
    /// The job as JSON (`None` for rows from before jobs were kept).
    pub job: Option<String>,
    /// How often the job was started.
    pub attempts: u32,
}

pub struct Db {
    pool: SqlitePool,
}

pub(crate) fn state_name(state: TaskState) -> &'static str {
    match state {
        TaskState::Queued => "queued",
        TaskState::Running => "running",
        TaskState::Done => "done",
        TaskState::Failed => "failed",
        TaskState::Cancelled => "cancelled",
    }
}

impl Db {
    /// Opens (creating if needed) and migrates the database at `url`. A damaged file is an
    /// error ([`DbError::Damaged`]), never replaced.
    pub async fn open(url: &str) -> Result<Db, DbError> {
        let error = |source: sqlx::Error| {
            if hermes_sqlite::is_damaged(&source) {
                DbError::Damaged {
                    url: url.to_owned(),
                    problem: source.to_string(),
                }
            } else {
                DbError::Open {
                    url: url.to_owned(),
                    source,
                }
            }
        };
        let pool = hermes_sqlite::open_pool(url, 4).await.map_err(error)?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|e| error(sqlx::Error::Migrate(Box::new(e))))?;
        // A truncated file can open and migrate and fail only when a lost page is read.
        let verdict = sqlx::query_scalar::<_, String>("PRAGMA quick_check(1)")
            .fetch_one(&pool)
            .await;
        let problem = match verdict {
            Ok(verdict) if verdict == "ok" => None,
            Ok(verdict) => Some(verdict),
            Err(e) if hermes_sqlite::is_damaged(&e) => Some(e.to_string()),
            Err(_) => None,
        };
        if let Some(problem) = problem {
            pool.close().await;
            return Err(DbError::Damaged {
                url: url.to_owned(),
                problem,
            });
        }
        Ok(Db { pool })
    }

    pub(crate) async fn insert_task(&self, task: &NewTask<'_>) -> Result<(), DbError> {
        let now = unix_now();
        sqlx::query(
            "INSERT INTO tasks (id, chat_id, kind, url, state, progress, status_message_id, job, enqueued,
                                created_at, updated_at)
             VALUES (?, ?, ?, ?, 'queued', 0, ?, ?, ?, ?, ?)",
        )
        .bind(task.id)
        .bind(task.chat_id)
        .bind(task.kind)
        .bind(task.url)
        .bind(task.status_message_id)
        .bind(task.job)
        .bind(task.enqueued)
        .bind(now)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A start of the job (`attempt` counts from 1). `false` when the job is already over.
    pub(crate) async fn record_start(&self, id: &str, attempt: u32) -> Result<bool, DbError> {
        let done = sqlx::query(
            "UPDATE tasks SET state = 'running', attempts = MAX(attempts, ?), updated_at = ?
             WHERE id = ? AND state IN ('queued', 'running')",
        )
        .bind(attempt)
        .bind(unix_now())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    pub(crate) async fn set_task_progress(&self, id: &str, percent: u8) -> Result<(), DbError> {
        sqlx::query(
            "UPDATE tasks SET progress = ?, updated_at = ? WHERE id = ? AND state IN ('queued', 'running')",
        )
        .bind(i64::from(percent.min(100)))
        .bind(unix_now())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Ends the job in `state` (done, failed, cancelled). Only the first end counts: `false` when
    /// the job had already ended (a late report of a node that lost the job).
    pub(crate) async fn finish_task(
        &self,
        id: &str,
        state: TaskState,
        error: Option<&str>,
        file_path: Option<&str>,
    ) -> Result<bool, DbError> {
        let done = sqlx::query(
            "UPDATE tasks SET state = ?, error = COALESCE(?, error), file_path = COALESCE(?, file_path),
                 progress = CASE WHEN ? = 'done' THEN 100 ELSE progress END, updated_at = ?
             WHERE id = ? AND state IN ('queued', 'running')",
        )
        .bind(state_name(state))
        .bind(error)
        .bind(file_path)
        .bind(state_name(state))
        .bind(unix_now())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    pub(crate) async fn task(&self, id: &str) -> Result<Option<TaskRow>, DbError> {
        let row = sqlx::query(
            "SELECT id, chat_id, kind, url, state, progress, file_path, error, status_message_id, job, attempts
             FROM tasks WHERE id = ?",
        )
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| task_row(&row)).transpose().map_err(DbError::from)
    }

    /// The chat's queued and running jobs, oldest first: what `/status` shows and `/cancel`
    /// looks in.
    pub(crate) async fn active_tasks(&self, chat_id: i64) -> Result<Vec<TaskRow>, DbError> {
        let rows = sqlx::query(
            "SELECT id, chat_id, kind, url, state, progress, file_path, error, status_message_id, job, attempts
             FROM tasks WHERE chat_id = ? AND state IN ('queued', 'running') ORDER BY created_at, rowid",
        )
        .bind(chat_id)
        .fetch_all(&self.pool)
        .await?;
        task_rows(&rows)
    }

    /// Every job a previous process left queued or running, oldest first.
    pub(crate) async fn unfinished_tasks(&self) -> Result<Vec<TaskRow>, DbError> {
        let rows = sqlx::query(
            "SELECT id, chat_id, kind, url, state, progress, file_path, error, status_message_id, job, attempts
             FROM tasks WHERE state IN ('queued', 'running') ORDER BY created_at, rowid",
        )
        .fetch_all(&self.pool)
        .await?;
        task_rows(&rows)
    }

    /// Jobs the front recorded and Redis does not have yet: `(id, job JSON)`, oldest first.
    pub(crate) async fn unsent_jobs(&self) -> Result<Vec<(String, String)>, DbError> {
        let rows = sqlx::query("SELECT id, job FROM tasks WHERE enqueued = 0 AND job IS NOT NULL AND state IN ('queued', 'running')
             ORDER BY created_at, rowid")
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("id")?, row.try_get("job")?)))
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(DbError::from)
    }

    pub(crate) async fn mark_enqueued(&self, id: &str) -> Result<(), DbError> {
        sqlx::query("UPDATE tasks SET enqueued = 1, updated_at = ? WHERE id = ?")
            .bind(unix_now())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The job of a failed task of `chat_id`, taken for a 🔁 Retry: once only (the task becomes
    /// `retried`), so a second tap starts nothing.
    pub(crate) async fn take_for_retry(&self, id: &str, chat_id: i64) -> Result<Option<String>, DbError> {
        let job: Option<Option<String>> = sqlx::query_scalar(
            "UPDATE tasks SET state = 'retried', updated_at = ?
             WHERE id = ? AND chat_id = ? AND state = 'failed' AND job IS NOT NULL
             RETURNING job",
        )
        .bind(unix_now())
        .bind(id)
        .bind(chat_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(job.flatten())
    }

    /// Every task recorded for `url`, oldest first (for `/status`-like listings and tests).
    pub async fn tasks_for_url(&self, url: &str) -> Result<Vec<TaskRow>, DbError> {
        let rows = sqlx::query(
            "SELECT id, chat_id, kind, url, state, progress, file_path, error, status_message_id, job, attempts
             FROM tasks WHERE url = ? ORDER BY created_at, rowid",
        )
        .bind(url)
        .fetch_all(&self.pool)
        .await?;
        task_rows(&rows)
    }

    /// The chat's settings, or the defaults when it never changed them.
    pub(crate) async fn chat_settings(&self, chat_id: i64) -> Result<ChatSettings, DbError> {
        let row = sqlx::query("SELECT default_mode, audio_format FROM chat_settings WHERE chat_id = ?")
            .bind(chat_id)
            .fetch_optional(&self.pool)
            .await?;
        let defaults = ChatSettings::default();
        let Some(row) = row else {
            return Ok(defaults);
        };
        let mode: String = row.try_get("default_mode")?;
        let format: String = row.try_get("audio_format")?;
        Ok(ChatSettings {
            default_mode: MediaMode::from_name(&mode).unwrap_or(defaults.default_mode),
            audio_format: AudioFormat::from_name(&format).unwrap_or(defaults.audio_format),
        })
    }

    pub(crate) async fn set_chat_settings(
        &self,
        chat_id: i64,
        settings: ChatSettings,
    ) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO chat_settings (chat_id, default_mode, audio_format, updated_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (chat_id) DO UPDATE SET default_mode = excluded.default_mode,
                 audio_format = excluded.audio_format, updated_at = excluded.updated_at",
        )
        .bind(chat_id)
        .bind(settings.default_mode.as_str())
        .bind(settings.audio_format.as_str())
        .bind(unix_now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(crate) async fn cached_upload(&self, key: &UploadKey) -> Result<Option<CachedUpload>, DbError> {
        let row = sqlx::query(
            "SELECT file_id, method, title, performer, caption FROM uploads
             WHERE media_key = ? AND mode = ? AND format = ?",
        )
        .bind(&key.media_key)
        .bind(key.mode.as_str())
        .bind(&key.format)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let method: String = row.try_get("method")?;
        Ok(SendMethod::from_name(&method).map(|method| CachedUpload {
            file_id: row.get("file_id"),
            method,
            title: row.get("title"),
            performer: row.get("performer"),
            caption: row.get("caption"),
        }))
    }

    pub(crate) async fn store_upload(&self, key: &UploadKey, upload: &CachedUpload) -> Result<(), DbError> {
        sqlx::query(
            "INSERT OR REPLACE INTO uploads
               (media_key, mode, format, file_id, method, title, performer, caption, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&key.media_key)
        .bind(key.mode.as_str())
        .bind(&key.format)
        .bind(&upload.file_id)
        .bind(upload.method.as_str())
        .bind(&upload.title)
        .bind(&upload.performer)
        .bind(&upload.caption)
        .bind(unix_now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Drops a cached `file_id` Telegram no longer accepts, so the next request downloads again.
    pub(crate) async fn forget_upload(&self, key: &UploadKey) -> Result<(), DbError> {
        sqlx::query("DELETE FROM uploads WHERE media_key = ? AND mode = ? AND format = ?")
            .bind(&key.media_key)
            .bind(key.mode.as_str())
            .bind(&key.format)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The newest cached upload of `media_key` in any mode and format, audio first: what an
    /// inline query offers for a search result (any chat may receive a `file_id`).
    pub(crate) async fn newest_upload(&self, media_key: &str) -> Result<Option<CachedUpload>, DbError> {
        let rows = sqlx::query(
            "SELECT file_id, method, title, performer, caption FROM uploads WHERE media_key = ?
             ORDER BY CASE method WHEN 'audio' THEN 0 ELSE 1 END, created_at DESC, rowid DESC",
        )
        .bind(media_key)
        .fetch_all(&self.pool)
        .await?;
        for row in rows {
            let method: String = row.try_get("method")?;
            if let Some(method) = SendMethod::from_name(&method) {
                return Ok(Some(CachedUpload {
                    file_id: row.try_get("file_id")?,
                    method,
                    title: row.try_get("title")?,
                    performer: row.try_get("performer")?,
                    caption: row.try_get("caption")?,
                }));
            }
        }
        Ok(None)
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn task_rows(rows: &[sqlx::sqlite::SqliteRow]) -> Result<Vec<TaskRow>, DbError> {
    Ok(rows
        .iter()
        .map(task_row)
        .collect::<Result<Vec<_>, sqlx::Error>>()?)
}

fn task_row(row: &sqlx::sqlite::SqliteRow) -> Result<TaskRow, sqlx::Error> {
    let progress: i64 = row.try_get("progress")?;
    let status_message_id: Option<i64> = row.try_get("status_message_id")?;
    Ok(TaskRow {
        id: row.try_get("id")?,
        chat_id: row.try_get("chat_id")?,
        kind: row.try_get("kind")?,
        url: row.try_get("url")?,
        state: row.try_get("state")?,
        progress: u8::try_from(progress.clamp(0, 100)).unwrap_or(0),
        file_path: row.try_get("file_path")?,
        error: row.try_get("error")?,
        status_message_id: status_message_id.and_then(|id| i32::try_from(id).ok()),
        job: row.try_get("job")?,
        attempts: u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or(0),
    })
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn open_temp() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("bot.db").display());
        let db = Db::open(&url).await.expect("open");
        (dir, db)
    }

    fn new_task<'a>(id: &'a str, chat_id: i64) -> NewTask<'a> {
        NewTask {
            id,
            chat_id,
            kind: "audio",
            url: "http://127.0.0.1/a.webm",
            status_message_id: Some(5),
            job: r#"{"any":"json"}"#,
            enqueued: true,
        }
    }

    #[tokio::test]
    async fn jobs_record_their_lifecycle_and_end_once() {
        let (_dir, db) = open_temp().await;
        db.insert_task(&new_task("t1", 7)).await.expect("insert");
        let row = db.task("t1").await.expect("query").expect("row");
        assert_eq!(
            (
                row.state.as_str(),
                row.progress,
                row.status_message_id,
                row.attempts
            ),
            ("queued", 0, Some(5), 0)
        );
        assert_eq!(row.job.as_deref(), Some(r#"{"any":"json"}"#));

        assert!(db.record_start("t1", 1).await.expect("start"));
        db.set_task_progress("t1", 140).await.expect("progress");
        let row = db.task("t1").await.expect("query").expect("row");
        assert_eq!(
            (row.state.as_str(), row.progress, row.attempts),
            ("running", 100, 1)
        );
        assert!(db
            .finish_task("t1", TaskState::Done, None, Some("/d/7/t1/a.mp3"))
            .await
            .expect("finish"));
        // A late report of a node that lost the job changes nothing.
        assert!(!db
            .finish_task("t1", TaskState::Failed, Some("late"), None)
            .await
            .expect("finish"));
        assert!(!db.record_start("t1", 2).await.expect("start"));
        db.set_task_progress("t1", 3).await.expect("progress");
        let row = db.task("t1").await.expect("query").expect("row");
        assert_eq!((row.state.as_str(), row.progress, row.attempts), ("done", 100, 1));
        assert_eq!(row.file_path.as_deref(), Some("/d/7/t1/a.mp3"));
        assert_eq!(row.error, None);
        assert!(db.task("nope").await.expect("query").is_none());
        assert!(
            db.insert_task(&new_task("t1", 7)).await.is_err(),
            "ids are unique"
        );
    }

    #[tokio::test]
    async fn unfinished_jobs_survive_a_reopen_and_a_retry_is_taken_once() {
        let (dir, db) = open_temp().await;
        for (id, chat) in [("a", 1), ("b", 2), ("c", 1), ("d", 3)] {
            db.insert_task(&new_task(id, chat)).await.expect("insert");
        }
        db.record_start("a", 2).await.expect("start");
        db.finish_task("c", TaskState::Done, None, None)
            .await
            .expect("done");
        db.finish_task("d", TaskState::Failed, Some("x"), None)
            .await
            .expect("failed");
        db.close().await;

        // A new process opens the same file.
        let url = format!("sqlite://{}", dir.path().join("bot.db").display());
        let db = Db::open(&url).await.expect("reopen");
        let left: Vec<(String, u32)> = db
            .unfinished_tasks()
            .await
            .expect("unfinished")
            .into_iter()
            .map(|t| (t.id, t.attempts))
            .collect();
        assert_eq!(left, vec![("a".to_owned(), 2), ("b".to_owned(), 0)]);
        let chat1: Vec<String> = db
            .active_tasks(1)
            .await
            .expect("active")
            .into_iter()
            .map(|t| t.id)
            .collect();
        assert_eq!(chat1, vec!["a".to_owned()]);

        assert_eq!(
            db.take_for_retry("d", 4).await.expect("retry"),
            None,
            "another chat's job"
        );
        assert_eq!(
            db.take_for_retry("d", 3).await.expect("retry").as_deref(),
            Some(r#"{"any":"json"}"#)
        );
        assert_eq!(db.take_for_retry("d", 3).await.expect("retry"), None, "only once");
        assert_eq!(db.take_for_retry("c", 1).await.expect("retry"), None, "delivered");
    }

    #[tokio::test]
    async fn the_front_keeps_jobs_until_redis_has_them() {
        let (_dir, db) = open_temp().await;
        let mut task = new_task("f1", 1);
        task.enqueued = false;
        db.insert_task(&task).await.expect("insert");
        db.insert_task(&new_task("f2", 1)).await.expect("insert");
        let unsent = db.unsent_jobs().await.expect("unsent");
        assert_eq!(unsent, vec![("f1".to_owned(), r#"{"any":"json"}"#.to_owned())]);
        db.mark_enqueued("f1").await.expect("sent");
        assert!(db.unsent_jobs().await.expect("unsent").is_empty());
    }

    #[tokio::test]
    async fn settings_default_and_persist() {
        let (_dir, db) = open_temp().await;
        assert_eq!(db.chat_settings(9).await.expect("read"), ChatSettings::default());
        let custom = ChatSettings {
            default_mode: MediaMode::Video,
            audio_format: AudioFormat::Opus,
        };
        db.set_chat_settings(9, custom).await.expect("write");
        assert_eq!(db.chat_settings(9).await.expect("read"), custom);
        let changed = ChatSettings {
            audio_format: AudioFormat::M4a,
            ..custom
        };
        db.set_chat_settings(9, changed).await.expect("overwrite");
        assert_eq!(db.chat_settings(9).await.expect("read"), changed);
        assert_eq!(db.chat_settings(10).await.expect("read"), ChatSettings::default());
    }

    #[tokio::test]
    async fn uploads_are_cached_by_media_mode_and_format() {
        let (_dir, db) = open_temp().await;
        let key = UploadKey {
            media_key: "yt:dQw4w9WgXcQ".into(),
            mode: MediaMode::Audio,
            format: "mp3".into(),
        };
        assert_eq!(db.cached_upload(&key).await.expect("read"), None);
        let upload = CachedUpload {
            file_id: "fake-audio-1".into(),
            method: SendMethod::Audio,
            title: Some("Song".into()),
            performer: None,
            caption: None,
        };
        db.store_upload(&key, &upload).await.expect("store");
        assert_eq!(db.cached_upload(&key).await.expect("read"), Some(upload.clone()));

        let other_format = UploadKey {
            format: "opus".into(),
            ..key.clone()
        };
        let other_mode = UploadKey {
            mode: MediaMode::Video,
            ..key.clone()
        };
        assert_eq!(db.cached_upload(&other_format).await.expect("read"), None);
        assert_eq!(db.cached_upload(&other_mode).await.expect("read"), None);

        db.forget_upload(&key).await.expect("forget");
        assert_eq!(db.cached_upload(&key).await.expect("read"), None);
    }

    #[tokio::test]
    async fn the_newest_upload_of_a_media_key_prefers_audio() {
        let (_dir, db) = open_temp().await;
        assert_eq!(db.newest_upload("yt:dQw4w9WgXcQ").await.expect("read"), None);
        let video_key = UploadKey {
            media_key: "yt:dQw4w9WgXcQ".into(),
            mode: MediaMode::Video,
            format: "best".into(),
        };
        let video = CachedUpload {
            file_id: "fake-video-1".into(),
            method: SendMethod::Video,
            title: Some("Clip".into()),
            performer: None,
            caption: None,
        };
        db.store_upload(&video_key, &video).await.expect("store");
        assert_eq!(
            db.newest_upload("yt:dQw4w9WgXcQ").await.expect("read"),
            Some(video)
        );
        let audio_key = UploadKey {
            mode: MediaMode::Audio,
            format: "opus".into(),
            ..video_key
        };
        let audio = CachedUpload {
            file_id: "fake-audio-1".into(),
            method: SendMethod::Audio,
            title: None,
            performer: None,
            caption: None,
        };
        db.store_upload(&audio_key, &audio).await.expect("store");
        assert_eq!(
            db.newest_upload("yt:dQw4w9WgXcQ").await.expect("read"),
            Some(audio)
        );
        assert_eq!(db.newest_upload("yt:other").await.expect("read"), None);
    }
}
