# SPDX-License-Identifier: GPL-2.0-or-later
"""The organization itself, its department tree and its areas."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db import Base, UTCDateTime, utcnow
from server.inventory import not_personal

JURISDICTIONS = ("gdpr", "pipl", "lgpd", "custom")


class OrganizationSettings(Base):
    """One row (id 1): what the data controller decided for this installation."""

    __tablename__ = "organization_settings"
    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint("minor_age BETWEEN 0 AND 21", name="minor_age_range"),
        CheckConstraint(
            "consent_refusal_action IN ('delete', 'report')", name="consent_refusal_action"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, info=not_personal())
    name: Mapped[str] = mapped_column(String(200), info=not_personal())
    default_timezone: Mapped[str] = mapped_column(String(64), info=not_personal())
    default_locale: Mapped[str] = mapped_column(String(16), default="en", info=not_personal())
    # Chooses the legal deadline profile for data-subject requests (issue #7).
    jurisdiction: Mapped[str] = mapped_column(String(16), default="gdpr", info=not_personal())
    # Below this age a guardian's consent is required before any biometric processing.
    minor_age: Mapped[int] = mapped_column(Integer, default=14, info=not_personal())
    biometrics_enabled: Mapped[bool] = mapped_column(Boolean, default=False, info=not_personal())
    # What the consent gate does with a template that arrives without consent.
    consent_refusal_action: Mapped[str] = mapped_column(
        String(16), default="delete", info=not_personal()
    )
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, info=not_personal()
    )


class Department(Base):
    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, info=not_personal())
    code: Mapped[str] = mapped_column(String(32), unique=True, info=not_personal())
    name: Mapped[str] = mapped_column(String(200), info=not_personal())
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="RESTRICT"), index=True, info=not_personal()
    )
    description: Mapped[str | None] = mapped_column(Text, info=not_personal())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, info=not_personal())

    parent: Mapped[Department | None] = relationship(remote_side=[id])

    def __repr__(self) -> str:
        return f"<Department {self.id} {self.code}>"


class Area(Base):
    """A place with terminals; employees of an area are distributed to its terminals."""

    __tablename__ = "areas"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, info=not_personal())
    code: Mapped[str] = mapped_column(String(32), unique=True, info=not_personal())
    name: Mapped[str] = mapped_column(String(200), info=not_personal())
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("areas.id", ondelete="RESTRICT"), index=True, info=not_personal()
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, info=not_personal())

    def __repr__(self) -> str:
        return f"<Area {self.id} {self.code}>"
