#!/usr/bin/env bash
# Install Hearth, create ./data with a generated config on first run, and serve at
# http://localhost:8008/ (override with HEARTH_DATA, HEARTH_SERVER_NAME, HEARTH_PORT).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
# The web client at "/": built when missing or older than its sources.
scripts/build-webclient.sh
data=${HEARTH_DATA:-data}
if [ ! -f "$data/config.yaml" ]; then
    .venv/bin/hearth init --server-name "${HEARTH_SERVER_NAME:-localhost}" \
        --data-dir "$data" --port "${HEARTH_PORT:-8008}" --open-registration
fi
exec .venv/bin/hearth run -c "$data/config.yaml"
