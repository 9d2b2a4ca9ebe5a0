# SPDX-License-Identifier: GPL-2.0-or-later
"""terminal command outbox

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 14:06:57.979881
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "terminal_commands",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("terminal_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("employee_id", sa.Integer(), nullable=True),
        sa.Column("pin", sa.String(length=24), nullable=True),
        sa.Column("finger", sa.Integer(), nullable=True),
        sa.Column("cause", sa.String(length=32), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("outcome", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "kind IN ('put_user', 'delete_user', 'delete_templates', 'enrol', 'reconcile')",
            name=op.f("ck_terminal_commands_kind"),
        ),
        sa.CheckConstraint(
            "state IN ('pending', 'done', 'failed', 'superseded')",
            name=op.f("ck_terminal_commands_state"),
        ),
        sa.CheckConstraint(
            "finger IS NULL OR (finger >= 0 AND finger < 10)",
            name=op.f("ck_terminal_commands_finger_range"),
        ),
        sa.ForeignKeyConstraint(
            ["employee_id"],
            ["employees.id"],
            name=op.f("fk_terminal_commands_employee_id_employees"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["terminal_id"],
            ["terminals.id"],
            name=op.f("fk_terminal_commands_terminal_id_terminals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_terminal_commands")),
    )
    with op.batch_alter_table("terminal_commands", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_terminal_commands_employee_id"), ["employee_id"], unique=False
        )
        batch_op.create_index(
            "ix_terminal_commands_queue", ["terminal_id", "state", "id"], unique=False
        )
        batch_op.create_index("ix_terminal_commands_reference", ["reference"], unique=False)

    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("terminals_cleared_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.drop_column("terminals_cleared_at")

    with op.batch_alter_table("terminal_commands", schema=None) as batch_op:
        batch_op.drop_index("ix_terminal_commands_reference")
        batch_op.drop_index("ix_terminal_commands_queue")
        batch_op.drop_index(batch_op.f("ix_terminal_commands_employee_id"))

    op.drop_table("terminal_commands")
