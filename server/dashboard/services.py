# SPDX-License-Identifier: GPL-2.0-or-later
"""The figures of the home page (issue #6): today's punches, who is in, the terminals and
what needs a hand, and punches per hour (today) and per day (last 14 days).

Counts are range scans of ``ix_punches_occurred`` bucketed in one statement per chart;
what statistics must leave out (punches of restricted employees, GDPR 18 and issue #7, and
quarantined punches) is counted through its own small indexes and subtracted, so a
dashboard over millions of punches reads only the days it shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.orm import Session

from server.attendance.models import Punch
from server.db import utcnow
from server.devices import distribution, operations
from server.devices.models import PinMapping
from server.employees.models import Employee, EmployeeStatus

# 0 check-in, 3 back from a break, 4 overtime in: the person is at work after these.
IN_STATES = frozenset({0, 3, 4})
DAYS = 14
WHO_IS_IN_SHOWN = 30


@dataclass(frozen=True, slots=True)
class Bucket:
    label: str
    start: datetime  # local
    count: int


@dataclass(frozen=True, slots=True)
class Present:
    employee: Employee
    since: datetime


@dataclass
class Alerts:
    clock_drift: list[operations.TerminalOverview] = field(default_factory=list)
    failing: list[operations.TerminalOverview] = field(default_factory=list)
    quarantined: int = 0
    unassigned_pins: int = 0
    failed_commands: int = 0
    overdue_requests: int = 0
    requests_due_soon: int = 0

    @property
    def any(self) -> bool:
        return bool(
            self.clock_drift
            or self.failing
            or self.quarantined
            or self.unassigned_pins
            or self.failed_commands
            or self.overdue_requests
            or self.requests_due_soon
        )


@dataclass
class Dashboard:
    today: datetime  # local midnight
    punches_today: int
    active_employees: int
    present: list[Present]
    present_count: int
    online: int
    offline: int
    terminals: list[operations.TerminalOverview]
    alerts: Alerts
    per_hour: list[Bucket]
    per_day: list[Bucket]


def _restricted_ids(db: Session) -> list[int]:
    return list(db.scalars(select(Employee.id).where(Employee.restricted_at.is_not(None))))


def bucket_counts(
    db: Session, bounds: Sequence[datetime], *where: ColumnElement[bool]
) -> list[int]:
    """Punches in each [bounds[i], bounds[i+1]) in one statement."""
    bucket = case(*((Punch.occurred_at < upper, i) for i, upper in enumerate(bounds[1:])), else_=-1)
    rows = db.execute(
        select(bucket, func.count())
        .where(Punch.occurred_at >= bounds[0], Punch.occurred_at < bounds[-1], *where)
        .group_by(bucket)
    ).all()
    counts = [0] * (len(bounds) - 1)
    for row in rows:
        index, count = int(row[0]), int(row[1])
        if 0 <= index < len(counts):
            counts[index] = count
    return counts


def counted_punches(db: Session, bounds: Sequence[datetime], restricted: list[int]) -> list[int]:
    """Punches that count for statistics: all, less quarantined ones, less those of
    restricted employees (each through an index of its own)."""
    counts = bucket_counts(db, bounds)
    for i, n in enumerate(bucket_counts(db, bounds, Punch.status == operations.QUARANTINED)):
        counts[i] -= n
    if restricted:
        held = bucket_counts(db, bounds, Punch.employee_id.in_(restricted), Punch.status == "ok")
        for i, n in enumerate(held):
            counts[i] -= n
    return counts


def _hour_bounds(start: datetime, end: datetime) -> list[datetime]:
    """Hour boundaries between two local midnights (23 or 25 on a DST change)."""
    bounds = []
    at = start.astimezone(ZoneInfo("UTC"))
    stop = end.astimezone(ZoneInfo("UTC"))
    while at < stop:
        bounds.append(at)
        at += timedelta(hours=1)
    bounds.append(stop)
    return bounds


def who_is_in(
    db: Session,
    start: datetime,
    end: datetime,
    *,
    scope: frozenset[int] | None,
    restricted: list[int],
) -> list[Present]:
    """Employees whose last punch today put them at work, newest arrival first."""
    today = and_(
        Punch.occurred_at >= start,
        Punch.occurred_at < end,
        Punch.employee_id.is_not(None),
        Punch.status == "ok",
    )
    latest = (
        select(Punch.employee_id.label("employee_id"), func.max(Punch.occurred_at).label("at"))
        .where(today)
        .group_by(Punch.employee_id)
        .subquery()
    )
    rows = db.execute(
        select(Punch.employee_id, Punch.punch_state, Punch.occurred_at).join(
            latest,
            and_(Punch.employee_id == latest.c.employee_id, Punch.occurred_at == latest.c.at),
        )
    ).all()
    inside = {r.employee_id: r.occurred_at for r in rows if r.punch_state in IN_STATES}
    for r in rows:  # two punches in the same second: an "out" among them wins
        if r.punch_state not in IN_STATES:
            inside.pop(r.employee_id, None)
    held = set(restricted)
    ids = [i for i in inside if i not in held]
    if not ids:
        return []
    query = select(Employee).where(Employee.id.in_(ids), Employee.erased_at.is_(None))
    if scope is not None:
        query = query.where(Employee.department_id.in_(sorted(scope)))
    people = list(db.scalars(query))
    return sorted((Present(e, inside[e.id]) for e in people), key=lambda p: p.since, reverse=True)


def build_dashboard(
    db: Session,
    *,
    zone: ZoneInfo,
    scope: frozenset[int] | None,
    with_requests: bool,
    now: datetime | None = None,
) -> Dashboard:
    now = now or utcnow()
    local_today = now.astimezone(zone).date()
    start = datetime.combine(local_today, time.min, tzinfo=zone)
    end = datetime.combine(local_today + timedelta(days=1), time.min, tzinfo=zone)
    restricted = _restricted_ids(db)

    hours = _hour_bounds(start, end)
    per_hour_counts = counted_punches(db, hours, restricted)
    per_hour = [
        Bucket(b.astimezone(zone).strftime("%H"), b.astimezone(zone), n)
        for b, n in zip(hours, per_hour_counts, strict=False)
    ]
    day_starts = [
        datetime.combine(local_today - timedelta(days=DAYS - 1 - i), time.min, tzinfo=zone)
        for i in range(DAYS)
    ]
    per_day_counts = counted_punches(db, [*day_starts, end], restricted)
    per_day = [
        Bucket(d.strftime("%m-%d"), d, n) for d, n in zip(day_starts, per_day_counts, strict=True)
    ]

    fleet = operations.fleet(db, now)
    alerts = Alerts(
        clock_drift=[t for t in fleet if t.clock_alert],
        failing=[t for t in fleet if t.terminal.consecutive_failures],
        quarantined=operations.count_quarantined(db),
        unassigned_pins=db.scalar(
            select(func.count()).select_from(PinMapping).where(PinMapping.employee_id.is_(None))
        )
        or 0,
        failed_commands=sum(s.failed for s in distribution.outbox_summary(db).values()),
    )
    if with_requests:
        from server.rights.services import deadlines

        due = deadlines(db, now)
        alerts.overdue_requests = sum(1 for d in due if d.overdue)
        alerts.requests_due_soon = sum(1 for d in due if not d.overdue)

    present = who_is_in(db, start, end, scope=scope, restricted=restricted)
    active = (
        select(func.count())
        .select_from(Employee)
        .where(
            Employee.status == EmployeeStatus.ACTIVE.value,
            Employee.erased_at.is_(None),
            Employee.restricted_at.is_(None),
        )
    )
    if scope is not None:
        active = active.where(Employee.department_id.in_(sorted(scope)))
    return Dashboard(
        today=start,
        punches_today=sum(per_hour_counts),
        active_employees=db.scalar(active) or 0,
        present=present[:WHO_IS_IN_SHOWN],
        present_count=len(present),
        online=sum(1 for t in fleet if t.online),
        offline=sum(1 for t in fleet if not t.online and t.terminal.enabled),
        terminals=fleet,
        alerts=alerts,
        per_hour=per_hour,
        per_day=per_day,
    )
