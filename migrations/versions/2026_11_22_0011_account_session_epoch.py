# SPDX-License-Identifier: GPL-2.0-or-later
"""account session epoch

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-22 23:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Sessions live in signed cookies: a session counts only while it carries the
    # account's current epoch, so signing out or a new password ends every copy of it.
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("session_epoch", sa.Integer(), nullable=False, server_default="0")
        )
    # The default only fills existing rows; the model sets the value for new ones.
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.alter_column("session_epoch", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("session_epoch")
