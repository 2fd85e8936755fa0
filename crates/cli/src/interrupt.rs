//! Ctrl-C (SIGINT) and SIGTERM, caught from the start of the program so that a signal arriving
//! at any moment cancels the running task through the worker instead of killing `hermes` and
//! leaving a half-written file behind.
use tokio::signal::unix::{signal, Signal, SignalKind};

pub(crate) struct Interrupts {
    interrupt: Signal,
    terminate: Signal,
}

impl Interrupts {
    pub(crate) fn install() -> std::io::Result<Self> {
        Ok(Interrupts {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    /// Waits for the next signal and returns the exit code it calls for (128 + signal number).
    pub(crate) async fn recv(&mut self) -> u8 {
        tokio::select! {
            _ = self.interrupt.recv() => 128 + nix::sys::signal::Signal::SIGINT as u8,
            _ = self.terminate.recv() => 128 + nix::sys::signal::Signal::SIGTERM as u8,
        }
    }
}
