# SPDX-License-Identifier: GPL-2.0-or-later
"""The operation log: who did what to which record, hash-chained (issue #6, C17).

Entries carry identifiers only, never templates or free text about a person. They are kept
at least six months (CSL art. 21) and are restricted, not deleted, when their subject is
erased: the employee id they hold is a pseudonym once the profile is anonymized.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, BigId, UTCDateTime, utcnow
from server.inventory import Category, Erasure, not_personal, pd

_LOG = "record+1y"


def _activity(subject: str = "account") -> dict[str, object]:
    return pd(Category.ACTIVITY, subject=subject, retention=_LOG, erasure=Erasure.KEEP_RESTRICTED)


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_subject", "subject_employee_id", "at"),
        Index("ix_audit_events_object", "object_type", "object_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, info=not_personal())
    # Position in the chain, gapless from 1; assigned under a lock by the writer.
    seq: Mapped[int] = mapped_column(BigInteger, unique=True, info=not_personal())
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, info=not_personal())
    actor_account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="RESTRICT"), index=True, info=_activity()
    )
    # "account", "cli", "worker", "terminal:<serial>", "system".
    actor_kind: Mapped[str] = mapped_column(String(80), info=not_personal())
    action: Mapped[str] = mapped_column(String(64), index=True, info=not_personal())
    object_type: Mapped[str | None] = mapped_column(String(32), info=not_personal())
    object_id: Mapped[str | None] = mapped_column(String(64), info=not_personal())
    # The employee the entry is about, for "who accessed my record" (GDPR 15).
    subject_employee_id: Mapped[int | None] = mapped_column(
        ForeignKey("employees.id", ondelete="RESTRICT"),
        info=_activity("link:subject_employee_id"),
    )
    ip_address: Mapped[str | None] = mapped_column(String(45), info=_activity())
    user_agent: Mapped[str | None] = mapped_column(String(300), info=_activity())
    # Identifiers and counts only (checked by the writer).
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, info=not_personal())
    prev_hash: Mapped[str] = mapped_column(String(64), info=not_personal())
    hash: Mapped[str] = mapped_column(String(64), info=not_personal())

    def __repr__(self) -> str:
        return f"<AuditEvent {self.seq} {self.action}>"


class AuditHead(Base):
    """The chain's head (one row). Updating it first serializes writers on both databases,
    and it is the anchor against which a truncated tail is detected."""

    __tablename__ = "audit_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, info=not_personal())
    seq: Mapped[int] = mapped_column(BigInteger, default=0, info=not_personal())
    hash: Mapped[str] = mapped_column(String(64), info=not_personal())
