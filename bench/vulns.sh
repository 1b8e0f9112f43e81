#!/usr/bin/env bash
# Benchmark of `fearless vulns` matching (issue 18): a synthetic OSV Debian dump of the real
# dump's shape (40,000 DEBIAN-CVE records across 5,000 source packages, Debian 11/12/13
# entries with ranges and affected-version lists, in one zip as osv.dev publishes it) against
# 1,000 host inventories of ~500 binary packages each (crates/vulns/examples/vulns_bench.rs
# generates both, cached under $DATA). Timed: reading the zip, reading the inventories, and
# assessing every host (findings materialised as `fearless vulns` reports them).
# Peer, in the same invocation on the same files: bench/vulns-peer.py, the same matching in
# Python with libapt's version order (python3-apt), as a debsecan-style script does it. The
# two must agree on every finding (count and checksum), or the script exits non-zero.
# Two host sets: mostly-patched hosts (60 % of sources at their latest version, the rest 1-3
# behind: ~290 findings a host) and the worst case (any version: ~940 a host).
# Figures: median of $RUNS runs each, wall (and fearless's CPU time, user + system, which a
# busy machine does not inflate as much); the ratio peer/fearless; target: fearless < 2 s.
# Needs: /usr/bin/python3 with python3-apt (apt-get install python3-apt). No root, no lab.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
data=${DATA:-/var/cache/fearless/vulns-bench}
cargo build -q --release -p fearless-vulns --example vulns_bench
bin="${CARGO_TARGET_DIR:-target}/release/examples/vulns_bench"
/usr/bin/python3 -c 'import apt_pkg' 2>/dev/null || {
  echo "bench/vulns.sh: needs python3-apt for /usr/bin/python3 (apt-get install python3-apt)" >&2
  exit 2
}
[ -f "$data/Debian.zip" ] && [ -f "$data/hosts-uniform.json" ] || "$bin" generate "$data"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
fail=0
for hosts in hosts.json hosts-uniform.json; do
  f_total=(); f_cpu=(); p_total=(); f_sum=; p_sum=
  for _ in $(seq "$runs"); do
    out=$(/usr/bin/time -f "cpu %U %S" "$bin" run "$data" "$hosts" 2>&1)
    f_total+=("$(awk '/^total/ {print $2}' <<<"$out")")
    f_cpu+=("$(awk '/^cpu/ {print $2 + $3}' <<<"$out")")
    f_sum=$(grep '^findings' <<<"$out"); f_detail=$out
    out=$(/usr/bin/python3 bench/vulns-peer.py "$data" "$hosts")
    p_total+=("$(awk '/^total/ {print $2}' <<<"$out")")
    p_sum=$(grep '^findings' <<<"$out"); p_detail=$out
  done
  f=$(printf '%s\n' "${f_total[@]}" | median)
  fc=$(printf '%s\n' "${f_cpu[@]}" | median)
  p=$(printf '%s\n' "${p_total[@]}" | median)
  echo "== $hosts: $(head -1 <<<"$f_detail")"
  echo "fearless: ${f} s, ${fc} s of CPU  (last run: $(grep -E '^(load|inventories|match)' <<<"$f_detail" | tr '\n' ' '))"
  echo "peer:     ${p} s  (last run: $(grep -E '^(load|inventories|match)' <<<"$p_detail" | tr '\n' ' '))"
  echo "ratio:    $(awk -v p="$p" -v f="$f" 'BEGIN {printf "%.1fx", p / f}')  $f_sum"
  if [ "$f_sum" != "$p_sum" ]; then
    echo "DISAGREE: fearless $f_sum, peer $p_sum" >&2
    fail=1
  fi
  if [ "$hosts" = hosts.json ]; then
    awk -v f="$f" 'BEGIN {exit !(f < 2)}' && echo "target < 2 s: ok" || echo "target < 2 s: FAIL"
  fi
done
exit "$fail"
