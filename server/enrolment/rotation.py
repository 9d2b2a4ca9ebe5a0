# SPDX-License-Identifier: GPL-2.0-or-later
"""Rotating the instance key-encryption key (``rollcall keys rotate``, issue #5, C18).

The key file moves through three names beside it, so every step can be re-run after a crash:

* ``<key>.new`` - the new key, created on the first run and reused by every re-run;
* ``<key>`` - the key in use; replaced by the new one, atomically, only once nothing in the
  database depends on the old one any more (every DEK re-wrapped, every comm key re-sealed);
* ``<key>.old`` - the previous key, kept until the administrator confirms with ``--finish``
  that the new key works (and backups made with it exist); ``--finish`` deletes it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from biometrics.errors import RotationError
from biometrics.keys import KeyEncryptionKey, generate_key_file, load_key_file
from biometrics.rotation import DEFAULT_BATCH, RotationProgress, rotate_kek
from server.audit.services import Actor, record_event
from server.devices.models import Terminal
from server.enrolment.models import DataKey
from server.enrolment.services import DbDekStore
from server.sealing import SealError, open_secret, seal_secret, sealed_kek_id

COMM_KEY_PURPOSE = "comm-key"  # as terminals/connect.py seals and opens them


@dataclass(frozen=True, slots=True)
class KeyPaths:
    current: Path
    new: Path
    old: Path

    @classmethod
    def beside(cls, key_file: Path) -> KeyPaths:
        return cls(
            current=key_file,
            new=key_file.with_name(key_file.name + ".new"),
            old=key_file.with_name(key_file.name + ".old"),
        )


@dataclass(frozen=True, slots=True)
class KeyRotationResult:
    """What one run did; ``swapped`` when the new key is now the key in use."""

    old_kek_id: str
    new_kek_id: str
    rewrapped: int
    resealed: int
    remaining: int
    failed_employees: tuple[int, ...]
    failed_terminals: tuple[str, ...]
    swapped: bool


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def awaiting_finish(paths: KeyPaths) -> bool:
    """True when a rotation swapped the keys and the old one waits for ``--finish``."""
    return paths.old.exists() and not paths.new.exists()


def _complete_interrupted_swap(paths: KeyPaths) -> bool:
    # Crash between linking <key>.old and replacing <key>: both spare names exist and <key>
    # is still the old key. Finish the replace; nothing else is needed.
    if not (paths.old.exists() and paths.new.exists()):
        return False
    if load_key_file(paths.current).key_id != load_key_file(paths.old).key_id:
        raise RotationError(
            f"{paths.old} and {paths.new} both exist but {paths.current} is neither; "
            "inspect them by hand"
        )
    os.replace(paths.new, paths.current)
    _fsync_dir(paths.current.parent)
    return True


def _reseal_comm_keys(
    db: Session, *, old: KeyEncryptionKey, new: KeyEncryptionKey
) -> tuple[int, list[str]]:
    resealed, failed = 0, []
    rows = db.execute(
        select(Terminal.id, Terminal.serial_number, Terminal.comm_key_sealed).where(
            Terminal.comm_key_sealed.is_not(None)
        )
    ).all()
    for terminal_id, serial, blob in rows:
        if blob is None:
            continue
        try:
            if sealed_kek_id(blob) != old.key_id:
                continue
            secret = open_secret(old, blob, purpose=COMM_KEY_PURPOSE, owner=serial)
        except SealError:
            failed.append(serial)
            continue
        fresh = seal_secret(new, secret, purpose=COMM_KEY_PURPOSE, owner=serial)
        # Compare-and-swap like the DEKs: a comm key changed meanwhile is left alone.
        db.execute(
            update(Terminal)
            .where(Terminal.id == terminal_id, Terminal.comm_key_sealed == blob)
            .values(comm_key_sealed=fresh)
            .execution_options(synchronize_session=False)
        )
        resealed += 1
    db.commit()
    return resealed, failed


def _count_under(db: Session, kek_id: str) -> int:
    deks = db.scalar(select(func.count()).where(DataKey.kek_id == kek_id)) or 0
    blobs = db.scalars(
        select(Terminal.comm_key_sealed).where(Terminal.comm_key_sealed.is_not(None))
    )
    comm = 0
    for blob in blobs:
        try:
            if blob is not None and sealed_kek_id(blob) == kek_id:
                comm += 1
        except SealError:
            continue
    return int(deks) + comm


def rotate_instance_key(
    db: Session,
    key_file: Path,
    *,
    actor: Actor,
    batch: int = DEFAULT_BATCH,
    on_batch: Callable[[RotationProgress], None] | None = None,
) -> KeyRotationResult:
    """Run (or resume) a rotation of the key in ``key_file``. Commits per batch.

    Raises :class:`RotationError` when a previous rotation awaits ``--finish``.
    """
    paths = KeyPaths.beside(key_file)
    _complete_interrupted_swap(paths)
    if awaiting_finish(paths):
        raise RotationError(
            f"the key was already rotated and the previous key is kept as {paths.old}; "
            "check that Rollcall works, then run `rollcall keys rotate --finish`"
        )
    old = load_key_file(paths.current)
    if not paths.new.exists():
        generate_key_file(paths.new)
    new = load_key_file(paths.new)
    report = rotate_kek(DbDekStore(db), old=old, new=new, batch=batch, on_batch=on_batch)
    resealed, failed_terminals = _reseal_comm_keys(db, old=old, new=new)
    remaining = _count_under(db, old.key_id)
    swapped = report.complete and not failed_terminals and remaining == 0
    if swapped:
        record_event(
            db,
            "keys.rotated",
            actor=actor,
            details={"old_kek": old.key_id, "new_kek": new.key_id},
        )
        db.commit()
        # Link first, then replace: <key> names a valid key at every instant.
        os.link(paths.current, paths.old)
        os.replace(paths.new, paths.current)
        _fsync_dir(paths.current.parent)
    return KeyRotationResult(
        old_kek_id=old.key_id,
        new_kek_id=new.key_id,
        rewrapped=report.rewrapped,
        resealed=resealed,
        remaining=remaining,
        failed_employees=report.failed,
        failed_terminals=tuple(failed_terminals),
        swapped=swapped,
    )


def finish_rotation(db: Session, key_file: Path, *, actor: Actor) -> str:
    """Delete the previous key once nothing depends on it; return its id."""
    paths = KeyPaths.beside(key_file)
    _complete_interrupted_swap(paths)
    if not awaiting_finish(paths):
        raise RotationError(f"there is no previous key ({paths.old}) waiting to be deleted")
    old = load_key_file(paths.old)
    load_key_file(paths.current)  # the key in use must load before the old one goes
    if _count_under(db, old.key_id):
        raise RotationError(
            f"data is still sealed under the previous key {old.key_id}; "
            "run `rollcall keys rotate` again"
        )
    record_event(db, "keys.old_destroyed", actor=actor, details={"old_kek": old.key_id})
    db.commit()
    paths.old.unlink()
    _fsync_dir(paths.current.parent)
    return old.key_id
