# SPDX-License-Identifier: GPL-2.0-or-later
"""Alembic revisions build exactly the models' schema, and each one goes up and down."""

from __future__ import annotations

from collections.abc import Callable

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

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
