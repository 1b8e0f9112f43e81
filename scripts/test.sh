#!/usr/bin/env bash
# Run the whole test suite: installs what the tests need, checks the services they use,
# then runs every test with cargo-nextest. Needs root (the lab test builds a real fleet).
#
#   scripts/test.sh            # everything
#   scripts/test.sh -p fearless-config   # extra arguments go to `cargo nextest run`
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=(openssh-server openssh-client debootstrap dpkg-dev rpm createrepo-c ca-certificates bc curl time graphviz man-db postgresql-client chromium chromium-driver slapd)
missing=()
for p in "${need_pkgs[@]}"; do
  dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "test.sh: installing ${missing[*]}" >&2
  # policy-rc.d (present on this machine kind) keeps apt from starting sshd system-wide.
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Services the tests talk to. They are started before the session on this machine kind;
# start them if they are down, and fail (not skip) if they cannot be reached.
wait_port() { # host port name
  for _ in $(seq 1 60); do
    if (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; then return 0; fi
    sleep 1
  done
  echo "test.sh: $3 is not reachable on $1:$2" >&2
  return 1
}
if ! (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then
  echo "test.sh: starting PostgreSQL" >&2
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
fi
if ! (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; then
  echo "test.sh: starting RabbitMQ" >&2
  rabbitmq-server -detached || true
fi
wait_port 127.0.0.1 5432 PostgreSQL
wait_port 127.0.0.1 5672 RabbitMQ

# slapd (above) is only run by the `ldap` check tests, each with its own config in a temp dir.
# moto's AWS server (SQS/SNS sink tests, `sqs` check tests) and boto3 to inspect what arrived.
if ! command -v moto_server >/dev/null 2>&1; then
  echo "test.sh: installing moto[server] from PyPI" >&2
  python3 -m pip install -q 'moto[server]'
fi
# ansible-core: the config crate compares its Ansible import with `ansible-inventory`.
if ! command -v ansible-inventory >/dev/null 2>&1; then
  echo "test.sh: installing ansible-core from PyPI" >&2
  python3 -m pip install -q ansible-core
fi

if ! command -v cargo-nextest >/dev/null 2>&1; then
  cargo install --locked cargo-nextest
fi

# The user guide (docs/guide, an mdBook) must build. mdbook is pinned; installing it takes
# about 3.5 minutes once per machine on 2 cores (only its `search` feature: no local server
# or file watcher, which `build` does not use). Its links are checked by the `guide` tests
# (crates/cli/tests/it/guide.rs) and its commands run in the `lab_guide` lab test.
MDBOOK_VERSION=0.5.4
if ! mdbook --version 2>/dev/null | grep -qx "mdbook v$MDBOOK_VERSION"; then
  echo "test.sh: installing mdbook $MDBOOK_VERSION" >&2
  cargo install --locked mdbook --version "$MDBOOK_VERSION" --no-default-features --features search
fi
book_dir=$(mktemp -d)
mdbook build docs/guide -d "$book_dir" >/dev/null
rm -rf "$book_dir"

profile=default
[[ "${CI:-}" == "true" ]] && profile=ci
exec cargo nextest run --workspace --profile "$profile" "$@"
