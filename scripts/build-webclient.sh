#!/usr/bin/env bash
# Build the web client into webclient/dist: `npm ci` from the committed lockfile, then `vite build`.
# Skips the build when dist/ is newer than every source file; --force always builds.
set -euo pipefail
cd "$(dirname "$0")/.."
force=0
[ "${1:-}" = "--force" ] && force=1
cd webclient
stale() {
    [ ! -f dist/index.html ] && return 0
    [ -n "$(find src index.html package.json package-lock.json vite.config.ts tsconfig.json public \
        -newer dist/index.html -print -quit 2>/dev/null)" ]
}
if [ "$force" = 0 ] && ! stale; then
    exit 0
fi
../scripts/ensure-node.sh
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    echo "== npm ci (web client)"
    npm ci --no-audit --no-fund --loglevel=error
fi
echo "== building the web client"
npm run --silent build -- --logLevel warn
