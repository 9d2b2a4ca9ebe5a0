# SPDX-License-Identifier: GPL-2.0-or-later
"""The access package (GDPR 15 and 20, PIPL 45; C12), built from the personal-data inventory.

Every table whose columns declare a link to an employee contributes that employee's rows, so
a column added tomorrow appears in tomorrow's packages without anyone remembering it. What
never leaves: binary columns (template ciphertexts, wrapped keys, sealed secrets), credential
hashes, and other people's traces (the address and browser of the staff who looked);
biometric data is described by its metadata only.

An identifier is named beside it: an account by its display name and role, a terminal by its
name, serial and area, a consent by the notice's version, title and text. The package is
written in the employee's language (theirs, else the organization's default): the printable
page entirely, data.json's descriptions too, while data.json's keys and codes stay the same
in every language so a program can read it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from flask import Flask, current_app, has_app_context
from flask_babel import Babel, force_locale
from flask_babel import gettext as _
from jinja2 import Environment
from markupsafe import Markup, escape
from sqlalchemy import LargeBinary, Table, or_, select
from sqlalchemy.orm import Session

from server.api.models import ApiToken
from server.audit.services import Actor, record_event
from server.auth.models import Account
from server.db import Base, utcnow
from server.devices.models import CommandKind, CommandState, Terminal, TerminalCommand
from server.employees.models import Employee
from server.enrolment.models import BiometricTemplate
from server.errors import NotFoundError
from server.i18n import DEFAULT_LOCALE, TRANSLATIONS, compile_catalogs, normalize_locale
from server.inventory import Category, declaration
from server.navigation import ROLE_LABELS
from server.organization.models import Area, Department, OrganizationSettings
from server.privacy.models import BiometricNotice
from server.rights.catalog import (
    ACTOR_LABELS,
    AUTOMATED_DECISIONS,
    CATEGORY_LABELS,
    HOLDING_LABELS,
    NOTICES,
    RECIPIENTS,
    TABLE_LABELS,
    column_label,
)


def exportable(column: Any) -> bool:
    """Whether a column of a row about the employee goes into their package.

    Non-personal columns of such rows go too (when, which action, which terminal): they are
    the context that makes the personal ones readable. Never: binary columns (ciphertexts,
    wrapped keys, sealed secrets), hashes (passwords, the log's chain), and what the row
    holds about a Rollcall account rather than the employee (the IP address and browser of
    whoever looked), except the reference to the account, which the package names.
    """
    decl = declaration(column)
    if decl is None or isinstance(column.type, LargeBinary):
        return False
    if decl.subject == "account" and not column.foreign_keys:
        return False
    return not column.name.endswith("hash")


def subject_filter(table: Table) -> str | None:
    """The column of ``table`` that names the employee a row is about, from the inventory."""
    for column in table.columns:
        decl = declaration(column)
        if decl is None:
            continue
        if decl.subject == "self":
            return str(table.primary_key.columns.keys()[0])
        if decl.link_column:
            return decl.link_column
    return None


def _category(column: Any) -> Category:
    decl = declaration(column)
    return Category.NONE if decl is None else decl.category


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


_ISO_TIME = re.compile(r"^(\d{4}-\d\d-\d\d)T(\d\d:\d\d)(?::\d\d(?:\.\d+)?)?(\+00:00)?$")
_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
# Sections of the printable page in reading order; any other table follows these.
_ORDER = (
    "employees",
    "employee_areas",
    "pin_mappings",
    "punches",
    "punch_corrections",
    "punch_entries",
    "consents",
    "biometric_templates",
    "biometric_terminals",
    "data_keys",
    "subject_requests",
    "downloads",
    "erasure_runs",
    "terminal_commands",
    "audit_events",
    "punch_exports",
)
# Never on the printable page (they stay in data.json): the employee's own number, and the
# numbers the page shows by name beside them.
_HIDDEN = frozenset({"employee_id", "subject_employee_id", "actor_kind"})


def package_locale(db: Session, employee: Employee, requested: str | None = None) -> str:
    """The package's language: the one asked for, else the employee's, else the organization's.

    Tags as imported (``zh-CN``, ``zh_Hans``) are normalized; an unsupported one falls back.
    """
    chosen = normalize_locale(requested) or normalize_locale(employee.locale)
    if chosen:
        return chosen
    org = db.get(OrganizationSettings, 1)
    return (normalize_locale(org.default_locale) if org else None) or DEFAULT_LOCALE


@cache
def _offline_app() -> Flask:
    """A bare application to translate with outside a request (command line, jobs)."""
    compile_catalogs()
    app = Flask(__name__, template_folder=str(_TEMPLATES))
    app.config["BABEL_DEFAULT_LOCALE"] = DEFAULT_LOCALE
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)
    Babel(app)
    return app


@contextmanager
def in_language(locale: str) -> Iterator[Environment]:
    """Translate in ``locale`` meanwhile; yields the template environment to write with."""
    if has_app_context():
        with force_locale(locale):
            yield current_app.jinja_env
        return
    app = _offline_app()
    with app.app_context(), force_locale(locale):
        yield app.jinja_env


@dataclass
class AccessPackage:
    employee_id: int
    generated_at: dt.datetime
    locale: str
    # table -> rows of {column: value}
    data: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # table -> {column: category}
    categories: dict[str, dict[str, str]] = field(default_factory=dict)
    # columns that hold a number the package names beside it (shown by name on the page)
    resolved: set[str] = field(default_factory=set)
    employee_name: str = ""
    employee_code: str = ""

    def categories_present(self) -> set[Category]:
        found = {Category(c) for cols in self.categories.values() for c in cols.values()}
        return found - {Category.NONE}

    def to_json(self) -> bytes:
        with in_language(self.locale):
            present = sorted(self.categories_present(), key=list(Category).index)
            body = {
                "employee_id": self.employee_id,
                "generated_at": self.generated_at.isoformat(),
                "locale": self.locale,
                "data": self.data,
                "categories": self.categories,
                "about_your_data": {
                    c.value: {
                        "name": str(CATEGORY_LABELS[c]),
                        "purpose": str(NOTICES[c].purpose),
                        "legal_basis": str(NOTICES[c].legal_basis),
                        "source": str(NOTICES[c].source),
                        "retention": str(NOTICES[c].retention),
                    }
                    for c in present
                },
                "recipients": str(RECIPIENTS),
                "automated_decisions": str(AUTOMATED_DECISIONS),
                "labels": {
                    "tables": {t: str(TABLE_LABELS.get(t, t)) for t in self.data},
                    "columns": {
                        c: column_label(c) for cols in self.categories.values() for c in cols
                    },
                },
            }
        return json.dumps(body, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8")

    def csv_files(self) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        for table, rows in self.data.items():
            if not rows:
                continue
            buffer = io.StringIO()
            writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
            out[f"{table}.csv"] = buffer.getvalue().encode("utf-8")
        return out

    def _sections(self) -> list[dict[str, Any]]:
        tables = [t for t in _ORDER if t in self.data]
        tables += [t for t in self.data if t not in _ORDER]
        sections = []
        hidden = self.hidden_columns()
        for table in tables:
            rows = self.data[table]
            keys = [k for k in self.categories.get(table, {}) if k not in hidden]
            if rows:
                keys = [k for k in rows[0] if k in keys]
            shows = [_shows(k, next((r[k] for r in rows if r[k] is not None), None)) for k in keys]
            # Rows are written here rather than in the template: thousands of punches a second.
            body = "".join(
                "<tr>"
                + "".join(show(row[k]) for k, show in zip(keys, shows, strict=True))
                + "</tr>"
                for row in rows
            )
            sections.append(
                {
                    "table": table,
                    "title": str(TABLE_LABELS.get(table, table)),
                    "columns": [column_label(k) for k in keys],
                    "count": len(rows),
                    "rows": Markup(body),  # noqa: S704 (every value escaped by _shows)
                }
            )
        return sections

    def hidden_columns(self) -> set[str]:
        return set(_HIDDEN) | self.resolved

    def to_html(self) -> bytes:
        with in_language(self.locale) as env:
            about = [
                {
                    "category": str(CATEGORY_LABELS[c]),
                    "purpose": str(NOTICES[c].purpose),
                    "legal_basis": str(NOTICES[c].legal_basis),
                    "source": str(NOTICES[c].source),
                    "retention": str(NOTICES[c].retention),
                }
                for c in sorted(self.categories_present(), key=list(Category).index)
            ]
            page = env.get_template("rights/package.html").render(
                lang=self.locale.replace("_", "-"),
                generated=f"{self.generated_at:%Y-%m-%d %H:%M} UTC",
                employee_name=self.employee_name,
                employee_code=self.employee_code,
                about=about,
                recipients=str(RECIPIENTS),
                automated_decisions=str(AUTOMATED_DECISIONS),
                sections=self._sections(),
            )
        return page.encode("utf-8")

    def to_zip(self) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("data.json", self.to_json())
            archive.writestr("index.html", self.to_html())
            for name, content in self.csv_files().items():
                archive.writestr(f"csv/{name}", content)
        return buffer.getvalue()


def _td(text: str) -> str:
    cls = ' class="text"' if len(text) > 80 else ""
    return f"<td{cls}>{escape(text)}</td>"


def _shows(key: str, sample: Any) -> Callable[[Any], str]:
    """How the page shows a column's values (a table cell, escaped), in the current language.

    Chosen once per column: times in UTC by minute, roles and how a terminal holds a
    template in words, structures as JSON; codes stay as they are.
    """
    yes, no = str(_("Yes")), str(_("No"))
    time = isinstance(sample, str) and _ISO_TIME.match(sample) is not None

    def show(value: Any) -> str:
        if value is None:
            return "<td></td>"
        if isinstance(value, bool):
            return _td(yes if value else no)
        if isinstance(value, dict | list):
            return _td(json.dumps(value, ensure_ascii=False, sort_keys=True))
        if key.endswith("_role"):
            return _td(str(ROLE_LABELS.get(value, value)))
        if key == "how":
            return _td(str(HOLDING_LABELS.get(value, value)))
        text = str(value)
        if time and (m := _ISO_TIME.match(text)):
            return _td(f"{m[1]} {m[2]} UTC" if m[3] else f"{m[1]} {m[2]}")
        return _td(text)

    return show


# --------------------------------------------------------------------------- names
@dataclass
class _Names:
    """What the identifiers in the package point at, read once per package."""

    accounts: dict[int, tuple[str, str]] = field(default_factory=dict)  # (name, role)
    terminals: dict[int, Terminal] = field(default_factory=dict)
    areas: dict[int, str] = field(default_factory=dict)
    departments: dict[int, str] = field(default_factory=dict)
    notices: dict[int, BiometricNotice] = field(default_factory=dict)
    tokens: dict[int, int] = field(default_factory=dict)  # token id -> its account

    def terminal(self, terminal_id: Any) -> tuple[str | None, str | None, str | None]:
        t = self.terminals.get(terminal_id) if terminal_id is not None else None
        if t is None:
            return None, None, None
        area = self.areas.get(t.area_id) if t.area_id is not None else None
        return t.name, t.serial_number, area

    def actor(self, kind: str, account_id: int | None) -> tuple[str, str | None]:
        """Who made an entry of the operation log, in words, and their role if a person."""
        account = self.accounts.get(account_id) if account_id is not None else None
        if kind.startswith("token:"):
            owner = account or self.accounts.get(self.tokens.get(_int(kind[6:]) or -1, -1))
            if owner is not None:
                return _("API token of %(name)s", name=owner[0]), owner[1]
            return _("An API token"), None
        if account is not None:
            return account[0], account[1]
        if kind.startswith("terminal:"):
            serial = kind.removeprefix("terminal:")
            named = next((t.name for t in self.terminals.values() if t.serial_number == serial), "")
            return _("Terminal %(name)s (%(serial)s)", name=named, serial=serial), None
        if kind in ACTOR_LABELS:
            return str(ACTOR_LABELS[kind]), None
        return _("Rollcall (automatic: %(kind)s)", kind=kind), None


def _int(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def _read_names(
    db: Session,
    *,
    accounts: set[int],
    terminals: set[int],
    serials: set[str],
    areas: set[int],
    departments: set[int],
    notices: set[int],
    tokens: set[int],
) -> _Names:
    names = _Names()
    if tokens:
        owners = select(ApiToken.id, ApiToken.account_id).where(ApiToken.id.in_(tokens))
        names.tokens = {int(t): int(a) for t, a in db.execute(owners).all()}
        accounts |= set(names.tokens.values())
    if accounts:
        names.accounts = {
            i: (n, r)
            for i, n, r in db.execute(
                select(Account.id, Account.display_name, Account.role).where(
                    Account.id.in_(accounts)
                )
            ).all()
        }
    if terminals or serials:
        found = db.scalars(
            select(Terminal).where(
                or_(Terminal.id.in_(terminals), Terminal.serial_number.in_(serials))
            )
        ).all()
        names.terminals = {t.id: t for t in found}
        areas |= {t.area_id for t in found if t.area_id is not None}
    if areas:
        names.areas = dict(db.execute(select(Area.id, Area.name).where(Area.id.in_(areas))).all())
    if departments:
        names.departments = dict(
            db.execute(
                select(Department.id, Department.name).where(Department.id.in_(departments))
            ).all()
        )
    if notices:
        names.notices = {
            n.id: n
            for n in db.scalars(select(BiometricNotice).where(BiometricNotice.id.in_(notices)))
        }
    return names


def _references(table: Table) -> dict[str, str]:
    """The exported columns of ``table`` that point at something the package names."""
    out = {}
    for column in table.columns:
        for fk in column.foreign_keys:
            target = fk.column.table.name
            if target in ("accounts", "terminals", "areas", "departments", "biometric_notices"):
                out[column.name] = target
    return out


def _named_row(
    row: dict[str, Any], refs: dict[str, str], names: _Names, *, table: str
) -> dict[str, Any]:
    """``row`` with, after each reference, what it points at."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        out[key] = value
        target = refs.get(key)
        if target is None:
            continue
        base = key.removesuffix("_id")
        if table == "audit_events" and key == "actor_account_id":
            out["actor"], out["actor_role"] = names.actor(str(row.get("actor_kind")), value)
        elif target == "accounts":
            name, role = names.accounts.get(value, (None, None)) if value else (None, None)
            out[f"{base}_name"], out[f"{base}_role"] = name, role
        elif target == "terminals":
            t_name, serial, area = names.terminal(value)
            out[f"{base}_name"], out[f"{base}_serial"], out[f"{base}_area"] = t_name, serial, area
        elif target == "areas":
            out[f"{base}_name"] = names.areas.get(value) if value is not None else None
        elif target == "departments":
            out[f"{base}_name"] = names.departments.get(value) if value is not None else None
        else:
            notice = names.notices.get(value) if value is not None else None
            out[f"{base}_version"] = notice.version if notice else None
            out[f"{base}_title"] = notice.title if notice else None
            out[f"{base}_text"] = notice.body if notice else None
            out[f"{base}_sha256"] = notice.content_sha256 if notice else None
            out[f"{base}_published_at"] = (
                _plain(notice.published_at) if notice and notice.published_at else None
            )
    return out


# --------------------------------------------------------------------------- terminals
_HOLDING_COMMANDS = (
    CommandKind.PUT_USER,
    CommandKind.ENROL,
    CommandKind.DELETE_USER,
    CommandKind.DELETE_TEMPLATES,
)


def _holdings(db: Session, employee_id: int) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The employee's templates (metadata) and the terminal commands that moved them."""
    templates = db.execute(
        select(
            BiometricTemplate.kind,
            BiometricTemplate.template_index,
            BiometricTemplate.enrolled_at,
            BiometricTemplate.source_terminal_serial,
        )
        .where(BiometricTemplate.employee_id == employee_id)
        .order_by(BiometricTemplate.kind, BiometricTemplate.template_index)
    ).all()
    commands = db.execute(
        select(
            TerminalCommand.id,
            TerminalCommand.terminal_id,
            TerminalCommand.kind,
            TerminalCommand.finger,
            TerminalCommand.outcome,
            TerminalCommand.completed_at,
            TerminalCommand.created_at,
        )
        .where(
            TerminalCommand.employee_id == employee_id,
            TerminalCommand.state == CommandState.DONE,
            TerminalCommand.kind.in_([k.value for k in _HOLDING_COMMANDS]),
        )
        .order_by(TerminalCommand.id)
    ).all()
    return [tuple(t) for t in templates], [tuple(c) for c in commands]


_HOLDING_COLUMNS = (
    "kind",
    "template_index",
    "terminal_id",
    "terminal_name",
    "terminal_serial",
    "terminal_area",
    "how",
    "held_from",
    "held_until",
)


def biometric_terminals(
    templates: Iterable[tuple[Any, ...]], commands: Iterable[tuple[Any, ...]], names: _Names
) -> list[dict[str, Any]]:
    """Per template kind and index, each terminal that holds or held it, and from when to when.

    Read from where each template was enrolled and from the commands the terminals confirmed:
    a put of the user carries every fingerprint Rollcall held then, an enrolment captures one
    finger, a delete of the user or of templates ends the holding. Never the template itself.
    """
    templates = list(templates)
    by_serial = {t.serial_number: i for i, t in names.terminals.items()}
    # (when, order, terminal, what, kind, index); what: "enrolled", "sent" or "deleted"
    events: list[tuple[dt.datetime, int, Any, str, str | None, int | None]] = []
    for kind, index, enrolled_at, serial in templates:
        if serial:
            events.append((enrolled_at, 0, by_serial.get(serial, serial), "enrolled", kind, index))
    for cid, terminal_id, kind, finger, outcome, completed_at, created_at in commands:
        when = completed_at or created_at
        if kind == CommandKind.ENROL and finger is not None:
            events.append((when, cid, terminal_id, "enrolled", "finger", finger))
        elif kind == CommandKind.PUT_USER and not (outcome or {}).get("skipped"):
            for t_kind, index, enrolled_at, _serial in templates:
                if t_kind == "finger" and 0 <= index < 10 and enrolled_at <= when:
                    events.append((when, cid, terminal_id, "sent", t_kind, index))
        elif kind == CommandKind.DELETE_USER:
            events.append((when, cid, terminal_id, "deleted", None, None))
        elif kind == CommandKind.DELETE_TEMPLATES:
            events.append((when, cid, terminal_id, "deleted", "finger", finger))
    held: dict[tuple[Any, str, int], dict[str, Any]] = {}
    rows: list[dict[str, Any]] = []
    for when, _order, terminal, what, kind, index in sorted(events, key=lambda e: e[:2]):
        if what == "deleted":
            for key in [
                k
                for k in held
                if k[0] == terminal
                and (kind is None or k[1] == kind)
                and (index is None or k[2] == index)
            ]:
                held.pop(key)["held_until"] = _plain(when)
            continue
        if kind is None or index is None or (terminal, kind, index) in held:
            continue
        if isinstance(terminal, int):
            t_name, serial, area = names.terminal(terminal)
        else:  # enrolled at a terminal Rollcall no longer knows: its serial is all there is
            t_name, serial, area = None, terminal, None
        row = {
            "kind": kind,
            "template_index": index,
            "terminal_id": terminal if isinstance(terminal, int) else None,
            "terminal_name": t_name,
            "terminal_serial": serial,
            "terminal_area": area,
            "how": what,
            "held_from": _plain(when),
            "held_until": None,
        }
        held[(terminal, kind, index)] = row
        rows.append(row)
    return sorted(rows, key=lambda r: (r["kind"], r["template_index"], r["held_from"]))


# --------------------------------------------------------------------------- build
def build_access_package(
    db: Session, employee_id: int, *, actor: Actor, locale: str | None = None
) -> AccessPackage:
    """Every inventory-declared piece of data about the employee; the read is audited."""
    employee = db.get(Employee, employee_id)
    if employee is None:
        raise NotFoundError(_("No such employee."))
    package = AccessPackage(employee_id, utcnow(), package_locale(db, employee, locale))
    package.employee_name = employee.full_name
    package.employee_code = employee.employee_code
    references: dict[str, dict[str, str]] = {}
    for table in Base.metadata.sorted_tables:
        key = subject_filter(table)
        if key is None:
            continue
        columns = [c for c in table.columns if exportable(c)]
        if not columns:
            continue
        order = list(table.primary_key.columns) or columns[:1]
        rows = db.execute(
            select(*columns).where(table.c[key] == employee_id).order_by(*order)
        ).mappings()
        package.data[table.name] = [{k: _plain(v) for k, v in row.items()} for row in rows]
        package.categories[table.name] = {c.name: _category(c).value for c in columns}
        exported = {c.name for c in columns}
        references[table.name] = {c: t for c, t in _references(table).items() if c in exported}
    wanted: dict[str, set[Any]] = {
        t: set() for t in ("accounts", "terminals", "areas", "departments", "biometric_notices")
    }
    tokens: set[int] = set()
    for name, refs in references.items():
        for row in package.data[name]:
            for column, target in refs.items():
                if row[column] is not None:
                    wanted[target].add(row[column])
    for row in package.data.get("audit_events", []):
        kind = str(row.get("actor_kind") or "")
        if kind.startswith("token:") and (token := _int(kind[6:])) is not None:
            tokens.add(token)
    exports = _exports_including(db, employee)
    wanted["accounts"] |= {e["actor_account_id"] for e in exports if e["actor_account_id"]}
    for e in exports:
        if e["actor_kind"].startswith("token:") and (token := _int(e["actor_kind"][6:])):
            tokens.add(token)
    templates, commands = _holdings(db, employee_id)
    wanted["terminals"] |= {c[1] for c in commands}
    names = _read_names(
        db,
        accounts=wanted["accounts"],
        terminals=wanted["terminals"],
        serials={t[3] for t in templates if t[3]} | _terminal_actors(package),
        areas=wanted["areas"],
        departments=wanted["departments"],
        notices=wanted["biometric_notices"],
        tokens=tokens,
    )
    with in_language(package.locale):
        for name, refs in references.items():
            if not refs:
                continue
            package.resolved |= set(refs)
            named = [_named_row(r, refs, names, table=name) for r in package.data[name]]
            package.data[name] = named
            package.categories[name] = _named_categories(package.categories[name], refs, named)
        held = biometric_terminals(templates, commands, names)
    if exports:
        # Punch exports are about many people at once, so the log names none of them: each
        # whose filters may have held this employee's punches counts as an access (C10).
        shown: list[dict[str, Any]] = []
        for e in exports:
            who, role = names.actor(e["actor_kind"], e["actor_account_id"])
            shown.append(
                {"at": e["at"], "actor": who, "actor_role": role}
                | {"format": e["format"], "rows": e["rows"]}
            )
        package.data["punch_exports"] = shown
        package.categories["punch_exports"] = dict.fromkeys(
            package.data["punch_exports"][0], Category.ACTIVITY.value
        )
    if held or templates:
        package.data["biometric_terminals"] = held
        package.categories["biometric_terminals"] = dict.fromkeys(
            _HOLDING_COLUMNS, Category.BIOMETRIC.value
        )
        package.resolved.add("terminal_id")
    record_event(
        db,
        "rights.access_package_built",
        actor=actor,
        object_type="employee",
        object_id=employee_id,
        subject_employee_id=employee_id,
        details={"tables": len(package.data), "rows": sum(len(r) for r in package.data.values())},
    )
    return package


def _exports_including(db: Session, employee: Employee) -> list[dict[str, Any]]:
    """The punch exports in the operation log that may have held the employee's punches."""
    from server.attendance.services import export_may_include
    from server.audit.models import AuditEvent

    rows = db.execute(
        select(
            AuditEvent.at, AuditEvent.actor_kind, AuditEvent.actor_account_id, AuditEvent.details
        )
        .where(AuditEvent.action == "punch.exported")
        .order_by(AuditEvent.seq)
    ).all()
    out: list[dict[str, Any]] = []
    for at, kind, account, details in rows:
        found: dict[str, Any] = details if isinstance(details, dict) else {}
        if export_may_include(found, employee.id, employee.department_id):
            out.append(
                {
                    "at": _plain(at),
                    "actor_kind": str(kind or ""),
                    "actor_account_id": account,
                    "format": found.get("format"),
                    "rows": found.get("rows"),
                }
            )
    return out


def _terminal_actors(package: AccessPackage) -> set[str]:
    return {
        str(r["actor_kind"]).removeprefix("terminal:")
        for r in package.data.get("audit_events", [])
        if str(r.get("actor_kind") or "").startswith("terminal:")
    }


def _named_categories(
    categories: dict[str, str], refs: dict[str, str], rows: list[dict[str, Any]]
) -> dict[str, str]:
    """The categories of a table's columns, the added names taking their reference's."""
    if not rows:
        return categories
    out: dict[str, str] = {}
    origin = ""
    for key in rows[0]:
        if key in categories:
            origin = key
            out[key] = categories[key]
        else:
            out[key] = categories[origin] if origin in refs else Category.NONE.value
    return out
