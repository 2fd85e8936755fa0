#!/usr/bin/env bash
# Scale-out on one machine, no internet, no Telegram account: starts a real redis-server, one
# hermes-bot front and two nodes (HERMES_ROLE=front / node, joined by QUEUE_URL) against the
# fake Telegram Bot API of crates/testkit, has users in three chats send 12 links, and prints how
# the jobs were spread over the nodes.
#
#   scripts/cluster-demo.sh [nodes=2] [jobs=12]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/setup.sh >&2
export PATH="$root/.hermes/venv/bin:$PATH"
cargo build --release --locked -p hermes-bot -p hermes-worker -p hermes-testkit --bin hermes-bot \
    --bin hermes-worker --bin hermes-cluster-demo >&2
exec target/release/hermes-cluster-demo target/release/hermes-bot target/release/hermes-worker "$@"
