#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks to build, run and test Hermes-rs. Idempotent and
# quiet: each step runs only when its tool is missing (or too old), so a second run costs ~nothing.
#   ffmpeg/ffprobe  - apt (yt-dlp drives it; tests generate media with it)
#   unzip           - apt (tests check ZIP parts with an independent reader)
#   python3-venv    - apt, when Python cannot make a virtual environment
#   yt-dlp + Deno   - pip, into a virtual environment the project owns (not the system Python):
#                     `yt-dlp[default]` brings the yt-dlp-ejs solver scripts and PyPI's `deno`
#                     ships the Deno binary, which YouTube needs since yt-dlp 2025.11.12.
# The toolchain lives in $HERMES_HOME (default: .hermes in the repository):
#   envs/<name>/   virtual environments          venv -> envs/<current>   (what the worker runs)
#   previous -> envs/<before>   (kept by `hermes update-ytdlp` for --rollback)
# The worker and the bot find $HERMES_HOME/venv/bin/yt-dlp and .../deno by themselves.
# YTDLP_EXTRA_PACKAGES (space-separated, e.g. bgutil-ytdlp-pot-provider) is installed beside them.
#   aria2c          - apt `aria2` (EXTERNAL_DOWNLOADER: several connections per file)
#   redis-server    - apt (scale-out tests start their own on a loopback port; DESIGN.md §7)
# The Rust toolchain is already on the machine.
set -euo pipefail

log() { printf 'setup: %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
home="${HERMES_HOME:-$root/.hermes}"
venv="$home/venv"

apt_missing=()
command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1 || apt_missing+=(ffmpeg)
command -v unzip >/dev/null 2>&1 || apt_missing+=(unzip)
command -v python3 >/dev/null 2>&1 || apt_missing+=(python3)
if [ ! -x "$venv/bin/yt-dlp" ] && ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
  apt_missing+=(python3-venv)
fi
command -v aria2c >/dev/null 2>&1 || apt_missing+=(aria2)
command -v redis-server >/dev/null 2>&1 || apt_missing+=(redis-server)
if [ ${#apt_missing[@]} -gt 0 ]; then
  log "installing ${apt_missing[*]} (apt)"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${apt_missing[@]}" >/dev/null
fi

# yt-dlp: at least the version the fixtures were recorded with, with its JS runtime.
MIN_YTDLP=2026.10.26
have=$("$venv/bin/yt-dlp" --version 2>/dev/null || true)
if [ -z "$have" ] || [ ! -x "$venv/bin/deno" ] ||
   [ "$(printf '%s\n%s\n' "$MIN_YTDLP" "$have" | sort -V | head -n1)" != "$MIN_YTDLP" ]; then
  log "installing yt-dlp[default]>=$MIN_YTDLP and deno into $venv (pip; found '${have:-none}')"
  mkdir -p "$home/envs"
  name="setup-$(date +%Y%m%d-%H%M%S)-$$"
  env_dir="$home/envs/$name"
  python3 -m venv "$env_dir"
  # shellcheck disable=SC2086 # YTDLP_EXTRA_PACKAGES is a list of package names
  "$env_dir/bin/python" -m pip install -q --disable-pip-version-check \
    "yt-dlp[default]>=$MIN_YTDLP" deno ${YTDLP_EXTRA_PACKAGES:-} >/dev/null
  # A venv made by hand (a plain directory) becomes an environment like the others.
  if [ -d "$venv" ] && [ ! -L "$venv" ]; then
    mv "$venv" "$home/envs/manual-$$"
    ln -sfn "envs/manual-$$" "$home/previous"
  elif [ -L "$venv" ]; then
    ln -sfn "$(readlink "$venv")" "$home/previous"
  fi
  # The switch is one rename of a symbolic link: a running yt-dlp keeps its environment.
  ln -sfn "envs/$name" "$home/venv.new.$$"
  mv -T "$home/venv.new.$$" "$venv"
  installed=1
fi

command -v cargo >/dev/null 2>&1 || { log "cargo not found: install the Rust toolchain (rustup)"; exit 1; }
if [ -n "${installed:-}" ]; then have=$("$venv/bin/yt-dlp" --version); fi
if [ -n "${installed:-}" ] || [ -n "${HERMES_SETUP_VERBOSE:-}" ]; then
  # What yt-dlp itself says about its JavaScript support (one more Python start-up, so only after
  # an install or when asked).
  js=$("$venv/bin/yt-dlp" --ignore-config -v 2>&1 >/dev/null | sed -n 's/^\[debug\] JS runtimes: //p' || true)
  log "JS runtimes: ${js:-none}"
fi
log "ready: yt-dlp $have / $(ffmpeg -version | head -n1 | cut -d' ' -f1-3) / $(aria2c --version | head -n1) / $(cargo --version)"
