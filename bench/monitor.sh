#!/usr/bin/env bash
# The continuous test plan's history (issue #20): how long one run of HOSTS × CHECKS results
# takes to record (`Store::insert_check_run`: one transaction; the results extend the spans
# that agree with them, close and open the others: four statements), and the reads
# a dashboard makes of it, on SQLite and on PostgreSQL in the same invocation.
# Target: 1,000 hosts × 20 checks recorded well under a second on SQLite.
#
# Usage: bench/monitor.sh [HOSTS] [CHECKS] [RUNS]     (default 1000 20 10). Release build
# (PROFILE=dev for a debug one). PostgreSQL at $FEARLESS_TEST_POSTGRES (default
# postgres://postgres@127.0.0.1:5432/postgres) when reachable; a throw-away database is made
# and dropped.
set -euo pipefail
cd "$(dirname "$0")/.."
HOSTS="${1:-1000}"
CHECKS="${2:-20}"
RUNS="${3:-10}"
PROFILE="${PROFILE:-release}"
cargo build --profile "$PROFILE" -q -p fearless-store --example check_history
BIN="${CARGO_TARGET_DIR:-target}/$([[ $PROFILE == dev ]] && echo debug || echo "$PROFILE")/examples/check_history"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== SQLite ($HOSTS hosts x $CHECKS checks, $RUNS runs)"
"$BIN" "sqlite:$work/state.db" "$HOSTS" "$CHECKS" "$RUNS"
echo "store size: $(du -k "$work/state.db" | cut -f1) KiB (WAL checkpointed at close)"

ADMIN="${FEARLESS_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/postgres}"
if command -v psql >/dev/null && psql "$ADMIN" -qc 'SELECT 1' >/dev/null 2>&1; then
  db="fearless_bench_$$"
  psql "$ADMIN" -qc "CREATE DATABASE $db" >/dev/null
  trap 'psql "$ADMIN" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null; rm -rf "$work"' EXIT
  echo "== PostgreSQL"
  "$BIN" "${ADMIN%/*}/$db" "$HOSTS" "$CHECKS" "$RUNS"
else
  echo "== PostgreSQL not reachable at $ADMIN: skipped"
fi
