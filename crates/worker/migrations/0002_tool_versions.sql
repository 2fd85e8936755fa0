-- Versions of yt-dlp and ffmpeg as last probed, so health_check can answer at once after a
-- restart instead of waiting ~200 ms for `yt-dlp --version` (a Python start-up). The
-- fingerprint (resolved path, size, mtime) tells whether the binary changed since.
CREATE TABLE IF NOT EXISTS hermes_tool_versions (
    program     TEXT PRIMARY KEY NOT NULL, -- 'yt-dlp' or 'ffmpeg'
    fingerprint TEXT NOT NULL,
    version     TEXT,
    probed_at   INTEGER NOT NULL
);
