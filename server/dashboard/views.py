# SPDX-License-Identifier: GPL-2.0-or-later
"""The home page: today's punches and the state of the terminals at a glance."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select

from server.attendance.models import Punch
from server.devices.models import Terminal
from server.employees.models import Employee, EmployeeStatus
from server.organization.models import OrganizationSettings
from server.web import ANY_ROLE, get_session, require_role, settings

bp = Blueprint("dashboard", __name__)


@bp.get("/")
@require_role(*ANY_ROLE)
def index() -> ResponseReturnValue:
    db = get_session()
    org = db.get(OrganizationSettings, 1)
    zone = ZoneInfo(org.default_timezone if org else settings().timezone)
    today = datetime.now(zone).date()
    start = datetime.combine(today, time.min, tzinfo=zone)
    end = start + timedelta(days=1)
    punches_today = db.scalar(
        select(func.count())
        .select_from(Punch)
        .where(Punch.occurred_at >= start, Punch.occurred_at < end)
    )
    employees = db.scalar(
        select(func.count()).select_from(Employee).where(Employee.status == EmployeeStatus.ACTIVE)
    )
    terminals = db.scalar(select(func.count()).select_from(Terminal))
    return render_template(
        "dashboard/index.html",
        today=today,
        punches_today=punches_today or 0,
        employees=employees or 0,
        terminals=terminals or 0,
    )
