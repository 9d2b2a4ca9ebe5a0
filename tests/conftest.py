# SPDX-License-Identifier: GPL-2.0-or-later
"""Fixtures for the whole suite, and the network guard.

The suite runs on SQLite by default and on PostgreSQL when ``ROLLCALL_TEST_DATABASE_URL``
names one (the README's test command does both). Each test runs inside one outer
transaction that is rolled back, so code under test may commit freely.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import Session, sessionmaker

import server.models  # noqa: F401  -- every mapper configured before any test touches one
from server import migrate
from server.db import make_engine
from server.settings import Settings, system_timezone

# --------------------------------------------------------------------------- network guard
# Rollcall keeps all data local, and the tests prove it: any connection (or datagram, or
# name lookup) towards an address that is not loopback fails the test that made it.


class NonLoopbackConnectionError(RuntimeError):
    """A test tried to reach beyond this machine. Not an OSError, so retry loops that
    swallow network errors cannot hide it; the test is failed at teardown as well."""


_violations: list[str] = []
_real = {
    "connect": socket.socket.connect,
    "connect_ex": socket.socket.connect_ex,
    "sendto": socket.socket.sendto,
    "getaddrinfo": socket.getaddrinfo,
}
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


def _is_loopback_host(host: str) -> bool:
    host = host.strip("[]").split("%", 1)[0]
    if host.lower() in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_address(sock: socket.socket, address: Any) -> None:
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return  # Unix sockets (PostgreSQL's) stay on this machine
    host = str(address[0]) if isinstance(address, tuple) else str(address)
    if not _is_loopback_host(host):
        message = f"non-loopback connection attempted to {host!r}"
        _violations.append(message)
        raise NonLoopbackConnectionError(message)


def _guarded_connect(self: socket.socket, address: Any) -> None:
    _check_address(self, address)
    return _real["connect"](self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    _check_address(self, address)
    return _real["connect_ex"](self, address)


def _guarded_sendto(self: socket.socket, data: Any, *args: Any) -> int:
    address = args[-1]
    _check_address(self, address)
    return _real["sendto"](self, data, *args)


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if host is not None:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if not _is_loopback_host(name):
            try:
                ipaddress.ip_address(name.strip("[]"))
            except ValueError:
                # A name lookup would ask a resolver somewhere else.
                message = f"name lookup attempted for {name!r}"
                _violations.append(message)
                raise NonLoopbackConnectionError(message) from None
    return _real["getaddrinfo"](host, *args, **kwargs)


def pytest_configure(config: pytest.Config) -> None:
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    socket.socket.sendto = _guarded_sendto  # type: ignore[assignment]
    socket.getaddrinfo = _guarded_getaddrinfo


@pytest.fixture(autouse=True)
def _network_guard() -> Iterator[list[str]]:
    _violations.clear()
    yield _violations
    found = list(_violations)
    _violations.clear()
    if found:
        pytest.fail("network guard: " + "; ".join(found), pytrace=False)


@pytest.fixture
def network_violations(_network_guard: list[str]) -> list[str]:
    """The guard's record, for the guard's own tests (which clear it)."""
    return _network_guard


# --------------------------------------------------------------------------- databases
TEST_DATABASE_URL = os.environ.get("ROLLCALL_TEST_DATABASE_URL", "")


def is_postgres(url: str) -> bool:
    return url.startswith("postgresql")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    if TEST_DATABASE_URL:
        return TEST_DATABASE_URL
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'rollcall-test.db'}"


def _reset_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    """The suite's database, empty, upgraded to head by Alembic (not ``create_all``)."""
    if is_postgres(database_url):
        _reset_postgres(database_url)
    migrate.upgrade(database_url)
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def fresh_database(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[], str]]:
    """Makes new empty databases on the suite's server (files on SQLite)."""
    made: list[str] = []

    def make() -> str:
        name = f"rollcall_t_{uuid.uuid4().hex[:10]}"
        if not is_postgres(database_url):
            return f"sqlite:///{tmp_path_factory.mktemp('fresh') / (name + '.db')}"
        admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        made.append(name)
        return make_url(database_url).set(database=name).render_as_string(hide_password=False)

    yield make
    if made:
        admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for name in made:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    conn = engine.connect()
    outer = conn.begin()
    yield conn
    outer.rollback()
    conn.close()


@pytest.fixture
def sessions(connection: Connection) -> sessionmaker[Session]:
    """Sessions that join the test's transaction: their commits are savepoint releases."""
    return sessionmaker(
        bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )


@pytest.fixture
def db(sessions: sessionmaker[Session]) -> Iterator[Session]:
    session = sessions()
    yield session
    session.close()


# --------------------------------------------------------------------------- app
@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    (tmp_path / "data").mkdir()
    return Settings(
        home=tmp_path,
        database_url=database_url,
        secret_key="test-secret-key-" + "x" * 32,
        key_file=tmp_path / "keys" / "kek.key",
        data_dir=tmp_path / "data",
        timezone="Europe/Berlin",
    )


@pytest.fixture
def app(settings: Settings, sessions: sessionmaker[Session]) -> Any:
    from server.app import create_app

    application = create_app(settings, sessions=sessions)
    application.config["TESTING"] = True
    return application


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


# --------------------------------------------------------------------------- terminals
@pytest.fixture
def simulator() -> Iterator[Any]:
    """A fleet of simulated terminals on 127.0.0.1, all stopped at teardown."""
    from terminals.simulator.testing import SimulatorFleet

    with SimulatorFleet() as fleet:
        yield fleet


# --------------------------------------------------------------------------- factories
@pytest.fixture
def create_account(db: Session) -> Callable[..., Any]:
    from server.audit.services import Actor
    from server.auth.services import create_account as _create

    def make(**overrides: Any) -> Any:
        values: dict[str, Any] = {
            "username": f"user{uuid.uuid4().hex[:8]}",
            "password": "correct horse battery",
            "role": "admin",
        }
        values.update(overrides)
        account = _create(db, actor=Actor.system("test"), **values)
        db.commit()
        return account

    return make


@pytest.fixture
def create_terminal(db: Session) -> Callable[..., Any]:
    """A terminal row for a simulated terminal (``sim``), as registration would make it."""
    from server.devices.models import Terminal

    def make(sim: Any = None, **overrides: Any) -> Any:
        values: dict[str, Any] = {
            "serial_number": sim.serial if sim else f"TST{uuid.uuid4().hex[:8]}",
            "name": "Front door",
            "host": sim.host if sim else "127.0.0.1",
            "port": sim.port if sim else 4370,
            "transport": "tcp",
            # The simulator's clock shows the host's wall time, as a terminal set by hand would.
            "timezone": system_timezone(),
            "encoding": sim.device.profile.encoding if sim else "utf-8",
            "capabilities": {},
        }
        values.update(overrides)
        terminal = Terminal(**values)
        db.add(terminal)
        db.commit()
        return terminal

    return make


# --------------------------------------------------------------------------- the CLI
ROLLCALL = str(Path(sys.executable).parent / "rollcall")


def run(home: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROLLCALL_")}
    env["ROLLCALL_HOME"] = str(home)
    return subprocess.run(
        [ROLLCALL, *args], capture_output=True, text=True, env=env, timeout=timeout, check=False
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def cli_instance(tmp_path: Path, fresh_database: Callable[[], str]) -> tuple[Path, str]:
    """An instance made by `rollcall init` on the suite's kind of database."""
    home = tmp_path / "instance"
    url = fresh_database()
    result = run(
        home,
        "init",
        "--database-url",
        url,
        "--timezone",
        "Asia/Shanghai",
        "--organization",
        "Acme Works",
    )
    assert result.returncode == 0, result.stderr
    match = re.search(r"Password \(shown once, store it now\): (\S+)", result.stdout)
    assert match, result.stdout
    return home, match.group(1)


_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(page: str) -> str:
    match = _CSRF.search(page)
    assert match, "no CSRF token on the page"
    return match.group(1)


@pytest.fixture
def login(client: Any) -> Callable[[str, str], Any]:
    def do(username: str, password: str) -> Any:
        page = client.get("/login").get_data(as_text=True)
        return client.post(
            "/login",
            data={"username": username, "password": password, "csrf_token": csrf_token(page)},
        )

    return do
