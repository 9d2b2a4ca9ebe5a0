#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The README's first command: sets up a virtual environment and an instance on the embedded
# default (SQLite in ./instance), then runs Rollcall in the foreground until Ctrl-C.
# ROLLCALL_HOME, ROLLCALL_LISTEN_HOST and ROLLCALL_LISTEN_PORT are honoured.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT"

setup_venv ""
export ROLLCALL_HOME="${ROLLCALL_HOME:-$ROOT/instance}"
RC="$VENV/bin/rollcall"

if [ ! -f "$ROLLCALL_HOME/rollcall.toml" ]; then
    echo "==> creating the instance in $ROLLCALL_HOME"
    "$RC" init --organization "Rollcall demo"
else
    echo "==> using the instance in $ROLLCALL_HOME (its admin password was printed when it was made)"
fi
"$RC" db upgrade
"$RC" check
echo "==> serving; stop with Ctrl-C"
exec "$RC" serve
