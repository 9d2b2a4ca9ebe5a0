# SPDX-License-Identifier: GPL-2.0-or-later
"""``/api/v1``: the blueprint with every endpoint module loaded into its registry."""

from __future__ import annotations

from server.api.blueprint import api, bp
from server.api.endpoints import (
    attendance,
    audit,
    dashboard,
    employees,
    meta,
    organization,
    rights,
    terminals,
)

__all__ = [
    "api",
    "attendance",
    "audit",
    "bp",
    "dashboard",
    "employees",
    "meta",
    "organization",
    "rights",
    "terminals",
]
