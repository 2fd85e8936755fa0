#!/usr/bin/env bash
# One-command demo that needs no internet: makes a 5 s tone with ffmpeg, serves it on
# 127.0.0.1, and downloads it as mp3 through `hermes` → hermes-worker → yt-dlp → ffmpeg.
# Everything it installs or builds is done by scripts/hermes (setup once, release build once).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh" >&2

work="$(mktemp -d)"
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/site"
ffmpeg -loglevel error -y -f lavfi -i "sine=frequency=440:duration=5" -c:a libopus "$work/site/demo-tone.webm"

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$work/site" >/dev/null 2>&1 &
server=$!
for _ in $(seq 50); do python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/')" 2>/dev/null && break; sleep 0.1; done

out="${1:-$root/downloads/demo}"
# The media is on loopback, which the worker's egress policy refuses unless opened explicitly.
EGRESS_ALLOW_CIDRS=127.0.0.1/32 "$root/scripts/hermes" download "http://127.0.0.1:$port/demo-tone.webm" --audio mp3 --out "$out"
echo "demo: done; the mp3 is in $out" >&2
