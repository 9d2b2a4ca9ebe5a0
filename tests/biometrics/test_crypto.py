# SPDX-License-Identifier: GPL-2.0-or-later
"""Template sealing and DEK wrapping: bound to their owner, tamper-evident, leak-free."""

from __future__ import annotations

import base64
import dataclasses
import itertools
import os
from collections.abc import Callable
from typing import Any

import pytest

from biometrics.crypto import (
    DataEncryptionKey,
    SealedTemplate,
    TemplateKind,
    WrappedKey,
    generate_dek,
    open_sealed,
    open_template,
    seal,
    seal_template,
    template_aad,
    unwrap_dek,
    wrap_dek,
)
from biometrics.errors import KeyMismatchError, KeyUnwrapError, TemplateIntegrityError
from biometrics.keys import KeyEncryptionKey
from tests.biometrics.fakes import InMemoryDekStore

# A template with a recognisable pattern, the size of a typical ZKFinger v10 template.
CANARY_TEMPLATE = (b"CANARY-TEMPLATE-" * 96)[:1536]
CANARY_DEK = b"CANARY-DEK-abcdefghij-0123456789"
assert len(CANARY_DEK) == 32

IDENTITY: dict[str, Any] = {
    "employee_id": 42,
    "kind": TemplateKind.FINGER,
    "index": 3,
    "format_version": 10,
}


def _spellings(secret: bytes) -> list[str]:
    return [
        repr(secret),
        secret.decode("latin-1"),
        secret.hex(),
        base64.b64encode(secret).decode(),
        # a fragment, in case something truncates
        secret[:16].decode("latin-1"),
        secret[:16].hex(),
    ]


def _assert_no_leak(text: str, *secrets: bytes) -> None:
    for secret in secrets:
        for spelling in _spellings(secret):
            assert spelling not in text


@pytest.fixture
def dek() -> DataEncryptionKey:
    return DataEncryptionKey(CANARY_DEK)


@pytest.fixture
def kek() -> KeyEncryptionKey:
    return KeyEncryptionKey.generate()


def _seal(dek: DataEncryptionKey, plaintext: bytes = CANARY_TEMPLATE, **overrides: Any) -> bytes:
    identity = {**IDENTITY, **overrides}
    return seal_template(dek, plaintext=plaintext, **identity)


def _open(dek: DataEncryptionKey, ciphertext: bytes, **overrides: Any) -> bytes:
    identity = {**IDENTITY, **overrides}
    return open_template(dek, ciphertext=ciphertext, **identity)


# ------------------------------------------------------------------------------ round trips


@pytest.mark.parametrize("size", [0, 1, 512, 1536, 20_000])
@pytest.mark.parametrize("kind", list(TemplateKind))
def test_a_sealed_template_opens_to_the_same_bytes(
    dek: DataEncryptionKey, size: int, kind: TemplateKind
) -> None:
    plaintext = os.urandom(size)
    ciphertext = _seal(dek, plaintext, kind=kind)
    assert _open(dek, ciphertext, kind=kind) == plaintext
    assert len(ciphertext) == 1 + 12 + size + 16


def test_a_sealed_template_record_opens_to_the_same_bytes(dek: DataEncryptionKey) -> None:
    sealed = seal(dek, plaintext=CANARY_TEMPLATE, **IDENTITY)
    assert (sealed.employee_id, sealed.kind, sealed.index, sealed.format_version) == (
        42,
        "finger",
        3,
        10,
    )
    assert open_sealed(dek, sealed) == CANARY_TEMPLATE


def test_the_ciphertext_does_not_contain_the_template(dek: DataEncryptionKey) -> None:
    ciphertext = _seal(dek)
    assert CANARY_TEMPLATE[:16] not in ciphertext
    assert b"CANARY" not in ciphertext


def test_sealing_the_same_template_twice_gives_different_ciphertexts(
    dek: DataEncryptionKey,
) -> None:
    assert _seal(dek) != _seal(dek)


def test_nonces_are_unique_over_ten_thousand_seals(dek: DataEncryptionKey) -> None:
    plaintext = os.urandom(64)
    nonces = {_seal(dek, plaintext)[1:13] for _ in range(10_000)}
    assert len(nonces) == 10_000


# -------------------------------------------------------------------------- identity binding


@pytest.mark.parametrize(
    "moved_to",
    [
        pytest.param({"employee_id": 43}, id="another-employee"),
        pytest.param({"employee_id": 42 + 2**32}, id="employee-high-bits"),
        pytest.param({"kind": TemplateKind.FACE}, id="another-kind"),
        pytest.param({"index": 4}, id="another-index"),
        pytest.param({"format_version": 12}, id="another-format-version"),
    ],
)
def test_a_ciphertext_moved_to_another_slot_fails_authentication(
    dek: DataEncryptionKey, moved_to: dict[str, Any]
) -> None:
    ciphertext = _seal(dek)
    with pytest.raises(TemplateIntegrityError, match="failed authentication") as excinfo:
        _open(dek, ciphertext, **moved_to)
    _assert_no_leak(str(excinfo.value), CANARY_TEMPLATE, CANARY_DEK, ciphertext)
    assert excinfo.value.__cause__ is None
    assert excinfo.value.__suppress_context__


def test_a_ciphertext_swapped_between_two_employees_fails_under_either_key() -> None:
    dek_a, dek_b = generate_dek(), generate_dek()
    of_a = _seal(dek_a, employee_id=1)
    of_b = _seal(dek_b, employee_id=2)
    with pytest.raises(TemplateIntegrityError):
        _open(dek_b, of_a, employee_id=2)  # A's row copied onto B
    with pytest.raises(TemplateIntegrityError):
        _open(dek_a, of_b, employee_id=1)  # and the other way round
    with pytest.raises(TemplateIntegrityError):
        _open(dek_b, of_a, employee_id=1)  # A's row opened with B's key


@pytest.mark.parametrize(
    "position",
    [pytest.param(1, id="nonce"), pytest.param(20, id="body"), pytest.param(-1, id="tag")],
)
def test_a_tampered_ciphertext_fails_authentication(dek: DataEncryptionKey, position: int) -> None:
    ciphertext = bytearray(_seal(dek))
    ciphertext[position] ^= 0x01
    with pytest.raises(TemplateIntegrityError, match="failed authentication") as excinfo:
        _open(dek, bytes(ciphertext))
    _assert_no_leak(str(excinfo.value), CANARY_TEMPLATE, CANARY_DEK, bytes(ciphertext))


def test_a_ciphertext_with_an_unknown_version_byte_is_refused(dek: DataEncryptionKey) -> None:
    ciphertext = b"\x02" + _seal(dek)[1:]
    with pytest.raises(TemplateIntegrityError, match="unknown envelope version"):
        _open(dek, ciphertext)


@pytest.mark.parametrize("keep", [0, 1, 13, 28])
def test_a_truncated_ciphertext_is_refused(dek: DataEncryptionKey, keep: int) -> None:
    with pytest.raises(TemplateIntegrityError, match="too short"):
        _open(dek, _seal(dek)[:keep])


def test_a_ciphertext_cut_short_by_one_byte_fails_authentication(dek: DataEncryptionKey) -> None:
    with pytest.raises(TemplateIntegrityError, match="failed authentication"):
        _open(dek, _seal(dek)[:-1])


def test_a_ciphertext_with_bytes_appended_fails_authentication(dek: DataEncryptionKey) -> None:
    with pytest.raises(TemplateIntegrityError, match="failed authentication"):
        _open(dek, _seal(dek) + b"\x00")


def test_a_kind_given_as_plain_text_binds_like_the_enum(dek: DataEncryptionKey) -> None:
    from_database: Any = "face"  # a plain str, as a text column returns it
    assert template_aad(
        employee_id=1, kind=from_database, index=0, format_version=7
    ) == template_aad(employee_id=1, kind=TemplateKind.FACE, index=0, format_version=7)
    ciphertext = _seal(dek, kind="face")
    assert _open(dek, ciphertext, kind=TemplateKind.FACE) == CANARY_TEMPLATE
    sealed = seal(dek, plaintext=b"x", **{**IDENTITY, "kind": "face"})
    assert sealed.kind is TemplateKind.FACE


def test_the_template_binding_encodes_every_identity_differently() -> None:
    identities = itertools.product(
        [0, 1, 256, 2**32, 2**64 - 1], list(TemplateKind), [0, 1, 9, 2**32 - 1], [0, 10, 2**32 - 1]
    )
    encodings = [
        template_aad(employee_id=e, kind=k, index=i, format_version=f) for e, k, i, f in identities
    ]
    assert len(set(encodings)) == len(encodings)


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param({"employee_id": -1}, id="negative-employee"),
        pytest.param({"employee_id": 2**64}, id="huge-employee"),
        pytest.param({"employee_id": True}, id="bool-employee"),
        pytest.param({"index": -1}, id="negative-index"),
        pytest.param({"index": 2**32}, id="huge-index"),
        pytest.param({"format_version": -1}, id="negative-format"),
        pytest.param({"kind": "iris"}, id="unknown-kind"),
    ],
)
def test_an_identity_out_of_range_is_refused_before_sealing(
    dek: DataEncryptionKey, bad: dict[str, Any]
) -> None:
    with pytest.raises(ValueError, match=r"must be|is not a valid"):
        _seal(dek, **bad)


# ------------------------------------------------------------------------------- no leaking


def test_no_repr_or_str_shows_template_or_key_bytes(
    dek: DataEncryptionKey, kek: KeyEncryptionKey
) -> None:
    sealed = seal(dek, plaintext=CANARY_TEMPLATE, **IDENTITY)
    wrapped = wrap_dek(dek, employee_id=42, kek=kek)
    for obj in (dek, sealed, wrapped):
        for text in (repr(obj), str(obj), f"{obj}"):
            _assert_no_leak(text, CANARY_TEMPLATE, CANARY_DEK, sealed.ciphertext, wrapped.blob)
            _assert_no_leak(text, kek.secret)
    assert "employee_id=42" in repr(sealed)
    assert kek.key_id in repr(wrapped)


def test_a_sealed_template_cannot_be_changed_after_creation(dek: DataEncryptionKey) -> None:
    sealed = seal(dek, plaintext=CANARY_TEMPLATE, **IDENTITY)
    with pytest.raises(dataclasses.FrozenInstanceError):
        sealed.employee_id = 43  # type: ignore[misc]  # assigning is what is tested
    assert isinstance(sealed, SealedTemplate)
    assert not hasattr(sealed, "__dict__")


def test_a_data_key_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        DataEncryptionKey(b"short")


# ------------------------------------------------------------------------------ DEK wrapping


def test_a_wrapped_data_key_unwraps_to_a_key_that_opens_its_templates(
    dek: DataEncryptionKey, kek: KeyEncryptionKey
) -> None:
    ciphertext = _seal(dek)
    wrapped = wrap_dek(dek, employee_id=42, kek=kek)
    assert wrapped.kek_id == kek.key_id
    assert CANARY_DEK not in wrapped.blob
    assert _open(unwrap_dek(wrapped, employee_id=42, kek=kek), ciphertext) == CANARY_TEMPLATE


def test_a_wrapped_data_key_moved_to_another_employee_does_not_unwrap(
    dek: DataEncryptionKey, kek: KeyEncryptionKey
) -> None:
    wrapped = wrap_dek(dek, employee_id=42, kek=kek)
    with pytest.raises(KeyUnwrapError, match="employee 43") as excinfo:
        unwrap_dek(wrapped, employee_id=43, kek=kek)
    _assert_no_leak(str(excinfo.value), CANARY_DEK, kek.secret, wrapped.blob)


def test_a_data_key_wrapped_under_another_kek_is_reported_as_such(
    dek: DataEncryptionKey, kek: KeyEncryptionKey
) -> None:
    other = KeyEncryptionKey.generate()
    wrapped = wrap_dek(dek, employee_id=42, kek=kek)
    with pytest.raises(KeyMismatchError) as excinfo:
        unwrap_dek(wrapped, employee_id=42, kek=other)
    assert kek.key_id in str(excinfo.value)
    assert other.key_id in str(excinfo.value)


def test_relabelling_a_wrapped_key_with_another_kek_id_does_not_unwrap(
    dek: DataEncryptionKey, kek: KeyEncryptionKey
) -> None:
    other = KeyEncryptionKey.generate()
    wrapped = wrap_dek(dek, employee_id=42, kek=kek)
    relabelled = WrappedKey(kek_id=other.key_id, blob=wrapped.blob)
    with pytest.raises(KeyUnwrapError):
        unwrap_dek(relabelled, employee_id=42, kek=other)


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda b: b[:-1], id="truncated"),
        pytest.param(lambda b: b + b"\x00", id="extended"),
        pytest.param(lambda b: b"\x02" + b[1:], id="version"),
        pytest.param(lambda b: b[:5] + bytes([b[5] ^ 1]) + b[6:], id="nonce"),
        pytest.param(lambda b: b[:-1] + bytes([b[-1] ^ 1]), id="tag"),
    ],
)
def test_a_tampered_wrapped_key_does_not_unwrap(
    dek: DataEncryptionKey, kek: KeyEncryptionKey, mangle: Callable[[bytes], bytes]
) -> None:
    wrapped = wrap_dek(dek, employee_id=42, kek=kek)
    tampered = WrappedKey(kek_id=wrapped.kek_id, blob=mangle(wrapped.blob))
    with pytest.raises(KeyUnwrapError) as excinfo:
        unwrap_dek(tampered, employee_id=42, kek=kek)
    _assert_no_leak(str(excinfo.value), CANARY_DEK, kek.secret)


def test_the_kek_itself_cannot_open_a_template(kek: KeyEncryptionKey) -> None:
    as_dek = DataEncryptionKey(kek.secret)
    with pytest.raises(TemplateIntegrityError):
        _open(as_dek, _seal(generate_dek()))


# ----------------------------------------------------------------------------- crypto-shredding


def test_destroying_a_data_key_makes_the_templates_unreadable(kek: KeyEncryptionKey) -> None:
    store = InMemoryDekStore()
    victim, control = generate_dek(), generate_dek()
    store.committed = {
        1: wrap_dek(victim, employee_id=1, kek=kek),
        2: wrap_dek(control, employee_id=2, kek=kek),
    }
    victim_rows = [_seal(victim, employee_id=1, index=i) for i in range(3)]
    control_row = _seal(control, employee_id=2)
    del victim  # only the wrapped copy in the store remains

    store.destroy(1)
    store.checkpoint()

    assert store.get(1) is None
    # Nothing left can open the ciphertexts: not the KEK, not a new DEK for the same
    # employee (re-enrolment), not another employee's DEK.
    candidates = [
        DataEncryptionKey(kek.secret),
        generate_dek(),
        unwrap_dek(store.committed[2], employee_id=2, kek=kek),
    ]
    for candidate, (i, row) in itertools.product(candidates, enumerate(victim_rows)):
        with pytest.raises(TemplateIntegrityError):
            _open(candidate, row, employee_id=1, index=i)
    # The control employee is unaffected.
    control_dek = unwrap_dek(store.committed[2], employee_id=2, kek=kek)
    assert _open(control_dek, control_row, employee_id=2) == CANARY_TEMPLATE
