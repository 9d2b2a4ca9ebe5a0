# SPDX-License-Identifier: GPL-2.0-or-later
"""Employees: the data subjects Rollcall exists to serve."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Table,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db import Base, UTCDateTime, utcnow
from server.inventory import Category, Erasure, not_personal, pd

# Profile data lives as long as the employment plus two years (the labour-law floor for time
# records in most of our jurisdictions), then goes; see privacy-capabilities.md §1.6.
_PROFILE = "employment_end+2y"


def age_on(date_of_birth: date | None, day: date) -> int | None:
    """Age in whole years on ``day``; None without a date of birth."""
    if date_of_birth is None:
        return None
    dob = date_of_birth
    return day.year - dob.year - ((day.month, day.day) < (dob.month, dob.day))


class EmployeeStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    TERMINATED = "terminated"


class VerifyMode(enum.StrEnum):
    """How the employee identifies at a terminal. Card and PIN are the no-detriment
    alternatives that consent withdrawal switches to (C2)."""

    FINGERPRINT = "fingerprint"
    FACE = "face"
    CARD = "card"
    PIN = "pin"


employee_areas = Table(
    "employee_areas",
    Base.metadata,
    Column(
        "employee_id",
        ForeignKey("employees.id", ondelete="CASCADE"),
        primary_key=True,
        info=pd(
            Category.EMPLOYMENT,
            subject="link:employee_id",
            retention=_PROFILE,
            erasure=Erasure.DELETE,
        ),
    ),
    Column(
        "area_id",
        ForeignKey("areas.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
        info=pd(
            Category.EMPLOYMENT,
            subject="link:employee_id",
            retention=_PROFILE,
            erasure=Erasure.DELETE,
        ),
    ),
)


class Employee(Base):
    __tablename__ = "employees"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'suspended', 'terminated')", name="status"),
        CheckConstraint(
            "verify_mode IN ('fingerprint', 'face', 'card', 'pin')", name="verify_mode"
        ),
        CheckConstraint(
            "termination_date IS NULL OR hire_date IS NULL OR termination_date >= hire_date",
            name="dates_in_order",
        ),
    )

    id: Mapped[int] = mapped_column(
        Integer,
        primary_key=True,
        info=pd(Category.IDENTITY, subject="self", retention=_PROFILE, erasure=Erasure.NONE),
    )
    # The organization's own employee number; also the default terminal PIN.
    employee_code: Mapped[str] = mapped_column(
        String(32),
        unique=True,
        info=pd(Category.IDENTITY, subject="self", retention=_PROFILE, erasure=Erasure.ANONYMIZE),
    )
    given_name: Mapped[str] = mapped_column(
        String(100),
        info=pd(Category.IDENTITY, subject="self", retention=_PROFILE, erasure=Erasure.ANONYMIZE),
    )
    family_name: Mapped[str] = mapped_column(
        String(100),
        info=pd(Category.IDENTITY, subject="self", retention=_PROFILE, erasure=Erasure.ANONYMIZE),
    )
    # Terminals show short names (8 bytes on black-and-white models, 24 on TFT).
    device_name: Mapped[str | None] = mapped_column(
        String(24),
        info=pd(Category.IDENTITY, subject="self", retention=_PROFILE, erasure=Erasure.ANONYMIZE),
    )
    # Needed for the minors rule (guardian consent below the configured age).
    date_of_birth: Mapped[date | None] = mapped_column(
        Date,
        info=pd(Category.IDENTITY, subject="self", retention=_PROFILE, erasure=Erasure.ANONYMIZE),
    )
    email: Mapped[str | None] = mapped_column(
        String(254),
        info=pd(Category.CONTACT, subject="self", retention=_PROFILE, erasure=Erasure.ANONYMIZE),
    )
    phone: Mapped[str | None] = mapped_column(
        String(40),
        info=pd(Category.CONTACT, subject="self", retention=_PROFILE, erasure=Erasure.ANONYMIZE),
    )
    # The language of the employee's access package and notices.
    locale: Mapped[str | None] = mapped_column(
        String(16),
        info=pd(Category.IDENTITY, subject="self", retention=_PROFILE, erasure=Erasure.ANONYMIZE),
    )
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="SET NULL"),
        index=True,
        info=pd(Category.EMPLOYMENT, subject="self", retention=_PROFILE, erasure=Erasure.ANONYMIZE),
    )
    hire_date: Mapped[date | None] = mapped_column(
        Date,
        info=pd(Category.EMPLOYMENT, subject="self", retention=_PROFILE, erasure=Erasure.ANONYMIZE),
    )
    termination_date: Mapped[date | None] = mapped_column(
        Date,
        info=pd(Category.EMPLOYMENT, subject="self", retention=_PROFILE, erasure=Erasure.ANONYMIZE),
    )
    status: Mapped[str] = mapped_column(
        String(16),
        default=EmployeeStatus.ACTIVE,
        index=True,
        info=pd(Category.EMPLOYMENT, subject="self", retention=_PROFILE, erasure=Erasure.ANONYMIZE),
    )
    verify_mode: Mapped[str] = mapped_column(
        String(16),
        default=VerifyMode.CARD,
        info=pd(Category.EMPLOYMENT, subject="self", retention=_PROFILE, erasure=Erasure.ANONYMIZE),
    )
    card_number: Mapped[str | None] = mapped_column(
        String(20),
        info=pd(Category.CREDENTIAL, subject="self", retention=_PROFILE, erasure=Erasure.ANONYMIZE),
    )
    # The password typed at a terminal's keypad, sealed with the instance key (never shown).
    device_password_sealed: Mapped[bytes | None] = mapped_column(
        LargeBinary,
        info=pd(Category.CREDENTIAL, subject="self", retention=_PROFILE, erasure=Erasure.ANONYMIZE),
    )
    # Terminal privilege: 0 user, 14 administrator (as the binary protocol encodes it).
    device_privilege: Mapped[int] = mapped_column(
        Integer,
        default=0,
        info=pd(Category.EMPLOYMENT, subject="self", retention=_PROFILE, erasure=Erasure.ANONYMIZE),
    )
    # Restriction (GDPR art. 18): stored only, excluded from reports and terminal pushes.
    restricted_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime,
        info=pd(Category.EMPLOYMENT, subject="self", retention=_PROFILE, erasure=Erasure.ANONYMIZE),
    )
    # Set by the erasure executor; the row stays as an anonymous anchor for kept punches.
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime, info=not_personal())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, info=not_personal())
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, info=not_personal()
    )

    department = relationship("Department")
    areas = relationship("Area", secondary=employee_areas)

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}".strip()

    def age_on(self, day: date) -> int | None:
        return age_on(self.date_of_birth, day)

    def __repr__(self) -> str:  # no names: reprs end up in logs
        return f"<Employee {self.id}>"
