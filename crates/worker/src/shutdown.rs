//! The one shutdown path.
//!
//! Two ways to stop (DESIGN.md §3): stdin EOF is graceful — no new requests, running tasks
//! finish, exit 0 — and is handled by the dispatch loop simply ending. SIGTERM/SIGINT is
//! prompt: [`Shutdown::terminate`] cancels every task (their children are killed and each task
//! still sends its final `error` event), then any child group still alive is killed and the
//! process exits.
use tokio_util::sync::CancellationToken;

#[derive(Clone, Default)]
pub struct Shutdown {
    terminating: CancellationToken,
}

impl Shutdown {
    pub fn new() -> Shutdown {
        Shutdown::default()
    }

    /// Starts a prompt shutdown (idempotent).
    pub(crate) fn terminate(&self) {
        self.terminating.cancel();
    }

    pub(crate) fn is_terminating(&self) -> bool {
        self.terminating.is_cancelled()
    }

    /// Resolves once a prompt shutdown has started.
    pub(crate) async fn terminated(&self) {
        self.terminating.cancelled().await
    }

    /// A token cancelled when the worker terminates; task tokens are children of it.
    pub(crate) fn token(&self) -> &CancellationToken {
        &self.terminating
    }

    /// Turns SIGTERM and SIGINT into [`Shutdown::terminate`].
    pub(crate) fn listen_for_signals(&self) -> std::io::Result<()> {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let shutdown = self.clone();
        tokio::spawn(async move {
            let name = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            };
            tracing::info!(
                signal = name,
                "terminating: cancelling tasks and killing child processes"
            );
            shutdown.terminate();
        });
        Ok(())
    }
}
