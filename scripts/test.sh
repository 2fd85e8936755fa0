#!/usr/bin/env bash
# The test command: setup (idempotent), then every test of the workspace against the real
# yt-dlp, ffmpeg and SQLite. Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo test --workspace --locked "$@"
