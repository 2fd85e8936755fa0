CREATE TABLE youtube_metadata_cache (
    youtube_id TEXT PRIMARY KEY NOT NULL,
    title      TEXT NOT NULL,
    fetched    TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX youtube_metadata_cache_expires ON youtube_metadata_cache (fetched);
