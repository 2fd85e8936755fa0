#!/usr/bin/env bash
# The test command: setup (idempotent); the style gates (rustfmt, clippy with warnings as errors,
# no import cycle between the modules of any crate); then every test of the workspace against
# the real yt-dlp (the managed one, see scripts/setup.sh), ffmpeg and SQLite.
# Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
python3 scripts/module-cycles.py
# The managed yt-dlp (and its Deno) first on PATH: tests that do not name a yt-dlp run this one.
export PATH="${HERMES_HOME:-$PWD/.hermes}/venv/bin:$PATH"
cargo test --workspace --locked "$@"
