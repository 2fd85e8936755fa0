#!/usr/bin/env bash
# Measures the DESIGN.md §5 figures, each beside a baseline taken in the same run, and prints one
# table (figure | ours | baseline | ratio | target | verdict); results of a real run: BENCHMARKS.md.
#
#   scripts/bench.sh            full run (~1.5 min on 2 cores, after the release build)
#   scripts/bench.sh --quick    fewer repetitions
#   scripts/bench.sh --json     the same as JSON on stdout (for machines)
#   scripts/bench.sh --only 1,4 only these figures (6 needs 1 and 2)
#
# Why the baselines: on a shared machine absolute timings drift with whatever else runs; the
# ratio to something measured the same way at the same moment does not (much).
# Everything but the table (setup, cargo, per-figure progress) goes to stderr, so
# `scripts/bench.sh --json > bench.json` captures only the JSON.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh >&2
# The bench drives target/release/hermes-worker over its stdin/stdout; build it (and the bench
# binary) first so compile time never leaks into a measurement.
cargo build --release --locked -p hermes-worker -p hermes-bot >&2
cargo bench --locked -p hermes-worker --bench hermes --no-run >&2
exec cargo bench --locked -q -p hermes-worker --bench hermes -- "$@"
