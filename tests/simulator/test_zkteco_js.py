# SPDX-License-Identifier: GPL-2.0-or-later
"""An independent client, the npm package zkteco-js, reads the simulator (issue #3).

The README's test command installs it (``npm ci`` in tests/simulator/js). It is somebody
else's reading of the protocol, so it catches what pyzk's leniency would hide.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

JS = Path(__file__).parent / "js"

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not (JS / "node_modules" / "zkteco-js").is_dir(),
    reason="zkteco-js not installed: run `npm ci` in tests/simulator/js (the test command does)",
)


def read_with_zkteco_js(term: Any) -> dict[str, Any]:
    result = subprocess.run(
        ["node", str(JS / "fidelity.mjs"), term.host, str(term.port)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "TZ": "UTC"},
    )
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def test_zkteco_js_reads_device_info_serial_and_users(simulator: Any) -> None:
    term = simulator.start("tft", users=12, records=300)
    got = read_with_zkteco_js(term)
    assert got["serial"] == term.serial
    assert got["info"]["userCounts"] == 12
    assert got["info"]["logCounts"] == 300
    assert sorted(u["userId"] for u in got["users"]) == sorted(
        u.user_id for u in term.device.users()
    )
    # zkteco-js decodes names as ASCII ("Tomás" comes out mangled): compare the ASCII ones.
    ascii_names = {(u.user_id, u.name) for u in term.device.users() if u.name.isascii()}
    assert ascii_names
    assert ascii_names <= {(u["userId"], u["name"]) for u in got["users"]}


@pytest.mark.parametrize("records", [40, 300, 3000])
def test_zkteco_js_reads_the_whole_attendance_log_from_a_paced_terminal(
    simulator: Any, records: int
) -> None:
    """40 records come as one direct CMD_DATA, 3,000 over two 1504 chunks.

    zkteco-js parses one packet per socket read, so it needs the pause a real terminal makes
    between PREPARE_DATA, DATA and ACK_OK; without it the kernel hands it the three at once
    and it loses the rest of the log (a client bug; pyzk reads either way).
    """
    term = simulator.start("tft", users=12, records=records)
    term.faults.pace_packets(0.002)
    got = read_with_zkteco_js(term)
    expected = sorted(
        (p.user_id, p.timestamp.strftime("%Y-%m-%dT%H:%M:%S.000Z"))
        for p in term.device.attendance()
    )
    assert sorted((a["user_id"], a["record_time"]) for a in got["attendance"]) == expected
