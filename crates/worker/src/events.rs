//! The one stdout writer. Every event goes through a channel into a single task that writes whole
//! lines, so lines can never interleave; nothing else in the worker touches stdout (logs go to
//! stderr). The channel is bounded: when the host stops reading, senders wait instead of the
//! worker buffering without limit, and nothing is lost once it reads again.
use hermes_protocol::{to_json_line, RawResponse};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Events buffered between producers and the writer before producers wait.
const CHANNEL_CAPACITY: usize = 1024;

/// A cloneable handle for emitting events.
#[derive(Clone)]
pub struct EventSender {
    tx: mpsc::Sender<RawResponse>,
    sent: Arc<AtomicU64>,
    gone: CancellationToken,
}

impl EventSender {
    /// Queues one event. Only fails when the writer is gone (stdout closed), in which case there
    /// is nobody left to tell, so the event is dropped.
    pub(crate) async fn send(&self, response: RawResponse) {
        if self.tx.send(response).await.is_ok() {
            self.sent.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Cancelled when stdout fails (EPIPE: the host closed its end). The worker then stops as
    /// on SIGTERM: nobody is left to receive results, so work in progress is only waste (and
    /// an orphaned worker must not keep downloading).
    pub(crate) fn stdout_gone(&self) -> CancellationToken {
        self.gone.clone()
    }

    /// Events accepted so far (for the shutdown statistics).
    pub(crate) fn sent_count(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }
}

/// Starts the writer task over `out`. It ends when every [`EventSender`] is dropped and the queue
/// is drained, or when `out` fails (e.g. the host closed the pipe).
pub fn spawn_writer<W>(out: W) -> (EventSender, JoinHandle<()>)
where
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
    let gone = CancellationToken::new();
    let handle = tokio::spawn(write_lines(rx, out, gone.clone()));
    (
        EventSender {
            tx,
            sent: Arc::new(AtomicU64::new(0)),
            gone,
        },
        handle,
    )
}

/// Writes each event as one line; flushes whenever the queue is momentarily empty, so a burst
/// costs one flush while a lone event is never held back.
async fn write_lines<W: AsyncWrite + Unpin>(
    mut rx: mpsc::Receiver<RawResponse>,
    mut out: W,
    gone: CancellationToken,
) {
    let mut buffer = Vec::with_capacity(64 * 1024);
    while let Some(first) = rx.recv().await {
        buffer.clear();
        buffer.extend_from_slice(to_json_line(&first).as_bytes());
        while buffer.len() < 1 << 20 {
            match rx.try_recv() {
                Ok(next) => buffer.extend_from_slice(to_json_line(&next).as_bytes()),
                Err(_) => break,
            }
        }
        if let Err(error) = write_and_flush(&mut out, &buffer).await {
            tracing::error!(%error, "stdout is gone; events can no longer be delivered");
            gone.cancel();
            return;
        }
    }
}

async fn write_and_flush<W: AsyncWrite + Unpin>(out: &mut W, bytes: &[u8]) -> std::io::Result<()> {
    out.write_all(bytes).await?;
    out.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use hermes_protocol::{ErrorCode, Event};

    #[tokio::test]
    async fn concurrent_senders_produce_whole_lines() {
        let (reader, writer) = tokio::io::duplex(1 << 16);
        let (events, handle) = spawn_writer(writer);
        let mut producers = Vec::new();
        for p in 0..8 {
            let events = events.clone();
            producers.push(tokio::spawn(async move {
                for i in 0..200 {
                    events
                        .send(RawResponse::error(
                            format!("p{p}-{i}"),
                            ErrorCode::Internal,
                            "x".repeat(300),
                        ))
                        .await;
                }
            }));
        }
        let read_all = tokio::spawn(async move {
            let mut text = String::new();
            let mut reader = reader;
            tokio::io::AsyncReadExt::read_to_string(&mut reader, &mut text)
                .await
                .unwrap();
            text
        });
        for p in producers {
            p.await.unwrap();
        }
        assert_eq!(events.sent_count(), 1600);
        drop(events);
        handle.await.unwrap();
        let text = read_all.await.unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1600);
        for line in lines {
            let r: hermes_protocol::Response = serde_json::from_str(line).unwrap();
            assert_eq!(r.event, Event::Error);
        }
    }
}
