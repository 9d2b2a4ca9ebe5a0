# SPDX-License-Identifier: GPL-2.0-or-later
"""The ``rollcall`` command as an IT admin runs it: a real process, a real port."""

from __future__ import annotations

import http.cookiejar
import os
import re
import stat
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from tests.conftest import ROLLCALL, free_port, run


def test_init_creates_private_config_and_key_file(cli_instance: tuple[Path, str]) -> None:
    home, password = cli_instance
    assert len(password) >= 20
    for path in (home / "rollcall.toml", home / "keys" / "kek.key"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE((home / "keys").stat().st_mode) == 0o700
    config = (home / "rollcall.toml").read_text()
    assert "secret_key" in config
    assert password not in config  # only its argon2 hash, in the database


def test_init_refuses_to_run_twice(cli_instance: tuple[Path, str]) -> None:
    home, _ = cli_instance
    result = run(home, "init")
    assert result.returncode == 1
    assert "already set up" in result.stderr


def test_check_passes_on_a_fresh_instance_and_flags_a_readable_key_file(
    cli_instance: tuple[Path, str],
) -> None:
    home, _ = cli_instance
    ok = run(home, "check")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip().endswith("OK")
    (home / "keys" / "kek.key").chmod(0o644)
    bad = run(home, "check")
    assert bad.returncode == 1
    assert "chmod 600" in bad.stderr


def test_commands_without_an_instance_say_how_to_make_one(tmp_path: Path) -> None:
    for args in (("check",), ("serve",), ("db", "upgrade")):
        result = run(tmp_path / "nothing", *args)
        assert result.returncode == 1, args
        assert "rollcall init" in result.stderr


def test_db_upgrade_is_idempotent(cli_instance: tuple[Path, str]) -> None:
    home, _ = cli_instance
    first, second = run(home, "db", "upgrade"), run(home, "db", "upgrade")
    assert first.returncode == second.returncode == 0
    assert first.stdout == second.stdout


def test_every_command_has_help() -> None:
    for args in ((), ("init",), ("serve",), ("db",), ("db", "upgrade"), ("check",)):
        result = subprocess.run(
            [ROLLCALL, *args, "--help"], capture_output=True, text=True, check=False, timeout=30
        )
        assert result.returncode == 0, args
        assert "Usage:" in result.stdout


def test_serve_answers_and_the_printed_password_signs_in(cli_instance: tuple[Path, str]) -> None:
    home, password = cli_instance
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROLLCALL_")}
    env["ROLLCALL_HOME"] = str(home)
    proc = subprocess.Popen(
        [ROLLCALL, "serve", "--port", str(port), "--threads", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as resp:
                    assert resp.status == 200
                    break
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None, proc.communicate()[1]
                assert time.monotonic() < deadline, "rollcall serve did not answer"
                time.sleep(0.2)
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        page = opener.open(f"{base}/login", timeout=5).read().decode()
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
        assert token
        form = urllib.parse.urlencode(
            {"username": "admin", "password": password, "csrf_token": token.group(1)}
        ).encode()
        home_page = opener.open(f"{base}/login", data=form, timeout=10)
        assert home_page.url == f"{base}/"
        assert "punches today" in home_page.read().decode()
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
