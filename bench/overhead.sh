#!/usr/bin/env bash
# Plugin-path overhead: `netan run` with the no-op `minimal` plugin (subscribed to every TCP
# event) against `netan flows` on the same capture, runs interleaved (A, B, A, B, ...) and
# pinned to one core so that the machine's drift hits both alike. Prints the median CPU time
# (user+sys) and wall time of each, the median peak RSS, the monologue parts delivered, and
# the overhead as the median of the per-pair ratios (run_i / flows_i: robust to drift
# between pairs) and as the ratio of the medians.
#
#   bench/overhead.sh [CAPTURE]        (default bench/out/bulk-1g.pcap)
#   RUNS=15 BUFFER=4194304 bench/overhead.sh    (BUFFER sets [tcp] max_monologue_buffer)
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
pipeline=$(mktemp --suffix=.toml)
trap 'rm -f "$out" "$pipeline"' EXIT
{
  [ -n "${BUFFER:-}" ] && printf '[tcp]\nmax_monologue_buffer = %s\n' "$BUFFER"
  printf '[[plugin]]\nname = "minimal"\n'
} >"$pipeline"
$netan run -p "$pipeline" "$capture" 2>&1 >/dev/null | grep -o '[0-9]* monologue parts ([^;]*' | sed 's/^/parts: /' || true
for _ in $(seq "$runs"); do
  /usr/bin/time -f "flows %e %U %S %M" $pin $netan flows -q "$capture" >/dev/null 2>>"$out"
  /usr/bin/time -f "run %e %U %S %M" $pin $netan run -q -p "$pipeline" "$capture" >/dev/null 2>>"$out"
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
pairs = [r[1] / f[1] for f, r in zip(rows["flows"], rows["run"])]
r = med(rows["run"], 1) / med(rows["flows"], 1)
print("overhead_cpu_pairs=%.1f%%  (median of per-pair CPU-time ratios, run with the no-op plugin / flows)" % ((statistics.median(pairs) - 1) * 100))
print("overhead_cpu_medians=%.1f%%  (ratio of the median CPU times)" % ((r - 1) * 100))
PY
