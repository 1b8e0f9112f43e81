#!/usr/bin/python3
"""The peer of `bench/vulns.sh`: the same matching as `fearless vulns`, written the way a
straightforward Python scanner would (debsecan-style), with libapt's own version order
(python3-apt's apt_pkg.version_compare): read the OSV zip (zipfile + json), index the
entries by release and source package, read the host inventories, and evaluate each
(release, source, version) once — OSV ECOSYSTEM ranges in version order, then the list of
affected versions. Prints the same lines as crates/vulns/examples/vulns_bench.rs, so the
two must agree on the findings (count and checksum).

usage: /usr/bin/python3 bench/vulns-peer.py DIR [HOSTS_FILE]
"""
import functools
import json
import sys
import time
import zipfile

import apt_pkg

apt_pkg.init_system()
vc = apt_pkg.version_compare


def fnv(s):
    h = 0xCBF29CE484222325
    for b in s.encode():
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def key(e):
    return e[1]


def sort_events(events):
    def cmp(a, b):
        if a[1] is None and b[1] is None:
            return 0
        if a[1] is None:
            return -1
        if b[1] is None:
            return 1
        return vc(a[1], b[1])
    return sorted(events, key=functools.cmp_to_key(cmp))


def in_range(events, v):
    vulnerable = False
    for kind, at in events:
        if kind == "introduced":
            if at is None or vc(v, at) >= 0:
                vulnerable = True
        elif kind == "fixed":
            if vc(v, at) >= 0:
                vulnerable = False
            else:
                return vulnerable
        elif kind == "last_affected":
            if vc(v, at) > 0:
                vulnerable = False
            else:
                return vulnerable
        elif kind == "limit":
            if vc(v, at) >= 0:
                return False
    return vulnerable


def main():
    d = sys.argv[1]
    hosts_file = sys.argv[2] if len(sys.argv) > 2 else "hosts.json"
    t0 = time.perf_counter()
    index = {}
    records = 0
    with zipfile.ZipFile(f"{d}/Debian.zip") as z:
        for name in z.namelist():
            rec = json.loads(z.read(name))
            records += 1
            for a in rec.get("affected", []):
                eco = a["package"]["ecosystem"]
                if not eco.startswith("Debian:"):
                    continue
                ranges = []
                for r in a.get("ranges", []):
                    if r["type"] != "ECOSYSTEM":
                        continue
                    evs = []
                    for e in r["events"]:
                        (k, val), = e.items()
                        evs.append((k, None if (k == "introduced" and val == "0") else val))
                    ranges.append(sort_events(evs))
                entry = (rec["id"], ranges, set(a.get("versions", [])))
                index.setdefault((eco[len("Debian:"):], a["package"]["name"]), []).append(entry)
    t1 = time.perf_counter()
    with open(f"{d}/{hosts_file}") as f:
        hosts = json.load(f)
    t2 = time.perf_counter()
    memo = {}
    findings = 0
    checksum = 0
    for h in hosts:
        rel = h["release"]
        seen = set()
        for _name, _version, source, sv in h["packages"]:
            if (source, sv) in seen:
                continue
            seen.add((source, sv))
            entries = index.get((rel, source))
            if not entries:
                continue
            k = (rel, source, sv)
            hits = memo.get(k)
            if hits is None:
                hits = [i for i, ranges, versions in entries
                        if any(in_range(r, sv) for r in ranges) or sv in versions]
                memo[k] = hits
            for i in hits:
                findings += 1
                checksum = (checksum + fnv(f"{h['host']}|{i}|{source}")) & 0xFFFFFFFFFFFFFFFF
    t3 = time.perf_counter()
    packages = sum(len(h["packages"]) for h in hosts)
    print(f"records {records} hosts {len(hosts)} packages {packages}")
    print(f"load {t1 - t0:.3f}")
    print(f"inventories {t2 - t1:.3f}")
    print(f"match {t3 - t2:.3f}")
    print(f"total {t3 - t0:.3f}")
    print(f"findings {findings} checksum {checksum:016x}")


main()
