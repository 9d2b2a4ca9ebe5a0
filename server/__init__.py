# SPDX-License-Identifier: GPL-2.0-or-later
"""Rollcall: on-premise attendance server for ZKTeco-style terminals."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(*args: Any, **kwargs: Any) -> Flask:
    # Imported on call: terminals/ and biometrics/ use server.db and the models without
    # pulling Flask into the worker (STYLE.md section 1).
    from server.app import create_app as _create_app

    return _create_app(*args, **kwargs)


__all__ = ["create_app"]
