#!/usr/bin/env bash
# Node.js 20.19+ and npm for building the web client: installed from Debian's packages when absent.
set -euo pipefail
node_ok() {
    command -v node >/dev/null && command -v npm >/dev/null &&
        node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)'
}
if node_ok; then exit 0; fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "== installing Node.js and npm from Debian's packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # A Node.js from elsewhere (nodesource) may already bring npm: install only what is missing.
    pkgs=()
    command -v node >/dev/null || pkgs+=(nodejs)
    command -v npm >/dev/null || pkgs+=(npm)
    apt-get install -y -qq "${pkgs[@]}" >/dev/null
fi
if ! node_ok; then
    echo "The web client needs Node.js 20.19 or newer and npm; found node $(node --version 2>/dev/null || echo none)." >&2
    echo "Install a newer Node.js (e.g. Debian trixie's nodejs package) and run again." >&2
    exit 1
fi
