#!/usr/bin/env bash
# Makes sure NATS with JetStream answers on 127.0.0.1:4222 for the cluster tests
# (crates/onesec/tests/cluster_failover.rs, docs/cluster.md): if nothing listens there, start the
# installed nats-server (Debian's package, 2.9.10 on the CI machine) with JetStream in a
# folder of its own. Under CI the test fails, never skips, when the server is unreachable.
set -euo pipefail
if (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null; then
    exit 0
fi
if ! command -v nats-server >/dev/null; then
    echo "nats-server is not installed and nothing listens on 127.0.0.1:4222 (apt-get install nats-server)" >&2
    exit 1
fi
store="${TMPDIR:-/tmp}/onesec-ci-nats"
mkdir -p "$store"
nohup nats-server -a 127.0.0.1 -p 4222 -js -sd "$store" >"$store/server.log" 2>&1 &
for _ in $(seq 50); do
    if (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null; then
        exit 0
    fi
    sleep 0.1
done
echo "nats-server did not start; see $store/server.log" >&2
exit 1
