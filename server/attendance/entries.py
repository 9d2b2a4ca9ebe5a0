# SPDX-License-Identifier: GPL-2.0-or-later
"""Why and by whom a punch was entered by hand (issue #6).

A manual punch is an ordinary row of ``punches`` with source ``manual``; this table keeps
beside it the reason (a closed list, so reports can count them), an optional note and its
author. It lives in its own module so the punch model stays the terminals' record.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from server.attendance.models import Punch, PunchStatus
from server.db import Base, BigId, UTCDateTime, utcnow
from server.inventory import Category, Erasure, pd


class ManualReason(enum.StrEnum):
    FORGOT_TO_PUNCH = "forgot_to_punch"
    TERMINAL_FAULT = "terminal_fault"  # the terminal was down or did not recognise them
    OFF_SITE = "off_site"  # worked where there is no terminal
    EMPLOYEE_REQUEST = "employee_request"
    OTHER = "other"  # the note says why


def _entry(erasure: Erasure = Erasure.KEEP_RESTRICTED) -> dict[str, object]:
    # Kept as long as the punch it explains (a time record, kept under a legal obligation).
    return pd(
        Category.ATTENDANCE, subject="link:employee_id", retention="record+3y", erasure=erasure
    )


class PunchEntry(Base):
    __tablename__ = "punch_entries"
    __table_args__ = (
        CheckConstraint(
            "reason IN ('forgot_to_punch', 'terminal_fault', 'off_site', 'employee_request',"
            " 'other')",
            name="reason",
        ),
        Index("ix_punch_entries_employee", "employee_id"),
    )

    punch_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("punches.id", ondelete="CASCADE"), primary_key=True, info=_entry()
    )
    employee_id: Mapped[int] = mapped_column(
        ForeignKey("employees.id", ondelete="RESTRICT"), info=_entry()
    )
    reason: Mapped[str] = mapped_column(String(24), info=_entry())
    # What HR wrote; stays here, never in the operation log, and goes on erasure.
    note: Mapped[str | None] = mapped_column(String(500), info=_entry(Erasure.ANONYMIZE))
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), info=_entry()
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, info=_entry())

    def __repr__(self) -> str:
        return f"<PunchEntry {self.punch_id} {self.reason}>"


# The few quarantined punches, newest first, without reading millions of good ones: the
# dashboard's alert, the terminal page and the punch browser's status filter (issue #6).
# A partial index, so the punches of every sync do not pay for it. Declared here rather than
# in server/attendance/models.py while that module's corrections work (#7) is under way;
# it belongs to the punches table and may move there.
Index(
    "ix_punches_quarantined",
    Punch.occurred_at,
    Punch.id,
    sqlite_where=Punch.status == PunchStatus.QUARANTINED.value,
    postgresql_where=Punch.status == PunchStatus.QUARANTINED.value,
)
