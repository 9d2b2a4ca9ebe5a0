# SPDX-License-Identifier: GPL-2.0-or-later
"""Biometric privacy notices and the consents given against them (issue #5, C1, C3, C4)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, UTCDateTime, utcnow
from server.inventory import Category, Erasure, not_personal, pd

# Consent records prove lawfulness; they are kept three years past withdrawal, like other
# accountability records (PIPL 56 records, privacy-capabilities.md §4).
_CONSENT = "withdrawal+3y"


def _consent() -> dict[str, object]:
    return pd(
        Category.CONSENT,
        subject="link:employee_id",
        retention=_CONSENT,
        erasure=Erasure.KEEP_RESTRICTED,
    )


class ConsentMethod(enum.StrEnum):
    SIGNED_PAPER = "signed_paper"  # with a reference to the scanned form
    E_SIGNATURE = "e_signature"
    IN_PERSON = "in_person"


class BiometricNotice(Base):
    """A version of the biometric privacy notice. Published versions are immutable."""

    __tablename__ = "biometric_notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, info=not_personal())
    version: Mapped[int] = mapped_column(Integer, unique=True, info=not_personal())
    title: Mapped[str] = mapped_column(String(200), info=not_personal())
    body: Mapped[str] = mapped_column(Text, info=not_personal())
    retention_schedule: Mapped[str] = mapped_column(Text, info=not_personal())
    # SHA-256 of the published text; consent rows point at it.
    content_sha256: Mapped[str | None] = mapped_column(String(64), info=not_personal())
    effective_at: Mapped[datetime | None] = mapped_column(UTCDateTime, info=not_personal())
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, info=not_personal())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, info=not_personal())


class Consent(Base):
    """An employee's consent (or, for a minor, their guardian's) and its withdrawal."""

    __tablename__ = "consents"
    __table_args__ = (
        CheckConstraint("given_by IN ('employee', 'guardian')", name="given_by"),
        CheckConstraint("method IN ('signed_paper', 'e_signature', 'in_person')", name="method"),
        CheckConstraint(
            "given_by = 'employee' OR (guardian_name IS NOT NULL "
            "AND guardian_relation IS NOT NULL)",
            name="guardian_identified",
        ),
        Index("ix_consents_employee_notice", "employee_id", "notice_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, info=_consent())
    employee_id: Mapped[int] = mapped_column(
        ForeignKey("employees.id", ondelete="CASCADE"), info=_consent()
    )
    notice_id: Mapped[int] = mapped_column(
        ForeignKey("biometric_notices.id", ondelete="RESTRICT"), info=_consent()
    )
    given_by: Mapped[str] = mapped_column(String(16), default="employee", info=_consent())
    guardian_name: Mapped[str | None] = mapped_column(String(200), info=_consent())
    guardian_relation: Mapped[str | None] = mapped_column(String(50), info=_consent())
    given_at: Mapped[datetime] = mapped_column(UTCDateTime, info=_consent())
    method: Mapped[str] = mapped_column(String(16), info=_consent())
    # Where the evidence is: scan reference, e-signature id.
    evidence_ref: Mapped[str | None] = mapped_column(String(200), info=_consent())
    recorded_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), info=_consent()
    )
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime, info=_consent())
    withdrawal_method: Mapped[str | None] = mapped_column(String(16), info=_consent())
    withdrawal_evidence_ref: Mapped[str | None] = mapped_column(String(200), info=_consent())
    withdrawal_recorded_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), info=_consent()
    )
    # When every terminal confirmed deleting the templates: the withdrawal is open until then.
    terminals_cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime, info=_consent())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, info=not_personal())

    @property
    def active(self) -> bool:
        return self.withdrawn_at is None
