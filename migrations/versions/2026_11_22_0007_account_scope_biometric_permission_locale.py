# SPDX-License-Identifier: GPL-2.0-or-later
"""account department scope, biometric permission and locale

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 18:56:15.036527
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "account_departments",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_account_departments_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_account_departments_department_id_departments"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("account_id", "department_id", name=op.f("pk_account_departments")),
    )
    with op.batch_alter_table("account_departments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_account_departments_department_id"), ["department_id"], unique=False
        )

    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("locale", sa.String(length=16), nullable=True))
        batch_op.add_column(
            sa.Column(
                "biometric_permission", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )

    # The default only fills existing rows; the model sets the value for new ones.
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.alter_column("biometric_permission", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("biometric_permission")
        batch_op.drop_column("locale")

    with op.batch_alter_table("account_departments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_departments_department_id"))

    op.drop_table("account_departments")
