# SPDX-License-Identifier: GPL-2.0-or-later
"""The interface in English and Simplified Chinese (issue #6)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po
from sqlalchemy.orm import Session

from server.auth.models import Account
from server.i18n import LOCALE_COOKIE, TRANSLATIONS, compile_catalogs, normalize_locale
from tests.conftest import csrf_token

PASSWORD = "correct horse battery"
ROOT = Path(__file__).resolve().parent.parent


def test_the_sign_in_page_follows_the_browser_language(client: Any) -> None:
    chinese = client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    page = chinese.get_data(as_text=True)
    assert '<html lang="zh-CN">' in page
    assert "<h1>登录</h1>" in page
    assert "用户名" in page

    english = client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.8"})
    page = english.get_data(as_text=True)
    assert '<html lang="en">' in page
    assert "<h1>Sign in</h1>" in page
    assert "登录" not in page


def test_an_unsupported_browser_language_gets_english(client: Any) -> None:
    page = client.get("/login", headers={"Accept-Language": "fr-FR,de;q=0.8"})
    assert '<html lang="en">' in page.get_data(as_text=True)


def test_the_language_switch_is_remembered_and_kept_on_the_account(
    client: Any, login: Callable[..., Any], create_account: Callable[..., Any], db: Session
) -> None:
    account = create_account(username="mei", password=PASSWORD)
    token = csrf_token(client.get("/login").get_data(as_text=True))
    switched = client.post(
        "/language", data={"locale": "zh_CN", "next": "/login", "csrf_token": token}
    )
    assert switched.status_code == 302
    assert switched.headers["Location"] == "/login"
    assert LOCALE_COOKIE in switched.headers["Set-Cookie"]
    assert "<h1>登录</h1>" in client.get("/login").get_data(as_text=True)

    login("mei", PASSWORD)
    page = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "今日打卡" in page
    assert "退出登录" in page

    token = csrf_token(page)
    client.post("/language", data={"locale": "zh_CN", "next": "/", "csrf_token": token})
    db.expire_all()
    assert db.get(Account, account.id).locale == "zh_CN"  # type: ignore[union-attr]
    # The account's choice wins over the browser and over a stale cookie.
    client.delete_cookie(LOCALE_COOKIE)
    page = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="zh-CN">' in page

    client.post("/language", data={"locale": "en", "next": "/", "csrf_token": token})
    page = client.get("/", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert '<html lang="en">' in page
    assert "punches today" in page


def test_the_language_switch_never_redirects_off_site(client: Any) -> None:
    token = csrf_token(client.get("/login").get_data(as_text=True))
    for target in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
        response = client.post(
            "/language", data={"locale": "en", "next": target, "csrf_token": token}
        )
        assert response.headers["Location"] == "/"


def test_the_language_switch_needs_the_csrf_token(client: Any) -> None:
    assert client.post("/language", data={"locale": "zh_CN"}).status_code == 400


def test_language_tags_map_to_the_catalogs_we_ship() -> None:
    assert normalize_locale("zh-CN") == "zh_CN"
    assert normalize_locale("zh-Hans") == "zh_CN"
    assert normalize_locale("zh") == "zh_CN"
    assert normalize_locale("en-US") == "en"
    assert normalize_locale("fr") is None
    assert normalize_locale(None) is None


def _extract(tmp_path: Path) -> Catalog:
    pot = tmp_path / "messages.pot"
    CommandLineInterface().run(
        [
            "pybabel",
            "-q",
            "extract",
            "-F",
            str(ROOT / "babel.cfg"),
            "-k",
            "_l",
            "-o",
            str(pot),
            "--no-location",
            str(ROOT),
        ]
    )
    with pot.open("rb") as f:
        return read_po(f)


_PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]")


def _translation_problems(wanted: Catalog, catalog: Catalog) -> list[str]:
    """What ``catalog`` lacks for the strings in ``wanted``; empty when all is well.

    A plural entry (``ngettext``; its msgid is a (singular, plural) pair) needs the same
    plural msgid and every form filled in; Chinese has one form, used for every count, so
    it carries the plural's placeholders (#6 review).
    """
    problems = []
    for message in wanted:
        if not message.id:
            continue
        key = message.id if isinstance(message.id, str) else message.id[0]
        found = catalog.get(key)
        if found is None or found.fuzzy:
            problems.append(f"untranslated: {message.id!r}")
            continue
        if found.id != message.id:  # a plural translated as a plain string, or the reverse
            problems.append(f"not the same msgid: {message.id!r}")
            continue
        forms = [found.string] if isinstance(found.string, str) else list(found.string)
        if isinstance(message.id, str):
            placeholders = _PLACEHOLDER.findall(message.id)
        else:
            forms += [""] * (catalog.num_plurals - len(forms))
            placeholders = _PLACEHOLDER.findall(message.id[1])
        for text in forms:
            if not text:
                problems.append(f"untranslated: {message.id!r}")
            elif sorted(_PLACEHOLDER.findall(text)) != sorted(placeholders):
                problems.append(f"placeholders differ: {message.id!r}")
    return problems


def test_every_interface_string_has_a_chinese_translation(tmp_path: Path) -> None:
    """A string added with _() but not translated fails here: run the README's steps."""
    wanted = _extract(tmp_path)
    assert "Sign in" in wanted  # the extraction itself works
    assert "%(num)d employee" in wanted  # and finds ngettext in templates
    with (TRANSLATIONS / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f, locale="zh_CN")
    problems = _translation_problems(wanted, catalog)
    assert not problems, f"see README, Translations: {problems[:10]}"
    fuzzy = sorted(str(m.id) for m in catalog if m.id and m.fuzzy)
    assert not fuzzy, f"fuzzy translations to review: {fuzzy[:10]}"


def test_an_untranslated_plural_is_caught() -> None:
    wanted = Catalog()
    wanted.add(("%(num)d employee", "%(num)d employees"), flags=("python-format",))
    catalog = Catalog(locale="zh_CN")
    catalog.add(("%(num)d employee", "%(num)d employees"), ("",))
    assert _translation_problems(wanted, catalog)
    assert _translation_problems(wanted, Catalog(locale="zh_CN"))  # missing altogether
    catalog = Catalog(locale="zh_CN")
    catalog.add(("%(num)d employee", "%(num)d employees"), ("员工",))
    assert _translation_problems(wanted, catalog)  # the count was dropped
    catalog = Catalog(locale="zh_CN")
    catalog.add(("%(num)d employee", "%(num)d employees"), ("%(num)d 名员工",))
    assert _translation_problems(wanted, catalog) == []


def test_catalogs_are_compiled_when_missing_or_stale(tmp_path: Path) -> None:
    shutil.copytree(
        TRANSLATIONS / "zh_Hans_CN", tmp_path / "zh_Hans_CN", ignore=shutil.ignore_patterns("*.mo")
    )
    mo = tmp_path / "zh_Hans_CN" / "LC_MESSAGES" / "messages.mo"
    assert compile_catalogs(tmp_path) == [mo]
    assert mo.stat().st_size > 0
    assert compile_catalogs(tmp_path) == []  # up to date: left alone
    po = mo.with_suffix(".po")
    os.utime(po, (mo.stat().st_mtime + 10, mo.stat().st_mtime + 10))
    assert compile_catalogs(tmp_path) == [mo]
