#!/usr/bin/env bash
# Installs what the test suite needs beyond the Python virtualenv: system packages (Debian) and the
# JavaScript test clients (npm), into places the tests look for. Idempotent; called by `make test`.
set -euo pipefail
cd "$(dirname "$0")/../.."

# INGEST: the real Segment / RudderStack SDKs used by tests/compat (each Python version in its own
# directory: 2.4.0 and 2.3.6 cannot share one environment).
CLIENTS=tests/.clients
for version in 2.4.0 2.3.6; do
    if [ ! -d "$CLIENTS/py-$version/segment/analytics" ]; then
        .venv/bin/python -m pip install --quiet --target "$CLIENTS/py-$version" \
            "segment-analytics-python==$version"
    fi
done
if [ ! -d "$CLIENTS/node/node_modules/@segment/analytics-node" ] \
        || [ ! -d "$CLIENTS/node/node_modules/@rudderstack/rudder-sdk-node" ]; then
    mkdir -p "$CLIENTS/node"
    (cd "$CLIENTS/node" && npm install --silent --no-audit --no-fund --no-save \
        @segment/analytics-node@3.1.0 @rudderstack/rudder-sdk-node@3.0.13)
fi

# HEALTH: promtool (Debian `prometheus`) for tests/test_ops_*; chromium + playwright-core (its own
# folder, so other npm installs never prune it) for the headless browser test of the health view.
missing=()
command -v promtool >/dev/null || missing+=(prometheus)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v wrk >/dev/null || missing+=(wrk)  # BENCH: the HTTP load of `eventyard bench`
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if [ ! -d "$CLIENTS/browser/node_modules/playwright-core" ]; then
    mkdir -p "$CLIENTS/browser"
    (cd "$CLIENTS/browser" && npm install --silent --no-audit --no-fund --no-save playwright-core@1.49.1)
fi
