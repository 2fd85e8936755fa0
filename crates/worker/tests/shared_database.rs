//! The worker's SQLite file shared with another sqlx program (DESIGN.md §2.1): the existing host's
//! bot migrates `./hermes.db`, the worker's default file, with its own migrations 1-6 in
//! `_sqlx_migrations` and its own `search_cache` and `youtube_metadata_cache` tables. The other
//! program is simulated by a sqlx `Migrator` over `tests/other_program_migrations/` (six
//! migrations that create those names with other columns); `tests/old_layout_migrations/` are the
//! worker's own migrations as they were before its tables moved to `hermes_*` and its migration
//! record to `hermes_migrations`.
mod common;

use common::{fake_ytdlp, workspace, Worker};
use serde_json::{json, Value};
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
use sqlx::Row;
use std::path::{Path, PathBuf};
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn migrations(dir: &str) -> PathBuf {
    workspace().join("crates/worker/tests").join(dir)
}

async fn open(db: &Path) -> SqlitePool {
    let options = SqliteConnectOptions::new().filename(db).create_if_missing(true);
    SqlitePool::connect_with(options).await.unwrap()
}

/// Runs the migrations in `dir` the way any sqlx program does (`_sqlx_migrations`).
fn migrate(db: &Path, dir: &str) -> Result<(), sqlx::migrate::MigrateError> {
    runtime().block_on(async {
        let pool = open(db).await;
        let migrator = Migrator::new(migrations(dir).as_path()).await.unwrap();
        let result = migrator.run(&pool).await;
        pool.close().await;
        result
    })
}

fn query(db: &Path, sql: &str) -> Vec<Vec<String>> {
    runtime().block_on(async {
        let pool = open(db).await;
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_all(&pool)
            .await
            .unwrap();
        pool.close().await;
        rows.iter()
            .map(|row| {
                (0..row.len())
                    .map(|i| {
                        row.try_get::<String, _>(i)
                            .or_else(|_| row.try_get::<i64, _>(i).map(|n| n.to_string()))
                            .or_else(|_| row.try_get::<Vec<u8>, _>(i).map(|b| format!("{b:02x?}")))
                            .unwrap_or_default()
                    })
                    .collect()
            })
            .collect()
    })
}

fn execute(db: &Path, sql: &str) {
    runtime().block_on(async {
        let pool = open(db).await;
        sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    });
}

fn versions(db: &Path, table: &str) -> Vec<String> {
    query(db, &format!("SELECT version FROM {table} ORDER BY version"))
        .into_iter()
        .map(|r| r[0].clone())
        .collect()
}

fn columns(db: &Path, table: &str) -> Vec<String> {
    query(
        db,
        &format!("SELECT name FROM pragma_table_info('{table}') ORDER BY cid"),
    )
    .into_iter()
    .map(|r| r[0].clone())
    .collect()
}

/// A search, then the cache's counts, then a clean exit: the worker served from this file.
/// Returns whether the search came from the cache.
fn serve(worker: &mut Worker) -> bool {
    worker.send(&json!({"task_id": "s", "action": "youtube_search", "params": {"query": "lofi hip hop"}}));
    let found = worker.final_event("s", T);
    assert_eq!(found["event"], "search_results", "{found}");
    assert_eq!(
        found["data"]["results"].as_array().map(Vec::len),
        Some(5),
        "{found}"
    );
    worker.send(&json!({"task_id": "c", "action": "cache_stats"}));
    let stats = worker.final_event("c", T);
    assert_eq!(stats["data"]["search_entries"], 1, "{stats}");
    worker.close_stdin();
    assert!(worker.wait_exit(T).success());
    found["data"]["from_cache"].as_bool().unwrap()
}

fn fake() -> String {
    fake_ytdlp().display().to_string()
}

const OTHER_VERSIONS: [&str; 6] = ["1", "2", "3", "4", "5", "6"];

#[test]
fn the_worker_starts_on_a_file_another_sqlx_program_migrated_first() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hermes.db");
    migrate(&db, "other_program_migrations").unwrap();
    execute(
        &db,
        "INSERT INTO search_cache (query, response, hit_count) VALUES ('theirs', '{}', 7)",
    );
    let their_columns = columns(&db, "search_cache");

    // As the existing host starts it: `-m worker.application`, its DATABASE_URL spelling, the
    // file relative to the working directory.
    let ytdlp = fake();
    let mut worker = Worker::start_in_with_args(
        dir,
        &["-m", "worker.application"],
        &[("DATABASE_URL", "sqlite:///./hermes.db"), ("YTDLP_BIN", &ytdlp)],
    );
    assert!(!serve(&mut worker));

    // (`worker` still owns the temp dir, and `db` is inside it.)
    assert_eq!(
        versions(&db, "_sqlx_migrations"),
        OTHER_VERSIONS,
        "the other program's record is untouched"
    );
    assert_eq!(versions(&db, "hermes_migrations"), ["1", "2"]);
    assert_eq!(columns(&db, "search_cache"), their_columns);
    assert_eq!(
        query(&db, "SELECT query, hit_count FROM search_cache"),
        [["theirs", "7"]]
    );
    assert_eq!(query(&db, "SELECT COUNT(*) FROM hermes_search_cache"), [["1"]]);
    migrate(&db, "other_program_migrations").expect("the other program still starts");
}

#[test]
fn another_sqlx_program_migrates_a_file_the_worker_created_first() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hermes.db");
    let url = format!("sqlite://{}", db.display());
    let ytdlp = fake();
    let env = [("DATABASE_URL", url.as_str()), ("YTDLP_BIN", ytdlp.as_str())];
    assert!(!serve(&mut Worker::start(&env)));

    migrate(&db, "other_program_migrations").expect("the other program migrates after the worker");
    assert_eq!(versions(&db, "_sqlx_migrations"), OTHER_VERSIONS);
    assert_eq!(columns(&db, "search_cache"), ["query", "response", "hit_count"]);

    assert!(
        serve(&mut Worker::start(&env)),
        "the worker's cache survived, and it still starts"
    );
    assert_eq!(versions(&db, "hermes_migrations"), ["1", "2"]);
    migrate(&db, "other_program_migrations").unwrap();
}

#[test]
fn a_file_of_the_old_layout_gets_fresh_cache_tables_and_keeps_its_old_record() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hermes.db");
    migrate(&db, "old_layout_migrations").unwrap();
    execute(&db, "INSERT INTO search_cache (query_hash, query, max_results, results_json, created_at, expires_at) VALUES ('h', 'old', 5, '[]', 0, 9999999999)");
    let old_record = query(
        &db,
        "SELECT version, checksum FROM _sqlx_migrations ORDER BY version",
    );
    assert_eq!(old_record.len(), 2);

    let url = format!("sqlite://{}", db.display());
    let ytdlp = fake();
    assert!(!serve(&mut Worker::start(&[
        ("DATABASE_URL", url.as_str()),
        ("YTDLP_BIN", ytdlp.as_str())
    ])));

    assert_eq!(
        query(
            &db,
            "SELECT version, checksum FROM _sqlx_migrations ORDER BY version"
        ),
        old_record,
        "left alone"
    );
    assert_eq!(
        query(&db, "SELECT query FROM search_cache"),
        [["old"]],
        "the old table is left alone too"
    );
    assert_eq!(versions(&db, "hermes_migrations"), ["1", "2"]);
}

#[test]
fn worker_tables_and_indexes_are_all_prefixed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hermes.db");
    let url = format!("sqlite://{}", db.display());
    let ytdlp = fake();
    serve(&mut Worker::start(&[
        ("DATABASE_URL", url.as_str()),
        ("YTDLP_BIN", ytdlp.as_str()),
    ]));
    let names: Vec<Value> = query(
        &db,
        "SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .into_iter()
    .map(|r| json!(r[0]))
    .collect();
    assert!(!names.is_empty());
    for name in &names {
        assert!(
            name.as_str().unwrap().starts_with("hermes_"),
            "{name} in {names:?}"
        );
    }
}
