#!/usr/bin/env bash
# bench/gen.sh — generates the standard benchmark captures (classic pcap, Ethernet, ns
# timestamps) with netan-gen, each only if it is missing:
#
#   bench/out/bulk-1g.pcap   bulk transfers, full-size segments, ACK every 2 segments
#   bench/out/http-1g.pcap   keep-alive HTTP/1.1 (GETs, 200 with Content-Length or chunked, 304)
#   bench/out/smtp-1g.pcap   SMTP (EHLO, 1-3 transactions, dot-stuffed MIME, base64 attachments)
#
# Each is at least 1 GiB (at most one session's worth above), with up to CONCURRENCY (4000)
# sessions in flight, 1% of data segments reordered and 1% retransmitted, and comes with
# FILE.meta (totals read by bench/flows.sh) and FILE.manifest (per-session payload bytes, for
# bench/check.sh). The same settings always give byte-identical files (seed SEED).
#
# Payload sizes: at the generator's default ranges (bulk 64 KiB-8 MiB per session, HTTP bodies
# 200 B-2 MiB, mail bodies 1 KiB-4 MiB) 1 GiB holds only 500-1000 sessions, so 4000 could never
# be in flight. The standard captures therefore use smaller ranges (below), which keep about
# 3000-3500 sessions in flight on average; override with BULK_ARGS / HTTP_ARGS / SMTP_ARGS.
#
# Run from anywhere:   bench/gen.sh
# Environment:         BULK_SIZE HTTP_SIZE SMTP_SIZE (default 1GiB; another size changes the
#                      file name, e.g. bulk-20mib.pcap), CONCURRENCY (4000), REORDER (1.0),
#                      RETRANSMIT (1.0), SEED (1), OUT (bench/out), BULK_ARGS, HTTP_ARGS,
#                      SMTP_ARGS (extra netan-gen options), CARGO_TARGET_DIR (target).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

OUT=${OUT:-bench/out}
CONCURRENCY=${CONCURRENCY:-4000}
REORDER=${REORDER:-1.0}
RETRANSMIT=${RETRANSMIT:-1.0}
SEED=${SEED:-1}
BULK_ARGS=${BULK_ARGS:---body-min 8KiB --body-max 512KiB}
HTTP_ARGS=${HTTP_ARGS:---body-max 64KiB}
SMTP_ARGS=${SMTP_ARGS:---body-max 256KiB}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
GEN="$TARGET_DIR/release/netan-gen"

echo "gen.sh: building netan-gen (release)" >&2
cargo build --release -p netan-bench --bin netan-gen
mkdir -p "$OUT"

# generate PROFILE SIZE EXTRA_ARGS
generate() {
    local profile=$1 size=$2 extra=$3 name file
    if [[ $size == 1GiB ]]; then
        name="$profile-1g"
    else
        name="$profile-$(tr '[:upper:]' '[:lower:]' <<<"$size")"
    fi
    file="$OUT/$name.pcap"
    if [[ -f $file && -f $file.meta ]]; then
        echo "gen.sh: $file exists, kept" >&2
        return
    fi
    echo "gen.sh: writing $file" >&2
    # Written under a temporary name and renamed at the end: an interrupted run leaves no
    # file that looks complete.
    # shellcheck disable=SC2086 # extra holds several options
    "$GEN" --profile "$profile" --size "$size" --concurrency "$CONCURRENCY" \
        --reorder "$REORDER" --retransmit "$RETRANSMIT" --seed "$SEED" $extra \
        -o "$file.tmp" --manifest "$file.manifest"
    sed -i "s|^file=.*|file=$file|" "$file.tmp.meta"
    mv "$file.tmp" "$file"
    mv "$file.tmp.meta" "$file.meta"
}

generate bulk "${BULK_SIZE:-1GiB}" "$BULK_ARGS"
generate http "${HTTP_SIZE:-1GiB}" "$HTTP_ARGS"
generate smtp "${SMTP_SIZE:-1GiB}" "$SMTP_ARGS"
ls -l "$OUT"/*.pcap >&2
