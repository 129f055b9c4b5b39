#!/usr/bin/env bash
# Plugin-path overhead: `netan run` with the no-op `minimal` plugin (subscribed to every TCP
# event) against `netan flows` on the same capture, pinned to one core, in rounds of A B B A
# (flows, run, run, flows) so that the machine's drift hits both alike and neither command
# always follows the other: on this VM a command is measurably slower right after the other
# one than after itself (run after flows 0.535 s, after run 0.510 s; flows after run 0.430 s,
# after flows 0.455 s; medians of 6 rounds), which strict alternation (A B A B) charges to one
# side. Prints the median CPU time (user+sys) and wall time of each, the median peak RSS, the
# monologue parts delivered, and the overhead as the median of the per-round ratios (the
# round's two runs over its two flows: robust to drift between rounds), as the ratio of the
# medians, and as the ratio of the minimums; then the median of per-round ratios in user time
# alone (the kernel's time, mostly copying the file and zeroing fresh memory, varies by tens
# of milliseconds between runs of one command on this VM).
#
#   bench/overhead.sh [CAPTURE]        (default bench/out/bulk-1g.pcap)
#   RUNS=8 BUFFER=4194304 bench/overhead.sh    (RUNS rounds, 2 runs of each per round;
#                                               BUFFER sets [tcp] max_monologue_buffer)
#   SITTINGS=6 RUNS=10 bench/overhead.sh       (6 sittings of 10 rounds one after another,
#                                               then the median over the sittings: what to
#                                               quote on this VM, whose speed drifts)
#
# Needs python3 (CPU time and peak RSS of each run from wait4, to the microsecond) and a
# release build of the workspace (built here if missing: the minimal plugin is a workspace
# member).
set -euo pipefail
cd "$(dirname "$0")/.."
capture=${1:-bench/out/bulk-1g.pcap}
runs=${RUNS:-6}
sittings=${SITTINGS:-1}
[ -f "$capture" ] || { echo "no capture $capture (run bench/gen.sh)" >&2; exit 2; }
cargo build --release --workspace --quiet
netan=target/release/netan
pin=""
command -v taskset >/dev/null && pin="taskset -c 0"
pipeline=$(mktemp --suffix=.toml)
trap 'rm -f "$pipeline"' EXIT
{
  [ -n "${BUFFER:-}" ] && printf '[tcp]\nmax_monologue_buffer = %s\n' "$BUFFER"
  printf '[[plugin]]\nname = "minimal"\n'
} >"$pipeline"
$netan run -p "$pipeline" "$capture" 2>&1 >/dev/null | grep -o '[0-9]* monologue parts ([^;]*' | sed 's/^/parts: /' || true
python3 - "$capture" "$runs" "$sittings" "$pipeline" "$netan" $pin <<'PY'
import os, statistics, subprocess, sys, time
capture, runs, sittings, pipeline, netan, *pin = sys.argv[1:]
cmds = {
    "flows": pin + [netan, "flows", "-q", capture],
    "run": pin + [netan, "run", "-q", "-p", pipeline, capture],
}

def measure(rows, k):
    # wait4 gives the child's own CPU time (microseconds) and peak RSS.
    t0 = time.monotonic()
    p = subprocess.Popen(cmds[k], stdout=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    if status != 0:
        sys.exit("%s failed: %s" % (k, cmds[k]))
    rows[k].append((time.monotonic() - t0, ru.ru_utime + ru.ru_stime, ru.ru_maxrss, ru.ru_utime))

size = os.path.getsize(capture)
med = lambda v, i: statistics.median(x[i] for x in v)

def sitting():
    """RUNS rounds; prints the sitting's figures and returns its median of round ratios."""
    rows = {"flows": [], "run": []}
    for _ in range(int(runs)):
        for k in ("flows", "run", "run", "flows"):
            measure(rows, k)
    for k in ("flows", "run"):
        v = rows[k]
        print("%-5s runs=%d cpu_median=%.3fs cpu_min=%.3fs wall_median=%.3fs throughput=%.0fMB/s rss_median=%.0fMB" % (
            k, len(v), med(v, 1), min(x[1] for x in v), med(v, 0), size / med(v, 0) / 1e6, med(v, 2) / 1024))
    f, r_ = rows["flows"], rows["run"]
    rounds = [(r_[i][1] + r_[i + 1][1]) / (f[i][1] + f[i + 1][1]) for i in range(0, min(len(f), len(r_)) - 1, 2)]
    r = med(r_, 1) / med(f, 1)
    m = min(x[1] for x in r_) / min(x[1] for x in f)
    print("overhead_cpu_rounds=%.1f%%  (median of per-round CPU-time ratios, run with the no-op plugin / flows)" % ((statistics.median(rounds) - 1) * 100))
    if len(rounds) >= 4:
        q = statistics.quantiles(rounds, n=4)
        print("overhead_cpu_rounds_quartiles=%.1f%%..%.1f%%  (half the rounds fall between: the spread of one sitting)" % ((q[0] - 1) * 100, (q[2] - 1) * 100))
    print("overhead_cpu_medians=%.1f%%  (ratio of the median CPU times)" % ((r - 1) * 100))
    print("overhead_cpu_minimums=%.1f%%  (ratio of the least disturbed runs: on a noisy machine the steadiest figure)" % ((m - 1) * 100))
    user_rounds = [(r_[i][3] + r_[i + 1][3]) / (f[i][3] + f[i + 1][3]) for i in range(0, min(len(f), len(r_)) - 1, 2)
                   if f[i][3] + f[i + 1][3] > 0]
    if user_rounds:
        print("overhead_user_rounds=%.1f%%  (the same in user time only: without the kernel's share, the file's copy and page zeroing, which varies most from run to run)" % ((statistics.median(user_rounds) - 1) * 100))
    return statistics.median(rounds)

results = []
for n in range(int(sittings)):
    if int(sittings) > 1:
        print("sitting %d/%s at %s" % (n + 1, sittings, time.strftime("%H:%M:%S")), flush=True)
    results.append(sitting())
    sys.stdout.flush()
if len(results) > 1:
    pct = ["%+.1f%%" % ((x - 1) * 100) for x in sorted(results)]
    print("overhead_sittings=%s" % " ".join(pct))
    print("overhead_sittings_median=%.1f%%  (median over %d sittings of their median round ratio)" % ((statistics.median(results) - 1) * 100, len(results)))
PY
