-- Search results and video metadata cached by the worker (DESIGN.md §3 "Cache").
-- Times are Unix seconds; a row is live while expires_at > now.
-- Every name is prefixed `hermes_`: the file may hold another program's tables (the existing
-- host's bot has its own `search_cache` and `youtube_metadata_cache`), and index names share one
-- namespace per database.
CREATE TABLE IF NOT EXISTS hermes_search_cache (
    query_hash   TEXT PRIMARY KEY NOT NULL, -- sha256 of "<lower-cased trimmed query>\n<result count>"
    query        TEXT NOT NULL,
    max_results  INTEGER NOT NULL,
    results_json TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS hermes_search_cache_expires ON hermes_search_cache (expires_at);

CREATE TABLE IF NOT EXISTS hermes_metadata_cache (
    video_key  TEXT PRIMARY KEY NOT NULL, -- video id when known, else the URL
    url        TEXT NOT NULL,
    info_json  TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS hermes_metadata_cache_expires ON hermes_metadata_cache (expires_at);
