# SPDX-License-Identifier: GPL-2.0-or-later
"""The key-encryption key file: created 0600, never overwritten, refused when open or bad."""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from biometrics.keys import (
    FILE_HEADER,
    KeyEncryptionKey,
    KeyFileError,
    KeyFormatError,
    KeyId,
    check_key_file,
    derive_key_id,
    generate_key_file,
    kek_from_base64,
    load_key_file,
)

# Recognisable key bytes, so a leak into a message or repr is easy to spot.
CANARY_SECRET = b"CANARY-KEK-0123456789-abcdefghij"
assert len(CANARY_SECRET) == 32


def _spellings(secret: bytes) -> list[str]:
    """Every form in which key bytes could leak into text."""
    return [
        repr(secret),
        secret.decode("latin-1"),
        secret.hex(),
        base64.b64encode(secret).decode(),
        base64.urlsafe_b64encode(secret).decode(),
    ]


def _assert_no_leak(text: str, secret: bytes) -> None:
    for spelling in _spellings(secret):
        assert spelling not in text


def _write_key_file(path: Path, secret: bytes = CANARY_SECRET, mode: int = 0o600) -> Path:
    b64 = base64.b64encode(secret).decode()
    path.write_text(f"{FILE_HEADER}\n{derive_key_id(secret)}\n{b64}\n")
    path.chmod(mode)
    return path


@pytest.fixture(params=[0o000, 0o022, 0o077, 0o277], ids=lambda m: f"umask-{m:03o}")
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    """Run under several umasks: the code must set the mode itself, whatever the umask."""
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


@pytest.mark.usefixtures("umask")
def test_a_generated_key_file_is_created_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "kek"
    generate_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert check_key_file(path) == []


def test_the_generated_file_loads_as_the_key_whose_id_was_returned(tmp_path: Path) -> None:
    path = tmp_path / "kek"
    key_id = generate_key_file(path)
    kek = load_key_file(path)
    assert kek.key_id == key_id
    assert len(kek.secret) == 32
    assert path.read_text().splitlines()[0] == "rollcall-kek v1"
    assert check_key_file(path) == []


def test_two_generated_keys_differ(tmp_path: Path) -> None:
    assert generate_key_file(tmp_path / "a") != generate_key_file(tmp_path / "b")


def test_it_refuses_to_overwrite_an_existing_key_file(tmp_path: Path) -> None:
    path = tmp_path / "kek"
    generate_key_file(path)
    before = path.read_bytes()
    with pytest.raises(KeyFileError, match="already exists") as excinfo:
        generate_key_file(path)
    assert str(path) in str(excinfo.value)
    assert path.read_bytes() == before


def test_it_refuses_to_write_through_a_symlink_planted_at_the_key_path(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    link = tmp_path / "kek"
    link.symlink_to(target)
    with pytest.raises(KeyFileError, match="already exists"):
        generate_key_file(link)
    assert not target.exists()


def test_it_reports_a_missing_directory_when_generating(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="does not exist"):
        generate_key_file(tmp_path / "no-such-dir" / "kek")


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o606, 0o610, 0o601])
def test_loading_a_key_file_open_to_group_or_others_is_refused_with_the_chmod_hint(
    tmp_path: Path, mode: int
) -> None:
    path = _write_key_file(tmp_path / "kek", mode=mode)
    with pytest.raises(KeyFileError) as excinfo:
        load_key_file(path)
    message = str(excinfo.value)
    assert f"chmod 600 {path}" in message
    assert f"{mode:04o}" in message
    _assert_no_leak(message, CANARY_SECRET)


def test_a_0400_key_file_is_accepted(tmp_path: Path) -> None:
    path = _write_key_file(tmp_path / "kek", mode=0o400)
    assert load_key_file(path).secret == CANARY_SECRET


def test_a_missing_key_file_is_refused_naming_the_path(tmp_path: Path) -> None:
    path = tmp_path / "kek"
    with pytest.raises(KeyFileError, match="does not exist") as excinfo:
        load_key_file(path)
    assert str(path) in str(excinfo.value)


def test_a_directory_is_not_taken_for_a_key_file(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="not a regular file"):
        load_key_file(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_an_unreadable_key_file_is_refused_naming_the_path(tmp_path: Path) -> None:
    path = _write_key_file(tmp_path / "kek", mode=0o000)
    with pytest.raises(KeyFileError, match="permission denied") as excinfo:
        load_key_file(path)
    assert str(path) in str(excinfo.value)


_GOOD_ID = derive_key_id(CANARY_SECRET)
_GOOD_B64 = base64.b64encode(CANARY_SECRET).decode()
_OTHER_SECRET = bytes(range(32))


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(b"", "empty", id="empty"),
        pytest.param(b"\n \n", "empty", id="blank"),
        pytest.param(f"not-a-kek\n{_GOOD_ID}\n{_GOOD_B64}\n".encode(), "first line", id="header"),
        pytest.param(
            f"rollcall-kek v2\n{_GOOD_ID}\n{_GOOD_B64}\n".encode(), "unsupported", id="version"
        ),
        pytest.param(f"{FILE_HEADER}\n{_GOOD_ID}\n".encode(), "3 lines", id="no-key-line"),
        pytest.param(
            f"{FILE_HEADER}\n{_GOOD_ID}\n{_GOOD_B64}\nextra\n".encode(), "3 lines", id="extra"
        ),
        pytest.param(
            f"{FILE_HEADER}\n{_GOOD_ID.upper()}\n{_GOOD_B64}\n".encode(), "hex", id="id-case"
        ),
        pytest.param(f"{FILE_HEADER}\nxyz\n{_GOOD_B64}\n".encode(), "hex", id="id-short"),
        pytest.param(
            f"{FILE_HEADER}\n{_GOOD_ID}\n{_GOOD_B64[:-4]}\n".encode(), "base64", id="key-short"
        ),
        pytest.param(
            f"{FILE_HEADER}\n{_GOOD_ID}\n{_GOOD_B64[:-2]}!=\n".encode(), "base64", id="bad-b64"
        ),
        pytest.param(
            f"{FILE_HEADER}\n{_GOOD_ID}\n{base64.b64encode(_OTHER_SECRET).decode()}\n".encode(),
            "does not match",
            id="id-mismatch",
        ),
        pytest.param(
            f"{FILE_HEADER}\n{_GOOD_ID}\n".encode() + b"\xff" * 44 + b"\n", "ASCII", id="binary"
        ),
        pytest.param(b"A" * 5000, "too large", id="huge"),
    ],
)
def test_a_malformed_key_file_is_refused_without_echoing_its_contents(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    path = tmp_path / "kek"
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(KeyFileError, match=expected) as excinfo:
        load_key_file(path)
    message = str(excinfo.value)
    assert str(path) in message
    _assert_no_leak(message, CANARY_SECRET)
    assert check_key_file(path) == [message]


def test_a_key_file_saved_with_windows_line_endings_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "kek"
    path.write_bytes(f"{FILE_HEADER}\r\n{_GOOD_ID}\r\n{_GOOD_B64}\r\n".encode())
    path.chmod(0o600)
    assert load_key_file(path).secret == CANARY_SECRET


def test_check_lists_both_a_loose_mode_and_a_malformed_body(tmp_path: Path) -> None:
    path = tmp_path / "kek"
    path.write_text("garbage\n")
    path.chmod(0o644)
    problems = check_key_file(path)
    assert len(problems) == 2
    assert "chmod 600" in problems[0]
    assert "malformed" in problems[1]


def test_check_of_a_good_key_file_finds_nothing(tmp_path: Path) -> None:
    assert check_key_file(_write_key_file(tmp_path / "kek")) == []


def test_a_key_never_shows_its_secret_in_repr_or_str() -> None:
    kek = KeyEncryptionKey.from_secret(CANARY_SECRET)
    for text in (repr(kek), str(kek), f"{kek}", f"{kek!r}"):
        _assert_no_leak(text, CANARY_SECRET)
        assert kek.key_id in text


@pytest.mark.parametrize("key_id", [derive_key_id(_OTHER_SECRET), "", "ключ"])
def test_a_key_is_refused_when_its_id_does_not_match_its_secret(key_id: str) -> None:
    with pytest.raises(KeyFormatError, match="does not match"):
        KeyEncryptionKey(key_id=KeyId(key_id), secret=CANARY_SECRET)


@pytest.mark.parametrize("length", [0, 16, 31, 33, 64])
def test_a_key_of_the_wrong_length_is_refused(length: int) -> None:
    with pytest.raises(KeyFormatError, match="32 bytes"):
        KeyEncryptionKey.from_secret(b"k" * length)


def test_keys_compare_by_id() -> None:
    assert KeyEncryptionKey.from_secret(CANARY_SECRET) == KeyEncryptionKey.from_secret(
        bytes(CANARY_SECRET)
    )
    assert KeyEncryptionKey.from_secret(CANARY_SECRET) != KeyEncryptionKey.generate()
    assert len({KeyEncryptionKey.from_secret(CANARY_SECRET), KeyEncryptionKey.generate()}) == 2


def test_a_key_from_base64_text_matches_the_same_key_from_a_file(tmp_path: Path) -> None:
    from_file = load_key_file(_write_key_file(tmp_path / "kek"))
    from_env = kek_from_base64(f"  {_GOOD_B64}\n")
    assert from_env.key_id == from_file.key_id
    assert from_env.secret == from_file.secret


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param(_GOOD_B64[:-4], id="short"),
        pytest.param(base64.b64encode(CANARY_SECRET + b"x").decode(), id="long"),
        pytest.param(base64.urlsafe_b64encode(b"\xff" * 32).decode(), id="urlsafe"),
        pytest.param(CANARY_SECRET.decode(), id="raw"),
        pytest.param("ключ", id="non-ascii"),
    ],
)
def test_bad_base64_key_text_is_refused_without_echoing_it(text: str) -> None:
    with pytest.raises(KeyFormatError) as excinfo:
        kek_from_base64(text)
    message = str(excinfo.value)
    _assert_no_leak(message, CANARY_SECRET)
    if text:
        assert text not in message
