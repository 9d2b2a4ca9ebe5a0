# SPDX-License-Identifier: GPL-2.0-or-later
"""Column types and dialect set-up shared by every model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

from server.attendance.models import Punch
from server.db import insert_ignoring_conflicts
from server.organization.models import Department


def _punch(**overrides: object) -> dict[str, object]:
    values: dict[str, object] = {
        "terminal_serial": "CKJ0001",
        "pin": "1001",
        "device_time": datetime(2026, 11, 2, 8, 59, 30),
        "occurred_at": datetime(2026, 11, 2, 7, 59, 30, tzinfo=UTC),
        "timezone": "Europe/Berlin",
        "verify_type": 1,
        "punch_state": 0,
        "work_code": 0,
        "source": "pull",
        "status": "ok",
        "received_at": datetime(2026, 11, 2, 9, 0, tzinfo=UTC),
    }
    values.update(overrides)
    return values


def test_instants_come_back_in_utc_whatever_zone_they_went_in_with(db: Session) -> None:
    shanghai = timezone(timedelta(hours=8))
    db.add(Punch(**_punch(occurred_at=datetime(2026, 11, 2, 15, 59, 30, tzinfo=shanghai))))
    db.flush()
    db.expire_all()
    punch = db.scalars(select(Punch)).one()
    assert punch.occurred_at == datetime(2026, 11, 2, 7, 59, 30, tzinfo=UTC)
    assert punch.occurred_at.utcoffset() == timedelta(0)
    # the device's own reading stays exactly as the terminal showed it
    assert punch.device_time == datetime(2026, 11, 2, 8, 59, 30)
    assert punch.device_time.tzinfo is None


def test_a_naive_instant_is_refused(db: Session) -> None:
    db.add(Punch(**_punch(occurred_at=datetime(2026, 11, 2, 7, 59, 30))))
    with pytest.raises(StatementError, match="naive datetime refused"):
        db.flush()


def test_an_aware_device_time_is_refused(db: Session) -> None:
    db.add(Punch(**_punch(device_time=datetime(2026, 11, 2, 8, 59, 30, tzinfo=UTC))))
    with pytest.raises(StatementError, match="device local time must be naive"):
        db.flush()


def test_a_replayed_batch_of_punches_inserts_nothing_twice(db: Session) -> None:
    rows = [_punch(pin=str(1000 + i)) for i in range(50)]
    assert (
        insert_ignoring_conflicts(
            db, Punch.__table__, rows, conflict_columns=("terminal_serial", "pin", "device_time")
        )
        == 50
    )
    again = [*rows[:10], _punch(pin="2000")]
    assert (
        insert_ignoring_conflicts(
            db, Punch.__table__, again, conflict_columns=("terminal_serial", "pin", "device_time")
        )
        == 1
    )
    assert db.scalar(select(Punch.id).where(Punch.pin == "2000")) is not None
    assert len(db.scalars(select(Punch.id)).all()) == 51


def test_foreign_keys_are_enforced(db: Session) -> None:
    db.add(Department(code="X", name="X", parent_id=424242))
    with pytest.raises(IntegrityError, match=r"(?i)foreign key"):
        db.flush()


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite pragmas: this run is on PostgreSQL")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 20000
        assert conn.execute(text("PRAGMA secure_delete")).scalar() == 1
