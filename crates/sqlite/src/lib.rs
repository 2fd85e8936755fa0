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
}
