# SPDX-License-Identifier: GPL-2.0-or-later
"""API tokens (issue #6): stored as a SHA-256 of the token, never the token itself."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, UTCDateTime, utcnow
from server.inventory import Category, Erasure, not_personal, pd

# Tokens belong to an account: they go with it (and are kept no longer than its own record).
_RETENTION = "account_removed+6m"


def _credential() -> dict[str, object]:
    return pd(Category.CREDENTIAL, subject="account", retention=_RETENTION, erasure=Erasure.DELETE)


def _activity() -> dict[str, object]:
    return pd(Category.ACTIVITY, subject="account", retention=_RETENTION, erasure=Erasure.DELETE)


class ApiToken(Base):
    """A bearer token acting as its owner (role and department scope), read-only or not.

    ``prefix`` is the token's first characters (``rc_ro_`` or ``rc_rw_`` and a few random
    ones), enough to tell tokens apart in a list and in a leaked-secret scanner, never
    enough to use one.
    """

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, info=not_personal())
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True, info=_credential()
    )
    name: Mapped[str] = mapped_column(String(100), info=_credential())
    prefix: Mapped[str] = mapped_column(String(16), info=not_personal())
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, info=_credential())
    read_only: Mapped[bool] = mapped_column(Boolean, default=True, info=not_personal())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, info=_activity())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, info=_activity())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, info=not_personal())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, info=_activity())
    revoked_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), info=_activity()
    )

    def __repr__(self) -> str:
        return f"<ApiToken {self.id} {self.prefix}... {'ro' if self.read_only else 'rw'}>"

    def usable(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)
