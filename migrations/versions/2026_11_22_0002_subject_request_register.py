# SPDX-License-Identifier: GPL-2.0-or-later
"""subject request register

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 13:06:23.741296
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "subject_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("employee_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("jurisdiction", sa.String(length=16), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("identity_method", sa.String(length=24), nullable=True),
        sa.Column("identity_verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("identity_verified_by_id", sa.Integer(), nullable=True),
        sa.Column("extended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("extension_reason", sa.Text(), nullable=True),
        sa.Column("extension_notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refusal_reason", sa.String(length=40), nullable=True),
        sa.Column("refusal_text", sa.Text(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('access', 'copy', 'rectification', 'erasure', 'restriction', 'consent_withdrawal', 'objection')",
            name=op.f("ck_subject_requests_kind"),
        ),
        sa.CheckConstraint(
            "status <> 'refused' OR (refusal_reason IS NOT NULL AND refusal_text IS NOT NULL)",
            name=op.f("ck_subject_requests_refusal_has_reason"),
        ),
        sa.CheckConstraint(
            "status IN ('received', 'identity_verified', 'in_progress', 'waiting_for_terminals', 'extended', 'completed', 'refused')",
            name=op.f("ck_subject_requests_status"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["accounts.id"],
            name=op.f("fk_subject_requests_created_by_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["employee_id"],
            ["employees.id"],
            name=op.f("fk_subject_requests_employee_id_employees"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["identity_verified_by_id"],
            ["accounts.id"],
            name=op.f("fk_subject_requests_identity_verified_by_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subject_requests")),
    )
    with op.batch_alter_table("subject_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_subject_requests_employee_id"), ["employee_id"], unique=False
        )
        batch_op.create_index("ix_subject_requests_open_due", ["status", "due_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("subject_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_subject_requests_open_due")
        batch_op.drop_index(batch_op.f("ix_subject_requests_employee_id"))

    op.drop_table("subject_requests")
