# SPDX-License-Identifier: GPL-2.0-or-later
"""The register of data-subject requests (#7, C15, C16)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, UTCDateTime, utcnow
from server.inventory import Category, Erasure, not_personal, pd

# Proof that requests were answered, and how, is kept three years after closing
# (privacy-capabilities.md §4), restricted to that purpose if the employee is erased.
_KEEP = "request_closed+3y"


def _req() -> dict[str, object]:
    return pd(
        Category.REQUEST,
        subject="link:employee_id",
        retention=_KEEP,
        erasure=Erasure.KEEP_RESTRICTED,
    )


class RequestKind(enum.StrEnum):
    ACCESS = "access"
    COPY = "copy"  # portability
    RECTIFICATION = "rectification"
    ERASURE = "erasure"
    RESTRICTION = "restriction"
    CONSENT_WITHDRAWAL = "consent_withdrawal"
    OBJECTION = "objection"


class RequestStatus(enum.StrEnum):
    RECEIVED = "received"
    IDENTITY_VERIFIED = "identity_verified"
    IN_PROGRESS = "in_progress"
    WAITING_FOR_TERMINALS = "waiting_for_terminals"
    EXTENDED = "extended"
    COMPLETED = "completed"
    REFUSED = "refused"

    @property
    def closed(self) -> bool:
        return self in (RequestStatus.COMPLETED, RequestStatus.REFUSED)


class RefusalReason(enum.StrEnum):
    """The legal grounds for not acting (GDPR 12(5), 17(3), 23; PIPL 18, 44-47; GB/T 35273
    §8.7). A closed list: a refusal without one of these is not accepted."""

    LEGAL_OBLIGATION = "legal_obligation"
    NATIONAL_SECURITY = "national_security"
    PUBLIC_SAFETY_OR_HEALTH = "public_safety_or_health"
    CRIMINAL_INVESTIGATION = "criminal_investigation"
    PROTECTION_OF_LIFE_OR_PROPERTY = "protection_of_life_or_property"
    ABUSE_OF_RIGHTS = "abuse_of_rights"  # manifestly unfounded or excessive
    HARM_TO_OTHERS_RIGHTS = "harm_to_others_rights"
    TRADE_SECRETS = "trade_secrets"


class IdentityMethod(enum.StrEnum):
    IN_PERSON = "in_person"  # badge or ID document seen by the admin
    KNOWN_CHANNEL = "known_channel"  # from the employee's registered e-mail or phone
    MANAGER_CONFIRMATION = "manager_confirmation"
    DOCUMENT = "document"


class SubjectRequest(Base):
    __tablename__ = "subject_requests"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('access', 'copy', 'rectification', 'erasure', 'restriction', "
            "'consent_withdrawal', 'objection')",
            name="kind",
        ),
        CheckConstraint(
            "status IN ('received', 'identity_verified', 'in_progress', "
            "'waiting_for_terminals', 'extended', 'completed', 'refused')",
            name="status",
        ),
        CheckConstraint(
            "status <> 'refused' OR (refusal_reason IS NOT NULL AND refusal_text IS NOT NULL)",
            name="refusal_has_reason",
        ),
        Index("ix_subject_requests_open_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, info=_req())
    employee_id: Mapped[int] = mapped_column(
        ForeignKey("employees.id", ondelete="RESTRICT"), index=True, info=_req()
    )
    kind: Mapped[str] = mapped_column(String(24), info=_req())
    status: Mapped[str] = mapped_column(String(24), default=RequestStatus.RECEIVED, info=_req())
    # The deadline profile in force when it was received; later changes do not move it.
    jurisdiction: Mapped[str] = mapped_column(String(16), info=not_personal())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, info=_req())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, info=_req())
    identity_method: Mapped[str | None] = mapped_column(String(24), info=_req())
    identity_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, info=_req())
    identity_verified_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), info=_req()
    )
    extended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, info=_req())
    extension_reason: Mapped[str | None] = mapped_column(Text, info=_req())
    # When the employee was told of the extension and why (must precede the first deadline).
    extension_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, info=_req())
    refusal_reason: Mapped[str | None] = mapped_column(String(40), info=_req())
    # The text the employee receives, with the complaint route.
    refusal_text: Mapped[str | None] = mapped_column(Text, info=_req())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, info=_req())
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), info=_req()
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, info=not_personal())

    def __repr__(self) -> str:
        return f"<SubjectRequest {self.id} {self.kind} {self.status}>"
