#!/usr/bin/env bash
# The whole test suite: installs what is missing, then runs every suite on SQLite and PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
scripts/ensure-postgres.sh
scripts/ensure-chromium.sh
scripts/ensure-node.sh
echo "== import contracts"
.venv/bin/lint-imports
echo "== tests"
exec .venv/bin/python -m pytest -q -p no:cacheprovider -n 2 "$@"
