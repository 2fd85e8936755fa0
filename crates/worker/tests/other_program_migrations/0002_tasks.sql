CREATE TABLE tasks (
    id         TEXT PRIMARY KEY NOT NULL,
    chat_id    INTEGER NOT NULL REFERENCES users (chat_id),
    url        TEXT NOT NULL,
    state      TEXT NOT NULL
);
