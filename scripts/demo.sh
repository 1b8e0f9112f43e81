#!/usr/bin/env bash
# The quick start: install what the lab needs, build fearless, and run `fearless demo` — the
# whole story on a real 3-host lab fleet on this machine (root; Debian/Ubuntu host): a bad
# library caught on the canary, rolled back, bisected and reported; the fix patched through
# every wave. Exits 0 when the story held.
#
#   scripts/demo.sh          # fearless demo (lab in .fearless/lab, left up to explore)
#   scripts/demo.sh --down   # take the lab down again
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $(id -u) -ne 0 ]]; then
  echo "demo.sh: the lab needs root (namespaces, overlays): run it with sudo" >&2
  exit 3
fi
# What the lab needs, installed beside the build (only the lab uses it, after the build):
# on a fresh machine its download and unpacking cost the newcomer no wait.
missing=()
for p in debootstrap dpkg-dev openssh-client; do
  if ! dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii'; then
    missing+=("$p")
  fi
done
apt_pid=
if ((${#missing[@]})); then
  echo "demo.sh: installing ${missing[*]} while fearless builds" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null) &
  apt_pid=$!
fi
# The dev profile (dependencies optimised, our crates not): a quicker cold build than
# release (6 min 48 s on 2 cores) and the profile `scripts/test.sh` builds, so the quick
# start's second command reuses most of it. The demo waits on hosts, not on fearless.
# For a release build: cargo build --release -p fearless-cli (target/release/fearless).
cargo build -q -p fearless-cli
bin="${CARGO_TARGET_DIR:-target}/debug/fearless"
if [[ -n "$apt_pid" ]] && ! wait "$apt_pid"; then
  echo "demo.sh: could not install ${missing[*]} (apt-get failed; see above)" >&2
  exit 3
fi
if [[ "${1:-}" == "--down" ]]; then
  exec "$bin" lab down
fi
exec "$bin" demo --dir .fearless/lab
