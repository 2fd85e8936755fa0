CREATE TABLE file_storage (
    file_hash   TEXT PRIMARY KEY NOT NULL,
    path        TEXT NOT NULL,
    youtube_url TEXT
);
