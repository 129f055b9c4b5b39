#!/usr/bin/env bash
# bench/flows.sh — single-core throughput and memory of `netan flows` on one capture.
#
# Runs `netan flows -q CAPTURE > /dev/null` RUNS times (default 5) pinned to CPU 0, then the
# same with `--hash` (SHA-256 of both directions of every session), and, if tcpflow is
# installed, `tcpflow -r CAPTURE -o TMPDIR` (also pinned, its output directory emptied between
# runs, outside the timing; in /dev/shm when it has room, so disk speed does not decide its
# time) as a reference. For each run it prints wall time and peak RSS;
# then for each tool the median wall time, throughput in MB/s of capture file (file size /
# median time) and packets/s, the median peak RSS, and the ratio of netan's throughput to
# tcpflow's. The last block is `key=value` lines to paste into docs. MB = 10^6 bytes.
#
# Usage (from the repo root or anywhere):
#   bench/flows.sh [CAPTURE]                 # default bench/out/bulk-1g.pcap (bench/gen.sh)
#   RUNS=3 bench/flows.sh bench/out/http-1g.pcap
# Environment: RUNS (5), NETAN (a netan binary to measure; by default the script runs
# `cargo build --release -p netan-host` and measures $CARGO_TARGET_DIR/release/netan, target/
# if unset), NO_TCPFLOW=1 to skip tcpflow,
# TCPFLOW_TMP (where tcpflow writes; default /dev/shm if it has twice the capture's size free,
# else TMPDIR or /tmp).
# Needs GNU time as /usr/bin/time (Debian/Ubuntu: apt-get install -y time) and taskset
# (util-linux). The packet count comes from CAPTURE.meta (written by netan-gen), else capinfos,
# else a python3 walk over the pcap record headers.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CAPTURE=${1:-$ROOT/bench/out/bulk-1g.pcap}
RUNS=${RUNS:-5}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
[[ $TARGET_DIR == /* ]] || TARGET_DIR="$ROOT/$TARGET_DIR"
NETAN_SET=${NETAN:-}
NETAN=${NETAN:-$TARGET_DIR/release/netan}

die() {
    echo "flows.sh: $*" >&2
    exit 1
}

[[ -f $CAPTURE ]] || die "no capture $CAPTURE (generate the standard ones with bench/gen.sh)"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, not '$RUNS'"
[[ -x /usr/bin/time ]] || die "GNU time is missing: apt-get install -y time"
if [[ -z ${NETAN_SET:-} ]]; then
    # Build (a no-op when up to date) so the figures are those of the working tree; if the tree
    # does not build right now, an existing binary is used with a warning.
    if ! (cd "$ROOT" && cargo build --release -q -p netan-host); then
        [[ -x $NETAN ]] || die "cargo build --release -p netan-host failed and there is no $NETAN"
        echo "flows.sh: warning: the build failed, measuring the existing $NETAN" >&2
    fi
fi
[[ -x $NETAN ]] || die "no netan binary at $NETAN"
PIN=()
if command -v taskset >/dev/null; then
    PIN=(taskset -c 0)
else
    echo "flows.sh: taskset not found, runs are not pinned to one core" >&2
fi

BYTES=$(stat -c %s "$CAPTURE")
SESSIONS=""
PACKETS=""
if [[ -f $CAPTURE.meta ]]; then
    PACKETS=$(sed -n 's/^packets=//p' "$CAPTURE.meta")
    SESSIONS=$(sed -n 's/^sessions=//p' "$CAPTURE.meta")
fi
if [[ -z $PACKETS ]] && command -v capinfos >/dev/null; then
    PACKETS=$(capinfos -M -c -T -r "$CAPTURE" 2>/dev/null | awk -F'\t' 'NF > 1 { print $2 }')
fi
if [[ -z $PACKETS ]]; then
    PACKETS=$(python3 - "$CAPTURE" <<'EOF'
import struct, sys
with open(sys.argv[1], "rb") as f:
    magic = f.read(24)[:4]
    order = {b"\xd4\xc3\xb2\xa1": "<", b"\x4d\x3c\xb2\xa1": "<",
             b"\xa1\xb2\xc3\xd4": ">", b"\xa1\xb2\x3c\x4d": ">"}.get(magic)
    if order is None:
        sys.exit("not a classic pcap file")
    n = 0
    while len(h := f.read(16)) == 16:
        f.seek(struct.unpack(order + "IIII", h)[2], 1)
        n += 1
print(n)
EOF
)
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/netan-flows-bench.XXXXXX")
TCPFLOW_BASE=${TCPFLOW_TMP:-}
if [[ -z $TCPFLOW_BASE ]]; then
    TCPFLOW_BASE=${TMPDIR:-/tmp}
    if [[ -d /dev/shm && -w /dev/shm ]] &&
        (($(df -B1 --output=avail /dev/shm | tail -n 1) > 2 * BYTES)); then
        TCPFLOW_BASE=/dev/shm
    fi
fi
TCPFLOW_OUT=$(mktemp -d "$TCPFLOW_BASE/netan-flows-bench-tcpflow.XXXXXX")
trap 'rm -rf "$TMP" "$TCPFLOW_OUT"' EXIT

# median of the numbers on stdin (mean of the middle two for an even count)
median() {
    sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.6f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# measure LABEL COMMAND...: RUNS runs; prints each, leaves "$TMP/LABEL.wall" and ".rss"
measure() {
    local label=$1 i t0 t1 wall rss rc
    shift
    : >"$TMP/$label.wall"
    : >"$TMP/$label.rss"
    for ((i = 1; i <= RUNS; i++)); do
        [[ $label != tcpflow ]] || find "$TCPFLOW_OUT" -mindepth 1 -delete
        rc=0
        t0=$(date +%s%N)
        /usr/bin/time -f '%e %M' -o "$TMP/time" "$@" >/dev/null 2>"$TMP/stderr" || rc=$?
        t1=$(date +%s%N)
        if ((rc != 0)); then
            cat "$TMP/stderr" >&2
            die "$label run $i failed (exit $rc): $*"
        fi
        wall=$(awk -v ns=$((t1 - t0)) 'BEGIN { printf "%.3f", ns / 1e9 }')
        rss=$(tail -n 1 "$TMP/time" | awk '{ printf "%.1f", $2 * 1024 / 1e6 }')
        echo "$wall" >>"$TMP/$label.wall"
        echo "$rss" >>"$TMP/$label.rss"
        printf '  %-8s run %d/%d: %8.3f s  peak RSS %8.1f MB\n' "$label" "$i" "$RUNS" "$wall" "$rss" >&2
    done
}

# summarize LABEL: "wall mb_s pkts_s rss" from the medians
summarize() {
    local wall rss
    wall=$(median <"$TMP/$1.wall")
    rss=$(median <"$TMP/$1.rss")
    awk -v w="$wall" -v b="$BYTES" -v p="${PACKETS:-0}" -v r="$rss" \
        'BEGIN { printf "%.3f %.1f %.0f %.1f\n", w, b / 1e6 / w, p / w, r }'
}

echo "flows.sh: $CAPTURE: $BYTES bytes, ${PACKETS:-?} packets, ${SESSIONS:-?} sessions; $RUNS runs each" >&2
cat "$CAPTURE" >/dev/null # warm the page cache: every run reads from memory

measure netan "${PIN[@]}" "$NETAN" flows -q "$CAPTURE"
measure hash "${PIN[@]}" "$NETAN" flows -q --hash "$CAPTURE"
HAVE_TCPFLOW=0
if [[ -z ${NO_TCPFLOW:-} ]] && command -v tcpflow >/dev/null; then
    HAVE_TCPFLOW=1
    measure tcpflow "${PIN[@]}" tcpflow -r "$CAPTURE" -o "$TCPFLOW_OUT"
fi

read -r N_WALL N_MBS N_PPS N_RSS <<<"$(summarize netan)"
read -r H_WALL H_MBS H_PPS H_RSS <<<"$(summarize hash)"
report() {
    echo "capture=$CAPTURE"
    echo "capture_bytes=$BYTES"
    echo "packets=${PACKETS:-unknown}"
    [[ -z $SESSIONS ]] || echo "sessions=$SESSIONS"
    if [[ -f $CAPTURE.meta ]]; then
        sed -n 's/^\(profile\|peak_in_flight\|mean_in_flight\)=/gen_&/p' "$CAPTURE.meta"
    fi
    echo "runs=$RUNS"
    echo "cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
    echo "netan=$("$NETAN" --version 2>/dev/null | head -n 1) (tree $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown), binary built $(date -u -r "$NETAN" +%Y-%m-%dT%H:%M:%SZ))"
    echo "netan_wall_s=$N_WALL"
    echo "netan_mb_s=$N_MBS"
    echo "netan_pkts_s=$N_PPS"
    echo "netan_rss_mb=$N_RSS"
    echo "netan_hash_wall_s=$H_WALL"
    echo "netan_hash_mb_s=$H_MBS"
    echo "netan_hash_pkts_s=$H_PPS"
    echo "netan_hash_rss_mb=$H_RSS"
    if ((HAVE_TCPFLOW)); then
        read -r T_WALL T_MBS T_PPS T_RSS <<<"$(summarize tcpflow)"
        echo "tcpflow=$(tcpflow --version 2>&1 | head -n 1) (writing to $TCPFLOW_BASE)"
        echo "tcpflow_wall_s=$T_WALL"
        echo "tcpflow_mb_s=$T_MBS"
        echo "tcpflow_pkts_s=$T_PPS"
        echo "tcpflow_rss_mb=$T_RSS"
        awk -v n="$N_WALL" -v h="$H_WALL" -v t="$T_WALL" 'BEGIN {
            printf "netan_vs_tcpflow=%.2f\n", t / n
            printf "netan_hash_vs_tcpflow=%.2f\n", t / h }'
    fi
}
echo
echo "# netan flows, single core (taskset -c 0), median of $RUNS runs; MB = 10^6 bytes;"
echo "# *_vs_tcpflow = netan throughput / tcpflow throughput (= tcpflow time / netan time)"
report
