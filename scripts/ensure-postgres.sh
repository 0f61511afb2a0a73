#!/usr/bin/env bash
# Make sure a PostgreSQL server answers on 127.0.0.1:5432 (start it, or install it from
# Debian's packages, when it does not). The test suite creates throwaway databases in it.
set -euo pipefail
ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
if command -v pg_isready >/dev/null && ready; then exit 0; fi
if [ ! -d /etc/postgresql ] || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
    echo "PostgreSQL is not installed; installing it" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
fi
version=$(ls /etc/postgresql | sort -V | tail -n 1)
conf=/etc/postgresql/$version/main
# Trust local TCP connections for the postgres user (a test machine only).
if ! grep -q "hearth-test" "$conf/pg_hba.conf"; then
    sed -i '1i host all postgres 127.0.0.1/32 trust # hearth-test' "$conf/pg_hba.conf"
fi
pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
for _ in $(seq 1 30); do
    if ready; then exit 0; fi
    sleep 1
done
echo "PostgreSQL did not come up on 127.0.0.1:5432" >&2
exit 1
