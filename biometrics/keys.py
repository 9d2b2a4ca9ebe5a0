# SPDX-License-Identifier: GPL-2.0-or-later
"""The key-encryption key (KEK): its file, its text form, and its checks.

The KEK wraps every per-employee data-encryption key. It lives outside the database, in its
own file readable by the service user only, so a database backup never holds it (C18).

File format (ASCII, three lines, version first so a later format can be told apart)::

    rollcall-kek v1
    <key id: 16 lowercase hex digits>
    <key: standard base64 of 32 bytes>

The key id is derived from the key, so a file whose two lines disagree (a partial edit, a
copy-paste of the wrong key) is refused rather than silently used.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import NewType

from biometrics.errors import KeyFileError, KeyFormatError

__all__ = [
    "KEY_BYTES",
    "KeyEncryptionKey",
    "KeyFileError",
    "KeyFormatError",
    "KeyId",
    "check_key_file",
    "derive_key_id",
    "generate_key_file",
    "kek_from_base64",
    "load_key_file",
]

KeyId = NewType("KeyId", str)

KEY_BYTES = 32  # AES-256
FILE_HEADER = "rollcall-kek v1"
_HEADER_PREFIX = "rollcall-kek "
_KEY_ID_BYTES = 8
# The id is a hash of the key under its own label, so it cannot be mistaken for (or reused
# as) a hash of the key computed for any other purpose.
_KEY_ID_LABEL = b"rollcall/kek-id/v1\x00"
# A valid file is under 100 bytes; anything much larger is not ours, and we do not read it all.
_MAX_FILE_BYTES = 4096


def derive_key_id(secret: bytes) -> KeyId:
    """Return the public id of a key: the first 8 bytes of a labelled SHA-256, in hex."""
    digest = hashlib.sha256(_KEY_ID_LABEL + secret).digest()
    return KeyId(digest[:_KEY_ID_BYTES].hex())


@dataclass(frozen=True, slots=True)
class KeyEncryptionKey:
    """A 256-bit key-encryption key and its public id.

    The secret is excluded from ``repr``/``str`` and from equality (two keys are equal when
    their ids are, and the id is derived from the secret).
    """

    key_id: KeyId
    secret: bytes = field(repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.secret, bytes) or len(self.secret) != KEY_BYTES:
            raise KeyFormatError(f"a key-encryption key must be {KEY_BYTES} bytes")
        key_id = self.key_id
        if (
            not isinstance(key_id, str)
            or not key_id.isascii()  # compare_digest takes ASCII str only
            or not hmac.compare_digest(key_id, derive_key_id(self.secret))
        ):
            raise KeyFormatError("the key id does not match the key")

    @classmethod
    def from_secret(cls, secret: bytes) -> KeyEncryptionKey:
        """Build a key from its raw bytes, deriving the id."""
        if not isinstance(secret, bytes) or len(secret) != KEY_BYTES:
            raise KeyFormatError(f"a key-encryption key must be {KEY_BYTES} bytes")
        return cls(key_id=derive_key_id(secret), secret=secret)

    @classmethod
    def generate(cls) -> KeyEncryptionKey:
        """Return a new random key from the operating system's CSPRNG."""
        return cls.from_secret(os.urandom(KEY_BYTES))


def _decode_key_b64(text: str) -> bytes | None:
    """Strict standard base64 of exactly 32 bytes, or None. Never echoes the input."""
    try:
        raw = base64.b64decode(text.strip().encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return None
    return raw if len(raw) == KEY_BYTES else None


def kek_from_base64(text: str) -> KeyEncryptionKey:
    """Build a KEK from the base64 text of its 32 bytes (e.g. an environment variable).

    Surrounding whitespace is ignored. The error message never contains the text.
    """
    secret = _decode_key_b64(text)
    if secret is None:
        raise KeyFormatError(
            f"the key-encryption key is not standard base64 of {KEY_BYTES} bytes "
            "(generate one with `rollcall init`)"
        )
    return KeyEncryptionKey.from_secret(secret)


def _render(kek: KeyEncryptionKey) -> bytes:
    b64 = base64.b64encode(kek.secret).decode("ascii")
    return f"{FILE_HEADER}\n{kek.key_id}\n{b64}\n".encode("ascii")


def _fsync_dir(directory: Path) -> None:
    """Make the new directory entry durable; not every platform lets us open a directory."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def generate_key_file(path: Path) -> KeyId:
    """Create a new random KEK in a new file at ``path``, mode 0600, and return its id.

    The file is created with O_EXCL and mode 0600 in one step, so there is no moment when it
    exists with wider permissions, and an existing file (or a symlink planted there) is never
    overwritten. Contents and directory entry are fsynced before returning.
    """
    path = Path(path)
    kek = KeyEncryptionKey.generate()
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        raise KeyFileError(
            f"key file {path} already exists; refusing to overwrite it "
            "(it may be the only copy of the key that protects the stored templates)"
        ) from None
    except FileNotFoundError:
        raise KeyFileError(
            f"cannot create key file {path}: directory {path.parent} does not exist"
        ) from None
    except OSError as exc:
        raise KeyFileError(f"cannot create key file {path}: {exc.strerror}") from None
    try:
        # The umask can only narrow 0600; set it exactly so the owner can always read it.
        os.fchmod(fd, 0o600)
        data = _render(kek)
        written = 0
        while written < len(data):
            written += os.write(fd, data[written:])
        os.fsync(fd)
    except OSError as exc:
        os.close(fd)
        with contextlib.suppress(OSError):
            path.unlink()
        raise KeyFileError(f"cannot write key file {path}: {exc.strerror}") from None
    os.close(fd)
    _fsync_dir(path.parent)
    return kek.key_id


def _read_checked(path: Path) -> tuple[bytes | None, list[str]]:
    """Open, stat and read the file; return its bytes (or None) and the problems found.

    The mode is checked on the open descriptor, so the file we judge is the file we read.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None, [
            f"key file {path} does not exist (create it with `rollcall init`, "
            "or restore it from the key backup)"
        ]
    except PermissionError:
        return None, [
            f"key file {path} cannot be read: permission denied "
            "(it must be owned by, and readable by, the user running Rollcall)"
        ]
    except OSError as exc:
        return None, [f"key file {path} cannot be opened: {exc.strerror}"]
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None, [f"key file {path} is not a regular file"]
        problems: list[str] = []
        mode = stat.S_IMODE(st.st_mode)
        if mode & 0o077:
            problems.append(
                f"key file {path} is accessible by group or others "
                f"(mode {mode:04o}); fix it with: chmod 600 {path}"
            )
        try:
            data = os.read(fd, _MAX_FILE_BYTES + 1)
        except OSError as exc:
            return None, [*problems, f"key file {path} cannot be read: {exc.strerror}"]
        return data, problems
    finally:
        os.close(fd)


def _parse(path: Path, data: bytes) -> tuple[KeyEncryptionKey | None, str | None]:
    """Parse file contents; the error message never includes any of the contents."""
    bad = f"key file {path} is malformed"
    if len(data) > _MAX_FILE_BYTES:
        return None, f"{bad}: too large to be a Rollcall key file"
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        return None, f"{bad}: not ASCII text"
    if not text.strip():
        return None, f"{bad}: it is empty (left by an interrupted `rollcall init`?)"
    lines = [line.strip() for line in text.strip().splitlines()]
    if not lines or not lines[0].startswith(_HEADER_PREFIX):
        return None, f"{bad}: the first line must be '{FILE_HEADER}'"
    if lines[0] != FILE_HEADER:
        return None, f"{bad}: unsupported format (expected '{FILE_HEADER}')"
    if len(lines) != 3:
        return None, f"{bad}: expected 3 lines (header, key id, key), found {len(lines)}"
    key_id, key_b64 = lines[1], lines[2]
    if len(key_id) != 2 * _KEY_ID_BYTES or any(c not in "0123456789abcdef" for c in key_id):
        return None, f"{bad}: the second line must be a {2 * _KEY_ID_BYTES}-digit hex key id"
    secret = _decode_key_b64(key_b64)
    if secret is None:
        return None, f"{bad}: the third line must be standard base64 of {KEY_BYTES} bytes"
    if not hmac.compare_digest(key_id, derive_key_id(secret)):
        return None, f"{bad}: the key id does not match the key (was the file edited?)"
    return KeyEncryptionKey.from_secret(secret), None


def _inspect(path: Path) -> tuple[KeyEncryptionKey | None, list[str]]:
    data, problems = _read_checked(path)
    if data is None:
        return None, problems
    kek, error = _parse(path, data)
    if error is not None:
        problems.append(error)
    return kek, problems


def load_key_file(path: Path) -> KeyEncryptionKey:
    """Read and validate the KEK file at ``path``.

    Raises :class:`KeyFileError` if it is missing, unreadable, not a regular file, readable or
    writable by group or others, or malformed. Messages name the path and the fix, never the
    key.
    """
    path = Path(path)
    kek, problems = _inspect(path)
    if problems or kek is None:
        raise KeyFileError(problems[0] if problems else f"key file {path} is malformed")
    return kek


def check_key_file(path: Path) -> list[str]:
    """Return every problem with the KEK file at ``path``, for ``rollcall check``.

    An empty list means :func:`load_key_file` will succeed.
    """
    return _inspect(Path(path))[1]
