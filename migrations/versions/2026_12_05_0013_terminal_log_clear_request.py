# SPDX-License-Identifier: GPL-2.0-or-later
"""terminal log clear request

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 11:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # An erasure must leave nothing on a terminal, and a ZK terminal cannot delete one
    # person's attendance records: it asks for the log to be read and cleared once.
    for column in ("log_clear_requested_at", "log_cleared_at"):
        op.add_column("terminals", sa.Column(column, sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("terminals") as batch:
        batch.drop_column("log_cleared_at")
        batch.drop_column("log_clear_requested_at")
