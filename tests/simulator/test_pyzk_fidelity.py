# SPDX-License-Identifier: GPL-2.0-or-later
"""Unmodified pyzk 0.9 performs every operation of issue #3 against the simulator.

Every case runs over TCP and UDP, with and without a comm key, on every model profile.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from zk.exception import ZKErrorResponse
from zk.finger import Finger

from terminals.simulator.device import simulation_rng
from terminals.simulator.profiles import PROFILES
from terminals.simulator.testing import SimulatorFleet, fake_template

PyzkFactory = Callable[..., Any]
MODELS = tuple(PROFILES)
COMM_KEY = 123456

TRANSPORTS = ("tcp", "udp")
KEYS = (0, COMM_KEY)

matrix = pytest.mark.parametrize(
    ("model", "transport", "key"),
    [(m, t, k) for m in MODELS for t in TRANSPORTS for k in KEYS],
)


@pytest.fixture(autouse=True)
def _unmodified_pyzk(monkeypatch: pytest.MonkeyPatch) -> None:
    """The adapter swaps in a faster, equivalent checksum; fidelity is shown on pyzk as
    released, so its own checksum is put back for these tests."""
    from zk import ZK

    from terminals.zk.client import PYZK_CHECKSUM

    if PYZK_CHECKSUM is not None:
        monkeypatch.setattr(ZK, "_ZK__create_checksum", PYZK_CHECKSUM)


def rows(punches: Any) -> list[tuple[str, datetime, int, int]]:
    return [(p.user_id, p.timestamp, p.status, p.punch) for p in punches]


@matrix
def test_pyzk_reads_device_info_users_and_attendance(
    simulator: SimulatorFleet, pyzk: PyzkFactory, model: str, transport: str, key: int
) -> None:
    term = simulator.start(model, records=1500, users=40, comm_key=key)
    conn = pyzk(term, udp=transport == "udp")
    profile = term.device.profile

    assert conn.get_firmware_version() == profile.firmware
    assert conn.get_serialnumber() == term.serial
    assert conn.get_platform() == profile.platform
    assert conn.get_device_name() == profile.device_name
    assert conn.get_mac() == term.device.mac
    assert conn.get_fp_version() == int(profile.fp_version)
    assert conn.get_pin_width() == profile.pin_width
    assert conn.get_network_params()["ip"] == "127.0.0.1"
    conn.read_sizes()
    assert (conn.users, conn.records) == (40, 1500)

    conn.disable_device()
    assert term.device.enabled is False
    users = conn.get_users()
    attendance = conn.get_attendance()
    conn.enable_device()
    assert term.device.enabled is True

    stored = term.device.users()
    assert [(u.uid, u.user_id, u.name, u.privilege) for u in users] == [
        (u.uid, u.user_id, u.name, u.privilege) for u in stored
    ]
    assert rows(attendance) == rows(term.device.attendance())


@matrix
def test_pyzk_writes_users_templates_time_and_clears(
    simulator: SimulatorFleet, pyzk: PyzkFactory, model: str, transport: str, key: int
) -> None:
    term = simulator.start(model, users=3, records=30, comm_key=key)
    conn = pyzk(term, udp=transport == "udp")
    conn.get_users()  # pyzk learns the record size from a read (reference §13)
    name = "李小龙" if term.device.profile.encoding == "gbk" else "Zoë Test"

    conn.set_user(uid=50, name=name, privilege=14, password="1234", user_id="777", card=4242)
    stored = term.device.user_by_id("777")
    assert stored is not None
    expected = name if term.device.profile.user_size == 72 else "Zoë Tes"
    assert (stored.uid, stored.name, stored.privilege, stored.card) == (50, expected, 14, 4242)
    assert any(u.user_id == "777" and u.name == expected for u in conn.get_users())

    template = fake_template(simulation_rng(7), 1243)
    user = next(u for u in conn.get_users() if u.uid == 50)
    conn.save_user_template(user, [Finger(50, 3, 1, template)])
    assert term.device.get_template(50, 3) is not None
    assert term.device.get_template(50, 3).template == template  # type: ignore[union-attr]
    assert conn.get_user_template(uid=50, temp_id=3).template == template
    assert [(f.uid, f.fid) for f in conn.get_templates()] == [(50, 3)]
    conn.delete_user_template(uid=50, temp_id=3)
    assert term.device.get_template(50, 3) is None

    conn.delete_user(uid=50)
    assert term.device.user_by_id("777") is None

    moment = datetime(2031, 5, 6, 7, 8, 9)
    conn.set_time(moment)
    assert abs(conn.get_time() - moment) < timedelta(seconds=3)

    assert term.device.record_count > 0
    conn.clear_attendance()
    assert term.device.record_count == 0
    assert conn.get_attendance() == []
    conn.refresh_data()
    conn.unlock(1)
    conn.test_voice(0)


@matrix
def test_pyzk_live_capture_receives_a_punch(
    simulator: SimulatorFleet, pyzk: PyzkFactory, model: str, transport: str, key: int
) -> None:
    term = simulator.start(model, users=5, days=1, comm_key=key)
    conn = pyzk(term, udp=transport == "udp")
    who = term.device.users()[2].user_id
    when = datetime(2030, 1, 2, 8, 1, 2)

    def punch_when_listening() -> None:
        if term.wait_for_listener(5):
            term.device.add_punch(who, when, status=1, punch=0)

    helper = threading.Thread(target=punch_when_listening)
    helper.start()
    seen = None
    for event in conn.live_capture(new_timeout=5):
        seen = event
        conn.end_live_capture = True
    helper.join()
    assert seen is not None
    assert (seen.user_id, seen.timestamp, seen.punch) == (who, when, 0)


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("model", ["bw", "tft"])
def test_wrong_comm_key_is_refused(
    simulator: SimulatorFleet, pyzk: PyzkFactory, model: str, transport: str
) -> None:
    term = simulator.start(model, users=2, days=1, comm_key=COMM_KEY)
    with pytest.raises(ZKErrorResponse, match="Unauthenticated"):
        pyzk(term, udp=transport == "udp", password=COMM_KEY + 1)
    with pytest.raises(ZKErrorResponse, match="Unauthenticated"):
        pyzk(term, udp=transport == "udp", password=0)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_pyzk_restart_ends_the_session_and_the_device_serves_again(
    simulator: SimulatorFleet, pyzk: PyzkFactory, transport: str
) -> None:
    term = simulator.start("tft", users=2, days=1)
    conn = pyzk(term, udp=transport == "udp")
    conn.disable_device()
    conn.restart()
    assert term.device.enabled is True
    again = pyzk(term, udp=transport == "udp")
    assert again.get_serialnumber() == term.serial


def test_pyzk_reads_20000_records_over_tcp(simulator: SimulatorFleet, pyzk: PyzkFactory) -> None:
    term = simulator.start("tft", records=20_000, users=200)
    conn = pyzk(term, timeout=20)
    attendance = conn.get_attendance()
    assert len(attendance) == 20_000
    assert rows(attendance) == rows(term.device.attendance())


def test_pyzk_reads_5000_records_over_udp(simulator: SimulatorFleet, pyzk: PyzkFactory) -> None:
    term = simulator.start("bw", records=5_000, users=100)
    conn = pyzk(term, udp=True, timeout=10)
    assert rows(conn.get_attendance()) == rows(term.device.attendance())
