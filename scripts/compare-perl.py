#!/usr/bin/env python3
"""Compare `netan monologues --hash` with the original Net::Analysis event logs.

usage: compare-perl.py [--bin target/release/netan] [-v] DIR

For each capture F in DIR with an event log DIR/expected/F.perl.txt, runs
`netan monologues --hash F` and compares, session by session (by socketpair key, and by the
order sessions appear, since a key can repeat), the list of monologues: direction (from),
byte count and SHA-256, in order. Prints one line per capture (every capture with -v, else
only those that differ) and a summary line:
  same=N differ=N captures=N monologues_same=N monologues_perl=N monologues_netan=N
"""
import argparse, collections, json, os, subprocess, sys


def perl_sessions(path):
    """key -> list of sessions, each a list of (from, bytes, sha)."""
    sessions = collections.defaultdict(list)
    open_ = {}
    for line in open(path, encoding="utf-8", errors="replace"):
        parts = line.split()
        if not parts:
            continue
        kv = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        key = kv.get("key")
        if parts[0] == "tcp_session_start":
            if key not in open_:
                open_[key] = []
                sessions[key].append(open_[key])
        elif parts[0] == "tcp_monologue":
            if key not in open_:
                open_[key] = []
                sessions[key].append(open_[key])
            open_[key].append((kv["from"], int(kv["bytes"]), kv["sha256"]))
        elif parts[0] == "tcp_session_end":
            if key not in open_:
                sessions[key].append([])
            open_.pop(key, None)
    return sessions


def netan_sessions(out):
    sessions = collections.defaultdict(list)
    by_session = collections.OrderedDict()
    for line in out.splitlines():
        r = json.loads(line)
        by_session.setdefault((r["key"], r["session"]), []).append(
            (r["from"], r["bytes"], r.get("sha256") or "", r.get("gaps", 0)))
    for (key, _), monos in by_session.items():
        sessions[key].append(monos)
    return sessions


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--bin", default="target/release/netan")
    ap.add_argument("-v", action="store_true")
    a = ap.parse_args()
    tot = collections.Counter()
    for name in sorted(os.listdir(a.dir)):
        log = os.path.join(a.dir, "expected", name + ".perl.txt")
        cap = os.path.join(a.dir, name)
        if not os.path.isfile(log) or not os.path.isfile(cap):
            continue
        perl = perl_sessions(log)
        p = subprocess.run([a.bin, "monologues", "--hash", "-q", cap], capture_output=True)
        ours = netan_sessions(p.stdout.decode("utf-8", "replace"))
        nperl = sum(len(m) for ss in perl.values() for m in ss)
        if nperl == 0:
            continue  # the original decoded nothing (link types it cannot read)
        tot["captures"] += 1
        nours = 0
        same = 0
        diffs = []
        for key in sorted(set(perl) | set(ours)):
            ps = [m for m in perl.get(key, []) if m]
            ns = [m for m in ours.get(key, []) if any(x[1] for x in m)]
            for i in range(max(len(ps), len(ns))):
                pm = ps[i] if i < len(ps) else []
                nm = [(f, b, h) for f, b, h, g in (ns[i] if i < len(ns) else [])]
                nours += len(nm)
                k = 0
                while k < min(len(pm), len(nm)) and pm[k] == nm[k]:
                    k += 1
                same += k
                if pm != nm:
                    diffs.append("%s #%d: same for %d, then perl %s netan %s" % (
                        key, i, k, [(f, b) for f, b, _ in pm[k:k + 2]], [(f, b) for f, b, _ in nm[k:k + 2]]))
        tot["monologues_same"] += same
        tot["monologues_perl"] += nperl
        tot["monologues_netan"] += nours
        tot["same" if not diffs else "differ"] += 1
        if diffs or a.v:
            print("%-50s %s perl=%d netan=%d same=%d" % (name, "DIFFER" if diffs else "same", nperl, nours, same))
            for d in diffs[:4]:
                print("    " + d)
    print("same=%d differ=%d captures=%d monologues_same=%d monologues_perl=%d monologues_netan=%d" % (
        tot["same"], tot["differ"], tot["captures"], tot["monologues_same"], tot["monologues_perl"],
        tot["monologues_netan"]))


if __name__ == "__main__":
    sys.exit(main())
