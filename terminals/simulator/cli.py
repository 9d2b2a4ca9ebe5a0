# SPDX-License-Identifier: GPL-2.0-or-later
"""``rollcall simulate``: many simulated ZK terminals in one process, until stopped (#3).

Each terminal serves the binary protocol over TCP and UDP on its own port (consecutive from
``--port-base``), starts with a workforce and a few days of history unless ``--empty``, and
with ``--speed`` its people keep punching live. A JSON summary of what is served goes to
standard output once everything listens, so scripts (the demo) can read the ports.
With ``--state-dir`` each terminal's memory survives a restart of the simulator.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from terminals.simulator.profiles import PROFILES
from terminals.simulator.testing import SimulatorFleet, build_device


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rollcall simulate",
        description="Serve simulated ZK terminals (binary protocol, TCP and UDP).",
    )
    parser.add_argument("--terminals", type=int, default=1, help="how many (default 1)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port-base",
        type=int,
        default=4370,
        help="port of the first terminal; the next ones follow (default 4370)",
    )
    parser.add_argument(
        "--model",
        action="append",
        choices=sorted(PROFILES),
        default=None,
        help="model profile; repeat to cycle through several (default tft)",
    )
    parser.add_argument("--users", type=int, default=25, help="workforce per terminal")
    parser.add_argument("--days", type=int, default=3, help="days of punch history")
    parser.add_argument(
        "--records",
        type=int,
        default=None,
        help="exactly this many history records instead of --days",
    )
    parser.add_argument(
        "--fingers",
        type=int,
        default=0,
        help="users per terminal with a (synthetic) fingerprint template",
    )
    parser.add_argument("--comm-key", type=int, default=0, help="comm key of every terminal")
    parser.add_argument("--empty", action="store_true", help="start with no users or punches")
    parser.add_argument("--transport", choices=["tcp", "udp", "both"], default="both")
    parser.add_argument(
        "--speed",
        type=float,
        default=0.0,
        help="let the workforce punch live, this many times faster than real "
        "time (0: no live punches)",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="keep each terminal's memory in a file here across restarts",
    )
    parser.add_argument(
        "--packet-gap-ms",
        type=float,
        default=0.0,
        help="pause between the packets of one reply, as a real terminal's CPU does "
        "(clients that read one packet per socket read need about 2; default 0)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=1,
        help="seed for serial numbers, names and schedules (default 1)",
    )
    return parser


def _check(args: argparse.Namespace) -> str | None:
    if not 1 <= args.terminals <= 1000:
        return "--terminals is 1 to 1000"
    if not args.port_base > 0 or args.port_base + args.terminals - 1 > 65535:
        return "--port-base leaves no room for that many terminals"
    if not 0 <= args.comm_key <= 999_999:
        return "--comm-key is 0 to 999999"
    if min(args.speed, args.users, args.days, args.fingers, args.packet_gap_ms) < 0:
        return "--speed, --users, --days, --fingers and --packet-gap-ms cannot be negative"
    return None


def run(args: argparse.Namespace) -> int:
    problem = _check(args)
    if problem:
        print(f"rollcall simulate: error: {problem}", file=sys.stderr)
        return 2
    models = args.model or ["tft"]
    if args.state_dir is not None:
        args.state_dir.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with SimulatorFleet(host=args.host) as fleet:
        for i in range(args.terminals):
            seed = args.seed * 1000 + i
            state = args.state_dir / f"terminal-{i + 1}.json" if args.state_dir else None
            device = build_device(
                models[i % len(models)],
                users=args.users,
                records=args.records,
                days=args.days,
                fingers=args.fingers,
                comm_key=args.comm_key,
                empty=args.empty,
                seed=seed,
                state_path=state,
            )
            try:
                term = fleet.start(
                    device=device, port=args.port_base + i, transport=args.transport, seed=seed
                )
            except OSError as exc:
                print(
                    f"rollcall simulate: error: cannot serve on {args.host}:"
                    f"{args.port_base + i}: {exc.strerror}",
                    file=sys.stderr,
                )
                return 1
            if args.packet_gap_ms:
                term.faults.pace_packets(args.packet_gap_ms / 1000)
            if args.speed > 0 and device.users():
                fleet.run_workforce(term, speed=args.speed)
        summary = {"terminals": [t.summary() for t in fleet.terminals]}
        print(json.dumps(summary, default=str), flush=True)
        stop.wait()
        for term in fleet.terminals:
            term.save_state()
    return 0


def main() -> None:
    sys.exit(run(build_parser().parse_args()))
