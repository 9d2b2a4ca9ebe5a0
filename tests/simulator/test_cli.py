# SPDX-License-Identifier: GPL-2.0-or-later
"""``rollcall simulate`` as a process: serves N terminals, prints them, remembers them."""

from __future__ import annotations

import json
import random
import signal
import socket
import subprocess
from pathlib import Path

from terminals.base import Endpoint
from terminals.zk.client import ZkClient
from tests.conftest import ROLLCALL


def free_port_base(count: int) -> int:
    for _ in range(50):
        base = random.randint(20_000, 60_000)  # noqa: S311 -- picking a port, not a secret
        try:
            for port in range(base, base + count):
                for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                    with socket.socket(socket.AF_INET, kind) as s:
                        s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise RuntimeError("no free ports")


def start(*args: str) -> tuple[subprocess.Popen[str], dict[str, list[dict[str, object]]]]:
    proc = subprocess.Popen(
        [ROLLCALL, "simulate", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:  # it failed to start: say why, and leave no open pipe behind
        proc.kill()
        _, err = proc.communicate(timeout=30)
        raise AssertionError(f"rollcall simulate did not start: {err}")
    return proc, json.loads(line)


def stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(timeout=30)
    for stream in (proc.stdout, proc.stderr):
        if stream:
            stream.close()
    return code


def test_it_serves_n_terminals_on_consecutive_ports_and_remembers_them(tmp_path: Path) -> None:
    base = free_port_base(3)
    args = (
        "--terminals",
        "3",
        "--port-base",
        str(base),
        "--model",
        "bw",
        "--model",
        "tft",
        "--users",
        "7",
        "--records",
        "120",
        "--state-dir",
        str(tmp_path),
    )
    proc, summary = start(*args)
    try:
        terms = summary["terminals"]
        assert [t["port"] for t in terms] == [base, base + 1, base + 2]
        assert [t["model"] for t in terms] == ["bw", "tft", "bw"]
        for t in terms:
            ep = Endpoint(host="127.0.0.1", port=int(str(t["port"])), timeout_s=5)
            with ZkClient(ep) as client:
                assert client.info().serial_number == t["serial"]
                assert len(client.punches()) == 120 == t["records"]
    finally:
        assert stop(proc) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "terminal-1.json",
        "terminal-2.json",
        "terminal-3.json",
    ]
    again, second = start(*args)
    try:
        assert [t["serial"] for t in second["terminals"]] == [t["serial"] for t in terms]
    finally:
        stop(again)


def test_a_taken_port_is_a_clear_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = subprocess.run(
            [ROLLCALL, "simulate", "--port-base", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert result.returncode == 1
    assert f"cannot serve on 127.0.0.1:{port}" in result.stderr
