# SPDX-License-Identifier: GPL-2.0-or-later
"""index of due outbox commands

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 15:27:48.044765
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("terminal_commands", schema=None) as batch_op:
        batch_op.create_index(
            "ix_terminal_commands_due", ["state", "next_attempt_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("terminal_commands", schema=None) as batch_op:
        batch_op.drop_index("ix_terminal_commands_due")
