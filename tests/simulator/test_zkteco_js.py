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


# Known gap (issue #3): zkteco-js's attendance read against the simulator is timing-dependent
# (full at times; empty for a 40-record log on the direct CMD_DATA path; 1,636 of 3,000 records
# over pipelined 1504 chunks) while pyzk reads every size in full. Until the simulator's
# buffered-read path is checked against that client, this test covers what is stable.
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
