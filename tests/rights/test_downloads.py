# SPDX-License-Identifier: GPL-2.0-or-later
"""Expiring, logged downloads of access packages (#7)."""

from __future__ import annotations

import stat
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.audit.models import AuditEvent
from server.audit.services import Actor
from server.db import utcnow
from server.employees.models import Employee
from server.errors import NotFoundError, ValidationError
from server.rights.downloads import (
    GoneError,
    create_download,
    fetch_download,
    purge_expired_downloads,
)
from server.rights.models import Download
from server.settings import Settings

ACTOR = Actor.system("test")


def make(db: Session, data: Path, **kwargs: Any) -> tuple[Download, str]:
    e = Employee(employee_code="D1", given_name="Dora", family_name="Dias")
    db.add(e)
    db.flush()
    return create_download(
        db,
        data_dir=data,
        employee_id=e.id,
        kind="access",
        content=b"PK-package-bytes",
        content_type="application/zip",
        suffix="zip",
        actor=ACTOR,
        **kwargs,
    )


def test_a_download_is_private_fetched_by_token_counted_and_expires(
    db: Session, tmp_path: Path
) -> None:
    item, token = make(db, tmp_path)
    path = tmp_path / "exports" / item.filename
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "D1" not in item.filename  # named by ids, never by a code or name
    assert token not in str(db.scalars(select(Download.token_hash)).all())
    got, got_path = fetch_download(db, token, data_dir=tmp_path, actor=ACTOR)
    assert got_path.read_bytes() == b"PK-package-bytes"
    assert got.fetch_count == 1
    with pytest.raises(NotFoundError):
        fetch_download(db, token + "x", data_dir=tmp_path, actor=ACTOR)
    later = utcnow() + timedelta(days=8)
    with pytest.raises(GoneError):
        fetch_download(db, token, data_dir=tmp_path, actor=ACTOR, now=later)
    assert purge_expired_downloads(db, data_dir=tmp_path, actor=ACTOR, now=later) == 1
    assert not path.exists()
    assert item.removed_at is not None
    actions = db.scalars(
        select(AuditEvent.action)
        .where(AuditEvent.object_type == "download")
        .order_by(AuditEvent.seq)
    )
    assert list(actions) == ["download.created", "download.fetched", "download.expired"]


def test_a_link_lasts_at_most_thirty_days(db: Session, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="30 days"):
        make(db, tmp_path, lifetime=timedelta(days=31))
    assert db.scalars(select(Download)).all() == []
    assert not (tmp_path / "exports").exists() or list((tmp_path / "exports").iterdir()) == []


def test_the_web_link_serves_the_file_to_a_privacy_officer_only(
    db: Session,
    settings: Settings,
    client: Any,
    login: Callable[[str, str], Any],
    create_account: Callable[..., Any],
) -> None:
    item, token = make(db, settings.data_dir)
    db.commit()
    create_account(username="viewer", role="hr_viewer")
    login("viewer", "correct horse battery")
    assert client.get(f"/downloads/{token}").status_code == 403
    client.post("/logout", data={})
    client.delete_cookie("rollcall_session")
    create_account(username="dpo", role="privacy_officer")
    login("dpo", "correct horse battery")
    response = client.get(f"/downloads/{token}")
    assert response.status_code == 200
    assert response.data == b"PK-package-bytes"
    assert response.headers["Cache-Control"] == "no-store"
    response.close()  # the file is streamed; the test client leaves closing to us
    assert client.get(f"/downloads/{token}x").status_code == 404
    db.expire_all()
    assert db.get(Download, item.id).fetch_count == 1  # type: ignore[union-attr]
