#!/usr/bin/env bash
# bench/plugins.sh — single-core throughput of `netan run` with the bundled analysers, next to
# `netan flows` on the same capture (runs interleaved, pinned to CPU 0).
#
#   bench/plugins.sh                 # http + http-perf on bench/out/http-1g.pcap, then
#                                    # smtp on bench/out/smtp-1g.pcap (bench/gen.sh makes them)
#   bench/plugins.sh CAPTURE -l http -l http-perf     # any capture, any `netan run` options
#
# Prints, per command, the median wall and CPU (user+sys) time, throughput in MB/s of capture
# file (size / median wall time; MB = 10^6 bytes) and the median peak RSS. RUNS (default 5).
# Needs GNU time as /usr/bin/time (apt-get install -y time) and taskset (util-linux).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
RUNS=${RUNS:-5}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
[[ $TARGET_DIR == /* ]] || TARGET_DIR="$ROOT/$TARGET_DIR"
[[ -x /usr/bin/time ]] || { echo "plugins.sh: GNU time is missing: apt-get install -y time" >&2; exit 1; }
cargo build --release --workspace --quiet
NETAN=$TARGET_DIR/release/netan
PIN=()
command -v taskset >/dev/null && PIN=(taskset -c 0)

bench() {
  local capture=$1
  shift
  [[ -f $capture ]] || { echo "plugins.sh: no capture $capture (run bench/gen.sh)" >&2; exit 1; }
  local out
  out=$(mktemp)
  for _ in $(seq "$RUNS"); do
    /usr/bin/time -f "flows %e %U %S %M" "${PIN[@]}" "$NETAN" flows -q "$capture" >/dev/null 2>>"$out"
    /usr/bin/time -f "run %e %U %S %M" "${PIN[@]}" "$NETAN" run -q "$@" "$capture" >/dev/null 2>>"$out"
  done
  python3 - "$out" "$capture" "$*" <<'PY'
import os, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    p = line.split()
    if len(p) == 5 and p[0] in ("flows", "run"):
        rows.setdefault(p[0], []).append((float(p[1]), float(p[2]) + float(p[3]), int(p[4])))
size = os.path.getsize(sys.argv[2])
print("%s (%d bytes), netan run %s:" % (os.path.basename(sys.argv[2]), size, sys.argv[3]))
for k in ("flows", "run"):
    v = rows[k]
    m = lambda i: statistics.median(x[i] for x in v)
    print("  %-5s runs=%d wall_median=%.3fs cpu_median=%.3fs throughput=%.0fMB/s rss_median=%.0fMB"
          % (k, len(v), m(0), m(1), size / m(0) / 1e6, m(2) / 1024))
PY
  rm -f "$out"
}

if [[ $# -gt 0 ]]; then
  bench "$@"
else
  bench bench/out/http-1g.pcap -l http -l http-perf
  bench bench/out/smtp-1g.pcap -l smtp
fi
