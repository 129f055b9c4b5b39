#!/usr/bin/env bash
# bench/check.sh — checks netan's per-session byte counts against netan-gen's manifest.
#
# Runs `netan flows -q CAPTURE` and compares, session by session (matched on client and
# server address), bytes_c2s and bytes_s2c with the manifest netan-gen wrote (payload bytes,
# each counted once), and reports sessions missing on either side, sessions with gaps or not
# ended by FIN, and the total of retransmitted bytes against CAPTURE.meta. Exit 0 when all
# match, 1 otherwise.
#
# Usage: bench/check.sh CAPTURE [MANIFEST]     # MANIFEST defaults to CAPTURE.manifest
#        (netan-gen ... -o x.pcap --manifest x.pcap.manifest; bench/gen.sh writes these)
# Environment: NETAN (a netan binary; by default `cargo build --release -p netan-host` is run
# and $CARGO_TARGET_DIR/release/netan used, target/ if unset).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CAPTURE=${1:?usage: bench/check.sh CAPTURE [MANIFEST]}
MANIFEST=${2:-$CAPTURE.manifest}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
[[ $TARGET_DIR == /* ]] || TARGET_DIR="$ROOT/$TARGET_DIR"
NETAN_SET=${NETAN:-}
NETAN=${NETAN:-$TARGET_DIR/release/netan}
[[ -f $MANIFEST ]] || { echo "check.sh: no manifest $MANIFEST" >&2; exit 1; }
if [[ -z $NETAN_SET ]]; then
    (cd "$ROOT" && cargo build --release -q -p netan-host)
fi

FLOWS=$(mktemp)
trap 'rm -f "$FLOWS"' EXIT
"$NETAN" flows -q "$CAPTURE" >"$FLOWS"
python3 - "$MANIFEST" "$FLOWS" "$CAPTURE.meta" <<'PY'
import json, os, sys
from collections import Counter

manifest_path, flows_path, meta_path = sys.argv[1:4]
expected = {}
for line in open(manifest_path):
    if line.startswith("#") or not line.strip():
        continue
    client, server, c2s, s2c = line.split()
    expected[(client, server)] = (int(c2s), int(s2c))
seen, reasons, gaps, retrans, dup = {}, Counter(), 0, 0, 0
for line in open(flows_path):
    f = json.loads(line)
    key = (f["client"], f["server"])
    dup += key in seen
    seen[key] = (f["bytes_c2s"], f["bytes_s2c"])
    reasons[f["end_reason"]] += 1
    gaps += f["gaps"]
    retrans += f["retransmitted_bytes"]
bad = [k for k in expected if k in seen and seen[k] != expected[k]]
missing = [k for k in expected if k not in seen]
extra = [k for k in seen if k not in expected]
print(f"sessions: manifest {len(expected)}, netan {len(seen)} (repeated keys {dup}); "
      f"byte mismatches {len(bad)}, missing {len(missing)}, unexpected {len(extra)}")
print(f"end reasons: {dict(reasons)}; gaps: {gaps}; retransmitted bytes: {retrans}", end="")
meta = {}
if os.path.exists(meta_path):
    meta = dict(l.rstrip("\n").split("=", 1) for l in open(meta_path) if "=" in l)
    print(f" (generator: {meta.get('retransmitted_bytes', '?')})")
else:
    print()
for k in bad[:10]:
    print(f"  mismatch {k[0]} -> {k[1]}: manifest c2s/s2c {expected[k]}, netan {seen[k]}")
for k in missing[:10]:
    print(f"  missing {k[0]} -> {k[1]}")
for k in extra[:10]:
    print(f"  unexpected {k[0]} -> {k[1]}: {seen[k]}")
ok = not (bad or missing or extra or dup or gaps) and set(reasons) <= {"fin"}
ok = ok and str(retrans) == meta.get("retransmitted_bytes", str(retrans))
print("OK" if ok else "MISMATCH")
sys.exit(0 if ok else 1)
PY
