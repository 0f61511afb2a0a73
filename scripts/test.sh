#!/usr/bin/env bash
# The whole test suite: installs what is missing, then runs every suite on SQLite and PostgreSQL,
# the web client's unit tests (Vitest) and its browser tests (Playwright driving Debian's Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
scripts/ensure-postgres.sh
scripts/ensure-chromium.sh
scripts/ensure-node.sh
scripts/ensure-coturn.sh
scripts/build-webclient.sh
echo "== import contracts"
.venv/bin/lint-imports
echo "== web client unit tests"
(cd webclient && npx vitest run --reporter=dot)
echo "== tests"
exec .venv/bin/python -m pytest -q -p no:cacheprovider -n 2 "$@"
