# SPDX-License-Identifier: GPL-2.0-or-later
"""Alembic revisions build exactly the models' schema, and each one goes up and down."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, Integer, MetaData, Table, func, inspect, select

from server import migrate
from server.db import make_engine
from server.models import Base


def _diff(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, Base.metadata))


def test_an_empty_database_upgraded_to_head_matches_the_models(
    fresh_database: Callable[[], str],
) -> None:
    url = fresh_database()
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        assert _diff(engine) == []
        with engine.connect() as conn:
            assert migrate.current_revision(conn) == migrate.head_revision()
    finally:
        engine.dispose()


def test_every_revision_goes_down_and_up_again(fresh_database: Callable[[], str]) -> None:
    url = fresh_database()
    script = ScriptDirectory.from_config(migrate.alembic_config(url))
    revisions = list(script.walk_revisions("base", "heads"))[::-1]
    assert revisions, "no revisions"
    for rev in revisions:
        migrate.upgrade(url, rev.revision)
    engine = make_engine(url)
    try:
        for rev in reversed(revisions):
            down = rev.down_revision
            migrate.downgrade(url, down if isinstance(down, str) else "base")
            with engine.connect() as conn:
                assert migrate.current_revision(conn) == (down if isinstance(down, str) else None)
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        migrate.upgrade(url)
        assert _diff(engine) == []
    finally:
        engine.dispose()


def test_the_suite_database_was_built_by_migrations(engine: Engine) -> None:
    with engine.connect() as conn:
        assert migrate.current_revision(conn) == migrate.head_revision()


# Values for columns whose check constraints at the first revision allow only some.
_ALLOWED = {
    "role": "admin",
    "status": "ok",
    "verify_mode": "fingerprint",
    "transport": "tcp",
    "sync_interval_s": 60,
    "kind": "finger",
    "given_by": "employee",
    "method": "signed_paper",
    "source": "pull",
    "consent_refusal_action": "delete",
    "minor_age": 14,
    "template_index": 0,
}
_STATUS = {"employees": "active", "sync_runs": "ok", "punches": "ok"}


def _value(table: Table, column: Any) -> Any:
    if column.foreign_keys or (column.primary_key and isinstance(column.type, Integer)):
        return 1  # every table's first row: the row each reference points at
    if column.name == "status" and table.name in _STATUS:
        return _STATUS[table.name]
    if column.name in _ALLOWED:
        return _ALLOWED[column.name]
    if column.nullable:
        return None
    python = column.type.python_type
    if python is bool:
        return False
    if python is int:
        return 1
    if python is datetime:
        return datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    if python is date:
        return date(2026, 1, 5)
    if python is bytes:
        return b"\x00"
    if python in (dict, list):
        return {}
    return "x"


def test_a_database_holding_rows_upgrades_to_head_and_keeps_them(
    fresh_database: Callable[[], str],
) -> None:
    """An installation upgraded with data in it: revisions that rebuild a table on SQLite
    (accounts, employees) must not trip over the rows that refer to it."""
    url = fresh_database()
    script = ScriptDirectory.from_config(migrate.alembic_config(url))
    first = list(script.walk_revisions("base", "heads"))[-1]
    migrate.upgrade(url, first.revision)
    engine = make_engine(url)
    try:
        old = MetaData()
        old.reflect(engine)
        with engine.begin() as conn:
            for table in old.sorted_tables:
                if table.name == "alembic_version":
                    continue
                conn.execute(table.insert().values({c.name: _value(table, c) for c in table.c}))
        migrate.upgrade(url)
        assert _diff(engine) == []
        with engine.connect() as conn:
            for table in old.sorted_tables:
                if table.name != "alembic_version":
                    count = conn.execute(select(func.count()).select_from(table)).scalar_one()
                    assert count == 1, table.name
    finally:
        engine.dispose()
