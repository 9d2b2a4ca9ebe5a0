# SPDX-License-Identifier: GPL-2.0-or-later
"""Simulator benchmarks (issue #3): is the simulator ever the bottleneck of a sync?

1. One terminal holding 100,000 attendance records and 3,000 users, read by unmodified pyzk
   (``get_users`` then ``get_attendance``) over TCP: wall time, the simulator's CPU time
   (its own process, read from /proc) and the client's CPU time (pyzk receiving and parsing),
   each as a share of the wall time.
2. 50 terminals served at once by one simulator process, each read by pyzk from its own
   thread: wall time of the whole round and the same split.

The simulator runs in a child process, as ``rollcall simulate`` does.
Usage: python bench/bench_simulator.py [--records N] [--users N] [--fleet N]
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

from zk import ZK

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_sync import Simulators
from terminals.zk.client import PYZK_CHECKSUM

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def read_all(port: int) -> int:
    zk = ZK("127.0.0.1", port=port, timeout=120, ommit_ping=True)
    conn = zk.connect()
    try:
        conn.get_users()
        return len(conn.get_attendance())
    finally:
        conn.disconnect()


def measure(pid: int, ports: list[int]) -> tuple[float, float, float, int]:
    """Read every port at once (a thread each); (wall, simulator CPU, client CPU, records)."""
    counts = [0] * len(ports)

    def one(i: int) -> None:
        counts[i] = read_all(ports[i])

    sim0, client0, t0 = cpu_seconds(pid), time.process_time(), time.perf_counter()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(ports))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return wall, cpu_seconds(pid) - sim0, time.process_time() - client0, sum(counts)


def report(label: str, wall: float, sim: float, client: float, records: int) -> None:
    print(
        f"{label}: {records:,} records in {wall:.2f} s ({records / wall:,.0f} records/s); "
        f"simulator CPU {sim:.2f} s ({sim / wall:.0%} of wall), "
        f"pyzk CPU {client:.2f} s ({client / wall:.0%} of wall), "
        f"simulator/pyzk {sim / client:.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=3_000)
    parser.add_argument("--fleet", type=int, default=50)
    parser.add_argument("--fleet-records", type=int, default=2_000)
    args = parser.parse_args()
    # pyzk as released: the adapter's faster checksum is not what this measures.
    if PYZK_CHECKSUM is not None:
        ZK._ZK__create_checksum = PYZK_CHECKSUM
    big = [{"model": "tft", "records": args.records, "users": args.users}]
    sims = Simulators(big)
    with sims as served:
        pid = sims.proc.pid or 0
        best = min(
            (measure(pid, [served[0][1]]) for _ in range(3)), key=lambda m: m[0]
        )  # best of three
        report(f"1 terminal, {args.users:,} users", *best)
    fleet = [
        {"model": "tft", "records": args.fleet_records, "users": 200} for _ in range(args.fleet)
    ]
    sims = Simulators(fleet)
    with sims as served:
        pid = sims.proc.pid or 0
        result = measure(pid, [port for _serial, port in served])
        report(f"{args.fleet} terminals at once", *result)


if __name__ == "__main__":
    main()
