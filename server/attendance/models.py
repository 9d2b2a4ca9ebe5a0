# SPDX-License-Identifier: GPL-2.0-or-later
"""Punches: the time records the organization must keep, and keep integral."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, BigId, LocalDateTime, UTCDateTime, utcnow
from server.inventory import Category, Erasure, not_personal, pd

# Time records are kept under a legal obligation (FLSA 3 years is the longest common floor)
# and restricted to storage during that time when their subject asks for erasure.
_PUNCH = "record+3y"


def _att(erasure: Erasure = Erasure.KEEP_RESTRICTED) -> dict[str, object]:
    return pd(Category.ATTENDANCE, subject="link:employee_id", retention=_PUNCH, erasure=erasure)


class PunchSource(enum.StrEnum):
    PULL = "pull"  # read from a terminal over the binary protocol
    PUSH = "push"  # sent by a terminal over ADMS
    MANUAL = "manual"  # entered by an HR admin, with a reason


class PunchStatus(enum.StrEnum):
    OK = "ok"
    # Impossible time (year-2000 default, before installation, far future) or a record
    # format we cannot trust: kept with the reason for an admin, never silently dropped.
    QUARANTINED = "quarantined"


class Punch(Base):
    __tablename__ = "punches"
    __table_args__ = (
        # The natural key: a terminal never records the same PIN twice in the same second,
        # and every replay of a sync must land on it (issue #4).
        # Its index also serves "the punches of this PIN on this terminal" (assigning a
        # pending PIN): no second index on (serial, pin) to maintain on every insert.
        UniqueConstraint("terminal_serial", "pin", "device_time", name="uq_punches_natural"),
        CheckConstraint("source IN ('pull', 'push', 'manual')", name="source"),
        CheckConstraint("status IN ('ok', 'quarantined')", name="status"),
        Index("ix_punches_employee_occurred", "employee_id", "occurred_at"),
        Index("ix_punches_occurred", "occurred_at"),
        Index("ix_punches_terminal_occurred", "terminal_serial", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, info=_att())
    terminal_serial: Mapped[str] = mapped_column(String(64), info=_att())
    pin: Mapped[str] = mapped_column(String(24), info=_att())
    # NULL until the PIN is mapped to an employee; the punch is kept meanwhile.
    employee_id: Mapped[int | None] = mapped_column(
        ForeignKey("employees.id", ondelete="RESTRICT"), info=_att()
    )
    # What the terminal's clock said, as it said it.
    device_time: Mapped[datetime] = mapped_column(LocalDateTime, info=_att())
    # The instant, mapped through the terminal's time zone at ingest.
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, info=_att())
    timezone: Mapped[str] = mapped_column(String(64), info=_att())
    # How the person was identified (binary protocol: 0 password, 1 finger, 2 card;
    # ADMS adds 15 face, 25 palm).
    verify_type: Mapped[int] = mapped_column(SmallInteger, default=0, info=_att())
    # 0 check-in, 1 check-out, 2 break-out, 3 break-in, 4 OT-in, 5 OT-out, 255 undefined.
    punch_state: Mapped[int] = mapped_column(SmallInteger, default=0, info=_att())
    work_code: Mapped[int] = mapped_column(Integer, default=0, info=_att())
    source: Mapped[str] = mapped_column(String(8), default=PunchSource.PULL, info=_att())
    status: Mapped[str] = mapped_column(String(16), default=PunchStatus.OK, info=_att())
    quarantine_reason: Mapped[str | None] = mapped_column(String(200), info=_att())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, info=_att())
    sync_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("sync_runs.id", ondelete="SET NULL"), info=not_personal()
    )

    def __repr__(self) -> str:
        return f"<Punch {self.id} {self.terminal_serial}>"


class CorrectionAction(enum.StrEnum):
    AMEND = "amend"  # another time and/or state
    VOID = "void"  # the punch should not count (duplicate, test, someone else's card)


class CorrectionReason(enum.StrEnum):
    """Why a punch is corrected: a closed list, so reports can count them (#7)."""

    FORGOT_TO_PUNCH = "forgot_to_punch"
    TERMINAL_FAULT = "terminal_fault"
    WRONG_STATE = "wrong_state"
    DUPLICATE = "duplicate"
    EMPLOYEE_REQUEST = "employee_request"  # rectification request in the register
    OTHER = "other"


class CorrectionStatus(enum.StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"


class PunchCorrection(Base):
    """A correction of a punch (rectification, GDPR 16). Append-only: the punch itself never
    changes; the newest approved correction of a punch is its effective value."""

    __tablename__ = "punch_corrections"
    __table_args__ = (
        CheckConstraint("action IN ('amend', 'void')", name="action"),
        CheckConstraint("status IN ('proposed', 'approved', 'rejected')", name="status"),
        CheckConstraint(
            "action <> 'amend' OR occurred_at IS NOT NULL OR punch_state IS NOT NULL",
            name="amend_changes_something",
        ),
        CheckConstraint(
            "status = 'proposed' OR (decided_by_id IS NOT NULL AND decided_at IS NOT NULL)",
            name="decision_recorded",
        ),
        Index("ix_punch_corrections_punch", "punch_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, info=_att())
    punch_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("punches.id", ondelete="RESTRICT"), info=_att()
    )
    employee_id: Mapped[int] = mapped_column(
        ForeignKey("employees.id", ondelete="RESTRICT"), index=True, info=_att()
    )
    action: Mapped[str] = mapped_column(String(8), info=_att())
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime, info=_att())
    punch_state: Mapped[int | None] = mapped_column(SmallInteger, info=_att())
    reason: Mapped[str] = mapped_column(String(24), info=_att())
    # What the employee or HR said; stays with the correction, never in the operation log.
    # Free text may name anyone: an erasure empties it (the correction itself is kept).
    note: Mapped[str | None] = mapped_column(String(500), info=_att(Erasure.ANONYMIZE))
    request_id: Mapped[int | None] = mapped_column(
        ForeignKey("subject_requests.id", ondelete="SET NULL"), info=_att()
    )
    status: Mapped[str] = mapped_column(String(12), default=CorrectionStatus.PROPOSED, info=_att())
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), info=_att()
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, info=_att())
    decided_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), info=_att()
    )
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, info=_att())

    def __repr__(self) -> str:
        return f"<PunchCorrection {self.id} {self.action} {self.status}>"
