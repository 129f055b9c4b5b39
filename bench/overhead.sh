#!/usr/bin/env bash
# Plugin-path overhead: `netan run` with the no-op `minimal` plugin (subscribed to every TCP
# event) against `netan flows` on the same capture, runs interleaved (A, B, A, B, ...) so that
# the machine's drift hits both alike. Prints the median CPU time (user+sys) and wall time of
# each, their ratio, and the median peak RSS.
#
#   bench/overhead.sh [CAPTURE]        (default bench/out/bulk-1g.pcap; RUNS=9)
#
# Needs /usr/bin/time (apt-get install -y time) and a release build of the workspace (built
# here if missing: the minimal plugin is a workspace member).
set -euo pipefail
cd "$(dirname "$0")/.."
capture=${1:-bench/out/bulk-1g.pcap}
runs=${RUNS:-9}
[ -f "$capture" ] || { echo "no capture $capture (run bench/gen.sh)" >&2; exit 2; }
cargo build --release --workspace --quiet
netan=target/release/netan
pin=""
command -v taskset >/dev/null && pin="taskset -c 0"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for _ in $(seq "$runs"); do
  /usr/bin/time -f "run %e %U %S %M" $pin $netan run -q -l minimal "$capture" >/dev/null 2>>"$out"
  /usr/bin/time -f "flows %e %U %S %M" $pin $netan flows -q "$capture" >/dev/null 2>>"$out"
done
python3 - "$out" "$capture" <<'PY'
import os, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    parts = line.split()
    if len(parts) == 5 and parts[0] in ("run", "flows"):
        k, wall, user, sys_, rss = parts
        rows.setdefault(k, []).append((float(wall), float(user) + float(sys_), int(rss)))
size = os.path.getsize(sys.argv[2])
med = lambda v, i: statistics.median(x[i] for x in v)
for k in ("flows", "run"):
    v = rows[k]
    print("%-5s runs=%d cpu_median=%.3fs wall_median=%.3fs throughput=%.0fMB/s rss_median=%.0fMB" % (
        k, len(v), med(v, 1), med(v, 0), size / med(v, 0) / 1e6, med(v, 2) / 1024))
r = med(rows["run"], 1) / med(rows["flows"], 1)
print("overhead_cpu=%.1f%%  (run with the no-op plugin / flows, median CPU time)" % ((r - 1) * 100))
PY
