#!/usr/bin/env bash
# Installs what the test suite needs beyond the Python virtualenv: system packages (Debian) and the
# JavaScript test clients (npm), into places the tests look for. Idempotent; called by `make test`.
set -euo pipefail
cd "$(dirname "$0")/../.."
