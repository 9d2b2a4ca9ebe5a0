# SPDX-License-Identifier: GPL-2.0-or-later
"""The register of data-subject requests (#7, C15, C16)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text
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
    # An extension is not a state: it is recorded by ``extended_at`` and leaves the request
    # where it was (an unverified request still needs its identity verified).
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
    # The requester could not be shown to be the employee (GB/T 35273 §8.7, GDPR 12(6)):
    # acting would disclose or destroy someone else's data.
    IDENTITY_NOT_VERIFIED = "identity_not_verified"


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
            "'waiting_for_terminals', 'completed', 'refused')",
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


class ErasureState(enum.StrEnum):
    RUNNING = "running"
    WAITING_FOR_TERMINALS = "waiting_for_terminals"
    COMPLETED = "completed"


def _erasure_pd() -> dict[str, object]:
    # The erasure's own record is proof that the request was answered: kept like the request.
    return pd(
        Category.REQUEST,
        subject="link:employee_id",
        retention=_KEEP,
        erasure=Erasure.KEEP_RESTRICTED,
    )


class ErasureRun(Base):
    """One erasure, executed step by step (#7).

    ``next_step`` is the checkpoint: each step does its work and moves it forward in one
    transaction, so a crash leaves a step either done and recorded or not done at all. The
    receipt holds identifiers and counts only.
    """

    __tablename__ = "erasure_runs"
    __table_args__ = (
        CheckConstraint("state IN ('running', 'waiting_for_terminals', 'completed')", name="state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, info=_erasure_pd())
    # NULL when an erasure is replayed after restoring a backup older than its request.
    request_id: Mapped[int | None] = mapped_column(
        ForeignKey("subject_requests.id", ondelete="RESTRICT"), unique=True, info=_erasure_pd()
    )
    employee_id: Mapped[int] = mapped_column(
        ForeignKey("employees.id", ondelete="RESTRICT"), index=True, info=_erasure_pd()
    )
    state: Mapped[str] = mapped_column(
        String(24), default=ErasureState.RUNNING, info=not_personal()
    )
    next_step: Mapped[int] = mapped_column(Integer, default=0, info=not_personal())
    # {"steps": [...], "tables": {table: {"action", "rows"}}, "terminals": {...}}
    receipt: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, info=not_personal())
    receipt_digest: Mapped[str | None] = mapped_column(String(64), info=not_personal())
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, info=_erasure_pd())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, info=_erasure_pd())
    started_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), info=_erasure_pd()
    )

    def __repr__(self) -> str:
        return f"<ErasureRun {self.id} step {self.next_step} {self.state}>"


class Download(Base):
    """A file produced for someone to fetch (access packages), behind an expiring token.

    Only a hash of the token is stored; every fetch is counted and in the operation log. The
    file goes when the link expires, or with the employee's erasure.
    """

    __tablename__ = "downloads"
    __table_args__ = (Index("ix_downloads_expires", "expires_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, info=_req())
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, info=not_personal())
    employee_id: Mapped[int] = mapped_column(
        ForeignKey("employees.id", ondelete="RESTRICT"), index=True, info=_req()
    )
    request_id: Mapped[int | None] = mapped_column(
        ForeignKey("subject_requests.id", ondelete="SET NULL"), info=_req()
    )
    kind: Mapped[str] = mapped_column(String(24), info=not_personal())
    # Under <data>/exports; named by ids, never by a name or code.
    filename: Mapped[str] = mapped_column(String(200), info=not_personal())
    content_type: Mapped[str] = mapped_column(String(100), info=not_personal())
    size: Mapped[int] = mapped_column(Integer, info=not_personal())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, info=_req())
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), info=_req()
    )
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, info=_req())
    fetch_count: Mapped[int] = mapped_column(Integer, default=0, info=not_personal())
    last_fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, info=_req())
    # When the file was removed (expiry or erasure); the row stays as proof of delivery.
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, info=not_personal())

    def __repr__(self) -> str:
        return f"<Download {self.id} {self.kind}>"
