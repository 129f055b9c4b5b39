#!/usr/bin/env bash
# Instructions executed (user space, cachegrind without cache simulation) by `netan flows` and
# by `netan run` with the no-op `minimal` plugin on the same capture, and their ratio: the
# deterministic companion of bench/overhead.sh, whose timings drift with the machine. Two
# runs of the same binary give the same counts to within a few thousand instructions.
#
#   bench/instructions.sh [CAPTURE]     (default bench/out/bulk-512MiB-c4000.pcap: cachegrind
#                                        runs ~50x slower than netan, about a minute a command)
#
# Needs valgrind (`apt-get install -y valgrind`) and a release build of the workspace (built
# here if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
capture=${1:-bench/out/bulk-512MiB-c4000.pcap}
[ -f "$capture" ] || { echo "no capture $capture (run bench/gen.sh)" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install -y valgrind)" >&2; exit 2; }
cargo build --release --workspace --quiet
netan=target/release/netan
pipeline=$(mktemp --suffix=.toml)
trap 'rm -f "$pipeline"' EXIT
printf '[[plugin]]\nname = "minimal"\n' >"$pipeline"
count() {
    valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null "$netan" "$@" \
        2>&1 >/dev/null | sed -n 's/.*I *refs: *\([0-9,]*\).*/\1/p' | tr -d ,
}
flows=$(count flows -q "$capture")
run=$(count run -q -p "$pipeline" "$capture")
python3 - "$flows" "$run" <<'PY'
import sys
flows, run = (int(x) for x in sys.argv[1:])
print("flows_instructions=%d" % flows)
print("run_instructions=%d" % run)
print("overhead_instructions=%.2f%%  (run with the no-op plugin over flows)" % (100.0 * (run - flows) / flows))
PY
