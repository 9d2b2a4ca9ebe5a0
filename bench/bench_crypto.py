# SPDX-License-Identifier: GPL-2.0-or-later
"""Benchmark template sealing against raw AES-GCM, to show the wrapper's overhead.

Run: ``.venv/bin/python bench/bench_crypto.py [--templates N] [--repeat R]``

10,000 random templates of 1.0-1.6 KB (the range of ZKFinger v10 templates), ten per
employee, each employee with their own DEK. Each figure is the best of R runs. The baseline
is ``AESGCM.encrypt``/``decrypt`` on the same bytes with the same keys and a fresh random
nonce, but no envelope and no AAD, in the same process.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cryptography
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

# Run as a script from a checkout, the repository root is not on the path by itself.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from biometrics.crypto import (
    TemplateKind,
    generate_dek,
    open_template,
    seal_template,
    unwrap_dek,
    wrap_dek,
)
from biometrics.keys import KeyEncryptionKey

FINGERS = 10
FORMAT = 10


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    """Smallest wall time of ``repeat`` runs, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--templates", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    n: int = args.templates

    rng = random.Random(24745)
    kek = KeyEncryptionKey.generate()
    employees = (n + FINGERS - 1) // FINGERS
    deks = [generate_dek() for _ in range(employees)]
    wrapped = [wrap_dek(d, employee_id=e, kek=kek) for e, d in enumerate(deks)]
    raw = [AESGCM(d.secret) for d in deks]
    slots = [(i // FINGERS, i % FINGERS) for i in range(n)]
    plain = [os.urandom(rng.randint(1024, 1664)) for _ in range(n)]
    sealed: list[bytes] = []
    raw_ct: list[tuple[bytes, bytes]] = []

    def seal_all() -> None:
        sealed.clear()
        for (e, f), pt in zip(slots, plain, strict=True):
            sealed.append(
                seal_template(
                    deks[e],
                    employee_id=e,
                    kind=TemplateKind.FINGER,
                    index=f,
                    format_version=FORMAT,
                    plaintext=pt,
                )
            )

    def open_all() -> None:
        for (e, f), ct in zip(slots, sealed, strict=True):
            open_template(
                deks[e],
                employee_id=e,
                kind=TemplateKind.FINGER,
                index=f,
                format_version=FORMAT,
                ciphertext=ct,
            )

    def unwrap_and_open_all() -> None:
        # The cold path: one template read from the database, its DEK unwrapped for it.
        for (e, f), ct in zip(slots, sealed, strict=True):
            dek = unwrap_dek(wrapped[e], employee_id=e, kek=kek)
            open_template(
                dek,
                employee_id=e,
                kind=TemplateKind.FINGER,
                index=f,
                format_version=FORMAT,
                ciphertext=ct,
            )

    def raw_encrypt_all() -> None:
        raw_ct.clear()
        for (e, _f), pt in zip(slots, plain, strict=True):
            nonce = os.urandom(12)
            raw_ct.append((nonce, raw[e].encrypt(nonce, pt, None)))

    def raw_decrypt_all() -> None:
        for (e, _f), (nonce, ct) in zip(slots, raw_ct, strict=True):
            raw[e].decrypt(nonce, ct, None)

    t_raw_enc = best_of(args.repeat, raw_encrypt_all)
    t_seal = best_of(args.repeat, seal_all)
    t_raw_dec = best_of(args.repeat, raw_decrypt_all)
    t_open = best_of(args.repeat, open_all)
    t_cold = best_of(args.repeat, unwrap_and_open_all)

    # Correctness, outside the timings.
    for (e, f), pt, ct in zip(slots, plain, sealed, strict=True):
        assert len(ct) == len(pt) + 29
        got = open_template(
            deks[e],
            employee_id=e,
            kind=TemplateKind.FINGER,
            index=f,
            format_version=FORMAT,
            ciphertext=ct,
        )
        assert got == pt

    mean_kb = sum(map(len, plain)) / n / 1024
    print(
        f"{n} templates (mean {mean_kb:.2f} KiB), {employees} employees, best of {args.repeat}; "
        f"Python {platform.python_version()}, cryptography {cryptography.__version__}"
    )
    print(f"{'operation':<34}{'ops/s':>12}{'us/op':>9}{'vs raw':>9}")
    rows = [
        ("raw AESGCM.encrypt (baseline)", t_raw_enc, t_raw_enc),
        ("seal_template", t_seal, t_raw_enc),
        ("raw AESGCM.decrypt (baseline)", t_raw_dec, t_raw_dec),
        ("open_template", t_open, t_raw_dec),
        ("unwrap_dek + open_template", t_cold, t_raw_dec),
    ]
    for name, t, base in rows:
        print(f"{name:<34}{n / t:>12,.0f}{t / n * 1e6:>9.2f}{t / base:>8.2f}x")


if __name__ == "__main__":
    main()
