# SPDX-License-Identifier: GPL-2.0-or-later
"""Reading punches page by page, entering one by hand, and exporting a filtered set (#6).

The browser pages with a keyset on (occurred_at, id), newest first: every page is one
range scan of ``ix_punches_occurred`` (or of the employee's or terminal's index when one
is chosen), however deep it is, with no OFFSET. Exports walk the same keyset in batches
up to the newest punch id seen when they were asked for, so the file holds exactly the
rows its audit entry counts, and memory stays flat. Restricted employees (GDPR 18) are
left out of exports (issue #7).

Corrections (#7) are shown beside the page's punches: the newest approved correction's
time and state, and a voided punch marked (exports leave voided punches out). A date range
selects by the corrected time: a punch whose correction moved it out of the range is left
out, one moved into it comes in (exports for a pay period hold what payroll must count).
Those few punches are found first in the corrections table, so the page's range scan stays
what it was; the moved-in ones come from their own small query, merged into the page in
(original time, id) order, so the keyset still walks every row exactly once.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from server.attendance.entries import ManualReason, PunchEntry
from server.attendance.models import (
    CorrectionAction,
    CorrectionStatus,
    Punch,
    PunchCorrection,
    PunchSource,
    PunchStatus,
)
from server.audit.services import Actor, is_identifier, record_event
from server.db import utcnow
from server.devices.models import Terminal
from server.employees.models import Employee
from server.errors import ConflictError, NotFoundError, ValidationError
from server.organization.models import Department

PAGE_SIZE = 50
EXPORT_BATCH = 5_000
NOTE_MAX = 500
# An employee filter matching more people than this asks for a narrower search.
PERSON_MATCH_LIMIT = 200
# The pseudo-terminal of punches entered by hand (part of the natural key).
MANUAL_SERIAL = "manual"
# 0 check-in, 1 check-out, 2 break-out, 3 break-in, 4 OT-in, 5 OT-out, 255 undefined.
PUNCH_STATES = (0, 1, 2, 3, 4, 5, 255)


class Direction(enum.StrEnum):
    OLDER = "older"
    NEWER = "newer"


@dataclass(frozen=True, slots=True)
class Cursor:
    """A position in the newest-first order: the (occurred_at, id) of a row."""

    occurred_at: datetime
    punch_id: int

    def encode(self) -> str:
        micros = int(self.occurred_at.timestamp() * 1_000_000)
        return f"{micros}.{self.punch_id}"

    @classmethod
    def decode(cls, value: str) -> Cursor:
        micros, sep, ident = value.partition(".")
        try:
            if not sep:
                raise ValueError(value)
            at = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(micros))
            return cls(at, int(ident))
        except (ValueError, OverflowError):
            raise ValidationError(
                _("That page link is damaged; start again from the first page."),
                details={"field": "cursor"},
            ) from None


@dataclass(frozen=True, slots=True)
class PunchFilters:
    """What to show. Ids are resolved (a department with its sub-departments); ``scope``
    is the account's department scope (None: unrestricted)."""

    employee_ids: tuple[int, ...] | None = None
    department_ids: frozenset[int] | None = None
    terminal_serial: str | None = None
    start: datetime | None = None  # inclusive, aware
    end: datetime | None = None  # exclusive, aware
    source: str | None = None
    status: str | None = None
    scope: frozenset[int] | None = None
    exclude_restricted: bool = False
    max_id: int | None = None  # exports: nothing newer than when they were asked for
    # Punches a correction moved into or out of [start, end): see :func:`resolve_moves`.
    moved_in: tuple[int, ...] = ()
    moved_out: tuple[int, ...] = ()

    def conditions(self, *, dated: bool = True) -> list[ColumnElement[bool]]:
        """The filters as SQL conditions; ``dated=False`` leaves the date range out (for
        the punches moved into it, selected by id)."""
        out: list[ColumnElement[bool]] = []
        if self.employee_ids is not None:
            out.append(Punch.employee_id.in_(self.employee_ids))
        for departments in (self.department_ids, self.scope):
            if departments is not None:
                # People without a department are outside every department filter and scope.
                out.append(
                    Punch.employee_id.in_(
                        select(Employee.id).where(Employee.department_id.in_(sorted(departments)))
                    )
                )
        if self.terminal_serial is not None:
            out.append(Punch.terminal_serial == self.terminal_serial)
        if dated and self.start is not None:
            out.append(Punch.occurred_at >= self.start)
        if dated and self.end is not None:
            out.append(Punch.occurred_at < self.end)
        if dated and self.moved_out:
            out.append(Punch.id.not_in(self.moved_out))
        if self.source is not None:
            out.append(Punch.source == self.source)
        if self.status is not None:
            out.append(Punch.status == self.status)
        if self.exclude_restricted:
            out.append(
                or_(
                    Punch.employee_id.is_(None),
                    Punch.employee_id.not_in(
                        select(Employee.id).where(Employee.restricted_at.is_not(None))
                    ),
                )
            )
        if self.max_id is not None:
            out.append(Punch.id <= self.max_id)
        return out

    def audit_details(self) -> dict[str, Any]:
        """The filters as identifiers for the operation log (no names, no search text)."""
        return {
            # Ids, so an employee's access package can tell which exports may have held
            # them; "many" when the list does not fit an operation-log value.
            "employees": _id_list(self.employee_ids),
            "departments": _id_list(self.department_ids),
            # The filter is typed by the user: only a serial's shape goes to the log (#6).
            "terminal": self.terminal_serial
            if self.terminal_serial is None or is_identifier(self.terminal_serial)
            else "not_a_serial",
            "from": self.start.isoformat() if self.start else None,
            "to": self.end.isoformat() if self.end else None,
            "source": self.source,
            "status": self.status,
            "scoped": self.scope is not None,
        }


def _id_list(ids: Iterable[int] | None, limit: int = 120) -> str | None:
    if ids is None:
        return None
    text = ",".join(map(str, sorted(ids)))
    return text if len(text) <= limit else "many"


def export_may_include(
    details: dict[str, Any], employee_id: int, department_id: int | None
) -> bool:
    """Whether a logged punch export (its ``details``) may have held this employee's
    punches: no person filter or one naming them, and no department filter or one holding
    their department. When the log cannot tell (a list too long to keep, an entry from
    before ids were kept), it may."""

    def holds(value: Any, wanted: int | None) -> bool:
        if value is None or not isinstance(value, str) or value == "many":
            return True
        return wanted is not None and str(wanted) in value.split(",")

    return holds(details.get("employees"), employee_id) and holds(
        details.get("departments"), department_id
    )


@dataclass(frozen=True, slots=True)
class PunchRow:
    """One punch as the browser and the exports show it."""

    id: int
    occurred_at: datetime  # effective (corrected) instant
    local_time: datetime  # the same, in the punch's time zone
    timezone: str
    terminal_serial: str
    pin: str
    employee_id: int | None
    punch_state: int  # effective
    verify_type: int
    source: str
    status: str
    quarantine_reason: str | None
    corrected: bool = False
    voided: bool = False
    original_occurred_at: datetime | None = None  # set when a correction moved it
    restricted: bool = False


@dataclass(slots=True)
class PunchPage:
    rows: list[PunchRow]
    older: Cursor | None  # where the next (older) page starts, if there is one
    newer: Cursor | None  # where the previous (newer) page ends, if there is one
    employees: dict[int, Employee] = field(default_factory=dict)
    departments: dict[int, Department] = field(default_factory=dict)
    terminals: dict[str, Terminal] = field(default_factory=dict)
    entries: dict[int, PunchEntry] = field(default_factory=dict)


_COLUMNS = (
    Punch.id,
    Punch.occurred_at,
    Punch.timezone,
    Punch.terminal_serial,
    Punch.pin,
    Punch.employee_id,
    Punch.punch_state,
    Punch.verify_type,
    Punch.source,
    Punch.status,
    Punch.quarantine_reason,
)


def _keyset(direction: Direction, cursor: Cursor | None) -> tuple[list[ColumnElement[bool]], Any]:
    """The range and order of one page. The first conjunct is a plain range on the index's
    leading column, which both databases use; the second breaks ties by id."""
    if direction is Direction.OLDER:
        order = (Punch.occurred_at.desc(), Punch.id.desc())
        if cursor is None:
            return [], order
        return [
            Punch.occurred_at <= cursor.occurred_at,
            or_(Punch.occurred_at < cursor.occurred_at, Punch.id < cursor.punch_id),
        ], order
    order = (Punch.occurred_at.asc(), Punch.id.asc())
    assert cursor is not None  # noqa: S101 -- a newer page always starts from a row
    return [
        Punch.occurred_at >= cursor.occurred_at,
        or_(Punch.occurred_at > cursor.occurred_at, Punch.id > cursor.punch_id),
    ], order


def _select(filters: PunchFilters) -> Select[*tuple[Any, ...]]:
    query = select(*_COLUMNS)
    conditions = filters.conditions()
    return query.where(and_(*conditions)) if conditions else query


def _select_moved_in(filters: PunchFilters) -> Select[*tuple[Any, ...]] | None:
    """The punches a correction moved into the date range, with every other filter."""
    if not filters.moved_in:
        return None
    return select(*_COLUMNS).where(Punch.id.in_(filters.moved_in), *filters.conditions(dated=False))


def _newest_approved() -> Select[*tuple[Any, ...]]:
    """The id of each corrected punch's newest approved correction (its effective one)."""
    return (
        select(func.max(PunchCorrection.id))
        .where(PunchCorrection.status == CorrectionStatus.APPROVED.value)
        .group_by(PunchCorrection.punch_id)
    )


def resolve_moves(db: Session, filters: PunchFilters) -> PunchFilters:
    """``filters`` with the punches whose effective (corrected) time crosses the date
    range: moved in (original outside, corrected inside) and moved out (the reverse)."""
    if filters.start is None and filters.end is None:
        return replace(filters, moved_in=(), moved_out=())

    def inside(column: Any) -> ColumnElement[bool]:
        bounds = []
        if filters.start is not None:
            bounds.append(column >= filters.start)
        if filters.end is not None:
            bounds.append(column < filters.end)
        return and_(*bounds)

    corrected, original = inside(PunchCorrection.occurred_at), inside(Punch.occurred_at)
    rows = db.execute(
        select(Punch.id, corrected)
        .join(PunchCorrection, PunchCorrection.punch_id == Punch.id)
        .where(
            PunchCorrection.id.in_(_newest_approved()),
            PunchCorrection.action == CorrectionAction.AMEND.value,
            PunchCorrection.occurred_at.is_not(None),
            or_(and_(corrected, ~original), and_(original, ~corrected)),
        )
        .order_by(Punch.id)
    ).all()
    return replace(
        filters,
        moved_in=tuple(r[0] for r in rows if r[1]),
        moved_out=tuple(r[0] for r in rows if not r[1]),
    )


def _page_rows(
    db: Session,
    filters: PunchFilters,
    keyset: list[ColumnElement[bool]],
    order: Any,
    limit: int,
    newest_first: bool,
) -> list[Any]:
    """Up to ``limit`` rows in keyset order: the range scan, and the moved-in punches
    merged in by (original time, id)."""
    raw = list(db.execute(_select(filters).where(*keyset).order_by(*order).limit(limit)).all())
    moved = _select_moved_in(filters)
    if moved is None:
        return raw
    raw += db.execute(moved.where(*keyset).order_by(*order).limit(limit)).all()
    raw.sort(key=lambda r: (r.occurred_at, r.id), reverse=newest_first)
    return raw[:limit]


def _corrections(db: Session, punch_ids: Sequence[int]) -> dict[int, PunchCorrection]:
    """The newest approved correction of each punch given (one query per page)."""
    if not punch_ids:
        return {}
    rows = db.scalars(
        select(PunchCorrection)
        .where(
            PunchCorrection.punch_id.in_(list(punch_ids)),
            PunchCorrection.status == CorrectionStatus.APPROVED.value,
        )
        .order_by(PunchCorrection.punch_id, PunchCorrection.id)
    )
    return {c.punch_id: c for c in rows}  # ordered by id: the newest wins


_ZONES: dict[str, ZoneInfo] = {}


def _zone(name: str) -> ZoneInfo:
    zone = _ZONES.get(name)
    if zone is None:
        try:
            zone = ZoneInfo(name)
        except (ValueError, KeyError):
            zone = ZoneInfo("UTC")
        _ZONES[name] = zone
    return zone


def _rows(
    raw: Sequence[Any], fixes: dict[int, PunchCorrection], restricted: frozenset[int]
) -> list[PunchRow]:
    out = []
    for r in raw:
        fix = fixes.get(r.id)
        occurred, state, original = r.occurred_at, r.punch_state, None
        voided = False
        if fix is not None:
            if fix.action == CorrectionAction.VOID.value:
                voided = True
            else:
                if fix.occurred_at is not None and fix.occurred_at != occurred:
                    occurred, original = fix.occurred_at, r.occurred_at
                if fix.punch_state is not None:
                    state = fix.punch_state
        out.append(
            PunchRow(
                id=r.id,
                occurred_at=occurred,
                local_time=occurred.astimezone(_zone(r.timezone)),
                timezone=r.timezone,
                terminal_serial=r.terminal_serial,
                pin=r.pin,
                employee_id=r.employee_id,
                punch_state=state,
                verify_type=r.verify_type,
                source=r.source,
                status=r.status,
                quarantine_reason=r.quarantine_reason,
                corrected=fix is not None,
                voided=voided,
                original_occurred_at=original,
                restricted=r.employee_id in restricted,
            )
        )
    return out


def browse_punches(
    db: Session,
    filters: PunchFilters,
    *,
    cursor: Cursor | None = None,
    direction: Direction = Direction.OLDER,
    limit: int = PAGE_SIZE,
) -> PunchPage:
    """One page of punches, newest first, with what the page needs to show them."""
    if direction is Direction.NEWER and cursor is None:
        direction = Direction.OLDER
    keyset, order = _keyset(direction, cursor)
    filters = resolve_moves(db, filters)
    raw = _page_rows(db, filters, keyset, order, limit + 1, direction is Direction.OLDER)
    more = len(raw) > limit
    raw = raw[:limit]
    if direction is Direction.NEWER:
        raw.reverse()
        has_newer, has_older = more, True
    else:
        has_newer, has_older = cursor is not None, more
    employee_ids = sorted({r.employee_id for r in raw if r.employee_id is not None})
    employees = (
        {e.id: e for e in db.scalars(select(Employee).where(Employee.id.in_(employee_ids)))}
        if employee_ids
        else {}
    )
    restricted = frozenset(e.id for e in employees.values() if e.restricted_at is not None)
    rows = _rows(raw, _corrections(db, [r.id for r in raw]), restricted)
    department_ids = sorted({e.department_id for e in employees.values() if e.department_id})
    departments = (
        {d.id: d for d in db.scalars(select(Department).where(Department.id.in_(department_ids)))}
        if department_ids
        else {}
    )
    serials = sorted({r.terminal_serial for r in rows})
    terminals = (
        {
            t.serial_number: t
            for t in db.scalars(select(Terminal).where(Terminal.serial_number.in_(serials)))
        }
        if serials
        else {}
    )
    manual = [r.id for r in rows if r.source == PunchSource.MANUAL.value]
    entries = (
        {
            e.punch_id: e
            for e in db.scalars(select(PunchEntry).where(PunchEntry.punch_id.in_(manual)))
        }
        if manual
        else {}
    )
    first = Cursor(raw[0].occurred_at, raw[0].id) if raw else None
    last = Cursor(raw[-1].occurred_at, raw[-1].id) if raw else None
    return PunchPage(
        rows=rows,
        older=last if has_older and raw else None,
        newer=first if has_newer and raw else None,
        employees=employees,
        departments=departments,
        terminals=terminals,
        entries=entries,
    )


def punch_row(db: Session, punch_id: int) -> PunchRow | None:
    """One punch as the browser shows it, with its effective (corrected) value."""
    raw = db.execute(select(*_COLUMNS).where(Punch.id == punch_id)).all()
    if not raw:
        return None
    employee = db.get(Employee, raw[0].employee_id) if raw[0].employee_id else None
    restricted = frozenset(
        {employee.id} if employee is not None and employee.restricted_at is not None else ()
    )
    return _rows(raw, _corrections(db, [punch_id]), restricted)[0]


# --------------------------------------------------------------------------- filters
def find_people(
    db: Session, text: str, *, scope: frozenset[int] | None, limit: int = PERSON_MATCH_LIMIT
) -> tuple[int, ...]:
    """Employees for a person filter: an exact employee code, else a part of the name
    (not erased, within scope). Raises when the text matches more than ``limit`` people."""
    text = text.strip()
    in_scope: list[ColumnElement[bool]] = [Employee.erased_at.is_(None)]
    if scope is not None:
        in_scope.append(Employee.department_id.in_(sorted(scope)))
    exact = db.scalar(select(Employee.id).where(Employee.employee_code == text, *in_scope))
    if exact is not None:
        return (exact,)
    pattern = "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    full_name = func.lower(Employee.given_name + " " + Employee.family_name)
    ids = db.scalars(
        select(Employee.id)
        .where(
            or_(
                full_name.like(pattern, escape="\\"),
                func.lower(Employee.employee_code).like(pattern, escape="\\"),
            ),
            *in_scope,
        )
        .order_by(Employee.id)
        .limit(limit + 1)
    ).all()
    if len(ids) > limit:
        raise ValidationError(
            _(
                "More than %(n)d people match; type more of the name or the employee code.",
                n=limit,
            ),
            details={"field": "person"},
        )
    return tuple(ids)


def day_range(
    start: date | None, end: date | None, zone: ZoneInfo
) -> tuple[datetime | None, datetime | None]:
    """Local days (inclusive) as instants: [start 00:00, day after end 00:00)."""
    if start is not None and end is not None and end < start:
        raise ValidationError(_("The end date is before the start date."), details={"field": "to"})
    begin = datetime.combine(start, time.min, tzinfo=zone) if start else None
    finish = datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone) if end else None
    return begin, finish


# --------------------------------------------------------------------------- manual punches
def enter_manual_punch(
    db: Session,
    *,
    employee_id: int,
    occurred_at: datetime,
    punch_state: int,
    reason: str,
    note: str | None,
    timezone: str,
    actor: Actor,
    now: datetime | None = None,
) -> Punch:
    """Add a punch typed in by HR (source ``manual``) with its reason; validated whole before
    anything is written. The reason code is in the operation log; the note is not."""
    now = now or utcnow()
    if occurred_at.tzinfo is None:
        raise ValidationError(_("The time must carry a time zone."), details={"field": "time"})
    if occurred_at > now:
        raise ValidationError(
            _("A punch cannot be entered in the future."), details={"field": "time"}
        )
    if punch_state not in PUNCH_STATES:
        raise ValidationError(
            _("Choose what the punch was (in, out, ...)."), details={"field": "state"}
        )
    try:
        reason = ManualReason(reason).value
    except ValueError:
        raise ValidationError(_("Choose a reason."), details={"field": "reason"}) from None
    note = (note or "").strip() or None
    if note is not None and len(note) > NOTE_MAX:
        raise ValidationError(
            _("The note is at most %(n)d characters.", n=NOTE_MAX), details={"field": "note"}
        )
    if reason == ManualReason.OTHER and note is None:
        raise ValidationError(
            _("Say why in the note when the reason is 'other'."), details={"field": "note"}
        )
    employee = db.get(Employee, employee_id)
    if employee is None or employee.erased_at is not None:
        raise NotFoundError(_("No such employee."))
    if employee.restricted_at is not None:
        raise ConflictError(
            _("Processing of this employee's data is restricted; no punch can be added."),
            details={"field": "employee"},
        )
    zone = _zone(timezone)
    device_time = occurred_at.astimezone(zone).replace(tzinfo=None, microsecond=0)
    occurred_at = device_time.replace(tzinfo=zone).astimezone(UTC)
    pin = employee.employee_code[:24]
    clash = db.scalar(
        select(Punch.id).where(
            Punch.terminal_serial == MANUAL_SERIAL,
            Punch.pin == pin,
            Punch.device_time == device_time,
        )
    )
    if clash is not None:
        raise ConflictError(
            _("This employee already has a manual punch at that second."),
            details={"field": "time"},
        )
    punch = Punch(
        terminal_serial=MANUAL_SERIAL,
        pin=pin,
        employee_id=employee.id,
        device_time=device_time,
        occurred_at=occurred_at,
        timezone=timezone,
        verify_type=0,
        punch_state=punch_state,
        work_code=0,
        source=PunchSource.MANUAL.value,
        status=PunchStatus.OK.value,
        received_at=now,
    )
    db.add(punch)
    db.flush()
    db.add(
        PunchEntry(
            punch_id=punch.id,
            employee_id=employee.id,
            reason=reason,
            note=note,
            author_id=actor.account_id,
            created_at=now,
        )
    )
    db.flush()
    record_event(
        db,
        "punch.manual_entered",
        actor=actor,
        object_type="punch",
        object_id=punch.id,
        subject_employee_id=employee.id,
        details={"reason": reason, "state": punch_state, "note": note is not None},
    )
    return punch


# --------------------------------------------------------------------------- exports
class ExportFormat(enum.StrEnum):
    CSV = "csv"
    XLSX = "xlsx"


# One worksheet holds 1,048,576 rows, the header included.
XLSX_MAX_ROWS = 1_048_575


@dataclass(frozen=True, slots=True)
class ExportPlan:
    filters: PunchFilters  # with ``max_id`` and ``exclude_restricted`` set
    format: ExportFormat
    rows: int


def plan_export(db: Session, filters: PunchFilters, *, fmt: str, actor: Actor) -> ExportPlan:
    """Fix the rows an export will hold (up to the newest punch now, restricted employees
    left out) and log the export: its filters and row count, never a name. The caller
    commits, then writes the file with :func:`export_rows`."""
    try:
        form = ExportFormat(fmt)
    except ValueError:
        raise ValidationError(_("Export as csv or xlsx."), details={"field": "format"}) from None
    newest = db.scalar(select(func.max(Punch.id))) or 0
    fixed = resolve_moves(db, replace(filters, exclude_restricted=True, max_id=newest))
    rows = 0
    selections = [fixed.conditions()]
    if fixed.moved_in:
        selections.append([Punch.id.in_(fixed.moved_in), *fixed.conditions(dated=False)])
    for conditions in selections:
        rows += db.scalar(select(func.count()).select_from(Punch).where(*conditions)) or 0
        rows -= (
            db.scalar(
                select(func.count())
                .select_from(Punch)
                .where(*conditions, Punch.id.in_(_voided_punches()))
            )
            or 0
        )
    if form is ExportFormat.XLSX and rows > XLSX_MAX_ROWS:
        raise ValidationError(
            _(
                "%(rows)d rows do not fit in one spreadsheet (%(max)d at most): narrow the"
                " filters or export CSV.",
                rows=rows,
                max=XLSX_MAX_ROWS,
            ),
            details={"rows": rows},
        )
    record_event(
        db,
        "punch.exported",
        actor=actor,
        object_type="punch_export",
        details={"format": form.value, "rows": rows, "up_to": newest, **fixed.audit_details()},
    )
    return ExportPlan(fixed, form, rows)


def _voided_punches() -> Select[*tuple[Any, ...]]:
    """Punches whose newest approved correction voids them."""
    return select(PunchCorrection.punch_id).where(
        PunchCorrection.id.in_(_newest_approved()),
        PunchCorrection.action == CorrectionAction.VOID.value,
    )


EXPORT_HEADER = (
    "punch_id",
    "local_time",
    "timezone",
    "utc_time",
    "employee_code",
    "given_name",
    "family_name",
    "department",
    "terminal",
    "pin",
    "state",
    "verify_type",
    "source",
    "status",
    "corrected",
    "original_utc_time",
)


def export_rows(
    db: Session,
    plan: ExportPlan,
    batch: int = EXPORT_BATCH,
    *,
    between_batches: Callable[[], None] | None = None,
) -> Iterator[tuple[Any, ...]]:
    """The export's rows, newest first, in batches of ``batch`` (flat memory).

    ``between_batches`` runs after each batch is read; the web view ends its read
    transaction there, so a long export never holds SQLite's lock against the worker."""
    try:
        yield from _export_batches(db, plan, batch, between_batches)
    finally:
        # The last (empty) read, or a download cut short, must not leave a transaction
        # open: on SQLite it would hold the write lock for as long as the session lives.
        if between_batches is not None:
            between_batches()


def _export_batches(
    db: Session,
    plan: ExportPlan,
    batch: int,
    between_batches: Callable[[], None] | None,
) -> Iterator[tuple[Any, ...]]:
    cursor: Cursor | None = None
    employees: dict[int, tuple[str, str, str, str]] = {}
    departments = {d.id: d.code for d in db.scalars(select(Department))}
    while True:
        keyset, order = _keyset(Direction.OLDER, cursor)
        raw = _page_rows(db, plan.filters, keyset, order, batch, newest_first=True)
        if not raw:
            return
        wanted = sorted(
            {r.employee_id for r in raw if r.employee_id is not None} - employees.keys()
        )
        if wanted:
            for e in db.scalars(select(Employee).where(Employee.id.in_(wanted))):
                employees[e.id] = (
                    e.employee_code,
                    e.given_name,
                    e.family_name,
                    departments.get(e.department_id, "") if e.department_id else "",
                )
        rows = _rows(raw, _corrections(db, [r.id for r in raw]), frozenset())
        cursor = Cursor(raw[-1].occurred_at, raw[-1].id)
        if between_batches is not None:
            between_batches()  # before yielding: nothing is held while the file is written
        for row in rows:
            if row.voided:
                continue
            code, given, family, dept = employees.get(row.employee_id or 0, ("", "", "", ""))
            yield (
                row.id,
                row.local_time.replace(tzinfo=None),
                row.timezone,
                row.occurred_at.replace(tzinfo=None),
                code,
                given,
                family,
                dept,
                row.terminal_serial,
                row.pin,
                row.punch_state,
                row.verify_type,
                row.source,
                row.status,
                row.corrected,
                row.original_occurred_at.replace(tzinfo=None) if row.original_occurred_at else None,
            )
        if len(employees) > 50_000:
            employees.clear()  # bounded memory on very large exports
