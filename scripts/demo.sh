#!/usr/bin/env bash
# The quick start: build fearless, bring up a real 4-host lab fleet on this machine (root;
# Debian/Ubuntu host), and run the environment test plan against it.
#
#   scripts/demo.sh          # lab up + fearless check
#   scripts/demo.sh --down   # take the lab down again
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $(id -u) -ne 0 ]]; then
  echo "demo.sh: the lab needs root (namespaces, overlays): run it with sudo" >&2
  exit 3
fi
for p in debootstrap dpkg-dev openssh-client; do
  if ! dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii'; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap dpkg-dev openssh-client >/dev/null
    break
  fi
done
cargo build --release -q -p fearless-cli
bin="${CARGO_TARGET_DIR:-target}/release/fearless"
if [[ "${1:-}" == "--down" ]]; then
  exec "$bin" lab down
fi
"$bin" lab up
echo
exec "$bin" check -c .fearless/lab/fearless.yaml
