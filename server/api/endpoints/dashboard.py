# SPDX-License-Identifier: GPL-2.0-or-later
"""The home page's figures (issue #6): today's punches, who is in, the terminals, what
needs a hand, and punches per hour and per day, from the same service as the page and
within the caller's department scope."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from server.api.blueprint import api
from server.api.registry import ref
from server.api.schemas import iso
from server.auth.models import Role
from server.dashboard import services
from server.i18n import select_timezone
from server.navigation import allowed
from server.web import ANY_ROLE, current_account, department_scope, get_session


def _bucket(b: services.Bucket) -> dict[str, Any]:
    return {"label": b.label, "start": iso(b.start), "count": b.count}


@api.route(
    "/dashboard",
    summary="Today's punches, who is in, terminals, alerts and charts",
    tag="dashboard",
    roles=ANY_ROLE,
    response=ref("Dashboard"),
)
def dashboard() -> Any:
    """Days and hours are the organization's. Who is in is named only for the roles that
    see names on the home page (administrators and HR); other roles get the count.
    Rights-request deadlines are null for roles that cannot open the request register."""
    db = get_session()
    account = current_account()
    zone = select_timezone()
    with_requests = allowed("rights.requests")
    board = services.build_dashboard(
        db, zone=ZoneInfo(zone), scope=department_scope(), with_requests=with_requests
    )
    see_people = account is not None and Role(account.role) in services.SEE_PEOPLE
    alerts = board.alerts
    return {
        "today": board.today.date().isoformat(),
        "timezone": zone,
        "punches_today": board.punches_today,
        "active_employees": board.active_employees,
        "present_count": board.present_count,
        "present": [
            {
                "employee_id": p.employee.id,
                "employee_code": p.employee.employee_code,
                "given_name": p.employee.given_name,
                "family_name": p.employee.family_name,
                "since": iso(p.since),
            }
            for p in board.present
        ]
        if see_people
        else None,
        "terminals": {
            "online": board.online,
            "offline": board.offline,
            "total": len(board.terminals),
        },
        "alerts": {
            "clock_drift": [t.terminal.id for t in alerts.clock_drift],
            "failing": [t.terminal.id for t in alerts.failing],
            "quarantined_punches": alerts.quarantined,
            "unassigned_pins": alerts.unassigned_pins,
            "failed_commands": alerts.failed_commands,
            "corrections_to_decide": alerts.corrections_to_decide,
            "overdue_requests": alerts.overdue_requests if with_requests else None,
            "requests_due_soon": alerts.requests_due_soon if with_requests else None,
        },
        "per_hour": [_bucket(b) for b in board.per_hour],
        "per_day": [_bucket(b) for b in board.per_day],
    }
