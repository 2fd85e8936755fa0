//! The SQLite cache of search results and video metadata (sqlx, embedded migrations, runtime
//! queries only — no database is needed at build time).
//!
//! The file survives restarts and may be shared by several worker processes: WAL mode and a busy
//! timeout let them read and write concurrently. It may also be shared with another program
//! (DESIGN.md §2.1: the existing host's bot migrates the same default file with its own sqlx
//! migrations and its own `search_cache` table), so every table of ours is prefixed `hermes_`
//! and our migrations are tracked in `hermes_migrations` (`sqlx.toml`), never in
//! `_sqlx_migrations`. A file of the old layout (ours in `_sqlx_migrations`) simply gets the new
//! tables; the old ones are left alone, since they may as well belong to someone else.
use hermes_protocol::{CacheCleanupDone, CacheStats, SearchResult};
use sha2::{Digest, Sha256};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
use sqlx::Row;
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub struct Cache {
    pool: SqlitePool,
    enabled: bool,
    ttl_hours: u64,
    hits: AtomicU64,
    misses: AtomicU64,
    /// Search results this process read or wrote, so a repeated search costs a map lookup
    /// instead of a SQLite round trip. Rows never change before they expire, so a copy is
    /// never stale; other processes still see every entry through SQLite.
    recent_searches: Mutex<HashMap<String, (i64, SearchHits)>>,
}

/// Search results as cached: shared, never copied on a hit.
pub(crate) type SearchHits = Arc<Vec<SearchResult>>;

/// The cache key of a search: the lower-cased trimmed query and the result count asked for,
/// hashed once per search (the same key also identifies it for single-flight).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SearchKey {
    hash: String,
    normalized_query: String,
    count: u32,
}

impl SearchKey {
    pub(crate) fn new(query: &str, count: u32) -> SearchKey {
        let normalized_query = query.trim().to_lowercase();
        let hash = hex(&Sha256::digest(format!("{normalized_query}\n{count}").as_bytes()));
        SearchKey {
            hash,
            normalized_query,
            count,
        }
    }

    /// The hex sha256 stored as `hermes_search_cache.query_hash`.
    pub(crate) fn as_str(&self) -> &str {
        &self.hash
    }
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Search results kept in memory at most; past it, expired entries go first, then all.
const RECENT_SEARCHES_MAX: usize = 2048;

/// Why the cache database could not be opened, with the URL for the start-up message.
#[derive(Debug, thiserror::Error)]
#[error("cannot open the cache database {url}: {source}")]
pub struct OpenError {
    pub(crate) url: String,
    #[source]
    pub(crate) source: sqlx::Error,
}

impl Cache {
    /// Opens (creating if needed) and migrates the database at `url`.
    pub async fn open(url: &str, enabled: bool, ttl_hours: u64) -> Result<Cache, OpenError> {
        let pool = open_pool(url).await.map_err(|source| OpenError {
            url: url.to_owned(),
            source,
        })?;
        Ok(Cache {
            pool,
            enabled,
            ttl_hours,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            recent_searches: Mutex::new(HashMap::new()),
        })
    }

    /// A live cached search result, counting the hit or miss. `None` when disabled. A row that
    /// does not decode (written by an incompatible version) counts as a miss.
    pub(crate) async fn search_get(&self, key: &SearchKey) -> Result<Option<SearchHits>, sqlx::Error> {
        if !self.enabled {
            return Ok(None);
        }
        if let Some(results) = self.recent_search(key.as_str()) {
            return Ok(self.count_lookup(Some(results)));
        }
        let row = sqlx::query("SELECT results_json, expires_at FROM hermes_search_cache WHERE query_hash = ? AND expires_at > ?")
            .bind(key.as_str())
            .bind(now())
            .fetch_optional(&self.pool)
            .await?;
        let found = row.and_then(|r| {
            let results: Vec<SearchResult> =
                serde_json::from_str(&r.get::<String, _>("results_json")).ok()?;
            Some((r.get::<i64, _>("expires_at"), Arc::new(results)))
        });
        if let Some((expires_at, results)) = &found {
            self.remember_search(key.as_str().to_owned(), *expires_at, results.clone());
        }
        Ok(self.count_lookup(found.map(|(_, results)| results)))
    }

    pub(crate) async fn search_put(&self, key: &SearchKey, results: &SearchHits) -> Result<(), sqlx::Error> {
        if !self.enabled {
            return Ok(());
        }
        let expires_at = self.expiry();
        sqlx::query(
            "INSERT OR REPLACE INTO hermes_search_cache (query_hash, query, max_results, results_json, created_at, expires_at)
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(key.as_str())
        .bind(&key.normalized_query)
        .bind(key.count as i64)
        .bind(serde_json::to_string(results.as_slice()).unwrap_or_else(|_| "[]".to_owned()))
        .bind(now())
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        self.remember_search(key.as_str().to_owned(), expires_at, results.clone());
        Ok(())
    }

    /// Live cached video metadata for `key` (video id or URL), counting the hit or miss.
    pub(crate) async fn metadata_get(&self, key: &str) -> Result<Option<serde_json::Value>, sqlx::Error> {
        if !self.enabled {
            return Ok(None);
        }
        let row =
            sqlx::query("SELECT info_json FROM hermes_metadata_cache WHERE video_key = ? AND expires_at > ?")
                .bind(key)
                .bind(now())
                .fetch_optional(&self.pool)
                .await?;
        Ok(self.count_lookup(row.and_then(|r| parse_json(r.get("info_json")))))
    }

    pub(crate) async fn metadata_put(
        &self,
        key: &str,
        url: &str,
        info: &serde_json::Value,
    ) -> Result<(), sqlx::Error> {
        if !self.enabled {
            return Ok(());
        }
        sqlx::query(
            "INSERT OR REPLACE INTO hermes_metadata_cache (video_key, url, info_json, created_at, expires_at)
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(key)
        .bind(url)
        .bind(info.to_string())
        .bind(now())
        .bind(self.expiry())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Live entries per table and this process's hit/miss counters.
    pub(crate) async fn stats(&self) -> Result<CacheStats, sqlx::Error> {
        let live = |sql: &'static str| {
            sqlx::query_scalar::<_, i64>(sql)
                .bind(now())
                .fetch_one(&self.pool)
        };
        let search_entries = live("SELECT COUNT(*) FROM hermes_search_cache WHERE expires_at > ?").await?;
        let metadata_entries =
            live("SELECT COUNT(*) FROM hermes_metadata_cache WHERE expires_at > ?").await?;
        Ok(CacheStats {
            search_entries: search_entries.max(0) as u64,
            metadata_entries: metadata_entries.max(0) as u64,
            cache_enabled: self.enabled,
            ttl_hours: self.ttl_hours,
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        })
    }

    /// Deletes expired rows of both tables.
    pub(crate) async fn cleanup(&self) -> Result<CacheCleanupDone, sqlx::Error> {
        let now = now();
        self.recent().retain(|_, (expires, _)| *expires > now);
        let removed_search = sqlx::query("DELETE FROM hermes_search_cache WHERE expires_at <= ?")
            .bind(now)
            .execute(&self.pool)
            .await?
            .rows_affected();
        let removed_metadata = sqlx::query("DELETE FROM hermes_metadata_cache WHERE expires_at <= ?")
            .bind(now)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(CacheCleanupDone {
            removed_search,
            removed_metadata,
        })
    }

    /// Test seam: ages every row so that it is expired.
    #[cfg(test)]
    async fn expire_all_for_tests(&self) -> Result<(), sqlx::Error> {
        self.recent().clear();
        sqlx::query("UPDATE hermes_search_cache SET expires_at = 0")
            .execute(&self.pool)
            .await?;
        sqlx::query("UPDATE hermes_metadata_cache SET expires_at = 0")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The version last probed for `program` when its binary still has `fingerprint`.
    /// `Some(None)` means "probed: not runnable".
    pub(crate) async fn tool_version(
        &self,
        program: &str,
        fingerprint: &str,
    ) -> Result<Option<Option<String>>, sqlx::Error> {
        let row =
            sqlx::query("SELECT version FROM hermes_tool_versions WHERE program = ? AND fingerprint = ?")
                .bind(program)
                .bind(fingerprint)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|r| r.get::<Option<String>, _>("version")))
    }

    pub(crate) async fn remember_tool_version(
        &self,
        program: &str,
        fingerprint: &str,
        version: Option<&str>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("INSERT OR REPLACE INTO hermes_tool_versions (program, fingerprint, version, probed_at) VALUES (?, ?, ?, ?)")
            .bind(program)
            .bind(fingerprint)
            .bind(version)
            .bind(now())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Closes the pool so the WAL is checkpointed before the process exits.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    fn recent(&self) -> std::sync::MutexGuard<'_, HashMap<String, (i64, SearchHits)>> {
        self.recent_searches
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn recent_search(&self, key: &str) -> Option<SearchHits> {
        let mut recent = self.recent();
        match recent.get(key) {
            Some((expires_at, results)) if *expires_at > now() => Some(results.clone()),
            Some(_) => {
                recent.remove(key);
                None
            }
            None => None,
        }
    }

    fn remember_search(&self, key: String, expires_at: i64, results: SearchHits) {
        let mut recent = self.recent();
        if recent.len() >= RECENT_SEARCHES_MAX {
            let now = now();
            recent.retain(|_, (expires, _)| *expires > now);
            if recent.len() >= RECENT_SEARCHES_MAX {
                recent.clear();
            }
        }
        recent.insert(key, (expires_at, results));
    }

    fn count_lookup<T>(&self, found: Option<T>) -> Option<T> {
        let counter = if found.is_some() { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    fn expiry(&self) -> i64 {
        now().saturating_add((self.ttl_hours as i64).saturating_mul(3600))
    }
}

impl Cache {
    /// [`Cache::open`], except that an unreadable file (garbage, truncated, "file is not a
    /// database", "database disk image is malformed") is moved aside to
    /// `<file>.corrupt-<unix time>` (its `-wal`/`-shm` too), a warning is logged and a fresh
    /// database is started: the file only holds caches (DESIGN.md §3 "Cache"), and a worker
    /// that refuses to start over a cache stops the whole service. Anything else (a lock held by
    /// another program, a bad URL, a permission problem) still fails start-up.
    ///
    /// A corrupt file is only detected when SQLite says so: on open and migration, or by
    /// `PRAGMA quick_check` right after (a truncated file may open and migrate fine and fail only
    /// when a lost page is read).
    pub(crate) async fn open_or_recover(
        url: &str,
        enabled: bool,
        ttl_hours: u64,
    ) -> Result<Cache, OpenError> {
        let corrupt = match Cache::open(url, enabled, ttl_hours).await {
            Ok(cache) => match cache.quick_check().await {
                Ok(()) => return Ok(cache),
                Err(problem) => {
                    cache.close().await;
                    problem
                }
            },
            Err(error) if is_corrupt(&error.source) => error.source.to_string(),
            Err(error) => return Err(error),
        };
        let Some(file) = SqliteConnectOptions::from_str(url)
            .ok()
            .map(|o| o.get_filename().to_owned())
        else {
            return Err(OpenError {
                url: url.to_owned(),
                source: sqlx::Error::Protocol(corrupt),
            });
        };
        let aside = move_aside(&file).map_err(|e| OpenError {
            url: url.to_owned(),
            source: sqlx::Error::Io(e),
        })?;
        tracing::warn!(file = %file.display(), moved_to = %aside.display(), problem = %corrupt,
            "the cache database is unreadable; moved it aside and starting with an empty cache");
        Cache::open(url, enabled, ttl_hours).await
    }

    /// `Err(problem)` when SQLite finds the file damaged.
    async fn quick_check(&self) -> Result<(), String> {
        match sqlx::query_scalar::<_, String>("PRAGMA quick_check(1)")
            .fetch_one(&self.pool)
            .await
        {
            Ok(verdict) if verdict == "ok" => Ok(()),
            Ok(verdict) => Err(verdict),
            Err(error) if is_corrupt(&error) => Err(error.to_string()),
            // Not a verdict on the file (e.g. busy): leave it to the queries that follow.
            Err(_) => Ok(()),
        }
    }
}

/// SQLITE_CORRUPT (11) and SQLITE_NOTADB (26), extended codes included, also inside a
/// migration error.
fn is_corrupt(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db) => db
            .code()
            .and_then(|c| c.parse::<i32>().ok())
            .is_some_and(|c| matches!(c & 0xff, 11 | 26)),
        sqlx::Error::Migrate(migrate) => match migrate.as_ref() {
            sqlx::migrate::MigrateError::Execute(inner)
            | sqlx::migrate::MigrateError::ExecuteMigration(inner, _) => is_corrupt(inner),
            _ => false,
        },
        _ => false,
    }
}

/// Renames `file` and its `-wal`/`-shm` companions to `<file>.corrupt-<unix time>[-wal|-shm]`;
/// returns the new name of the main file.
fn move_aside(file: &std::path::Path) -> std::io::Result<std::path::PathBuf> {
    let aside = std::path::PathBuf::from(format!("{}.corrupt-{}", file.display(), now()));
    std::fs::rename(file, &aside)?;
    for suffix in ["-wal", "-shm"] {
        let companion = std::path::PathBuf::from(format!("{}{suffix}", file.display()));
        if companion.exists() {
            let _ = std::fs::rename(&companion, format!("{}{suffix}", aside.display()));
        }
    }
    Ok(aside)
}

/// Connects and migrates. Workers that start together on a new file race twice: switching it
/// to WAL fails at once with "database is locked" (SQLite's busy handler does not cover it), and
/// both apply the same migration (sqlx takes no lock on SQLite), the loser failing on the
/// `hermes_migrations` key. Looking again after the winner finished succeeds, so an attempt that
/// failed quickly is retried; one that failed after waiting out the busy timeout is not, so a
/// database held locked by another program still fails start-up after that timeout.
async fn open_pool(url: &str) -> Result<SqlitePool, sqlx::Error> {
    const ATTEMPTS: u32 = 5;
    let mut attempt = 1;
    loop {
        let started = std::time::Instant::now();
        match connect_and_migrate(url).await {
            Ok(pool) => return Ok(pool),
            Err(error) if attempt < ATTEMPTS && started.elapsed() < Duration::from_secs(1) => {
                tracing::debug!(%error, attempt, "opening the cache database failed; retrying (another worker may be starting)");
                tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt))).await;
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

/// Connections of the worker's pool: a few searches and look-ups at a time, nothing more.
const MAX_CONNECTIONS: u32 = 4;

async fn connect_and_migrate(url: &str) -> Result<SqlitePool, sqlx::Error> {
    let pool = hermes_sqlite::open_pool(url, MAX_CONNECTIONS).await?;
    if let Err(error) = MIGRATOR.run(&pool).await {
        pool.close().await;
        return Err(sqlx::Error::Migrate(Box::new(error)));
    }
    Ok(pool)
}

fn parse_json(text: String) -> Option<serde_json::Value> {
    serde_json::from_str(&text).ok()
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn hits(ids: &[&str]) -> SearchHits {
        Arc::new(
            ids.iter()
                .map(|id| SearchResult {
                    video_id: (*id).to_owned(),
                    ..Default::default()
                })
                .collect(),
        )
    }

    async fn open(dir: &tempfile::TempDir) -> Cache {
        let url = format!("sqlite://{}", dir.path().join("c.db").display());
        Cache::open(&url, true, 24).await.unwrap()
    }

    #[test]
    fn migrations_are_tracked_in_our_own_table() {
        // `[migrate] table-name` in this crate's `sqlx.toml`, which `sqlx::migrate!` reads at build time.
        assert_eq!(
            MIGRATOR.table_name, "hermes_migrations",
            "sqlx.toml [migrate] table-name is not applied"
        );
    }

    #[tokio::test]
    async fn search_round_trip_counts_hits_and_misses() {
        let dir = tempfile::tempdir().unwrap();
        let cache = open(&dir).await;
        assert_eq!(cache.search_get(&SearchKey::new("Q", 5)).await.unwrap(), None);
        cache
            .search_put(&SearchKey::new("  Q ", 5), &hits(&["a", "b"]))
            .await
            .unwrap();
        assert_eq!(
            cache.search_get(&SearchKey::new("q", 5)).await.unwrap(),
            Some(hits(&["a", "b"]))
        );
        assert_eq!(
            cache.search_get(&SearchKey::new("q", 6)).await.unwrap(),
            None,
            "the count is part of the key"
        );
        let stats = cache.stats().await.unwrap();
        assert_eq!((stats.search_entries, stats.hits, stats.misses), (1, 1, 2));
    }

    #[tokio::test]
    async fn a_search_written_by_another_process_is_read_from_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let (first, second) = (open(&dir).await, open(&dir).await);
        first
            .search_put(&SearchKey::new("shared", 5), &hits(&["r"]))
            .await
            .unwrap();
        assert_eq!(
            second.search_get(&SearchKey::new("Shared ", 5)).await.unwrap(),
            Some(hits(&["r"]))
        );
        assert_eq!(
            second.search_get(&SearchKey::new("shared", 5)).await.unwrap(),
            Some(hits(&["r"])),
            "then from memory"
        );
        assert_eq!(second.stats().await.unwrap().hits, 2);
    }

    #[tokio::test]
    async fn zero_ttl_entries_are_never_served() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("c.db").display());
        let cache = Cache::open(&url, true, 0).await.unwrap();
        cache
            .search_put(&SearchKey::new("q", 5), &hits(&["x"]))
            .await
            .unwrap();
        assert_eq!(cache.search_get(&SearchKey::new("q", 5)).await.unwrap(), None);
    }

    #[tokio::test]
    async fn cleanup_removes_expired_rows_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let cache = open(&dir).await;
            cache
                .search_put(&SearchKey::new("a", 5), &hits(&["a"]))
                .await
                .unwrap();
            cache.metadata_put("id", "u", &json!({})).await.unwrap();
            cache.close().await;
        }
        let cache = open(&dir).await;
        assert_eq!(cache.metadata_get("id").await.unwrap(), Some(json!({})));
        cache.expire_all_for_tests().await.unwrap();
        let removed = cache.cleanup().await.unwrap();
        assert_eq!((removed.removed_search, removed.removed_metadata), (1, 1));
        assert_eq!(cache.stats().await.unwrap().search_entries, 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn workers_opening_a_new_file_at_once_all_succeed() {
        for _ in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("race.db").display());
            let opens: Vec<_> = (0..4)
                .map(|_| {
                    let url = url.clone();
                    tokio::spawn(async move { Cache::open(&url, true, 24).await.map(|_| ()) })
                })
                .collect();
            for opened in opens {
                opened.await.unwrap().unwrap();
            }
        }
    }

    #[tokio::test]
    async fn corrupt_file_is_a_clear_open_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("c.db"), vec![0x42u8; 8192]).unwrap();
        let url = format!("sqlite://{}", dir.path().join("c.db").display());
        let err = Cache::open(&url, true, 24).await.err().expect("must fail");
        assert!(
            err.to_string().contains("cannot open the cache database"),
            "{err}"
        );
    }
}
