-- The tasks table becomes the jobs table, the one owner of a job's state: everything needed to
-- run a job again after a restart, how often it was started, and (front) whether Redis has it.
ALTER TABLE tasks ADD COLUMN job TEXT;                            -- the job as JSON
ALTER TABLE tasks ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0; -- starts so far
ALTER TABLE tasks ADD COLUMN enqueued INTEGER NOT NULL DEFAULT 1; -- 0: the front still has to add it to hermes:jobs
CREATE INDEX IF NOT EXISTS tasks_by_chat_state ON tasks (chat_id, state);
