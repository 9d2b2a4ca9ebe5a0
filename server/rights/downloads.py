# SPDX-License-Identifier: GPL-2.0-or-later
"""Expiring, logged downloads of files about one employee (access packages; issue #7).

The file lies under ``<data>/exports`` (0600, named by ids, never by a name) and is fetched
with a random token whose SHA-256 alone is stored. Each fetch is counted and logged; once the
link expires the file is removed (``rollcall rights purge-expired``, the worker) and a
late fetch is told so. Erasure removes the employee's files at once. Services flush and audit;
the caller commits.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from datetime import datetime, timedelta
from pathlib import Path

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.audit.services import Actor, record_event
from server.db import utcnow
from server.errors import AppError, NotFoundError, ValidationError
from server.rights.models import Download

DEFAULT_LIFETIME = timedelta(days=7)
MAX_LIFETIME = timedelta(days=30)


class GoneError(AppError):
    status = 410
    code = "gone"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def exports_dir(data_dir: Path) -> Path:
    folder = data_dir / "exports"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def create_download(
    db: Session,
    *,
    data_dir: Path,
    employee_id: int,
    kind: str,
    content: bytes,
    content_type: str,
    suffix: str,
    actor: Actor,
    request_id: int | None = None,
    lifetime: timedelta = DEFAULT_LIFETIME,
) -> tuple[Download, str]:
    """Store ``content`` for download; returns the row and the token (shown once)."""
    if not timedelta(minutes=5) <= lifetime <= MAX_LIFETIME:
        raise ValidationError(_("A download link lasts from 5 minutes to 30 days."))
    token = secrets.token_urlsafe(32)
    now = utcnow()
    filename = f"{kind}-{employee_id}-{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}.{suffix}"
    path = exports_dir(data_dir) / filename
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(content)
    download = Download(
        token_hash=token_hash(token),
        employee_id=employee_id,
        request_id=request_id,
        kind=kind,
        filename=filename,
        content_type=content_type,
        size=len(content),
        created_at=now,
        created_by_id=actor.account_id,
        expires_at=now + lifetime,
        fetch_count=0,
    )
    db.add(download)
    try:
        db.flush()
    except Exception:
        path.unlink(missing_ok=True)  # no row, no file
        raise
    record_event(
        db,
        "download.created",
        actor=actor,
        object_type="download",
        object_id=download.id,
        subject_employee_id=employee_id,
        details={
            "kind": kind,
            "bytes": len(content),
            "expires_at": download.expires_at.isoformat(timespec="seconds"),
            "request": request_id,
        },
    )
    return download, token


def fetch_download(
    db: Session, token: str, *, data_dir: Path, actor: Actor, now: datetime | None = None
) -> tuple[Download, Path]:
    """The download behind ``token`` and its file; the fetch is counted and logged."""
    now = now or utcnow()
    download = db.scalar(select(Download).where(Download.token_hash == token_hash(token)))
    if download is None:
        raise NotFoundError(_("No such download."))
    path = exports_dir(data_dir) / download.filename
    if download.removed_at is not None or download.expires_at <= now or not path.is_file():
        raise GoneError(_("This download has expired; ask for a new one."))
    download.fetch_count += 1
    download.last_fetched_at = now
    db.flush()
    record_event(
        db,
        "download.fetched",
        actor=actor,
        object_type="download",
        object_id=download.id,
        subject_employee_id=download.employee_id,
        details={"kind": download.kind, "fetches": download.fetch_count},
    )
    return download, path


def purge_expired_downloads(
    db: Session, *, data_dir: Path, actor: Actor, now: datetime | None = None
) -> int:
    """Remove the files of expired downloads; the rows stay as proof of delivery."""
    now = now or utcnow()
    expired = list(
        db.scalars(
            select(Download).where(Download.removed_at.is_(None), Download.expires_at <= now)
        )
    )
    for item in expired:
        (exports_dir(data_dir) / item.filename).unlink(missing_ok=True)
        item.removed_at = now
    db.flush()
    if expired:
        record_event(
            db,
            "download.expired",
            actor=actor,
            object_type="download",
            details={"files": len(expired)},
        )
    return len(expired)
