#!/usr/bin/env bash
# Signed journals (issue #19), two figures, each against a peer run in the same invocation:
#
# 1. What signing adds to a state change: N `fearless change new` signed through a real
#    ssh-agent (`ssh-keygen -Y sign` per change) against N unsigned ones, and N bare
#    `ssh-keygen -Y sign` calls for reference. Target: < 20 ms added per change.
# 2. `fearless journal verify` of a journal of M signed state changes (every signature
#    checked against an allowed-signers file) against the same journal size unsigned
#    (chain only). Target: M = 100,000 in < 10 s.
#
# Usage: bench/sign.sh [N] [M]       (default 30 and 100000). Release build (PROFILE=dev for
# a debug one); no services.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-30}"
M="${2:-100000}"
PROFILE="${PROFILE:-release}"
cargo build --profile "$PROFILE" -q -p fearless-cli --bin fearless
cargo build --profile "$PROFILE" -q -p fearless-engine --example signed_journal
BIN="${CARGO_TARGET_DIR:-target}/$([[ $PROFILE == dev ]] && echo debug || echo "$PROFILE")"
work=$(mktemp -d)
agent_pid=""
cleanup() { [[ -n "$agent_pid" ]] && kill "$agent_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

ssh-keygen -q -t ed25519 -N '' -C alice -f "$work/alice"
cp "$work/alice" "$work/alice.file"   # kept for the in-process signer of part 2
ssh-agent -D -a "$work/agent.sock" >/dev/null 2>&1 &
agent_pid=$!
for _ in $(seq 50); do [[ -S "$work/agent.sock" ]] && break; sleep 0.1; done
export SSH_AUTH_SOCK="$work/agent.sock"
ssh-add -q "$work/alice"
rm "$work/alice"
echo "alice $(cat "$work/alice.pub")" > "$work/allowed_signers"
cat > "$work/fearless.yaml" <<YAML
identity:
  allowed_signers: allowed_signers
inventory:
  hosts:
    web-1: { address: 10.9.0.1 }
YAML

now() { date +%s.%N; }
per_op_ms() { echo "scale=2; ($2 - $1) * 1000 / $N" | bc; }

t0=$(now)
for _ in $(seq "$N"); do
  "$BIN/fearless" -q -c "$work/fearless.yaml" --store "sqlite:$work/unsigned.db" \
    change new --title t --hosts web-1 >/dev/null
done
t1=$(now)
for _ in $(seq "$N"); do
  FEARLESS_SIGNING_KEY="$work/alice.pub" "$BIN/fearless" -q -c "$work/fearless.yaml" \
    --store "sqlite:$work/signed.db" change new --title t --hosts web-1 >/dev/null
done
t2=$(now)
for _ in $(seq "$N"); do
  printf 'x' | ssh-keygen -q -Y sign -n fearless -f "$work/alice.pub" >/dev/null
done
t3=$(now)
"$BIN/fearless" -q -c "$work/fearless.yaml" --store "sqlite:$work/signed.db" journal verify --strict >/dev/null
unsigned=$(per_op_ms "$t0" "$t1"); signed=$(per_op_ms "$t1" "$t2"); keygen=$(per_op_ms "$t2" "$t3")
echo "change new x$N: unsigned ${unsigned} ms, signed ${signed} ms per change:" \
  "signing adds $(echo "$signed - $unsigned" | bc) ms (bare ssh-keygen -Y sign via the agent: ${keygen} ms)"

echo "writing $M signed and $M unsigned journal entries…" >&2
"$BIN/examples/signed_journal" "sqlite:$work/big-signed.db" "$M" "$work/alice.file"
"$BIN/examples/signed_journal" "sqlite:$work/big-unsigned.db" "$M"
verify() { "$BIN/fearless" -q -c "$work/fearless.yaml" --store "sqlite:$1" journal verify "${@:2}" >/dev/null; }
t0=$(now); verify "$work/big-unsigned.db"; t1=$(now)
verify "$work/big-signed.db" --strict; t2=$(now)
chain=$(echo "$t1 - $t0" | bc); sigs=$(echo "$t2 - $t1" | bc)
echo "journal verify of $M entries: chain only ${chain} s; chain + $M signatures ${sigs} s" \
  "($(echo "scale=2; $sigs / $chain" | bc)x the chain alone; target < 10 s)"
