# SPDX-License-Identifier: GPL-2.0-or-later
"""request extension is not a status

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-23 09:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WITH_EXTENDED = (
    "status IN ('received', 'identity_verified', 'in_progress', "
    "'waiting_for_terminals', 'extended', 'completed', 'refused')"
)
_WITHOUT_EXTENDED = (
    "status IN ('received', 'identity_verified', 'in_progress', "
    "'waiting_for_terminals', 'completed', 'refused')"
)


def upgrade() -> None:
    # An extension used to replace the request's status, losing whether the identity had
    # been verified and whether work had started (#7 review). It is kept by extended_at;
    # an "extended" request goes back to where it was: not verified -> received; started
    # (the operation log holds its request.started) -> in_progress; else identity_verified.
    op.execute(
        "UPDATE subject_requests SET status = CASE "
        "WHEN identity_verified_at IS NULL THEN 'received' "
        "WHEN EXISTS (SELECT 1 FROM audit_events a WHERE a.action = 'request.started' "
        "AND a.object_type = 'subject_request' "
        "AND a.object_id = CAST(subject_requests.id AS VARCHAR(64))) THEN 'in_progress' "
        "ELSE 'identity_verified' END "
        "WHERE status = 'extended'"
    )
    with op.batch_alter_table("subject_requests", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_subject_requests_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_subject_requests_status"), _WITHOUT_EXTENDED)


def downgrade() -> None:
    with op.batch_alter_table("subject_requests", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_subject_requests_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_subject_requests_status"), _WITH_EXTENDED)
