#!/usr/bin/env bash
# Events per second through the file sink (fsync per event) and through RabbitMQ with
# publisher confirms, and a bare lapin publish-with-confirm loop in the same run; prints the
# wrapper's overhead over the bare loop (target: under 5%).
#
# Needs RabbitMQ on 127.0.0.1:5672 (guest/guest). Usage: bench/events.sh [N] [AMQP_URL]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p fearless-events --example bench
exec target/release/examples/bench "${1:-2000}" "${2:-amqp://guest:guest@127.0.0.1:5672/%2f}"
