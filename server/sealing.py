# SPDX-License-Identifier: GPL-2.0-or-later
"""Small secrets Rollcall keeps for its own use (terminal comm keys), sealed at rest.

They are encrypted with AES-256-GCM under a subkey derived (HKDF-SHA256) from the instance's
key-encryption key, which never enters the database; the purpose and the owner (e.g. the
terminal's serial number) are bound as associated data, so a sealed value copied to another
row does not open. The blob records which KEK sealed it, for key rotation.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from biometrics.errors import VaultError
from biometrics.keys import KeyEncryptionKey, kek_from_base64, load_key_file
from server.settings import Settings

_VERSION = b"\x01"
_INFO = b"rollcall/instance-secrets/v1"


class SealError(Exception):
    """A sealed value could not be opened (wrong key, wrong owner, or tampered)."""


def instance_kek(settings: Settings) -> KeyEncryptionKey:
    """The KEK from ``ROLLCALL_KEK`` if set, else from the key file (permissions checked)."""
    if settings.kek:
        return kek_from_base64(settings.kek)
    return load_key_file(settings.key_file)


def _subkey(kek: KeyEncryptionKey) -> AESGCM:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(kek.secret)
    return AESGCM(key)


def _aad(purpose: str, owner: str) -> bytes:
    p, o = purpose.encode(), owner.encode()
    return len(p).to_bytes(1, "big") + p + len(o).to_bytes(2, "big") + o


def seal_secret(kek: KeyEncryptionKey, plaintext: str, *, purpose: str, owner: str) -> bytes:
    kek_id = kek.key_id.encode("ascii")
    nonce = os.urandom(12)
    body = _subkey(kek).encrypt(nonce, plaintext.encode(), _aad(purpose, owner))
    return _VERSION + len(kek_id).to_bytes(1, "big") + kek_id + nonce + body


def sealed_kek_id(blob: bytes) -> str:
    if not blob or blob[:1] != _VERSION:
        raise SealError("not a sealed value of a known version")
    n = blob[1]
    return blob[2 : 2 + n].decode("ascii")


def open_secret(kek: KeyEncryptionKey, blob: bytes, *, purpose: str, owner: str) -> str:
    kek_id = sealed_kek_id(blob)
    if kek_id != kek.key_id:
        raise SealError(f"sealed under key {kek_id}, not the current key {kek.key_id}")
    start = 2 + len(kek_id)
    nonce, body = blob[start : start + 12], blob[start + 12 :]
    try:
        return _subkey(kek).decrypt(nonce, body, _aad(purpose, owner)).decode()
    except (InvalidTag, ValueError, VaultError) as exc:
        raise SealError("sealed value does not open: wrong owner or tampered") from exc


# An employee's terminal password (a few digits typed at the keypad), sealed like comm keys.
DEVICE_PASSWORD_PURPOSE = "device-password"  # noqa: S105 -- a label, not a password


def device_password_owner(employee_id: object) -> str:
    return f"employee:{employee_id}"
