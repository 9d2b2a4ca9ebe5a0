# SPDX-License-Identifier: GPL-2.0-or-later
"""The figures of the home page (issue #6): today's punches, who is in, the terminals and
what needs a hand, and punches per hour (today) and per day (last 14 days).

Counts are range counts along ``ix_punches_occurred``, one per bar; what statistics must
leave out (punches of restricted employees, GDPR 18 and issue #7, and
quarantined punches) is counted through its own small indexes and subtracted, so a
dashboard over millions of punches reads only the days it shows.
"""

from __future__ import annotations

import bisect
import functools
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Select,
    and_,
    bindparam,
    func,
    or_,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import Session, aliased

from server.attendance.models import (
    CorrectionAction,
    CorrectionStatus,
    Punch,
    PunchCorrection,
    PunchStatus,
)
from server.auth.models import Role
from server.db import UTCDateTime, utcnow
from server.devices import distribution, operations
from server.devices.models import PinMapping
from server.employees.models import Employee, EmployeeStatus

# Names of who is in are for the people who manage them; others see the count (the page
# and the API alike).
SEE_PEOPLE = frozenset({Role.ADMIN, Role.HR_MANAGER, Role.HR_VIEWER})
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
    corrections_to_decide: int = 0  # punch corrections waiting for a second person (#7)

    @property
    def any(self) -> bool:
        return bool(
            self.clock_drift
            or self.failing
            or self.quarantined
            or self.unassigned_pins
            or self.failed_commands
            or self.corrections_to_decide
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


Range = tuple[datetime, datetime]

# What a count is of: every punch, or one of the two exceptions statistics leave out.
ALL, QUARANTINED, RESTRICTED = "all", "quarantined", "restricted"


def _restricted_ids(db: Session) -> list[int]:
    return list(db.scalars(select(Employee.id).where(Employee.restricted_at.is_not(None))))


def _condition(kind: str) -> tuple[ColumnElement[bool], ...]:
    if kind == QUARANTINED:
        return (Punch.status == operations.QUARANTINED,)
    if kind == RESTRICTED:
        # Inlined integers: a bound parameter per id and per range would run into
        # SQLite's limit on bound parameters with many restricted employees.
        ids: BindParameter[list[int]] = bindparam(
            "restricted_ids", expanding=True, literal_execute=True
        )
        return (Punch.employee_id.in_(ids), Punch.status == "ok")
    return ()


@functools.lru_cache(maxsize=32)
def _count_statement(kinds: tuple[str, ...]) -> Select[Any]:
    """One statement with a scalar subquery per range, each a walk along an index between
    two keys. That costs less than bucketing every row (a CASE over 64,000 rows took ten
    times as long on SQLite), and a round trip less per bar than a query each. Built once
    per shape: putting together 40 subqueries cost more than running them."""
    return select(
        *(
            select(func.count())
            .select_from(Punch)
            .where(
                Punch.occurred_at >= bindparam(f"lo{i}"),
                Punch.occurred_at < bindparam(f"hi{i}"),
                *_condition(kind),
            )
            .scalar_subquery()
            .label(f"r{i}")
            for i, kind in enumerate(kinds)
        )
    )


def _counts(
    db: Session, specs: Sequence[tuple[datetime, datetime, str]], restricted: Sequence[int] = ()
) -> list[int]:
    """Punches in each [lower, upper) of the given kind, in one statement."""
    if not specs:
        return []
    params: dict[str, Any] = {"restricted_ids": list(restricted)}
    for i, (lower, upper, _) in enumerate(specs):
        params[f"lo{i}"], params[f"hi{i}"] = lower, upper
    statement = _count_statement(tuple(kind for _, _, kind in specs))
    return [int(n or 0) for n in db.execute(statement, params).one()]


def bucket_counts(db: Session, bounds: Sequence[datetime]) -> list[int]:
    """Punches in each [bounds[i], bounds[i+1]), in one statement."""
    return _counts(db, [(lower, upper, ALL) for lower, upper in itertools.pairwise(bounds)])


def _newest_approved() -> Select[*tuple[Any, ...]]:
    """Each corrected punch's newest approved correction: its effective value (#7)."""
    return (
        select(
            PunchCorrection.punch_id.label("punch_id"),
            func.max(PunchCorrection.id).label("correction_id"),
        )
        .where(PunchCorrection.status == CorrectionStatus.APPROVED.value)
        .group_by(PunchCorrection.punch_id)
    )


def _in(column: Any, lower: datetime, upper: datetime) -> ColumnElement[bool]:
    return and_(column >= lower, column < upper)


def _corrected(db: Session, lower: datetime, upper: datetime) -> list[Any]:
    """Counted punches whose newest approved correction moved or voided them, recorded or
    corrected within [lower, upper): their recorded time and the corrected one (None
    when voided). Corrections are rare; this is a walk along their own table."""
    newest = _newest_approved().subquery("newest")
    fix = aliased(PunchCorrection, name="fix")
    void = fix.action == CorrectionAction.VOID.value
    return list(
        db.execute(
            select(
                Punch.employee_id,
                Punch.occurred_at.label("recorded"),
                fix.occurred_at,
                void.label("voided"),
            )
            .join(newest, newest.c.punch_id == Punch.id)
            .join(fix, fix.id == newest.c.correction_id)
            .where(
                Punch.status == PunchStatus.OK.value,
                or_(void, fix.occurred_at.is_not(None)),
                or_(_in(Punch.occurred_at, lower, upper), _in(fix.occurred_at, lower, upper)),
            )
        ).all()
    )


def counted_punches(db: Session, ranges: Sequence[Range], restricted: list[int]) -> list[int]:
    """Punches that count for statistics in each range: all, less quarantined ones, less
    those of restricted employees, each at its corrected time and voided ones left out.
    The exceptions are rare and have indexes of their own: the first statement also
    counts quarantined and restricted over the whole span, and they are bucketed only when
    the span holds any; corrections move their punches afterwards."""
    exceptions = [QUARANTINED, RESTRICTED] if restricted else [QUARANTINED]
    lowest, highest = min(r[0] for r in ranges), max(r[1] for r in ranges)
    first = _counts(
        db,
        [(lower, upper, ALL) for lower, upper in ranges]
        + [(lowest, highest, kind) for kind in exceptions],
        restricted,
    )
    counts, totals = first[: len(ranges)], first[len(ranges) :]
    for kind, total in zip(exceptions, totals, strict=True):
        if total:
            specs = [(lower, upper, kind) for lower, upper in ranges]
            for i, n in enumerate(_counts(db, specs, restricted)):
                counts[i] -= n
    left_out = frozenset(restricted)
    for row in _corrected(db, lowest, highest):
        if row.employee_id in left_out:
            continue
        corrected_at = None if row.voided else row.occurred_at
        for i, (lower, upper) in enumerate(ranges):
            if lower <= row.recorded < upper:
                counts[i] -= 1
            if corrected_at is not None and lower <= corrected_at < upper:
                counts[i] += 1
    return counts


def scoped_punches(db: Session, ranges: Sequence[Range], scope: frozenset[int]) -> list[int]:
    """:func:`counted_punches` for an account limited to some departments: only punches of
    their employees count (not restricted ones, not unassigned PINs, which belong to no
    department). One walk along the (employee, time) index per employee in scope, bucketed
    here; corrections move or void their punches afterwards, as for everyone."""
    lowest, highest = min(r[0] for r in ranges), max(r[1] for r in ranges)
    people = set(
        db.scalars(
            select(Employee.id).where(
                Employee.department_id.in_(sorted(scope)), Employee.restricted_at.is_(None)
            )
        )
    )
    counts = [0] * len(ranges)
    if not people:
        return counts
    runs = _contiguous_runs(ranges)
    for at in db.scalars(
        select(Punch.occurred_at).where(
            Punch.employee_id.in_(sorted(people)),
            Punch.status == PunchStatus.OK.value,
            _in(Punch.occurred_at, lowest, highest),
        )
    ):
        _bucket(counts, runs, at, 1)
    for row in _corrected(db, lowest, highest):
        if row.employee_id not in people:
            continue
        _bucket(counts, runs, row.recorded, -1)
        if not row.voided and row.occurred_at is not None:
            _bucket(counts, runs, row.occurred_at, 1)
    return counts


def _contiguous_runs(ranges: Sequence[Range]) -> list[tuple[int, list[datetime]]]:
    """The ranges as runs of adjacent ones: (index of the first, their boundaries)."""
    runs: list[tuple[int, list[datetime]]] = []
    for i, (lower, upper) in enumerate(ranges):
        if runs and runs[-1][1][-1] == lower:
            runs[-1][1].append(upper)
        else:
            runs.append((i, [lower, upper]))
    return runs


def _bucket(
    counts: list[int], runs: list[tuple[int, list[datetime]]], at: datetime, delta: int
) -> None:
    for first, bounds in runs:
        slot = bisect.bisect_right(bounds, at) - 1
        if 0 <= slot < len(bounds) - 1:
            counts[first + slot] += delta


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
    limit: int = WHO_IS_IN_SHOWN,
) -> tuple[list[Present], int]:
    """The ``limit`` employees who came in last among those whose last punch of the day
    put them at work (restricted and erased employees left out), and how many those are.

    The day's punches are materialized first, read along ``ix_punches_occurred``: left to
    itself, SQLite ranks them by walking the employee index over every punch ever made.
    Each counts with its corrected time and state; a voided punch does not count, and one
    corrected into the day does (#7)."""
    recorded = select(Punch.id, Punch.employee_id, Punch.punch_state, Punch.occurred_at)
    moved_in = select(PunchCorrection.punch_id).where(
        PunchCorrection.status == CorrectionStatus.APPROVED.value,
        _in(PunchCorrection.occurred_at, start, end),
    )
    candidates = union_all(
        recorded.where(_in(Punch.occurred_at, start, end), Punch.status == "ok"),
        recorded.where(
            Punch.id.in_(moved_in),
            ~_in(Punch.occurred_at, start, end),
            Punch.status == "ok",
        ),
    ).subquery("candidates")
    newest = _newest_approved().subquery("newest")
    fix = aliased(PunchCorrection, name="fix")
    occurred = func.coalesce(fix.occurred_at, candidates.c.occurred_at)
    todays = (
        select(
            candidates.c.id,
            candidates.c.employee_id,
            func.coalesce(fix.punch_state, candidates.c.punch_state).label("punch_state"),
            type_coerce(occurred, UTCDateTime).label("occurred_at"),
        )
        .outerjoin(newest, newest.c.punch_id == candidates.c.id)
        .outerjoin(fix, fix.id == newest.c.correction_id)
        .where(
            or_(fix.id.is_(None), fix.action != CorrectionAction.VOID.value),
            or_(fix.occurred_at.is_(None), _in(fix.occurred_at, start, end)),
        )
        .cte("todays")
        .prefix_with("MATERIALIZED")
    )
    last = (
        select(
            todays.c.employee_id,
            todays.c.punch_state,
            todays.c.occurred_at,
            func.row_number()
            .over(
                partition_by=todays.c.employee_id,
                order_by=(todays.c.occurred_at.desc(), todays.c.id.desc()),
            )
            .label("nth"),
        )
        .where(todays.c.employee_id.is_not(None))
        .subquery("last")
    )
    inside = (
        select(Employee, last.c.occurred_at, func.count().over().label("total"))
        .join(last, last.c.employee_id == Employee.id)
        .where(
            last.c.nth == 1,
            last.c.punch_state.in_(sorted(IN_STATES)),
            Employee.erased_at.is_(None),
            Employee.restricted_at.is_(None),
        )
        .order_by(last.c.occurred_at.desc(), Employee.id)
        .limit(limit)
    )
    if scope is not None:
        inside = inside.where(Employee.department_id.in_(sorted(scope)))
    rows = db.execute(inside).all()
    if not rows:
        return [], 0
    present = [Present(row.Employee, row.occurred_at) for row in rows]
    return present, int(rows[0].total)


def _quarantined(db: Session, scope: frozenset[int] | None) -> int:
    """Quarantined punches: all of them, or those of people in the account's departments."""
    if scope is None:
        return operations.count_quarantined(db)
    in_scope = set(db.scalars(select(Employee.id).where(Employee.department_id.in_(sorted(scope)))))
    # Quarantined punches are few and have a partial index of their own: read their
    # employees there and keep those in scope. Asking for the employees' punches first
    # walked every punch of the department (half a second with 5 million on SQLite).
    return sum(
        1
        for employee_id in db.scalars(
            select(Punch.employee_id).where(Punch.status == operations.QUARANTINED)
        )
        if employee_id in in_scope
    )


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

    hours = list(itertools.pairwise(_hour_bounds(start, end)))
    day_starts = [
        datetime.combine(local_today - timedelta(days=DAYS - 1 - i), time.min, tzinfo=zone)
        for i in range(DAYS)
    ]
    days = list(itertools.pairwise([*day_starts, end]))
    # Every bar of both charts in one statement (two more when the fortnight holds
    # quarantined punches or punches of restricted employees).
    counts = (
        counted_punches(db, hours + days, restricted)
        if scope is None
        else scoped_punches(db, hours + days, scope)
    )
    per_hour_counts, per_day_counts = counts[: len(hours)], counts[len(hours) :]
    per_hour = [
        Bucket(lower.astimezone(zone).strftime("%H"), lower.astimezone(zone), n)
        for (lower, _), n in zip(hours, per_hour_counts, strict=True)
    ]
    per_day = [
        Bucket(d.strftime("%m-%d"), d, n) for d, n in zip(day_starts, per_day_counts, strict=True)
    ]

    fleet = operations.fleet(db, now)
    alerts = Alerts(
        clock_drift=[t for t in fleet if t.clock_alert],
        failing=[t for t in fleet if t.terminal.consecutive_failures],
        quarantined=_quarantined(db, scope),
        # PINs nobody is mapped to belong to no department: an account limited to some
        # departments cannot map them, and is not told about them (as on the terminals page).
        unassigned_pins=0
        if scope is not None
        else db.scalar(
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

    pending = (
        select(func.count())
        .select_from(PunchCorrection)
        .join(Employee, Employee.id == PunchCorrection.employee_id)
        .where(
            PunchCorrection.status == CorrectionStatus.PROPOSED.value,
            Employee.erased_at.is_(None),
        )
    )
    if scope is not None:
        pending = pending.where(Employee.department_id.in_(sorted(scope)))
    alerts.corrections_to_decide = db.scalar(pending) or 0

    present, present_count = who_is_in(db, start, end, scope=scope)
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
        present=present,
        present_count=present_count,
        online=sum(1 for t in fleet if t.online),
        offline=sum(1 for t in fleet if not t.online and t.terminal.enabled),
        terminals=fleet,
        alerts=alerts,
        per_hour=per_hour,
        per_day=per_day,
    )
