-- hermes-bot's own state (its own SQLite file, separate from the worker's cache).

-- Every task the bot started, so that a restart can tell users which downloads were lost.
CREATE TABLE IF NOT EXISTS tasks (
    id                TEXT PRIMARY KEY,
    chat_id           INTEGER NOT NULL,
    kind              TEXT NOT NULL,            -- audio | video | playlist
    url               TEXT NOT NULL,
    state             TEXT NOT NULL,            -- queued | running | done | failed | cancelled
    progress          INTEGER NOT NULL DEFAULT 0,
    file_path         TEXT,
    error             TEXT,
    status_message_id INTEGER,
    created_at        INTEGER NOT NULL,         -- unix seconds
    updated_at        INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS tasks_by_state ON tasks (state);

-- Per-chat preferences set with /settings.
CREATE TABLE IF NOT EXISTS chat_settings (
    chat_id      INTEGER PRIMARY KEY,
    default_mode TEXT NOT NULL DEFAULT 'audio', -- audio | video
    audio_format TEXT NOT NULL DEFAULT 'mp3',   -- mp3 | m4a | opus | flac | wav
    updated_at   INTEGER NOT NULL
);

-- Upload-once cache: Telegram file_ids of media already sent, so the same request is answered
-- without downloading again. media_key is links::normalize_key (video id or cleaned URL).
CREATE TABLE IF NOT EXISTS uploads (
    media_key  TEXT NOT NULL,
    mode       TEXT NOT NULL,                   -- audio | video
    format     TEXT NOT NULL,                   -- audio format, or the video format selector
    file_id    TEXT NOT NULL,
    method     TEXT NOT NULL,                   -- audio | video | document
    title      TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (media_key, mode, format)
);
