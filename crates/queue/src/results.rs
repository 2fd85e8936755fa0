//! The results stream: what became of each job (state, `file_id`, error code), from the nodes
//! to the front, which owns the database. The front reads it in its own consumer group, so a
//! result it had read but not recorded before a restart comes back to it.
use crate::config::{connection, QueueConfig, FRONT_GROUP, MAX_BLOCK};
use crate::error::QueueError;
use crate::jobs::{create_group, decode, is_nogroup, JobQueue};
use redis::aio::ConnectionManager;
use redis::streams::StreamReadReply;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::time::Duration;

impl JobQueue {
    /// A node reports what became of a job.
    pub async fn publish_result<R: Serialize>(&self, job_id: &str, result: &R) -> Result<String, QueueError> {
        let json = serde_json::to_string(result)?;
        let id: String = redis::cmd("XADD")
            .arg(self.config().results())
            .arg("*")
            .arg("job_id")
            .arg(job_id)
            .arg("result")
            .arg(json)
            .query_async(&mut self.connection())
            .await?;
        Ok(id)
    }
}

/// The front's reader of `hermes:results`.
pub struct ResultReader {
    config: QueueConfig,
    conn: ConnectionManager,
    /// Entries read before and not acknowledged (after a restart) are read again first.
    backlog_done: bool,
}

/// A result read and not yet acknowledged.
#[derive(Debug, Clone, PartialEq)]
pub struct Received<R> {
    pub entry_id: String,
    pub job_id: String,
    pub result: R,
}

impl ResultReader {
    pub async fn connect(config: QueueConfig) -> Result<ResultReader, QueueError> {
        let client = redis::Client::open(config.url.as_str())?;
        let mut conn = connection(client, true).await?;
        create_group(&mut conn, &config.results(), FRONT_GROUP).await?;
        Ok(ResultReader {
            config,
            conn,
            backlog_done: false,
        })
    }

    /// The next result, waiting up to `wait`; acknowledge it once it is recorded.
    pub async fn next<R: DeserializeOwned>(
        &mut self,
        wait: Duration,
    ) -> Result<Option<Received<R>>, QueueError> {
        loop {
            let from = if self.backlog_done { ">" } else { "0" };
            let mut command = redis::cmd("XREADGROUP");
            command
                .arg("GROUP")
                .arg(FRONT_GROUP)
                .arg(&self.config.consumer)
                .arg("COUNT")
                .arg(1);
            if self.backlog_done {
                command
                    .arg("BLOCK")
                    .arg(wait.min(MAX_BLOCK).as_millis().max(1) as u64);
            }
            command.arg("STREAMS").arg(self.config.results()).arg(from);
            let reply: Result<Option<StreamReadReply>, _> = command.query_async(&mut self.conn).await;
            let reply = match reply {
                Ok(reply) => reply,
                Err(error) if is_nogroup(&error) => {
                    create_group(&mut self.conn, &self.config.results(), FRONT_GROUP).await?;
                    continue;
                }
                Err(error) => return Err(error.into()),
            };
            let entry = reply
                .and_then(|r| r.keys.into_iter().next())
                .and_then(|key| key.ids.into_iter().next());
            match entry {
                Some(entry) => match decode::<R>(&entry) {
                    Ok((job_id, result, _)) => {
                        return Ok(Some(Received {
                            entry_id: entry.id,
                            job_id,
                            result,
                        }))
                    }
                    Err(error) => {
                        tracing::warn!(%error, "dropping a malformed result entry");
                        self.ack_entry(&entry.id).await?;
                    }
                },
                None if !self.backlog_done => self.backlog_done = true,
                None => return Ok(None),
            }
        }
    }

    /// The result is recorded: removes it.
    pub async fn ack<R>(&mut self, received: &Received<R>) -> Result<(), QueueError> {
        self.ack_entry(&received.entry_id).await
    }

    async fn ack_entry(&mut self, entry_id: &str) -> Result<(), QueueError> {
        let _: () = redis::pipe()
            .cmd("XACK")
            .arg(self.config.results())
            .arg(FRONT_GROUP)
            .arg(entry_id)
            .ignore()
            .cmd("XDEL")
            .arg(self.config.results())
            .arg(entry_id)
            .ignore()
            .query_async(&mut self.conn)
            .await?;
        Ok(())
    }
}
