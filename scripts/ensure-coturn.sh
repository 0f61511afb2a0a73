#!/usr/bin/env bash
# coturn, the TURN relay the call tests allocate through (and turnutils_uclient, its test client).
set -euo pipefail
if [ -x /usr/bin/turnserver ] && [ -x /usr/bin/turnutils_uclient ]; then exit 0; fi
echo "== installing coturn from Debian's packages"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq coturn >/dev/null
