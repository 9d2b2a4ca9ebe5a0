# SPDX-License-Identifier: GPL-2.0-or-later
"""Exceptions of the biometric vault.

No message carries key material or template bytes: callers may log them, show them to an
operator or put them in an audit entry. Messages name paths, key ids and employee ids only.
"""

from __future__ import annotations


class VaultError(Exception):
    """Base class for every error raised by :mod:`biometrics`."""


class KeyFileError(VaultError):
    """The key-encryption key file is missing, unreadable, malformed or too open."""


class KeyFormatError(VaultError):
    """Key material given as text (e.g. from an environment variable) is not a valid key."""


class KeyMismatchError(VaultError):
    """A wrapped key names a different key-encryption key than the one supplied."""


class KeyUnwrapError(VaultError):
    """A wrapped data-encryption key failed authentication (wrong key, wrong employee or
    tampered blob)."""


class TemplateIntegrityError(VaultError):
    """A sealed template failed authentication or is not a sealed template at all."""


class RotationError(VaultError):
    """Key rotation cannot proceed (same KEK twice, or a store breaking its contract)."""
