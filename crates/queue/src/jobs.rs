//! The jobs stream: what the front adds and the nodes claim, hold, hand back or finish.
use crate::config::{connection, QueueConfig, MARKER_TTL_SECS, MAX_BLOCK, NODES_GROUP};
use crate::error::QueueError;
use redis::aio::ConnectionManager;
use redis::streams::{StreamAutoClaimReply, StreamId, StreamReadReply};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::time::Duration;

/// A connection to the queue, for the front and for a node alike.
#[derive(Clone)]
pub struct JobQueue {
    config: QueueConfig,
    conn: ConnectionManager,
    /// `XREADGROUP … BLOCK` holds its connection until it answers: it gets one of its own.
    blocking: ConnectionManager,
}

/// A job this node holds (until it acknowledges, requeues or loses it).
#[derive(Debug, Clone, PartialEq)]
pub struct Claimed<T> {
    /// The stream entry (what is acknowledged).
    pub entry_id: String,
    /// The job's own id, the same across requeues and reclaims.
    pub job_id: String,
    pub job: T,
    /// 1 for the first start, then one more for every reclaim or requeue.
    pub attempt: u32,
}

/// What [`JobQueue::claim_next`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim<T> {
    /// Work on it, heartbeating.
    Job(Claimed<T>),
    /// It had been started `max_attempts` times: it is now on the dead-letter stream and
    /// acknowledged; the node tells the user (once: nobody else will see it again).
    Dead(Claimed<T>),
    /// Nothing to do within the wait.
    Idle,
}

impl JobQueue {
    /// Connects (the connections reconnect by themselves after Redis comes back) and makes sure
    /// the nodes' consumer group exists.
    pub async fn connect(config: QueueConfig) -> Result<JobQueue, QueueError> {
        let client = redis::Client::open(config.url.as_str())?;
        let conn = connection(client.clone(), false).await?;
        let blocking = connection(client, true).await?;
        let queue = JobQueue {
            config,
            conn,
            blocking,
        };
        queue.ensure_group().await?;
        Ok(queue)
    }

    pub fn config(&self) -> &QueueConfig {
        &self.config
    }

    pub(crate) fn connection(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// Adds a job; returns its stream entry id.
    pub async fn enqueue<T: Serialize>(&self, job_id: &str, job: &T) -> Result<String, QueueError> {
        let json = serde_json::to_string(job)?;
        let id: String = redis::cmd("XADD")
            .arg(self.config.jobs())
            .arg("*")
            .arg("job_id")
            .arg(job_id)
            .arg("job")
            .arg(json)
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(id)
    }

    /// The next job for this node: first one whose node has been silent for `claim_idle`
    /// (including this node's own, from before a restart), else a new one, waiting up to `wait`.
    /// Jobs already delivered are acknowledged on the way; jobs past `max_attempts` come back as
    /// [`Claim::Dead`].
    pub async fn claim_next<T: DeserializeOwned>(&self, wait: Duration) -> Result<Claim<T>, QueueError> {
        loop {
            let entry = match self.reclaim().await? {
                Some(entry) => Some(entry),
                None => self.read_new(wait).await?,
            };
            let Some(entry) = entry else {
                return Ok(Claim::Idle);
            };
            if let Some(claim) = self.start(entry).await? {
                return Ok(claim);
            }
        }
    }

    /// Tells the group this node still works on `claimed` (resets its idle time). `false`: the
    /// job was taken over by another node meanwhile (this node was silent too long); stop it.
    pub async fn heartbeat<T>(&self, claimed: &Claimed<T>) -> Result<bool, QueueError> {
        let mut conn = self.conn.clone();
        let pending: redis::Value = redis::cmd("XPENDING")
            .arg(self.config.jobs())
            .arg(NODES_GROUP)
            .arg(&claimed.entry_id)
            .arg(&claimed.entry_id)
            .arg(1)
            .query_async(&mut conn)
            .await?;
        if pending_owner(&pending).as_deref() != Some(self.config.consumer.as_str()) {
            return Ok(false);
        }
        let _: redis::Value = redis::cmd("XCLAIM")
            .arg(self.config.jobs())
            .arg(NODES_GROUP)
            .arg(&self.config.consumer)
            .arg(0)
            .arg(&claimed.entry_id)
            .arg("JUSTID")
            .query_async(&mut conn)
            .await?;
        Ok(true)
    }

    /// Records that the job's file reached the user, before [`JobQueue::ack`]: a node that dies
    /// between the two leaves a job that the next claimant only acknowledges.
    pub async fn mark_delivered(&self, job_id: &str) -> Result<(), QueueError> {
        self.set_marker(&self.config.delivered(job_id)).await
    }

    pub async fn is_delivered(&self, job_id: &str) -> Result<bool, QueueError> {
        self.has_marker(&self.config.delivered(job_id)).await
    }

    /// The job is finished (delivered, or failed for good and reported): removes it.
    pub async fn ack<T>(&self, claimed: &Claimed<T>) -> Result<(), QueueError> {
        self.finish(&claimed.entry_id, &claimed.job_id).await
    }

    /// Hands the job back for another start (a transient failure): it is added again, keeping
    /// its id and attempt count, and this entry is acknowledged.
    pub async fn requeue<T: Serialize>(&self, claimed: &Claimed<T>) -> Result<(), QueueError> {
        self.enqueue(&claimed.job_id, &claimed.job).await?;
        let mut conn = self.conn.clone();
        let _: () = redis::pipe()
            .cmd("XACK")
            .arg(self.config.jobs())
            .arg(NODES_GROUP)
            .arg(&claimed.entry_id)
            .ignore()
            .cmd("XDEL")
            .arg(self.config.jobs())
            .arg(&claimed.entry_id)
            .ignore()
            .query_async(&mut conn)
            .await?;
        Ok(())
    }

    /// Asks whichever node holds `job_id` to stop it (it looks with every heartbeat).
    pub async fn cancel(&self, job_id: &str) -> Result<(), QueueError> {
        self.set_marker(&self.config.cancelled(job_id)).await
    }

    pub async fn is_cancelled(&self, job_id: &str) -> Result<bool, QueueError> {
        self.has_marker(&self.config.cancelled(job_id)).await
    }

    /// A flag about a job (delivered, cancelled) that outlives the job's entry for a week.
    async fn set_marker(&self, key: &str) -> Result<(), QueueError> {
        let _: () = redis::cmd("SET")
            .arg(key)
            .arg(1)
            .arg("EX")
            .arg(MARKER_TTL_SECS)
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(())
    }

    async fn has_marker(&self, key: &str) -> Result<bool, QueueError> {
        let exists: bool = redis::cmd("EXISTS")
            .arg(key)
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(exists)
    }

    /// Jobs held by some node and not acknowledged yet.
    pub async fn pending_count(&self) -> Result<u64, QueueError> {
        let summary: redis::Value = redis::cmd("XPENDING")
            .arg(self.config.jobs())
            .arg(NODES_GROUP)
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(match summary {
            redis::Value::Array(items) => items
                .first()
                .and_then(|v| redis::from_redis_value::<u64>(v).ok())
                .unwrap_or(0),
            _ => 0,
        })
    }

    /// Every job on the dead-letter stream, oldest first: `(job_id, job)`.
    pub async fn dead_letters<T: DeserializeOwned>(&self) -> Result<Vec<(String, T)>, QueueError> {
        let entries: Vec<StreamId> = {
            let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
                .arg(self.config.dead())
                .arg("-")
                .arg("+")
                .query_async(&mut self.conn.clone())
                .await?;
            reply.ids
        };
        entries
            .iter()
            .map(|entry| decode(entry).map(|(job_id, job, _)| (job_id, job)))
            .collect()
    }

    pub(crate) async fn ensure_group(&self) -> Result<(), QueueError> {
        create_group(&mut self.conn.clone(), &self.config.jobs(), NODES_GROUP).await
    }

    async fn reclaim(&self) -> Result<Option<StreamId>, QueueError> {
        let idle_ms = self.config.claim_idle.as_millis() as u64;
        let reply: Result<StreamAutoClaimReply, _> = redis::cmd("XAUTOCLAIM")
            .arg(self.config.jobs())
            .arg(NODES_GROUP)
            .arg(&self.config.consumer)
            .arg(idle_ms)
            .arg("0-0")
            .arg("COUNT")
            .arg(1)
            .query_async(&mut self.conn.clone())
            .await;
        match reply {
            Ok(reply) => Ok(reply.claimed.into_iter().next()),
            Err(error) if is_nogroup(&error) => {
                self.ensure_group().await?;
                Ok(None)
            }
            Err(error) => Err(error.into()),
        }
    }

    async fn read_new(&self, wait: Duration) -> Result<Option<StreamId>, QueueError> {
        let reply: Result<Option<StreamReadReply>, _> = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(NODES_GROUP)
            .arg(&self.config.consumer)
            .arg("COUNT")
            .arg(1)
            .arg("BLOCK")
            .arg(wait.min(MAX_BLOCK).as_millis().max(1) as u64)
            .arg("STREAMS")
            .arg(self.config.jobs())
            .arg(">")
            .query_async(&mut self.blocking.clone())
            .await;
        match reply {
            Ok(reply) => Ok(reply
                .and_then(|r| r.keys.into_iter().next())
                .and_then(|key| key.ids.into_iter().next())),
            Err(error) if is_nogroup(&error) => {
                self.ensure_group().await?;
                Ok(None)
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Counts the start of a claimed entry: `None` when it needs no work (already delivered, or
    /// not a job), else the job or its death.
    async fn start<T: DeserializeOwned>(&self, entry: StreamId) -> Result<Option<Claim<T>>, QueueError> {
        let (job_id, job, _) = match decode::<T>(&entry) {
            Ok(decoded) => decoded,
            Err(error) => {
                tracing::warn!(%error, "dropping a malformed job entry");
                self.finish(&entry.id, "").await?;
                return Ok(None);
            }
        };
        if self.is_delivered(&job_id).await? {
            tracing::info!(
                job_id,
                "a reclaimed job was already delivered; acknowledged, not sent again"
            );
            self.finish(&entry.id, &job_id).await?;
            return Ok(None);
        }
        let attempt: u32 = redis::cmd("HINCRBY")
            .arg(self.config.attempts())
            .arg(&job_id)
            .arg(1)
            .query_async(&mut self.conn.clone())
            .await?;
        let claimed = Claimed {
            entry_id: entry.id.clone(),
            job_id: job_id.clone(),
            job,
            attempt,
        };
        if attempt > self.config.max_attempts {
            let raw: String = entry.get("job").unwrap_or_default();
            let _: String = redis::cmd("XADD")
                .arg(self.config.dead())
                .arg("*")
                .arg("job_id")
                .arg(&job_id)
                .arg("job")
                .arg(raw)
                .arg("attempts")
                .arg(attempt - 1)
                .query_async(&mut self.conn.clone())
                .await?;
            self.finish(&entry.id, &job_id).await?;
            tracing::warn!(
                job_id,
                attempts = attempt - 1,
                "job moved to the dead-letter stream"
            );
            return Ok(Some(Claim::Dead(Claimed {
                attempt: attempt - 1,
                ..claimed
            })));
        }
        Ok(Some(Claim::Job(claimed)))
    }

    /// Acknowledges and deletes the entry, and forgets the job's attempt count.
    async fn finish(&self, entry_id: &str, job_id: &str) -> Result<(), QueueError> {
        let mut pipe = redis::pipe();
        pipe.cmd("XACK")
            .arg(self.config.jobs())
            .arg(NODES_GROUP)
            .arg(entry_id)
            .ignore();
        pipe.cmd("XDEL").arg(self.config.jobs()).arg(entry_id).ignore();
        if !job_id.is_empty() {
            pipe.cmd("HDEL").arg(self.config.attempts()).arg(job_id).ignore();
        }
        let _: () = pipe.query_async(&mut self.conn.clone()).await?;
        Ok(())
    }
}

/// `XGROUP CREATE <stream> <group> 0 MKSTREAM`, where an existing group is fine.
pub(crate) async fn create_group(
    conn: &mut ConnectionManager,
    stream: &str,
    group: &str,
) -> Result<(), QueueError> {
    let created: Result<(), _> = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(stream)
        .arg(group)
        .arg("0")
        .arg("MKSTREAM")
        .query_async(conn)
        .await;
    match created {
        Ok(()) => Ok(()),
        Err(error) if error.code() == Some("BUSYGROUP") => Ok(()),
        Err(error) => Err(error.into()),
    }
}

/// A group that vanished (Redis restarted without its data) is created again by the caller.
pub(crate) fn is_nogroup(error: &redis::RedisError) -> bool {
    error.code() == Some("NOGROUP")
}

/// `job_id` and the JSON `job` (or `result`) of an entry this crate wrote.
pub(crate) fn decode<T: DeserializeOwned>(entry: &StreamId) -> Result<(String, T, String), QueueError> {
    let malformed = |why: &str| QueueError::Malformed {
        id: entry.id.clone(),
        why: why.to_owned(),
    };
    let job_id: String = entry.get("job_id").ok_or_else(|| malformed("no job_id"))?;
    let (field, raw): (&str, String) = match entry.get::<String>("job") {
        Some(raw) => ("job", raw),
        None => (
            "result",
            entry
                .get("result")
                .ok_or_else(|| malformed("no job and no result"))?,
        ),
    };
    let value = serde_json::from_str(&raw).map_err(|e| malformed(&format!("{field}: {e}")))?;
    Ok((job_id, value, raw))
}

/// The consumer in an `XPENDING <stream> <group> <id> <id> 1` reply.
fn pending_owner(reply: &redis::Value) -> Option<String> {
    let redis::Value::Array(rows) = reply else {
        return None;
    };
    let redis::Value::Array(row) = rows.first()? else {
        return None;
    };
    redis::from_redis_value::<String>(row.get(1)?).ok()
}
