# SPDX-License-Identifier: GPL-2.0-or-later
"""manual punch entries and sync progress

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22 19:06:05.988333
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "punch_entries",
        sa.Column("punch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("employee_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=24), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "reason IN ('forgot_to_punch', 'terminal_fault', 'off_site', 'employee_request', 'other')",
            name=op.f("ck_punch_entries_reason"),
        ),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["accounts.id"],
            name=op.f("fk_punch_entries_author_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["employee_id"],
            ["employees.id"],
            name=op.f("fk_punch_entries_employee_id_employees"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["punch_id"],
            ["punches.id"],
            name=op.f("fk_punch_entries_punch_id_punches"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("punch_id", name=op.f("pk_punch_entries")),
    )
    with op.batch_alter_table("punch_entries", schema=None) as batch_op:
        batch_op.create_index("ix_punch_entries_employee", ["employee_id"], unique=False)

    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("progress_phase", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("progress_done", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("progress_total", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.drop_column("progress_total")
        batch_op.drop_column("progress_done")
        batch_op.drop_column("progress_phase")

    with op.batch_alter_table("punch_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_punch_entries_employee")

    op.drop_table("punch_entries")
