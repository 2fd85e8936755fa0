#!/usr/bin/env bash
# Re-records fixtures/ytdlp/*.txt: the real output of the installed yt-dlp, run with exactly the
# argv crates/worker/src/ytdlp/args.rs builds, against media generated here with ffmpeg and served
# on 127.0.0.1 (no internet needed). crates/worker/tests/ytdlp_fixtures.rs replays every fixture
# through the progress parser and checks that each recorded argv is still what args.rs builds, so
# after changing args.rs (or upgrading yt-dlp) run this script and then that test.
#
# Usage: scripts/record-ytdlp-fixtures.sh [output-dir]     (default: fixtures/ytdlp)
# Needs: yt-dlp, ffmpeg, python3 (its http.server serves the media).
#
# FIXTURE FORMAT (one text file per scenario, UTF-8 except where yt-dlp printed otherwise):
#   Header, each line starting with "# ":
#     # fixture: <name>
#     # yt-dlp: <yt-dlp --version>
#     # base_url: http://127.0.0.1:<port>     the server the media came from (port varies)
#     # output_dir: <dir>                     the download directory the argv names
#     # argv: <JSON array>                    the argv after the program name, verbatim
#     # exit: <code>                          yt-dlp's exit status
#   Then every output line in arrival order, prefixed with its stream:
#     OUT <line>    a line yt-dlp wrote to stdout
#     ERR <line>    a line yt-dlp wrote to stderr
#   The prefix is followed by the line exactly as printed, without its newline.
#
# Scenarios: download_progress (20 MiB wav served at ~4 MB/s: many progress lines), audio_extract
# (webm -> mp3), already_downloaded (the same again), http404, unsupported (HTML page without
# media), format_unavailable (explicit selector nothing matches), playlist (RSS feed of three
# enclosures, with a download archive), playlist_archived (the same again: every item skipped),
# playlist_partial (the middle item 404s), merge (DASH manifest with separate video and audio).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${1:-$REPO/fixtures/ytdlp}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/hermes-ytdlp-fixtures.XXXXXX")"
SERVER_PIDS=()

cleanup() {
    for pid in "${SERVER_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

for tool in yt-dlp ffmpeg python3; do
    command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done
mkdir -p "$DEST" "$WORK/media/dash" "$WORK/slow" "$WORK/out"
YTDLP_VERSION="$(yt-dlp --version)"

# --- argv pieces, mirroring crates/worker/src/ytdlp/args.rs (YtdlpEnv::default(): no ffmpeg
#     location, no cookies). The test fails if these drift apart.
COMMON=(--ignore-config --no-colors --no-cache-dir)
DOWNLOAD=(
    "${COMMON[@]}" --newline --no-quiet
    --progress-template 'download:%(progress.{status,downloaded_bytes,total_bytes,total_bytes_estimate,speed,eta})j'
    --progress-template 'postprocess:%(progress.{status,postprocessor})j'
    --print 'after_move:HERMES_FILE %(.{filepath,title,duration,id,playlist_index,track,artist,uploader})j'
    --print-to-file 'after_move:%(.{filepath,title,duration,id,playlist_index,track,artist,uploader})j'
)
# The private final-file log of a download into $1 (the test derives the same path) and the cap.
download_tail() { printf '%s\0' "$1.final-files.jsonl" --max-filesize 2000M; }
# A single download also prints its title just before downloading (args.rs TITLE_PRINT); a
# playlist does not.
TITLE_PRINT='before_dl:HERMES_TITLE %(.{title})j'
single_tail() { printf '%s\0' "$1.final-files.jsonl" --print "$TITLE_PRINT" --max-filesize 2000M; }
AUDIO_SELECTOR='ba[filesize<15M]/ba[filesize_approx<15M]/ba[abr<=128]/ba/b'
VIDEO_SELECTOR='bv*[height<=1080][vcodec^=avc1][ext=mp4]+ba[acodec^=mp4a]/b[height<=1080][vcodec^=avc1][ext=mp4][acodec^=mp4a]/bv*[height<=1080]+ba/b[height<=1080]/b'
SINGLE_TEMPLATE='%(title).180B.%(ext)s'
PLAYLIST_TEMPLATE='%(playlist_index)03d - %(title).180B.%(ext)s'

# --- media -----------------------------------------------------------------------------------
ff() { ffmpeg -hide_banner -nostdin -loglevel error -y "$@"; }
ff -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=5" -c:a libopus -b:a 64k "$WORK/media/tone.webm"
for i in 1 2 3; do
    ff -f lavfi -i "sine=frequency=$((300 + 100 * i)):sample_rate=48000:duration=2" \
        -c:a libopus -b:a 64k "$WORK/media/track$i.webm"
done
# 20 MiB of 48 kHz stereo s16 PCM: 20 * 1048576 / 4 samples.
ff -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=110" -af "atrim=end_sample=5242880" \
    -ac 2 -c:a pcm_s16le "$WORK/slow/big.wav"
ff -f lavfi -i "testsrc=duration=4:size=320x240:rate=25" -f lavfi -i "sine=frequency=500:duration=4" \
    -map 0:v -map 1:a -c:v libx264 -preset ultrafast -pix_fmt yuv420p -g 25 -c:a aac \
    -f dash -seg_duration 1 -adaptation_sets "id=0,streams=v id=1,streams=a" "$WORK/media/dash/manifest.mpd"
cat >"$WORK/media/page.html" <<'HTML'
<!doctype html>
<html><head><title>Nothing to see</title></head>
<body><p>This page has text and no media at all.</p></body></html>
HTML

# --- servers ---------------------------------------------------------------------------------
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_for_port() {
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "server on port $1 did not start" >&2
    exit 1
}

PORT="$(free_port)"
(cd "$WORK/media" && exec python3 -m http.server --bind 127.0.0.1 "$PORT" >/dev/null 2>&1) &
SERVER_PIDS+=($!)
BASE="http://127.0.0.1:$PORT"

# The throttled server for the big file: http.server's handler, writing 64 KiB at ~4 MB/s, so
# yt-dlp's download takes a few seconds and prints its progress as it goes.
cat >"$WORK/throttled_server.py" <<'PY'
import http.server, sys, time
RATE = 4_000_000
CHUNK = 64 * 1024
class Throttled(http.server.SimpleHTTPRequestHandler):
    def copyfile(self, source, outputfile):
        try:
            while chunk := source.read(CHUNK):
                outputfile.write(chunk)
                outputfile.flush()
                time.sleep(len(chunk) / RATE)
        except (BrokenPipeError, ConnectionResetError):
            pass  # yt-dlp's generic extractor reads the first bytes and hangs up
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Throttled).serve_forever()
PY
SLOW_PORT="$(free_port)"
(cd "$WORK/slow" && exec python3 "$WORK/throttled_server.py" "$SLOW_PORT" >/dev/null 2>&1) &
SERVER_PIDS+=($!)
SLOW_BASE="http://127.0.0.1:$SLOW_PORT"
wait_for_port "$PORT"
wait_for_port "$SLOW_PORT"

feed() { # title item-path...
    local title="$1" n=0
    shift
    printf '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0">\n<channel>\n'
    printf '<title>%s</title>\n<link>%s/</link>\n<description>Generated sine tones</description>\n' "$title" "$BASE"
    for path in "$@"; do
        n=$((n + 1))
        printf '<item><title>Tone %s</title><guid isPermaLink="false">tone-%s</guid>' "$n" "$n"
        printf '<enclosure url="%s%s" type="audio/webm" length="1"/></item>\n' "$BASE" "$path"
    done
    printf '</channel>\n</rss>\n'
}
feed "Hermes Test Tones" /track1.webm /track2.webm /track3.webm >"$WORK/media/feed.xml"
feed "Hermes Partial Tones" /track1.webm /missing.webm /track3.webm >"$WORK/media/partial.xml"

# --- recorder --------------------------------------------------------------------------------
# Runs yt-dlp with the given argv, reading stdout and stderr as lines arrive and writing them with
# their OUT/ERR prefix under the header described at the top of this file.
cat >"$WORK/record.py" <<'PY'
import json, os, selectors, subprocess, sys
dest, name, version, base, outdir, *argv = sys.argv[1:]
proc = subprocess.Popen(["yt-dlp", *argv], stdin=subprocess.DEVNULL,
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
sel = selectors.DefaultSelector()
sel.register(proc.stdout, selectors.EVENT_READ, b"OUT ")
sel.register(proc.stderr, selectors.EVENT_READ, b"ERR ")
pending = {b"OUT ": b"", b"ERR ": b""}
body = []
while sel.get_map():
    for key, _ in sel.select():
        data = os.read(key.fileobj.fileno(), 65536)
        if not data:
            sel.unregister(key.fileobj)
            if pending[key.data]:
                body.append(key.data + pending[key.data] + b"\n")
            continue
        *lines, pending[key.data] = (pending[key.data] + data).split(b"\n")
        body.extend(key.data + line + b"\n" for line in lines)
code = proc.wait()
header = [f"# fixture: {name}", f"# yt-dlp: {version}", f"# base_url: {base}",
          f"# output_dir: {outdir}", f"# argv: {json.dumps(argv)}", f"# exit: {code}"]
with open(os.path.join(dest, name + ".txt"), "wb") as out:
    out.write(("\n".join(header) + "\n").encode())
    out.writelines(body)
print(f"{name}: exit {code}, {len(body)} lines")
PY

record() { # name base outdir argv...
    local name="$1" base="$2" outdir="$3"
    shift 3
    python3 "$WORK/record.py" "$DEST" "$name" "$YTDLP_VERSION" "$base" "$outdir" "$@"
}

audio_mp3() { # outdir url  -> argv of a single mp3 download
    printf '%s\0' "${DOWNLOAD[@]}"; single_tail "$1"
    printf '%s\0' --no-playlist -f "$AUDIO_SELECTOR" -x --audio-format mp3 \
        --audio-quality 0 -o "$1/$SINGLE_TEMPLATE" -- "$2"
}
video() { # outdir url [explicit-selector]
    printf '%s\0' "${DOWNLOAD[@]}"; single_tail "$1"
    printf '%s\0' --no-playlist -f "${3:-$VIDEO_SELECTOR}" \
        --merge-output-format mp4 -o "$1/$SINGLE_TEMPLATE" -- "$2"
}
playlist_mp3() { # outdir url
    printf '%s\0' "${DOWNLOAD[@]}"; download_tail "$1"
    printf '%s\0' --yes-playlist --download-archive "$1/archive.txt" \
        -f "$AUDIO_SELECTOR" -x --audio-format mp3 --audio-quality 0 \
        -o "$1/$PLAYLIST_TEMPLATE" -- "$2"
}
record_argv() { # name base outdir <producer> producer-args...
    local name="$1" base="$2" outdir="$3" producer="$4"
    shift 4
    local -a argv
    mapfile -d '' -t argv < <("$producer" "$@")
    record "$name" "$base" "$outdir" "${argv[@]}"
}

OUT="$WORK/out"
record_argv download_progress "$SLOW_BASE" "$OUT/progress" video "$OUT/progress" "$SLOW_BASE/big.wav"
record_argv audio_extract "$BASE" "$OUT/audio" audio_mp3 "$OUT/audio" "$BASE/tone.webm"
record_argv already_downloaded "$BASE" "$OUT/audio" audio_mp3 "$OUT/audio" "$BASE/tone.webm"
record_argv http404 "$BASE" "$OUT/missing" audio_mp3 "$OUT/missing" "$BASE/missing.webm"
record_argv unsupported "$BASE" "$OUT/page" audio_mp3 "$OUT/page" "$BASE/page.html"
record_argv format_unavailable "$BASE" "$OUT/format" video "$OUT/format" "$BASE/tone.webm" 'bv[height>=2160]'
record_argv playlist "$BASE" "$OUT/playlist" playlist_mp3 "$OUT/playlist" "$BASE/feed.xml"
record_argv playlist_archived "$BASE" "$OUT/playlist" playlist_mp3 "$OUT/playlist" "$BASE/feed.xml"
record_argv playlist_partial "$BASE" "$OUT/partial" playlist_mp3 "$OUT/partial" "$BASE/partial.xml"
record_argv merge "$BASE" "$OUT/merge" video "$OUT/merge" "$BASE/dash/manifest.mpd"
echo "fixtures written to $DEST"
