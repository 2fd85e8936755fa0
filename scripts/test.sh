#!/usr/bin/env bash
# The test command: setup (idempotent), then every test of the workspace against the real
# yt-dlp (the managed one, see scripts/setup.sh), ffmpeg and SQLite. Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# The managed yt-dlp (and its Deno) first on PATH: tests that do not name a yt-dlp run this one.
export PATH="${HERMES_HOME:-$PWD/.hermes}/venv/bin:$PATH"
cargo test --workspace --locked "$@"
