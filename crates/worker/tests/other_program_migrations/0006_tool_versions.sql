-- Also a name the worker once used, with other columns.
CREATE TABLE tool_versions (
    name  TEXT PRIMARY KEY NOT NULL,
    semver TEXT NOT NULL
);
ALTER TABLE users ADD COLUMN language TEXT;
