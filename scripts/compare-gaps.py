#!/usr/bin/env python3
"""Check netan's gaps against tcpflow/tshark, which zero-fill holes.

usage: compare-gaps.py [--bin target/release/netan] [--ref tshark|tcpflow] CAPTURE...

`compare-flows.py` skips every direction of a session in which netan reports a gap. This
script scores those too: it runs `netan monologues --dump-dir`, rebuilds each direction of each
session with every gap filled by as many zero bytes as it is long (what the reference tools
write for a hole), and compares size and SHA-256 with the reference line for that direction.
A match means netan found the same bytes and put its gaps in the same places with the same
lengths. Prints one line per direction that carried a gap, then a summary.
"""
import argparse, collections, hashlib, json, os, subprocess, sys, tempfile, ipaddress, re

ENDPOINT = re.compile(r"^\[?([0-9A-Fa-f:.]+?)\]?:(\d+)$")


def norm(ep):
    m = ENDPOINT.match(ep)
    if not m:
        return ep
    try:
        ip = ipaddress.ip_address(m.group(1)).compressed
    except ValueError:
        ip = m.group(1)
    return "%s:%s" % (ip, m.group(2))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("captures", nargs="+")
    ap.add_argument("--bin", default="target/release/netan")
    ap.add_argument("--ref", default="tshark")
    a = ap.parse_args()
    total = collections.Counter()
    for cap in a.captures:
        refp = os.path.join(os.path.dirname(cap), "expected", os.path.basename(cap) + ".%s.txt" % a.ref)
        ref = collections.defaultdict(list)
        if os.path.exists(refp):
            for line in open(refp):
                k, n, h = line.split()
                ref[k].append((int(n), h))
        with tempfile.TemporaryDirectory() as d:
            p = subprocess.run([a.bin, "monologues", "-q", "--dump-dir", d, cap], capture_output=True)
            streams = collections.OrderedDict()
            gapped = set()
            for line in p.stdout.decode().splitlines():
                r = json.loads(line)
                key = (r["session"], norm(r["from"]) + ">" + norm(r["to"]))
                data = open(r["file"], "rb").read()
                buf = bytearray()
                at = 0
                for g in r.get("gap_list", []):
                    buf += data[at:g["offset"] - 0] if False else b""
                # rebuild: gap offsets are positions in the monologue's data
                buf = bytearray()
                prev = 0
                for g in r.get("gap_list", []):
                    buf += data[prev:g["offset"]]
                    buf += b"\0" * g["len"]
                    prev = g["offset"]
                    gapped.add(key)
                buf += data[prev:]
                streams.setdefault(key, bytearray()).extend(buf)
        for key in gapped:
            got = (len(streams[key]), hashlib.sha256(streams[key]).hexdigest())
            ok = got in ref.get(key[1], [])
            total["match" if ok else "differ"] += 1
            print("%-6s %s session %d %s: netan %d bytes, reference %s" % (
                "match" if ok else "DIFFER", os.path.basename(cap), key[0], key[1], got[0],
                [n for n, _ in ref.get(key[1], [])] or "none"))
    print("gapped directions: match=%d differ=%d" % (total["match"], total["differ"]))


if __name__ == "__main__":
    sys.exit(main())
