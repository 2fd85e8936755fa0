#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks to build, run and test Hermes-rs. Idempotent and
# quiet: each step runs only when its tool is missing (or too old), so a second run costs ~nothing.
#   ffmpeg/ffprobe  - apt (yt-dlp drives it; tests generate media with it)
#   yt-dlp          - pip (Debian's package is years old; DESIGN.md §3)
#   unzip           - apt (tests check ZIP parts with an independent reader)
#   aria2c          - apt `aria2` (EXTERNAL_DOWNLOADER: several connections per file)
# The Rust toolchain is already on the machine.
set -euo pipefail

log() { printf 'setup: %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_missing=()
command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1 || apt_missing+=(ffmpeg)
command -v unzip >/dev/null 2>&1 || apt_missing+=(unzip)
command -v aria2c >/dev/null 2>&1 || apt_missing+=(aria2)
if [ ${#apt_missing[@]} -gt 0 ]; then
  log "installing ${apt_missing[*]} (apt)"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${apt_missing[@]}" >/dev/null
fi

# yt-dlp: pip, at least the version the fixtures were recorded with.
MIN_YTDLP=2026.10.26
have=$(yt-dlp --version 2>/dev/null || true)
if [ -z "$have" ] || [ "$(printf '%s\n%s\n' "$MIN_YTDLP" "$have" | sort -V | head -n1)" != "$MIN_YTDLP" ]; then
  log "installing yt-dlp>=$MIN_YTDLP (pip; found '${have:-none}')"
  python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore -U "yt-dlp>=$MIN_YTDLP" >/dev/null
  hash -r
fi

command -v cargo >/dev/null 2>&1 || { log "cargo not found: install the Rust toolchain (rustup)"; exit 1; }
log "ready: $(yt-dlp --version) / $(ffmpeg -version | head -n1 | cut -d' ' -f1-3) / $(aria2c --version | head -n1) / $(cargo --version)"
