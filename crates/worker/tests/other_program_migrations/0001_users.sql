-- Another program sharing the worker's SQLite file (like the existing host's bot with
-- `./hermes.db`): its own sqlx migrations, tracked in `_sqlx_migrations`.
CREATE TABLE users (
    chat_id    INTEGER PRIMARY KEY NOT NULL,
    username   TEXT,
    created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
