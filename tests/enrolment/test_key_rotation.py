# SPDX-License-Identifier: GPL-2.0-or-later
"""`rollcall keys rotate`: re-wrap everything, swap the key file, keep the old one until
--finish; an interrupted rotation resumes (issue #5, C18)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from biometrics.errors import KeyMismatchError, RotationError
from biometrics.keys import KeyEncryptionKey, load_key_file
from biometrics.rotation import RotationProgress
from server.db import make_engine
from server.devices.models import Terminal
from server.employees.models import Employee
from server.employees.services import set_device_password
from server.enrolment import services
from server.enrolment.rotation import KeyPaths, finish_rotation, rotate_instance_key
from server.sealing import DEVICE_PASSWORD_PURPOSE, device_password_owner, open_secret, seal_secret
from server.settings import load_settings
from tests.conftest import run
from tests.enrolment.helpers import ACTOR, employee


@pytest.fixture
def instance(cli_instance: tuple[Path, str]) -> Iterator[tuple[Path, Path, sessionmaker[Session]]]:
    home, _ = cli_instance
    settings = load_settings(home)
    engine = make_engine(settings.database_url)
    yield home, settings.key_file, sessionmaker(engine, expire_on_commit=False)
    engine.dispose()


def seed(sessions: sessionmaker[Session], kek: KeyEncryptionKey, people: int) -> list[int]:
    with sessions.begin() as db:
        ids = []
        for i in range(people):
            e = employee(db, f"K{i}")
            services.store_template(
                db,
                employee_id=e.id,
                kind="finger",
                index=0,
                format_version=10,
                template=f"tpl-{i}".encode(),
                source_terminal_serial=None,
                kek=kek,
                actor=ACTOR,
            )
            ids.append(e.id)
            # A terminal password is sealed with the same key and must follow it.
            set_device_password(db, e.id, f"90{i}", kek=kek, actor=ACTOR)
        db.add(
            Terminal(
                serial_number="SIM0042",
                name="Door",
                timezone="UTC",
                comm_key_sealed=seal_secret(kek, "1234", purpose="comm-key", owner="SIM0042"),
            )
        )
    return ids


def check_readable(
    sessions: sessionmaker[Session], ids: list[int], new: KeyEncryptionKey, old: KeyEncryptionKey
) -> None:
    with sessions() as db:
        for n, eid in enumerate(ids):
            read = services.read_templates(db, eid, kek=new, actor=ACTOR, purpose="test")
            assert [t.template for t in read] == [f"tpl-{n}".encode()]
            with pytest.raises(KeyMismatchError):
                services.read_templates(db, eid, kek=old, actor=ACTOR, purpose="test")
        blob = db.scalars(select(Terminal.comm_key_sealed)).one()
        assert blob is not None
        assert open_secret(new, blob, purpose="comm-key", owner="SIM0042") == "1234"
        for n, eid in enumerate(ids):
            sealed = db.get(Employee, eid).device_password_sealed  # type: ignore[union-attr]  # seeded above
            assert sealed is not None
            owner = device_password_owner(eid)
            assert (
                open_secret(new, sealed, purpose=DEVICE_PASSWORD_PURPOSE, owner=owner) == f"90{n}"
            )


def test_the_cli_rotates_swaps_the_key_file_and_deletes_the_old_one_on_finish(
    instance: tuple[Path, Path, sessionmaker[Session]],
) -> None:
    home, key_file, sessions = instance
    old = load_key_file(key_file)
    ids = seed(sessions, old, 3)
    result = run(home, "keys", "rotate", "--batch", "2")
    assert result.returncode == 0, result.stderr
    assert "--finish" in result.stdout
    new = load_key_file(key_file)
    assert new.key_id != old.key_id
    assert load_key_file(KeyPaths.beside(key_file).old).key_id == old.key_id
    check_readable(sessions, ids, new, old)
    again = run(home, "keys", "rotate")
    assert again.returncode == 1
    assert "--finish" in again.stderr
    finished = run(home, "keys", "rotate", "--finish")
    assert finished.returncode == 0, finished.stderr
    assert not KeyPaths.beside(key_file).old.exists()
    assert load_key_file(key_file).key_id == new.key_id


def test_an_interrupted_rotation_resumes_with_the_same_new_key(
    instance: tuple[Path, Path, sessionmaker[Session]],
) -> None:
    _, key_file, sessions = instance
    old = load_key_file(key_file)
    ids = seed(sessions, old, 5)

    def crash(progress: RotationProgress) -> None:
        raise KeyboardInterrupt

    with sessions() as db, pytest.raises(KeyboardInterrupt):
        rotate_instance_key(db, key_file, actor=ACTOR, batch=2, on_batch=crash)
    paths = KeyPaths.beside(key_file)
    assert load_key_file(key_file).key_id == old.key_id  # not swapped yet
    new = load_key_file(paths.new)
    with sessions() as db:
        assert services.DbDekStore(db).count_wrapped(new.key_id) == 2
        result = rotate_instance_key(db, key_file, actor=ACTOR, batch=2)
    assert result.swapped
    # 1 comm key and 5 terminal passwords re-sealed
    assert (result.rewrapped, result.resealed, result.remaining) == (3, 6, 0)
    assert result.new_kek_id == new.key_id == load_key_file(key_file).key_id
    check_readable(sessions, ids, new, old)
    with sessions() as db:
        with pytest.raises(RotationError):
            rotate_instance_key(db, key_file, actor=ACTOR)
        assert finish_rotation(db, key_file, actor=ACTOR) == old.key_id


def test_a_crash_between_keeping_the_old_key_and_swapping_is_completed_on_the_next_run(
    instance: tuple[Path, Path, sessionmaker[Session]],
) -> None:
    _, key_file, sessions = instance
    old = load_key_file(key_file)
    ids = seed(sessions, old, 1)
    paths = KeyPaths.beside(key_file)
    with sessions() as db:
        rotate_instance_key(db, key_file, actor=ACTOR)
    new = load_key_file(key_file)
    # Put the files back as they were between os.link and os.replace.
    key_file.rename(paths.new)
    paths.old.rename(key_file)
    paths.old.hardlink_to(key_file)
    with sessions() as db, pytest.raises(RotationError):
        rotate_instance_key(db, key_file, actor=ACTOR)  # completes the swap, then waits
    assert load_key_file(key_file).key_id == new.key_id
    assert not paths.new.exists()
    check_readable(sessions, ids, new, old)
