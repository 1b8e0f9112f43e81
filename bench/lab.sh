#!/usr/bin/env bash
# Benchmark of the lab (issue: lab). Cold `up` (debootstrap into a fresh cache), warm `up`
# (cached root), and `down`, for 4 hosts; the peer is a plain `debootstrap` of the same
# root in the same invocation, so the cold figure reads as a ratio to what debootstrap
# alone costs on this machine and network.
# Targets: cold < 2 min, warm < 15 s, down < 5 s. Needs root; no other lab may be up.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release -p fearless-cli
bin="${CARGO_TARGET_DIR:-target}/release/fearless"
work=$(mktemp -d /var/tmp/fearless-bench-lab.XXXXXX)
trap '"$bin" -q lab down --dir "$work/lab" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
now() { date +%s.%N; }
secs() { printf '%.1f' "$(echo "$2 - $1" | bc -l)"; }

p0=$(now)
debootstrap --variant=minbase --include=openssh-server,python3,python3-apt,iproute2 bookworm "$work/peer-root" http://deb.debian.org/debian >/dev/null
p1=$(now)
rm -rf "$work/peer-root"

export FEARLESS_LAB_CACHE="$work/cache"
c0=$(now); "$bin" -q lab up --hosts 4 --dir "$work/lab" >/dev/null; c1=$(now)
d0=$(now); "$bin" -q lab down --dir "$work/lab" >/dev/null; d1=$(now)
w0=$(now); "$bin" -q lab up --hosts 4 --dir "$work/lab" >/dev/null; w1=$(now)
"$bin" -q check -c "$work/lab/fearless.yaml" >/dev/null
e0=$(now); "$bin" -q lab down --dir "$work/lab" >/dev/null; e1=$(now)

echo "lab (4 hosts): cold up $(secs "$c0" "$c1") s (peer: debootstrap alone $(secs "$p0" "$p1") s; ratio $(printf '%.2f' "$(echo "($c1 - $c0) / ($p1 - $p0)" | bc -l)")), warm up $(secs "$w0" "$w1") s, down $(secs "$d0" "$d1") s / $(secs "$e0" "$e1") s"
