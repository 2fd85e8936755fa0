//! Locating the workspace's binaries from another package's tests.
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Once;

/// `hermes-worker` from the same target directory and profile as `beside` (a binary of the
/// calling test's own package, e.g. `env!("CARGO_BIN_EXE_hermes")`), built once if a
/// `cargo test -p <that package>` run did not build it. `cargo test --workspace` builds it first.
pub fn worker_binary_beside(beside: &Path) -> PathBuf {
    static BUILD: Once = Once::new();
    let bin = beside.with_file_name("hermes-worker");
    BUILD.call_once(|| {
        if !bin.is_file() {
            let status = Command::new(env!("CARGO"))
                .args(["build", "-p", "hermes-worker"])
                .status()
                .expect("run cargo build -p hermes-worker");
            assert!(status.success(), "cargo build -p hermes-worker failed");
        }
    });
    assert!(bin.is_file(), "no worker binary at {}", bin.display());
    bin
}
