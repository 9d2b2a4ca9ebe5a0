# SPDX-License-Identifier: GPL-2.0-or-later
"""The personal-data inventory, declared in code beside every column (issue #2, C8).

Each column carries ``info={"pd": PersonalData(...)}`` saying what kind of personal data it
holds, how a row reaches its data subject, how long it may be kept and what erasure does to
it. Access packages, erasure and retention read this inventory; nothing keeps a second list.
``tests/test_inventory.py`` fails on any column of any table that does not declare itself.

Stores outside the database (key file, exports, logs, terminal memory) are declared in
:data:`EXTERNAL_STORES`.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, MetaData, Table


class Category(enum.StrEnum):
    """Personal-data categories (after fideslang's ``user.*`` taxonomy)."""

    IDENTITY = "identity"  # names, codes, date of birth: who the person is
    CONTACT = "contact"  # e-mail, phone
    EMPLOYMENT = "employment"  # department, dates, status
    ATTENDANCE = "attendance"  # punches and what is derived from them (user.workplace)
    BIOMETRIC = "biometric"  # templates and their keys (GDPR art. 9)
    CREDENTIAL = "credential"  # card numbers, device passwords, account password hashes
    CONSENT = "consent"  # consent and guardian records
    ACTIVITY = "activity"  # operation log about a person: sign-ins, views, IP addresses
    REQUEST = "request"  # data-subject requests and how they were answered
    NONE = "none"  # not personal data


class Erasure(enum.StrEnum):
    """What the erasure executor does to the column's value for an erased subject."""

    DELETE = "delete"  # the row goes
    ANONYMIZE = "anonymize"  # the value is overwritten; the row stays (e.g. for counts)
    KEEP_RESTRICTED = "keep-restricted"  # kept under a legal obligation until retention ends
    NONE = "none"  # nothing to do: not personal data, or removed with its row


# Who a row is about. "self": the row *is* the subject (employees). "link:<column>": the row
# belongs to the subject referenced by that column of the same table. "account": about a
# Rollcall user account (admins are data subjects too). "none": not about a person.
_SUBJECT = re.compile(r"^(self|none|account|link:[a-z_][a-z0-9_]*)$")

# Retention: "<event>+<duration>" or a fixed word. Events are what the retention engine
# (issue #7) knows how to date; durations are whole days, months or years.
RETENTION_EVENTS = frozenset(
    {
        "employment_end",  # termination date of the employee
        "record",  # the row's own creation time
        "withdrawal",  # consent withdrawal, or purpose end for templates
        "request_closed",  # a data-subject request's completion
        "account_removed",
    }
)
_RETENTION = re.compile(r"^(?P<event>[a-z_]+)\+(?P<n>\d+)(?P<unit>[dmy])$")
RETENTION_WORDS = frozenset({"with-row", "until-erased", "none"})


@dataclass(frozen=True, slots=True)
class PersonalData:
    category: Category
    subject: str
    retention: str
    erasure: Erasure

    def problems(self) -> list[str]:
        out: list[str] = []
        if not _SUBJECT.match(self.subject):
            out.append(f"subject {self.subject!r} is not self, none, account or link:<column>")
        if self.retention not in RETENTION_WORDS:
            m = _RETENTION.match(self.retention)
            if not m or m["event"] not in RETENTION_EVENTS:
                out.append(f"retention {self.retention!r} is not <event>+<N><d|m|y> or a word")
        if self.category is Category.NONE and self.erasure not in (Erasure.NONE,):
            out.append("a column that holds no personal data has nothing to erase")
        if self.category is not Category.NONE and self.subject == "none":
            out.append("personal data must say which subject it belongs to")
        if self.category is Category.BIOMETRIC and self.erasure is not Erasure.DELETE:
            # Templates are never needed to prove hours worked: no legal ground keeps them.
            out.append("biometric data can only be deleted on erasure")
        return out

    @property
    def link_column(self) -> str | None:
        return self.subject.removeprefix("link:") if self.subject.startswith("link:") else None


def pd(
    category: Category | str,
    *,
    subject: str,
    retention: str,
    erasure: Erasure | str,
) -> dict[str, Any]:
    """The ``info=`` of a column: ``mapped_column(..., info=pd("identity", ...))``."""
    return {
        "pd": PersonalData(
            category=Category(category),
            subject=subject,
            retention=retention,
            erasure=Erasure(erasure),
        )
    }


def not_personal() -> dict[str, Any]:
    """Shorthand for keys, counters and settings that describe no person."""
    return pd(Category.NONE, subject="none", retention="with-row", erasure=Erasure.NONE)


def declaration(column: Column[Any]) -> PersonalData | None:
    value = column.info.get("pd")
    return value if isinstance(value, PersonalData) else None


def inventory_problems(metadata: MetaData) -> list[str]:
    """Every column without a valid declaration, as ``table.column: reason``."""
    problems: list[str] = []
    for table in metadata.sorted_tables:
        for column in table.columns:
            decl = declaration(column)
            where = f"{table.name}.{column.name}"
            if decl is None:
                problems.append(f"{where}: no personal-data declaration (info=pd(...))")
                continue
            problems.extend(f"{where}: {p}" for p in decl.problems())
            link = decl.link_column
            if link is not None and link not in table.columns:
                problems.append(f"{where}: links to missing column {link!r}")
    return problems


def personal_columns(table: Table) -> list[tuple[Column[Any], PersonalData]]:
    """The columns of ``table`` that hold personal data, with their declarations."""
    out = []
    for column in table.columns:
        decl = declaration(column)
        if decl is not None and decl.category is not Category.NONE:
            out.append((column, decl))
    return out


@dataclass(frozen=True, slots=True)
class ExternalStore:
    """Personal data that lives outside the database, declared like a column."""

    name: str
    location: str
    category: Category
    retention: str
    erasure: Erasure
    note: str


EXTERNAL_STORES: tuple[ExternalStore, ...] = (
    ExternalStore(
        name="key-encryption key",
        location="<instance>/keys/kek.key (mode 0600) or ROLLCALL_KEK",
        category=Category.BIOMETRIC,
        retention="until-erased",
        erasure=Erasure.DELETE,
        note="Wraps every employee's data key; never stored in the database or its backups.",
    ),
    ExternalStore(
        name="terminal memory",
        location="each terminal's user table, templates and attendance log",
        category=Category.BIOMETRIC,
        retention="withdrawal+30d",
        erasure=Erasure.DELETE,
        note="Users, templates and punches on terminals; erased through the command outbox.",
    ),
    ExternalStore(
        name="exports",
        location="<instance>/data/exports",
        category=Category.ATTENDANCE,
        retention="record+30d",
        erasure=Erasure.DELETE,
        note="Generated CSV/XLSX/ZIP files; downloads expire.",
    ),
    ExternalStore(
        name="application log",
        location="standard error of rollcall-web and rollcall-worker (journald)",
        category=Category.ACTIVITY,
        retention="record+6m",
        erasure=Erasure.NONE,
        note="Identifiers only: no names, templates or free text about people are logged.",
    ),
)
