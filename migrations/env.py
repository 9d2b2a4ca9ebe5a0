# SPDX-License-Identifier: GPL-2.0-or-later
"""Alembic environment: targets ``Base.metadata``; batch mode on SQLite."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.types import TypeDecorator

from server.db import make_engine
from server.models import Base

config = context.config
target_metadata = Base.metadata


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    # Revisions must not import app code that may change later: render our column types
    # as the plain SQLAlchemy types they store as.
    if type_ == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl!r}"
    return False


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        compare_server_default=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()
        if connection.dialect.name == "sqlite":
            # Rows the rebuilds left pointing nowhere would fail the upgrade (rolled back).
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"the upgrade broke foreign keys: {broken[:5]}")


def _run_sqlite(connection: Connection) -> None:
    """Batch mode rebuilds a table on SQLite (copy, drop, rename). With foreign keys
    enforced, dropping a table that other rows refer to (accounts, employees) fails, or
    would cascade: enforcement is off while the revisions run, as SQLite's documentation
    prescribes for schema changes, and every key is checked before the commit. The pragma
    has no effect inside a transaction, so it is set on the driver's connection first."""
    driver = connection.connection.driver_connection
    assert driver is not None  # noqa: S101 -- a live connection has its driver's
    if connection.in_transaction():
        connection.commit()  # the pragma must be issued between transactions
    driver.execute("PRAGMA foreign_keys=OFF")
    try:
        _run(connection)
    finally:
        if connection.in_transaction():
            connection.rollback()
        driver.execute("PRAGMA foreign_keys=ON")


def _run_connection(connection: Connection) -> None:
    if connection.dialect.name == "sqlite":
        _run_sqlite(connection)
    else:
        _run(connection)


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_connection(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.connect() as conn:
            _run_connection(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
