#!/usr/bin/env bash
# The plugin-path overhead (bench/overhead.sh: `netan run` with the no-op plugin against
# `netan flows`) as a function of the number of sessions in flight: the run's extra cost is
# cache misses on per-session state, so it grows with how many sessions are open at once
# (docs/performance.md, "The plugin path"). Generates, if missing, one bulk capture per
# concurrency with netan-gen (same profile as the benchmark capture's, SIZE each), runs
# bench/overhead.sh on each, and prints one line per concurrency.
#
#   bench/overhead-sweep.sh                      (50 500 2000 4000 sessions, 512MiB, RUNS=8)
#   CONCURRENCIES="50 4000" SIZE=256MiB RUNS=6 bench/overhead-sweep.sh
set -euo pipefail
cd "$(dirname "$0")/.."
concurrencies=${CONCURRENCIES:-50 500 2000 4000}
size=${SIZE:-512MiB}
out=${OUT:-bench/out}
export RUNS=${RUNS:-8}
cargo build --release --workspace --quiet
mkdir -p "$out"
printf '%-11s %-28s %-10s %-10s %-8s %-8s %-8s\n' sessions parts flows_cpu run_cpu medians rounds minimums
for c in $concurrencies; do
  capture="$out/bulk-$size-c$c.pcap"
  if [ ! -f "$capture" ]; then
    if ! log=$(target/release/netan-gen --size "$size" --concurrency "$c" --body-min 8KiB \
      --body-max 512KiB --output "$capture" 2>&1); then
      printf '%s\n' "$log" >&2
      exit 1
    fi
  fi
  result=$(bench/overhead.sh "$capture")
  parts=$(printf '%s\n' "$result" | sed -n 's/^parts: \([0-9]*\) monologue parts (\([0-9]*\) sent early.*/\1 (\2 early)/p')
  flows=$(printf '%s\n' "$result" | sed -n 's/^flows .*cpu_median=\([0-9.]*s\).*/\1/p')
  run=$(printf '%s\n' "$result" | sed -n 's/^run .*cpu_median=\([0-9.]*s\).*/\1/p')
  medians=$(printf '%s\n' "$result" | sed -n 's/^overhead_cpu_medians=\([-0-9.]*%\).*/\1/p')
  rounds=$(printf '%s\n' "$result" | sed -n 's/^overhead_cpu_rounds=\([-0-9.]*%\).*/\1/p')
  minimums=$(printf '%s\n' "$result" | sed -n 's/^overhead_cpu_minimums=\([-0-9.]*%\).*/\1/p')
  printf '%-11s %-28s %-10s %-10s %-8s %-8s %-8s\n' "$c" "$parts" "$flows" "$run" "$medians" "$rounds" "$minimums"
done
