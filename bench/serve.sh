#!/usr/bin/env bash
# Benchmark of `fearless serve` (issue 20): with HOSTS hosts x 20 checks x SPAN of the test
# plan's history at the monitor's 60 s interval in the store (generated through the store's
# public API by crates/serve/examples/serve_bench.rs, cached under $DATA), a release
# `fearless serve --no-monitor` on loopback is loaded by wrk with $CONNECTIONS concurrent
# connections for $DURATION on each of: the overview `/`, a check's history
# `/checks/api/orders`, and `/metrics`. Peer, in the same run on the same server: a static
# file of the same size as each page (the page saved under serve.files, served at
# /files/NAME). /metrics is loaded as Prometheus scrapes it, asking for gzip (its peer: the
# gzipped bytes as a static file), and once more as plain text, for reference. Figures: p50
# and p99 latency, requests a second, and the ratio of p99 to the static file's (wrk's
# timeout is 30 s, so a slow page is measured, not dropped). Targets: pages < 50 ms p99,
# /metrics < 20 ms p99.
# Needs: wrk and curl (apt-get install wrk curl). No root, no lab.
#   SPAN=7d HOSTS=1000 bash bench/serve.sh        # the issue's store (see README on its size)
#   SPAN=1d bash bench/serve.sh                   # a day of history
set -euo pipefail
cd "$(dirname "$0")/.."
span=${SPAN:-7d}
hosts=${HOSTS:-1000}
conns=${CONNECTIONS:-50}
duration=${DURATION:-10s}
data=${DATA:-/var/cache/fearless/serve-bench/$hosts-$span}
port=${PORT:-7979}
for tool in wrk curl; do
  command -v "$tool" >/dev/null || { echo "bench/serve.sh: needs $tool (apt-get install $tool)" >&2; exit 2; }
done

cargo build -q --release -p fearless-cli --bin fearless
cargo build -q --release -p fearless-serve --example serve_bench
target="${CARGO_TARGET_DIR:-target}/release"
if [ ! -f "$data/generated" ]; then
  echo "== generating $hosts hosts x 20 checks x $span into $data"
  "$target/examples/serve_bench" generate "$data" "$span" "$hosts"
fi

log="$data/serve.log"
"$target/fearless" -c "$data/fearless.yaml" serve --no-monitor --listen "127.0.0.1:$port" 2>"$log" &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
  sleep 0.1
done

# wrk's latency line ("99%   12.34ms") in milliseconds.
ms() { awk -v p="$1" '$1 == p { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
  f = (u == "us") ? 0.001 : (u == "s") ? 1000 : (u == "m") ? 60000 : 1; printf "%.2f", v * f }'; }
load() { # URL [HEADER] -> "p50 p99 req/s errors"
  local out
  out=$(wrk -t2 -c"$conns" -d"$duration" --timeout 30s --latency ${2:+-H "$2"} "$1")
  printf '%s %s %s %s\n' "$(ms 50% <<<"$out")" "$(ms 99% <<<"$out")" \
    "$(awk '/^Requests\/sec:/ {printf "%.1f", $2}' <<<"$out")" \
    "$(awk '/Non-2xx|Socket errors/ {n++} END {print n + 0}' <<<"$out")"
}

echo "== $hosts hosts x 20 checks x $span ($(cat "$data/generated" | awk '{print $2}') runs), $conns connections, $duration each"
printf '%-22s %9s | %9s %9s %8s | %9s %9s %8s | %7s %s\n' \
  what bytes p50_ms p99_ms req/s static_p50 static_p99 req/s p99/st target
fail=0
# name:path:p99 limit in ms (- for none):request header
for entry in "overview:/:50:" "check-history:/checks/api/orders:50:" \
  "metrics-gzip:/metrics:20:Accept-Encoding: gzip" "metrics-plain:/metrics:-:"; do
  IFS=: read -r name path limit header <<<"$entry"
  header=${header# }
  file="$data/files/$name.page"
  # The bytes as sent (curl without --compressed keeps them gzipped when they are).
  curl -fsS ${header:+-H "$header"} -o "$file" "http://127.0.0.1:$port$path"
  bytes=$(stat -c %s "$file")
  read -r p50 p99 rps err < <(load "http://127.0.0.1:$port$path" "$header")
  read -r s50 s99 srps serr < <(load "http://127.0.0.1:$port/files/$name.page")
  # No answer at all within the run is a failure too, not a latency of 0.
  verdict=$(awk -v p="$p99" -v l="$limit" -v n="$rps" \
    'BEGIN {print (n <= 0) ? "FAIL" : (l == "-") ? "info" : (p < l) ? "ok" : "FAIL"}')
  [ "$verdict" != FAIL ] || fail=1
  [ "$err$serr" = 00 ] || { echo "$name: wrk saw errors or non-2xx answers" >&2; fail=1; }
  printf '%-22s %9s | %9s %9s %8s | %9s %9s %8s | %6.1fx < %s ms %s\n' \
    "$name $path" "$bytes" "$p50" "$p99" "$rps" "$s50" "$s99" "$srps" \
    "$(awk -v a="$p99" -v b="$s99" 'BEGIN {print (b > 0) ? a / b : 0}')" "$limit" "$verdict"
done
exit "$fail"
