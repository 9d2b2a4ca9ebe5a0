# SPDX-License-Identifier: GPL-2.0-or-later
"""partial index of quarantined punches

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-22 19:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

QUARANTINED = sa.text("status = 'quarantined'")


def upgrade() -> None:
    # A plain CREATE INDEX: no table rebuild of millions of punches on SQLite.
    op.create_index(
        "ix_punches_quarantined",
        "punches",
        ["occurred_at", "id"],
        unique=False,
        sqlite_where=QUARANTINED,
        postgresql_where=QUARANTINED,
    )


def downgrade() -> None:
    op.drop_index("ix_punches_quarantined", table_name="punches")
