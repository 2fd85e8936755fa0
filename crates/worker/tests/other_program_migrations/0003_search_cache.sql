-- Same name as the worker's old table, other columns.
CREATE TABLE search_cache (
    query      TEXT PRIMARY KEY NOT NULL,
    response   TEXT NOT NULL,
    hit_count  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX search_cache_expires ON search_cache (hit_count);
