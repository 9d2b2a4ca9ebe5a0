# SPDX-License-Identifier: GPL-2.0-or-later
"""Configuration: defaults in code, then ``rollcall.toml`` in the instance, then ``ROLLCALL_*``.

This is the only module that reads ``os.environ``. Everything else receives a frozen
:class:`Settings`, so tests build one directly and nothing changes behind a running app.
"""

from __future__ import annotations

import json
import logging
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

logger = logging.getLogger(__name__)

CONFIG_NAME = "rollcall.toml"
ENV_PREFIX = "ROLLCALL_"


class ConfigError(Exception):
    """The configuration cannot be used; the message tells the admin what to fix."""


@dataclass(frozen=True)
class Settings:
    """Everything Rollcall needs to start, typed and immutable."""

    home: Path
    database_url: str
    secret_key: str = field(repr=False)
    key_file: Path
    data_dir: Path
    listen_host: str = "127.0.0.1"
    listen_port: int = 8080
    threads: int = 8
    timezone: str = "UTC"
    # A key-encryption key given as base64 (``ROLLCALL_KEK`` or ``ROLLCALL_KEK_FILE``) takes
    # precedence over ``key_file``, for admins who keep the key outside the instance folder.
    kek: str | None = field(default=None, repr=False)
    log_level: str = "INFO"
    # Behind a TLS reverse proxy: cookies are marked Secure and this many proxies are trusted
    # for X-Forwarded-For/-Proto.
    secure_cookies: bool = False
    trusted_proxies: int = 0
    session_idle_minutes: int = 30

    def __post_init__(self) -> None:
        if not self.secret_key or len(self.secret_key) < 32:
            raise ConfigError("secret_key must be at least 32 characters; run `rollcall init`")
        if not 0 < self.listen_port < 65536:
            raise ConfigError(f"listen_port {self.listen_port} is not a TCP port")
        if not 1 <= self.threads <= 256:
            raise ConfigError(f"threads must be between 1 and 256, not {self.threads}")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(f"timezone {self.timezone!r} is not an IANA time zone") from exc
        if self.log_level.upper() not in logging.getLevelNamesMapping():
            raise ConfigError(f"log_level {self.log_level!r} is not a logging level")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def config_path(self) -> Path:
        return self.home / CONFIG_NAME


# Keys a config file or the environment may set, with their types. ``home`` comes from
# ROLLCALL_HOME only (it locates the file).
_TYPES: dict[str, str] = {
    "database_url": "str",
    "secret_key": "str",
    "key_file": "path",
    "data_dir": "path",
    "listen_host": "str",
    "listen_port": "int",
    "threads": "int",
    "timezone": "str",
    "kek": "str",
    "log_level": "str",
    "secure_cookies": "bool",
    "trusted_proxies": "int",
    "session_idle_minutes": "int",
}
SECRET_KEYS = frozenset({"secret_key", "kek", "database_url"})


def system_timezone() -> str:
    """The host's IANA zone (Debian's /etc/timezone or the /etc/localtime link), else UTC."""
    try:
        name = Path("/etc/timezone").read_text(encoding="utf-8").strip()
        ZoneInfo(name)
        return name
    except (OSError, ZoneInfoNotFoundError, ValueError):
        pass
    try:
        target = os.readlink("/etc/localtime")
        name = target.split("zoneinfo/", 1)[1]
        ZoneInfo(name)
        return name
    except (OSError, IndexError, ZoneInfoNotFoundError, ValueError):
        return "UTC"


def default_home(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    return Path(env.get("ROLLCALL_HOME") or Path.cwd() / "instance").resolve()


def _coerce(key: str, value: Any, origin: str) -> Any:
    kind = _TYPES[key]
    try:
        if kind == "int":
            if isinstance(value, bool):
                raise ValueError
            return int(value)
        if kind == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in {"1", "true", "yes", "on"}:
                return True
            if text in {"0", "false", "no", "off"}:
                return False
            raise ValueError
        if kind == "path":
            return Path(str(value))
        if not isinstance(value, str):
            raise ValueError
        return value
    except ValueError:
        raise ConfigError(f"{origin}: {key} must be {kind}, got {value!r}") from None


def load_settings(home: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Build the settings for ``home`` (default: ``ROLLCALL_HOME`` or ``./instance``)."""
    env = os.environ if environ is None else environ
    home = (home or default_home(env)).resolve()
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{home / 'rollcall.db'}",
        "key_file": home / "keys" / "kek.key",
        "data_dir": home / "data",
    }
    path = home / CONFIG_NAME
    if path.exists():
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read it: {exc}") from exc
        section = raw.get("rollcall", raw)
        for key, value in section.items():
            if key not in _TYPES:
                logger.warning("%s: unknown setting %r ignored", path, key)
                continue
            values[key] = _coerce(key, value, str(path))
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or name == "ROLLCALL_HOME":
            continue
        key = name[len(ENV_PREFIX) :].lower()
        if key.endswith("_file") and key[: -len("_file")] in SECRET_KEYS:
            key = key[: -len("_file")]
            try:
                value = Path(value).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"{name}: cannot read {value}: {exc.strerror}") from exc
        if key not in _TYPES:
            # Not ours to judge: ROLLCALL_TEST_* and friends are read by the test suite.
            continue
        values[key] = _coerce(key, value, name)
    for key in ("key_file", "data_dir"):
        if not values[key].is_absolute():
            values[key] = home / values[key]
    if "secret_key" not in values:
        raise ConfigError(
            f"no secret_key in {path} or ROLLCALL_SECRET_KEY: run `rollcall init` to create "
            "the instance, or point ROLLCALL_HOME at an existing one"
        )
    return Settings(home=home, **values)


def render_config(values: Mapping[str, Any]) -> str:
    """Write a ``rollcall.toml`` body; strings are TOML basic strings (a JSON subset)."""
    lines = [
        "# Rollcall configuration, written by `rollcall init`.",
        "# Any key can be overridden by an environment variable ROLLCALL_<KEY>.",
        "[rollcall]",
    ]
    for key, value in values.items():
        if key not in _TYPES:
            raise ConfigError(f"unknown setting {key!r}")
        if isinstance(value, bool):
            rendered = "true" if value else "false"
        elif isinstance(value, int):
            rendered = str(value)
        else:
            rendered = json.dumps(str(value), ensure_ascii=False)
        lines.append(f"{key} = {rendered}")
    return "\n".join(lines) + "\n"
