# SPDX-License-Identifier: GPL-2.0-or-later
"""Engine, sessions and the column types every model uses.

All dialect-specific code lives here: SQLite runs in WAL mode with foreign keys and a busy
timeout, and we emit ``BEGIN`` ourselves so that SAVEPOINTs and DDL are transactional on
Python 3.11's sqlite3 module. PostgreSQL needs nothing special.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    Dialect,
    Engine,
    Integer,
    MetaData,
    create_engine,
    event,
)
from sqlalchemy.engine import Connection, CursorResult
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

# Alembic and the reader of a schema dump see the same names on both databases.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a real BIGINT for the
# tables that grow by millions (punches, audit events).
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """An instant. Naive datetimes are refused; values come back aware, in UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime refused: instants must carry a time zone")
        value = value.astimezone(UTC)
        # SQLite has no zone-aware type: store naive UTC text, which also sorts correctly.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class LocalDateTime(TypeDecorator[datetime]):
    """A wall-clock reading as a terminal showed it: naive by definition, aware refused.

    Kept beside the UTC instant so that a punch can always be re-read as the device
    recorded it, whatever time zone it was later mapped with.
    """

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            raise ValueError("device local time must be naive (as the terminal reports it)")
        return value


def utcnow() -> datetime:
    return datetime.now(UTC)


def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    # BEGIN is ours (below), so pysqlite's own transaction handling must be off.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    for pragma in (
        "journal_mode=WAL",
        "foreign_keys=ON",
        "busy_timeout=20000",
        "synchronous=NORMAL",
        # 32 MiB of page cache per connection (default 2 MiB): bulk punch inserts touch
        # five B-trees of a table that grows by millions of rows.
        "cache_size=-32768",
        # Deleted rows are overwritten, not left in free pages: erasure must not be
        # undone by reading the database file (issue #7).
        "secure_delete=ON",
    ):
        cur.execute(f"PRAGMA {pragma}")
    cur.close()


def _sqlite_begin(conn: Connection) -> None:
    # IMMEDIATE takes the write lock up front, waiting up to busy_timeout for it. A deferred
    # transaction that reads and then writes fails at once with SQLITE_BUSY when another
    # writer committed in between (WAL snapshots cannot be upgraded), which under the web
    # server's threads plus the worker would turn into random errors. Readers are never
    # blocked in WAL mode. PostgreSQL is the path for more concurrent writers.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """The process's engine for ``url``, with Rollcall's dialect set-up applied."""
    if url.startswith("sqlite"):
        if ":memory:" in url or url in {"sqlite://", "sqlite:///"}:
            kwargs.setdefault("poolclass", StaticPool)
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 20})
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


# Tables up to this size are rewritten by reclaim_storage on PostgreSQL (VACUUM FULL).
REWRITE_LIMIT_BYTES = 256 * 1024 * 1024


def reclaim_storage(engine: Engine, tables: Sequence[str], *, attempts: int = 20) -> bool:
    """Make the database's files forget deleted and overwritten rows of ``tables`` (#7).

    SQLite (with ``secure_delete`` zeroing freed cells and pages): checkpoint the WAL into
    the database and truncate it, so no old page version survives in the log. PostgreSQL:
    ``VACUUM FULL`` rewrites each table and its indexes without dead row versions (a short
    exclusive lock per table; erasure touches small tables), a plain ``VACUUM`` for tables
    above :data:`REWRITE_LIMIT_BYTES`, then a
    ``CHECKPOINT`` when the role may. PostgreSQL's WAL segments are recycled by the server;
    archived WAL is a backup and is erased by replaying tombstones. Returns False when the
    database was too busy; callers try again later.
    """
    known = set(Base.metadata.tables)
    unknown = [t for t in tables if t not in known]
    if unknown:
        raise ValueError(f"not Rollcall tables: {unknown}")  # names are interpolated below
    if engine.dialect.name == "sqlite":
        raw = engine.raw_connection()  # autocommit: the pragma runs outside a transaction
        try:
            for _ in range(attempts):
                try:
                    row = raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                except sqlite3.OperationalError:
                    row = None
                if row is not None and row[0] == 0:
                    return True
                time.sleep(0.05)
            return False
        finally:
            raw.close()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("SET lock_timeout = '5s'")
        try:
            for table in tables:
                size = conn.exec_driver_sql(
                    "SELECT pg_total_relation_size(CAST(%(t)s AS regclass))", {"t": table}
                ).scalar()
                # Rewriting a big table (millions of punches) would lock it for minutes:
                # those get a plain VACUUM, which frees dead rows' space for reuse.
                full = "(FULL) " if (size or 0) <= REWRITE_LIMIT_BYTES else ""
                conn.exec_driver_sql(f'VACUUM {full}"{table}"')
        except OperationalError:
            return False  # a lock not granted in time: another transaction holds the table
        # Needs pg_checkpoint (PostgreSQL 15) or superuser; the server checkpoints anyway.
        with contextlib.suppress(DBAPIError):
            conn.exec_driver_sql("CHECKPOINT")
    return True


def rowcount(result: Any) -> int:
    """Rows matched by an UPDATE or DELETE: ``Session.execute`` is typed as returning a
    plain ``Result``, but DML returns a ``CursorResult``, which has the count."""
    return int(cast(CursorResult[Any], result).rowcount)


def make_sessionmaker(bind: Engine | Connection, **kwargs: Any) -> sessionmaker[Session]:
    # Relationships and foreign keys resolve only when every model is imported; a CLI
    # command or the worker may touch just a few of them directly.
    import server.models  # noqa: F401

    return sessionmaker(bind=bind, expire_on_commit=False, **kwargs)


def _bulk_converter(column: Any, dialect: str) -> Callable[[Any], Any]:
    """Turn a datetime into what the driver stores, with the column type's checks."""
    kind = column.type
    if isinstance(kind, UTCDateTime):
        last: list[Any] = [None, None]  # a batch repeats one value (received_at) per row

        def instant(value: Any) -> Any:
            if value is None:
                return None
            if value is last[0]:
                return last[1]
            given = value
            if value.tzinfo is not UTC:
                if value.tzinfo is None or value.utcoffset() is None:
                    raise ValueError(f"{column.name}: naive datetime refused")
                value = value.astimezone(UTC)
            if dialect == "sqlite":
                # Naive UTC text, as the column type stores it: cut the "+00:00".
                value = value.isoformat(sep=" ", timespec="microseconds")[:-6]
            last[0], last[1] = given, value
            return value

        return instant
    if isinstance(kind, LocalDateTime):

        def local(value: Any) -> Any:
            if value is None:
                return None
            if value.tzinfo is not None:
                raise ValueError(f"{column.name}: device local time must be naive")
            return (
                value.isoformat(sep=" ", timespec="microseconds") if dialect == "sqlite" else value
            )

        return local
    raise TypeError(f"{column.name}: use UTCDateTime or LocalDateTime in bulk inserts")


def insert_ignoring_conflicts(
    session: Session,
    table: Any,
    rows: Sequence[Mapping[str, Any]] | Sequence[Sequence[Any]],
    *,
    conflict_columns: Iterable[str],
    columns: Sequence[str] | None = None,
) -> int:
    """Bulk insert ``rows``, skipping those that collide on ``conflict_columns``.

    Returns how many rows were inserted. The same ``INSERT ... ON CONFLICT DO NOTHING`` on
    SQLite and PostgreSQL, so a replayed batch is a no-op on both. Hundreds of thousands of
    punches go through here, so it goes to the driver's ``executemany`` directly: values are
    converted (and instants checked) once per column here instead of through SQLAlchemy's
    per-value bind processing, and the driver's summed rowcount counts the inserts.
    """
    if not rows:
        return 0
    conn = session.connection()
    dialect = conn.dialect.name
    if dialect not in {"postgresql", "sqlite"}:
        raise NotImplementedError(f"bulk insert on {dialect}")
    # Rows are mappings, or sequences in the order of ``columns`` (cheaper to build).
    positional = columns is not None
    first = rows[0]
    names = list(columns) if columns is not None else list(cast(Mapping[str, Any], first))
    # Looking every name up in the table's metadata is also what keeps the SQL text below
    # free of anything but our own identifiers.
    table_columns = [table.c[name] for name in names]
    conflict = [table.c[name].name for name in conflict_columns]
    # Only datetimes need converting; other values go to the driver as they are (plain str,
    # int, bytes: pass an enum's ``.value``).
    converters = [
        (i, _bulk_converter(c, dialect))
        for i, c in enumerate(table_columns)
        if isinstance(c.type, (DateTime, Date, UTCDateTime, LocalDateTime))
    ]
    quote = conn.dialect.identifier_preparer.quote
    mark = "?" if dialect == "sqlite" else "%s"
    target, cols = quote(table.name), ", ".join(quote(n) for n in names)
    marks, keys = ", ".join(mark for _ in names), ", ".join(quote(n) for n in conflict)
    # Identifiers come from the table's metadata, quoted; every value is a parameter.
    sql = f"INSERT INTO {target} ({cols}) VALUES ({marks}) ON CONFLICT ({keys}) DO NOTHING"  # noqa: S608
    width = len(names)
    params = []
    for row in rows:
        if len(row) != width:
            raise ValueError("every row of a bulk insert names the same columns")
        if positional:
            values = list(cast(Sequence[Any], row))
        else:
            mapping = cast(Mapping[str, Any], row)
            values = [mapping[n] for n in names]
        for i, convert in converters:
            values[i] = convert(values[i])
        params.append(values)
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(sql, params)
        return int(cursor.rowcount)
    finally:
        cursor.close()
