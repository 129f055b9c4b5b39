#!/usr/bin/env bash
# Plugin-path overhead: `netan run` with the no-op `minimal` plugin (subscribed to every TCP
# event) against `netan flows` on the same capture, pinned to one core, in rounds of A B B A
# (flows, run, run, flows) so that the machine's drift hits both alike and neither command
# always follows the other: on this VM a command is measurably slower right after the other
# one than after itself (run after flows 0.535 s, after run 0.510 s; flows after run 0.430 s,
# after flows 0.455 s; medians of 6 rounds), which strict alternation (A B A B) charges to one
# side. Prints the median CPU time (user+sys) and wall time of each, the median peak RSS, the
# monologue parts delivered, and the overhead as the median of the per-round ratios (the
# round's two runs over its two flows: robust to drift between rounds) and as the ratio of
# the medians.
#
#   bench/overhead.sh [CAPTURE]        (default bench/out/bulk-1g.pcap)
#   RUNS=8 BUFFER=4194304 bench/overhead.sh    (RUNS rounds, 2 runs of each per round;
#                                               BUFFER sets [tcp] max_monologue_buffer)
#
# Needs /usr/bin/time (apt-get install -y time) and a release build of the workspace (built
# here if missing: the minimal plugin is a workspace member).
set -euo pipefail
cd "$(dirname "$0")/.."
capture=${1:-bench/out/bulk-1g.pcap}
runs=${RUNS:-6}
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
flows() { /usr/bin/time -f "flows %e %U %S %M" $pin $netan flows -q "$capture" >/dev/null 2>>"$out"; }
run() { /usr/bin/time -f "run %e %U %S %M" $pin $netan run -q -p "$pipeline" "$capture" >/dev/null 2>>"$out"; }
for _ in $(seq "$runs"); do
  flows; run; run; flows
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
f, r_ = rows["flows"], rows["run"]
rounds = [(r_[i][1] + r_[i + 1][1]) / (f[i][1] + f[i + 1][1]) for i in range(0, min(len(f), len(r_)) - 1, 2)]
r = med(rows["run"], 1) / med(rows["flows"], 1)
print("overhead_cpu_rounds=%.1f%%  (median of per-round CPU-time ratios, run with the no-op plugin / flows)" % ((statistics.median(rounds) - 1) * 100))
print("overhead_cpu_medians=%.1f%%  (ratio of the median CPU times)" % ((r - 1) * 100))
PY
