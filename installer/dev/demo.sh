#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The README's first command: sets up a virtual environment and an instance on the embedded
# default (SQLite in ./instance), starts three simulated terminals whose workforce punches
# live (fifteen simulated hours a minute), registers them, runs the worker (realtime) and serves
# the web UI until Ctrl-C.
# ROLLCALL_HOME, ROLLCALL_LISTEN_HOST, ROLLCALL_LISTEN_PORT and DEMO_PORT_BASE are honoured.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT"

setup_venv ""
export ROLLCALL_HOME="${ROLLCALL_HOME:-$ROOT/instance}"
RC="$VENV/bin/rollcall"
PORT_BASE="${DEMO_PORT_BASE:-4370}"
TERMINALS=3

if [ ! -f "$ROLLCALL_HOME/rollcall.toml" ]; then
    echo "==> creating the instance in $ROLLCALL_HOME"
    "$RC" init --organization "Rollcall demo"
else
    echo "==> using the instance in $ROLLCALL_HOME (its admin password was printed when it was made)"
fi
"$RC" db upgrade
"$RC" check

pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

echo "==> starting $TERMINALS simulated terminals on 127.0.0.1:$PORT_BASE.. (state in $ROLLCALL_HOME/simulator)"
mkdir -p "$ROLLCALL_HOME/simulator"
"$RC" simulate --terminals "$TERMINALS" --host 127.0.0.1 --port-base "$PORT_BASE" \
    --state-dir "$ROLLCALL_HOME/simulator" --speed 900 > "$ROLLCALL_HOME/simulator/summary.json" &
pids+=($!)
for _ in $(seq 1 100); do
    [ -s "$ROLLCALL_HOME/simulator/summary.json" ] && break
    sleep 0.2
done

for i in $(seq 0 $((TERMINALS - 1))); do
    port=$((PORT_BASE + i))
    # Already registered (a second run) is fine; anything else is shown.
    "$RC" terminals add "127.0.0.1:$port" --name "Simulated door $((i + 1))" --interval 60 2>&1 \
        | grep -v "already registered" || true
done

echo "==> starting the worker (realtime: punches appear as they are made)"
"$RC" worker --realtime --threads 4 &
pids+=($!)

echo "==> serving; stop everything with Ctrl-C"
"$RC" serve
