# SPDX-License-Identifier: GPL-2.0-or-later
"""punch corrections, erasure runs and expiring downloads

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 18:41:35.343146
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "downloads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("employee_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fetch_count", sa.Integer(), nullable=False),
        sa.Column("last_fetched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["accounts.id"],
            name=op.f("fk_downloads_created_by_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["employee_id"],
            ["employees.id"],
            name=op.f("fk_downloads_employee_id_employees"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["subject_requests.id"],
            name=op.f("fk_downloads_request_id_subject_requests"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_downloads")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_downloads_token_hash")),
    )
    with op.batch_alter_table("downloads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_downloads_employee_id"), ["employee_id"], unique=False)
        batch_op.create_index("ix_downloads_expires", ["expires_at"], unique=False)

    op.create_table(
        "erasure_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("employee_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("next_step", sa.Integer(), nullable=False),
        sa.Column("receipt", sa.JSON(), nullable=False),
        sa.Column("receipt_digest", sa.String(length=64), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "state IN ('running', 'waiting_for_terminals', 'completed')",
            name=op.f("ck_erasure_runs_state"),
        ),
        sa.ForeignKeyConstraint(
            ["employee_id"],
            ["employees.id"],
            name=op.f("fk_erasure_runs_employee_id_employees"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["subject_requests.id"],
            name=op.f("fk_erasure_runs_request_id_subject_requests"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["started_by_id"],
            ["accounts.id"],
            name=op.f("fk_erasure_runs_started_by_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasure_runs")),
        sa.UniqueConstraint("request_id", name=op.f("uq_erasure_runs_request_id")),
    )
    with op.batch_alter_table("erasure_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_erasure_runs_employee_id"), ["employee_id"], unique=False
        )

    op.create_table(
        "punch_corrections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("punch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("employee_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("punch_state", sa.SmallInteger(), nullable=True),
        sa.Column("reason", sa.String(length=24), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "action <> 'amend' OR occurred_at IS NOT NULL OR punch_state IS NOT NULL",
            name=op.f("ck_punch_corrections_amend_changes_something"),
        ),
        sa.CheckConstraint("action IN ('amend', 'void')", name=op.f("ck_punch_corrections_action")),
        sa.CheckConstraint(
            "status = 'proposed' OR (decided_by_id IS NOT NULL AND decided_at IS NOT NULL)",
            name=op.f("ck_punch_corrections_decision_recorded"),
        ),
        sa.CheckConstraint(
            "status IN ('proposed', 'approved', 'rejected')",
            name=op.f("ck_punch_corrections_status"),
        ),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["accounts.id"],
            name=op.f("fk_punch_corrections_author_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["accounts.id"],
            name=op.f("fk_punch_corrections_decided_by_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["employee_id"],
            ["employees.id"],
            name=op.f("fk_punch_corrections_employee_id_employees"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["punch_id"],
            ["punches.id"],
            name=op.f("fk_punch_corrections_punch_id_punches"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["subject_requests.id"],
            name=op.f("fk_punch_corrections_request_id_subject_requests"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_punch_corrections")),
    )
    with op.batch_alter_table("punch_corrections", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_punch_corrections_employee_id"), ["employee_id"], unique=False
        )
        batch_op.create_index(
            "ix_punch_corrections_punch", ["punch_id", "status", "id"], unique=False
        )

    # ### end Alembic commands ###


def downgrade() -> None:
    with op.batch_alter_table("punch_corrections", schema=None) as batch_op:
        batch_op.drop_index("ix_punch_corrections_punch")
        batch_op.drop_index(batch_op.f("ix_punch_corrections_employee_id"))

    op.drop_table("punch_corrections")
    with op.batch_alter_table("erasure_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_erasure_runs_employee_id"))

    op.drop_table("erasure_runs")
    with op.batch_alter_table("downloads", schema=None) as batch_op:
        batch_op.drop_index("ix_downloads_expires")
        batch_op.drop_index(batch_op.f("ix_downloads_employee_id"))

    op.drop_table("downloads")
    # ### end Alembic commands ###
