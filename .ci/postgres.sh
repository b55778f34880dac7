#!/usr/bin/env bash
# Makes sure the PostgreSQL the store's tests use answers (127.0.0.1:5432, trust auth, database
# `test`; override with ONESEC_TEST_POSTGRES). The CI machine starts it before the run; this
# starts the local cluster again if it stopped, and fails loudly if it cannot, so the tests that
# need it fail rather than skip (they also fail by themselves under CI=true).
set -euo pipefail
if [ -n "${ONESEC_TEST_POSTGRES:-}" ]; then
    echo "PostgreSQL for the tests: ONESEC_TEST_POSTGRES is set; not checking the local cluster"
    exit 0
fi
ready() { pg_isready -q -h 127.0.0.1 -p 5432 -d test -U postgres; }
if ! ready; then
    echo "PostgreSQL on 127.0.0.1:5432 does not answer; starting the local cluster"
    for version in $(ls /etc/postgresql 2>/dev/null); do
        pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    done
    for _ in $(seq 1 30); do ready && break; sleep 1; done
fi
if ! ready; then
    echo "PostgreSQL on 127.0.0.1:5432 is needed by the store's tests and cannot be started" >&2
    exit 1
fi
psql -h 127.0.0.1 -U postgres -d test -Atc "SELECT 'PostgreSQL for the tests: ' || version()"
