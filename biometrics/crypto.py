# SPDX-License-Identifier: GPL-2.0-or-later
"""Template encryption: per-employee data keys wrapped by the KEK, templates sealed by them.

Key hierarchy (C18)::

    KEK (file, outside the DB) --wraps--> DEK (one per employee, stored wrapped in the DB)
    DEK --AES-256-GCM, AAD = (employee, kind, index, format version)--> sealed template

Erasing an employee's biometrics destroys their wrapped DEK; every copy of their sealed
templates, backups included, is then unreadable (crypto-shredding, C10).

Wire formats (all integers big-endian):

* wrapped DEK blob: ``0x01 || nonce(12) || AES-GCM_KEK(DEK) || tag(16)``,
  AAD = ``"rollcall/dek-wrap/v1\\0" || 0x01 || employee_id(u64) || len(kek_id)(u8) || kek_id``.
  The KEK id is also kept beside the blob (:class:`WrappedKey`), so rotation can find the
  DEKs still under the old KEK without trying to decrypt anything.
* sealed template: ``0x01 || nonce(12) || AES-GCM_DEK(template) || tag(16)``,
  AAD = ``"rollcall/template/v1\\0" || 0x01 || employee_id(u64) || len(kind)(u8) || kind ||
  index(u32) || format_version(u32)``.

Every field of the AAD has a fixed width or a length prefix, so two different tuples never
encode to the same bytes. The version byte is authenticated too. Nonces are 96 random bits per
encryption; under one DEK (one employee, a handful of templates re-enrolled now and then) the
2**-32 collision bound of NIST SP 800-38D is never approached.

Nothing here logs, and no exception message or ``repr`` carries key or template bytes.
"""

from __future__ import annotations

import enum
import os
import struct
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from biometrics.errors import KeyMismatchError, KeyUnwrapError, TemplateIntegrityError
from biometrics.keys import KEY_BYTES, KeyEncryptionKey

__all__ = [
    "ENVELOPE_VERSION",
    "DataEncryptionKey",
    "KeyMismatchError",
    "KeyUnwrapError",
    "SealedTemplate",
    "TemplateIntegrityError",
    "TemplateKind",
    "WrappedKey",
    "generate_dek",
    "open_sealed",
    "open_template",
    "seal",
    "seal_template",
    "template_aad",
    "unwrap_dek",
    "wrap_dek",
]

ENVELOPE_VERSION = 1
NONCE_BYTES = 12
TAG_BYTES = 16
_VERSION = bytes([ENVELOPE_VERSION])
_HEADER_BYTES = 1 + NONCE_BYTES
_WRAPPED_BLOB_BYTES = _HEADER_BYTES + KEY_BYTES + TAG_BYTES
_WRAP_LABEL = b"rollcall/dek-wrap/v1\x00"
_TEMPLATE_LABEL = b"rollcall/template/v1\x00"
_U64_MAX = 2**64 - 1
_U32_MAX = 2**32 - 1


class TemplateKind(enum.StrEnum):
    """The biometric modality of a template; its value is part of the AAD, never change it."""

    FINGER = "finger"
    FACE = "face"


_U64 = struct.Struct(">Q")
_TWO_U32 = struct.Struct(">II")
_TEMPLATE_PREFIX = _TEMPLATE_LABEL + _VERSION
# StrEnum members hash and compare as their values, so "finger" finds FINGER's entry too.
_KIND_FIELDS: dict[str, bytes] = {
    kind: bytes([len(kind.value.encode())]) + kind.value.encode() for kind in TemplateKind
}


@dataclass(frozen=True, slots=True, eq=False)
class DataEncryptionKey:
    """One employee's 256-bit data-encryption key, in the clear. Keep it in memory only.

    Compared by identity: there is no reason to compare keys, and no timing to leak.
    """

    secret: bytes = field(repr=False)
    _aead: AESGCM = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.secret, bytes) or len(self.secret) != KEY_BYTES:
            raise ValueError(f"a data-encryption key must be {KEY_BYTES} bytes")
        # One AESGCM per key rather than per call: sealing a batch reuses the key schedule.
        object.__setattr__(self, "_aead", AESGCM(self.secret))


@dataclass(frozen=True, slots=True)
class WrappedKey:
    """A DEK encrypted under a KEK, as stored in the database, with the id of that KEK."""

    kek_id: str
    blob: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class SealedTemplate:
    """An encrypted template and the identity it is bound to (all of it is in the AAD)."""

    employee_id: int
    kind: TemplateKind
    index: int
    format_version: int
    ciphertext: bytes = field(repr=False)


def generate_dek() -> DataEncryptionKey:
    """Return a new random DEK from the operating system's CSPRNG."""
    return DataEncryptionKey(os.urandom(KEY_BYTES))


def _check_uint(name: str, value: int, maximum: int) -> None:
    # bool is an int subclass; True as an employee id is a bug, not id 1.
    if type(value) is not int or not 0 <= value <= maximum:
        raise ValueError(f"{name} must be an integer from 0 to {maximum}")


def _short_field(name: str, value: str) -> bytes:
    raw = value.encode("utf-8")
    if not 0 < len(raw) < 256:
        raise ValueError(f"{name} must be 1 to 255 bytes of UTF-8")
    return bytes([len(raw)]) + raw


def _wrap_aad(employee_id: int, kek_id: str) -> bytes:
    _check_uint("employee_id", employee_id, _U64_MAX)
    return _WRAP_LABEL + _VERSION + struct.pack(">Q", employee_id) + _short_field("kek_id", kek_id)


def template_aad(*, employee_id: int, kind: TemplateKind, index: int, format_version: int) -> bytes:
    """The canonical, injective encoding of what a sealed template is bound to."""
    # This runs on every seal and open, so it is written for speed: one dict lookup for the
    # kind, one struct call for the integers, the checks inlined.
    try:
        kind_field = _KIND_FIELDS[kind]
    except (KeyError, TypeError):
        raise ValueError(f"kind must be one of {[k.value for k in TemplateKind]}") from None
    if (
        type(employee_id) is not int
        or type(index) is not int
        or type(format_version) is not int
        or not 0 <= employee_id <= _U64_MAX
        or not 0 <= index <= _U32_MAX
        or not 0 <= format_version <= _U32_MAX
    ):
        _check_uint("employee_id", employee_id, _U64_MAX)
        _check_uint("index", index, _U32_MAX)
        _check_uint("format_version", format_version, _U32_MAX)
    return (
        _TEMPLATE_PREFIX
        + _U64.pack(employee_id)
        + kind_field
        + _TWO_U32.pack(index, format_version)
    )


def _encrypt(aead: AESGCM, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return _VERSION + nonce + aead.encrypt(nonce, plaintext, aad)


def wrap_dek(dek: DataEncryptionKey, *, employee_id: int, kek: KeyEncryptionKey) -> WrappedKey:
    """Encrypt ``dek`` under ``kek``, bound to ``employee_id`` and to the KEK's id."""
    aad = _wrap_aad(employee_id, kek.key_id)
    return WrappedKey(kek_id=kek.key_id, blob=_encrypt(AESGCM(kek.secret), dek.secret, aad))


def unwrap_dek(
    wrapped: WrappedKey, *, employee_id: int, kek: KeyEncryptionKey
) -> DataEncryptionKey:
    """Decrypt a wrapped DEK.

    Raises :class:`KeyMismatchError` if it was wrapped under another KEK, and
    :class:`KeyUnwrapError` if it fails authentication (another employee's DEK, a relabelled
    KEK id, a tampered or truncated blob).
    """
    if wrapped.kek_id != kek.key_id:
        raise KeyMismatchError(
            f"the data key of employee {employee_id} is wrapped under KEK {wrapped.kek_id}, "
            f"not under the supplied KEK {kek.key_id}"
        )
    aad = _wrap_aad(employee_id, kek.key_id)
    blob = wrapped.blob
    failed = f"the data key of employee {employee_id} failed authentication under KEK {kek.key_id}"
    if len(blob) != _WRAPPED_BLOB_BYTES or blob[:1] != _VERSION:
        raise KeyUnwrapError(f"{failed}: not a version-{ENVELOPE_VERSION} wrapped key")
    try:
        secret = AESGCM(kek.secret).decrypt(blob[1:_HEADER_BYTES], blob[_HEADER_BYTES:], aad)
    except InvalidTag:
        raise KeyUnwrapError(f"{failed} (it belongs to another employee, or was altered)") from None
    return DataEncryptionKey(secret)


def seal_template(
    dek: DataEncryptionKey,
    *,
    employee_id: int,
    kind: TemplateKind,
    index: int,
    format_version: int,
    plaintext: bytes,
) -> bytes:
    """Encrypt one template under the employee's DEK, bound to its identity; return the
    envelope ``version || nonce || ciphertext || tag``."""
    aad = template_aad(
        employee_id=employee_id, kind=kind, index=index, format_version=format_version
    )
    return _encrypt(dek._aead, plaintext, aad)


def _where(employee_id: int, kind: TemplateKind, index: int) -> str:
    return f"{TemplateKind(kind).value} template {index} of employee {employee_id}"


def open_template(
    dek: DataEncryptionKey,
    *,
    employee_id: int,
    kind: TemplateKind,
    index: int,
    format_version: int,
    ciphertext: bytes,
) -> bytes:
    """Decrypt a sealed template, checking it is bound to exactly this identity.

    Raises :class:`TemplateIntegrityError` if the envelope is malformed or fails
    authentication: wrong DEK (another employee's, or a new one after erasure), moved to
    another employee, kind, index or format version, or altered.
    """
    aad = template_aad(
        employee_id=employee_id, kind=kind, index=index, format_version=format_version
    )
    if len(ciphertext) < _HEADER_BYTES + TAG_BYTES:
        raise TemplateIntegrityError(
            f"{_where(employee_id, kind, index)} is too short to be a sealed template"
        )
    if ciphertext[:1] != _VERSION:
        raise TemplateIntegrityError(
            f"{_where(employee_id, kind, index)} has an unknown envelope version"
        )
    try:
        return dek._aead.decrypt(ciphertext[1:_HEADER_BYTES], ciphertext[_HEADER_BYTES:], aad)
    except InvalidTag:
        raise TemplateIntegrityError(
            f"{_where(employee_id, kind, index)} failed authentication: wrong data key, "
            "ciphertext moved from another employee, kind, index or format version, or altered"
        ) from None


def seal(
    dek: DataEncryptionKey,
    *,
    employee_id: int,
    kind: TemplateKind,
    index: int,
    format_version: int,
    plaintext: bytes,
) -> SealedTemplate:
    """:func:`seal_template`, returning the envelope with the identity it is bound to."""
    kind = TemplateKind(kind)
    ciphertext = seal_template(
        dek,
        employee_id=employee_id,
        kind=kind,
        index=index,
        format_version=format_version,
        plaintext=plaintext,
    )
    return SealedTemplate(
        employee_id=employee_id,
        kind=kind,
        index=index,
        format_version=format_version,
        ciphertext=ciphertext,
    )


def open_sealed(dek: DataEncryptionKey, sealed: SealedTemplate) -> bytes:
    """:func:`open_template` for a :class:`SealedTemplate`."""
    return open_template(
        dek,
        employee_id=sealed.employee_id,
        kind=sealed.kind,
        index=sealed.index,
        format_version=sealed.format_version,
        ciphertext=sealed.ciphertext,
    )
