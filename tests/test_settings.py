# SPDX-License-Identifier: GPL-2.0-or-later
"""Configuration layers: defaults, then rollcall.toml, then ROLLCALL_* variables."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from server.settings import ConfigError, Settings, load_settings, render_config

SECRET = "s" * 40


def _write(home: Path, **values: object) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "rollcall.toml").write_text(render_config(values), encoding="utf-8")


def test_defaults_place_everything_in_the_instance_folder(tmp_path: Path) -> None:
    _write(tmp_path, secret_key=SECRET)
    s = load_settings(tmp_path, environ={})
    assert s.database_url == f"sqlite:///{tmp_path / 'rollcall.db'}"
    assert s.key_file == tmp_path / "keys" / "kek.key"
    assert s.data_dir == tmp_path / "data"
    assert (s.listen_host, s.listen_port, s.timezone) == ("127.0.0.1", 8080, "UTC")


def test_the_environment_overrides_the_file(tmp_path: Path) -> None:
    _write(tmp_path, secret_key=SECRET, listen_port=9000, timezone="Asia/Shanghai")
    s = load_settings(tmp_path, environ={"ROLLCALL_LISTEN_PORT": "9100"})
    assert s.listen_port == 9100
    assert s.timezone == "Asia/Shanghai"


def test_a_secret_can_come_from_a_file(tmp_path: Path) -> None:
    _write(tmp_path)
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n", encoding="utf-8")
    s = load_settings(tmp_path, environ={"ROLLCALL_SECRET_KEY_FILE": str(secret_file)})
    assert s.secret_key == SECRET


def test_rollcall_home_locates_the_instance(tmp_path: Path) -> None:
    _write(tmp_path / "elsewhere", secret_key=SECRET)
    s = load_settings(environ={"ROLLCALL_HOME": str(tmp_path / "elsewhere")})
    assert s.home == (tmp_path / "elsewhere").resolve()


def test_an_unknown_key_in_the_file_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    _write(tmp_path, secret_key=SECRET)
    with (tmp_path / "rollcall.toml").open("a") as fh:
        fh.write("lisen_port = 1\n")
    with caplog.at_level(logging.WARNING):
        load_settings(tmp_path, environ={})
    assert "unknown setting 'lisen_port'" in caplog.text


def test_a_missing_instance_tells_the_admin_to_run_init(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="rollcall init"):
        load_settings(tmp_path, environ={})


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ROLLCALL_LISTEN_PORT": "http"}, "listen_port must be int"),
        ({"ROLLCALL_LISTEN_PORT": "70000"}, "not a TCP port"),
        ({"ROLLCALL_TIMEZONE": "Mars/Olympus"}, "not an IANA time zone"),
        ({"ROLLCALL_SECURE_COOKIES": "perhaps"}, "secure_cookies must be bool"),
        ({"ROLLCALL_SECRET_KEY": "short"}, "at least 32 characters"),
    ],
)
def test_bad_values_stop_startup_with_a_clear_message(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    _write(tmp_path, secret_key=SECRET)
    with pytest.raises(ConfigError, match=message):
        load_settings(tmp_path, environ=env)


def test_a_malformed_file_is_reported_with_its_path(tmp_path: Path) -> None:
    (tmp_path / "rollcall.toml").write_text("listen_port = = 3", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"rollcall\.toml: cannot read it"):
        load_settings(tmp_path, environ={})


def test_secrets_never_appear_in_the_repr(tmp_path: Path) -> None:
    s = Settings(
        home=tmp_path,
        database_url="sqlite://",
        secret_key=SECRET,
        key_file=tmp_path / "k",
        data_dir=tmp_path,
        kek="a2V5LWtleS1rZXk=",
    )
    assert SECRET not in repr(s)
    assert "a2V5LWtleS1rZXk=" not in repr(s)


def test_rendered_config_round_trips_awkward_strings(tmp_path: Path) -> None:
    url = 'postgresql+psycopg://rollcall:p"a\\ss%40w@db/rollcall'
    _write(tmp_path, secret_key=SECRET, database_url=url, timezone="Asia/Shanghai")
    assert load_settings(tmp_path, environ={}).database_url == url
