# SPDX-License-Identifier: GPL-2.0-or-later
"""Leases: at most one worker syncs a terminal at a time, across processes and hosts.

A lease is claimed by a conditional UPDATE (free, or expired) and its rowcount: the same
statement on SQLite and PostgreSQL, no ``SELECT ... FOR UPDATE``. A worker renews while it
works; a dead worker's lease runs out and another takes the terminal over.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from server.db import rowcount
from server.devices.models import Terminal

LEASE_TTL = timedelta(minutes=5)


def claim(
    db: Session, terminal_id: int, worker: str, now: datetime, ttl: timedelta = LEASE_TTL
) -> bool:
    """Take the terminal's lease if it is free or expired; the caller commits at once."""
    free = or_(
        Terminal.lease_until.is_(None),
        Terminal.lease_until < now,
        Terminal.lease_owner == worker,
    )
    result = db.execute(
        update(Terminal)
        .where(Terminal.id == terminal_id, free)
        .values(lease_owner=worker, lease_until=now + ttl)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result) == 1


def renew(
    db: Session, terminal_id: int, worker: str, now: datetime, ttl: timedelta = LEASE_TTL
) -> bool:
    """Extend our own lease; False when it was lost (expired and taken by another)."""
    result = db.execute(
        update(Terminal)
        .where(Terminal.id == terminal_id, Terminal.lease_owner == worker)
        .values(lease_until=now + ttl)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result) == 1


def release(db: Session, terminal_id: int, worker: str) -> None:
    db.execute(
        update(Terminal)
        .where(Terminal.id == terminal_id, Terminal.lease_owner == worker)
        .values(lease_owner=None, lease_until=None)
        .execution_options(synchronize_session=False)
    )
