# SPDX-License-Identifier: GPL-2.0-or-later
"""Biometric templates and the per-employee data keys that seal them (issue #5, C18/C19).

Templates sit in their own table with nothing beside them but the employee key: no names,
codes or PINs. Each employee's data key is wrapped by the key-encryption key kept outside
the database; deleting the wrapped key makes every copy of their templates unreadable,
backups included.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, UTCDateTime, utcnow
from server.inventory import Category, Erasure, not_personal, pd

# The earliest of purpose end (withdrawal or termination) + grace and last use + 3 years
# (BIPA); the retention engine computes the exact date, this names the governing event.
_TEMPLATE = "withdrawal+30d"


def _bio() -> dict[str, object]:
    return pd(
        Category.BIOMETRIC, subject="link:employee_id", retention=_TEMPLATE, erasure=Erasure.DELETE
    )


class DataKey(Base):
    __tablename__ = "data_keys"

    employee_id: Mapped[int] = mapped_column(
        ForeignKey("employees.id", ondelete="CASCADE"), primary_key=True, info=_bio()
    )
    # Which key-encryption key wrapped it; rotation re-wraps row by row.
    kek_id: Mapped[str] = mapped_column(String(32), index=True, info=_bio())
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary, info=_bio())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, info=_bio())

    def __repr__(self) -> str:
        return f"<DataKey employee={self.employee_id} kek={self.kek_id}>"


class BiometricTemplate(Base):
    __tablename__ = "biometric_templates"
    __table_args__ = (
        UniqueConstraint("employee_id", "kind", "template_index", name="uq_templates_slot"),
        CheckConstraint("kind IN ('finger', 'face')", name="kind"),
        CheckConstraint("template_index >= 0 AND template_index < 16", name="index_range"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, info=_bio())
    employee_id: Mapped[int] = mapped_column(
        ForeignKey("employees.id", ondelete="CASCADE"), index=True, info=_bio()
    )
    kind: Mapped[str] = mapped_column(String(8), info=_bio())
    # Finger 0-9 as terminals number them; face templates use 0.
    template_index: Mapped[int] = mapped_column(Integer, info=_bio())
    # Vendor algorithm version (e.g. ZKFinger 10), bound into the ciphertext's AAD.
    format_version: Mapped[str] = mapped_column(String(16), info=_bio())
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary, info=_bio())
    # Duress finger and similar per-template flags as terminals report them.
    flag: Mapped[int] = mapped_column(Integer, default=1, info=_bio())
    source_terminal_serial: Mapped[str | None] = mapped_column(String(64), info=_bio())
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, info=_bio())
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, info=not_personal()
    )

    def __repr__(self) -> str:  # never the template
        return f"<BiometricTemplate {self.id} {self.kind}#{self.template_index}>"
