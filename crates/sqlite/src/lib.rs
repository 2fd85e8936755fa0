//! Opens a SQLite pool the way every Hermes process needs it: the file created if missing, WAL
//! so that several processes (workers, the bot) read and write it concurrently, and a busy
//! timeout so that a writer waits for another instead of failing at once. Migrations stay with
//! each caller: the worker and the bot own different tables in possibly the same file.
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use std::str::FromStr;
use std::time::Duration;

/// How long SQLite waits for a lock another connection (or process) holds.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a query waits for a free connection of the pool.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects to the SQLite database at `url` (an sqlx URL such as `sqlite://./hermes.db`) with at
/// most `max_connections` connections. Switching a new file to WAL can fail at once with
/// "database is locked" when another process does the same (SQLite's busy handler does not cover
/// it); callers that start together retry.
pub async fn open_pool(url: &str, max_connections: u32) -> Result<SqlitePool, sqlx::Error> {
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .busy_timeout(BUSY_TIMEOUT);
    SqlitePoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await
}

/// Whether SQLite says the file is not a usable database: SQLITE_CORRUPT (11) or SQLITE_NOTADB
/// (26), extended codes included, also inside a migration error. Each caller decides what a
/// damaged file means to it (the worker's cache moves it aside; the bot's tasks refuse to start).
pub fn is_damaged(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db) => db
            .code()
            .and_then(|c| c.parse::<i32>().ok())
            .is_some_and(|c| matches!(c & 0xff, 11 | 26)),
        sqlx::Error::Migrate(migrate) => match migrate.as_ref() {
            sqlx::migrate::MigrateError::Execute(inner)
            | sqlx::migrate::MigrateError::ExecuteMigration(inner, _) => is_damaged(inner),
            _ => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn creates_the_file_in_wal_mode_with_the_busy_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("new.db").display());
        let pool = open_pool(&url, 2).await.unwrap();
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        let timeout: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(timeout, 5000);
        assert_eq!(pool.options().get_max_connections(), 2);
        pool.close().await;
        assert!(dir.path().join("new.db").is_file());
    }

    #[tokio::test]
    async fn a_file_that_is_not_a_database_is_damaged_and_a_missing_table_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("garbage.db");
        std::fs::write(&path, vec![0x5a; 8192]).unwrap();
        let url = format!("sqlite://{}", path.display());
        let error = match open_pool(&url, 1).await {
            Err(error) => error,
            Ok(pool) => sqlx::query("SELECT 1 FROM sqlite_master")
                .execute(&pool)
                .await
                .unwrap_err(),
        };
        assert!(is_damaged(&error), "{error}");
        let pool = open_pool(&format!("sqlite://{}", dir.path().join("fine.db").display()), 1)
            .await
            .unwrap();
        let missing = sqlx::query("SELECT * FROM nowhere")
            .execute(&pool)
            .await
            .unwrap_err();
        assert!(!is_damaged(&missing), "{missing}");
    }
}
