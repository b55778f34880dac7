#!/usr/bin/env bash
# Runs the console's end-to-end tests in headless Chromium. Installs what is missing first:
# Debian's chromium (apt-get, as root) and playwright-core (npm ci from package-lock.json).
# Builds the onesec binary unless ONESEC_BIN names one. Under CI=true a missing browser or
# Node.js fails the run; elsewhere it is reported and the tests are skipped.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
chromium="${CHROMIUM:-/usr/bin/chromium}"

missing() {
  if [ "${CI:-}" = "true" ]; then
    echo "console-tests: $1 is missing and could not be installed (CI=true: failing)" >&2
    exit 1
  fi
  echo "console-tests: SKIPPED: $1 is missing (install it, or run with CI=true to fail)" >&2
  exit 0
}

if [ ! -x "$chromium" ] && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >/dev/null \
    || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >/dev/null; } \
    || true
fi
[ -x "$chromium" ] || missing "chromium ($chromium)"
command -v node >/dev/null || missing "node"
command -v npm >/dev/null || missing "npm"

cd "$here"
npm ci --no-audit --no-fund --loglevel=error
if [ -z "${ONESEC_BIN:-}" ]; then
  (cd "$root" && cargo build -p onesec --locked)
  export ONESEC_BIN="${CARGO_TARGET_DIR:-$root/target}/debug/onesec"
fi
node --test --test-concurrency=1 console.test.mjs
