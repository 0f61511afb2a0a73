#!/usr/bin/env bash
# Debian's Chromium for the browser tests (test tools may not download browsers here).
set -euo pipefail
# The emoji font makes screenshots show emoji as people see them.
if [ -x /usr/bin/chromium ] && [ -d /usr/share/fonts/truetype/noto ]; then exit 0; fi
echo "== installing Chromium from Debian's packages"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium fonts-noto-color-emoji >/dev/null
