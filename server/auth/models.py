# SPDX-License-Identifier: GPL-2.0-or-later
"""Rollcall's own user accounts (HR admins, privacy officer, auditors)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Table,
)
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, UTCDateTime, utcnow
from server.inventory import Category, Erasure, not_personal, pd

_ACCOUNT = "account_removed+6m"


class Role(enum.StrEnum):
    ADMIN = "admin"
    HR_MANAGER = "hr_manager"
    HR_VIEWER = "hr_viewer"
    PRIVACY_OFFICER = "privacy_officer"
    AUDITOR = "auditor"


class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = (
        CheckConstraint(
            "role IN ('admin', 'hr_manager', 'hr_viewer', 'privacy_officer', 'auditor')",
            name="role",
        ),
    )

    id: Mapped[int] = mapped_column(
        Integer,
        primary_key=True,
        info=pd(Category.IDENTITY, subject="account", retention=_ACCOUNT, erasure=Erasure.NONE),
    )
    username: Mapped[str] = mapped_column(
        String(64),
        unique=True,
        info=pd(
            Category.IDENTITY, subject="account", retention=_ACCOUNT, erasure=Erasure.ANONYMIZE
        ),
    )
    display_name: Mapped[str] = mapped_column(
        String(200),
        info=pd(
            Category.IDENTITY, subject="account", retention=_ACCOUNT, erasure=Erasure.ANONYMIZE
        ),
    )
    # argon2id, PHC string format.
    password_hash: Mapped[str] = mapped_column(
        String(255),
        info=pd(
            Category.CREDENTIAL, subject="account", retention=_ACCOUNT, erasure=Erasure.ANONYMIZE
        ),
    )
    role: Mapped[str] = mapped_column(String(32), info=not_personal())
    active: Mapped[bool] = mapped_column(Boolean, default=True, info=not_personal())
    # Forces a new password at next sign-in (generated first-admin passwords).
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, info=not_personal())
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, info=not_personal())
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, info=not_personal())
    last_login_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime,
        info=pd(
            Category.ACTIVITY, subject="account", retention=_ACCOUNT, erasure=Erasure.ANONYMIZE
        ),
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, info=not_personal())
    # The interface language the account chose ("en", "zh_CN"); None follows the browser.
    locale: Mapped[str | None] = mapped_column(String(16), info=not_personal())
    # Biometric actions (enrol, distribute, delete templates) need this grant besides the
    # role (issue #6): an HR manager edits people without touching their templates.
    biometric_permission: Mapped[bool] = mapped_column(Boolean, default=False, info=not_personal())
    # Sessions live in signed cookies, which the server cannot take back one by one: a
    # session counts only while it carries this number, and signing out, a new password
    # or a deactivation moves it on, ending every copy of every session of the account.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, info=not_personal())

    def end_sessions(self) -> None:
        """Every session of the account ends at its next request (the caller commits)."""
        self.session_epoch = (self.session_epoch or 0) + 1

    def __repr__(self) -> str:
        return f"<Account {self.id} {self.role}>"


# Department scope of HR accounts (issue #6). An HR manager or viewer without rows sees every
# department; with rows, only those departments and the departments below them. A department
# in someone's scope cannot be deleted (RESTRICT): removing it must never widen that scope.
account_departments = Table(
    "account_departments",
    Base.metadata,
    Column(
        "account_id",
        ForeignKey("accounts.id", ondelete="CASCADE"),
        primary_key=True,
        info=not_personal(),
    ),
    Column(
        "department_id",
        ForeignKey("departments.id", ondelete="RESTRICT"),
        primary_key=True,
        index=True,
        info=not_personal(),
    ),
)


def _second_factor() -> dict[str, object]:
    return pd(Category.CREDENTIAL, subject="account", retention=_ACCOUNT, erasure=Erasure.DELETE)


class SecondFactor(Base):
    """An account's TOTP second factor (RFC 6238), optional per account (issue #6).

    The shared secret is sealed with the instance key (``server.sealing``, bound to the
    account), so a copy of the database alone does not yield it. Until ``confirmed_at`` is
    set (the first code typed back) it is an enrolment in progress and sign-in ignores it.
    ``last_step`` is the time step of the last accepted code: a code is accepted once.
    """

    __tablename__ = "account_second_factors"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True, info=_second_factor()
    )
    secret_sealed: Mapped[bytes] = mapped_column(LargeBinary, info=_second_factor())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, info=not_personal())
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, info=not_personal())
    last_step: Mapped[int | None] = mapped_column(Integer, info=not_personal())

    def __repr__(self) -> str:
        return f"<SecondFactor {self.account_id} {'on' if self.confirmed_at else 'pending'}>"


class RecoveryCode(Base):
    """A one-time code that stands in for a lost authenticator; only its SHA-256 is kept
    (the codes carry 80 random bits, so a fast hash is enough)."""

    __tablename__ = "account_recovery_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, info=not_personal())
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True, info=_second_factor()
    )
    code_hash: Mapped[str] = mapped_column(String(64), unique=True, info=_second_factor())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, info=not_personal())
