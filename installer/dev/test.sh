#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The README's test command: installs everything the suite needs, then runs ruff, mypy and
# the whole suite twice, on SQLite and on a private PostgreSQL 15 cluster.
# Extra arguments are passed to pytest (e.g. -x, -k name).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT"

# chromium: the browser the Playwright tests drive (tests/browser); Playwright's own
# browser downloads are never used.
# fonts-wqy-microhei: a CJK font, so the Chinese screenshots show characters, not boxes.
apt_install postgresql-15 postgresql-client-15 chromium fonts-wqy-microhei
command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm
setup_venv test
PY="$VENV/bin/python"
echo "==> installing zkteco-js, the independent client the simulator is checked against"
(cd tests/simulator/js && npm ci --no-audit --no-fund --loglevel=error)

echo "==> ruff"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
echo "==> mypy"
"$VENV/bin/mypy"

# A throwaway cluster of our own: no shared state with any PostgreSQL on the machine.
PGBIN="/usr/lib/postgresql/15/bin"
PGTMP="$(mktemp -d /tmp/rollcall-pg.XXXXXX)"
PGPORT="${ROLLCALL_TEST_PGPORT:-54329}"
run_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
    run_pg "$PGBIN/pg_ctl" -D "$PGTMP/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$PGTMP"
}
trap cleanup EXIT
[ "$(id -u)" -eq 0 ] && chown postgres "$PGTMP"
echo "==> starting PostgreSQL 15 in $PGTMP (port $PGPORT)"
run_pg "$PGBIN/initdb" -D "$PGTMP/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
run_pg "$PGBIN/pg_ctl" -D "$PGTMP/data" -l "$PGTMP/log" -w -o \
    "-p $PGPORT -k $PGTMP -c listen_addresses='' -c fsync=off -c full_page_writes=off" start >/dev/null
run_pg "$PGBIN/createdb" -h "$PGTMP" -p "$PGPORT" -U postgres rollcall_test

status=0
echo "==> test suite on SQLite"
ROLLCALL_TEST_DATABASE_URL="" "$PY" -m pytest -p no:cacheprovider "$@" || status=$?
echo "==> test suite on PostgreSQL 15"
ROLLCALL_TEST_DATABASE_URL="postgresql+psycopg://postgres@/rollcall_test?host=$PGTMP&port=$PGPORT" \
    "$PY" -m pytest -p no:cacheprovider "$@" || status=$?
if [ "$status" -eq 0 ]; then echo "==> all checks passed"; else echo "==> FAILED"; fi
exit "$status"
