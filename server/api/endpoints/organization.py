# SPDX-License-Identifier: GPL-2.0-or-later
"""The department and area trees (issue #6), as flat lists in tree order, over the services
the pages use. Everyone signed in reads both, as on the pages; how many people work in a
department is told only within a scoped caller's departments."""

from __future__ import annotations

from typing import Any

from server.api.blueprint import api
from server.api.registry import ref
from server.organization import services
from server.web import ANY_ROLE, department_scope, get_session


def _items(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": item}},
        "additionalProperties": False,
    }


@api.route(
    "/departments",
    summary="The department tree, depth first",
    tag="organization",
    roles=ANY_ROLE,
    response=_items(ref("Department")),
)
def list_departments() -> Any:
    """Every department, each after its parent (siblings by name); ``depth`` and
    ``parent_id`` rebuild the tree. The whole tree in one answer: it is small."""
    db = get_session()
    scope = department_scope()
    counts = services.employee_counts(db)
    nodes = services.flatten(services.build_tree(services.list_departments(db)))
    return {
        "items": [
            {
                "id": n.item.id,
                "code": n.item.code,
                "name": n.item.name,
                "parent_id": n.item.parent_id,
                "depth": n.depth,
                "employee_count": counts.get(n.item.id, 0)
                if scope is None or n.item.id in scope
                else None,
            }
            for n in nodes
        ]
    }


@api.route(
    "/areas",
    summary="The area tree, depth first",
    tag="organization",
    roles=ANY_ROLE,
    response=_items(ref("Area")),
)
def list_areas() -> Any:
    """Every area, each after its parent (siblings by name), with how many employees and
    terminals are placed in it, as the areas page shows."""
    db = get_session()
    people, terminals = services.area_counts(db)
    nodes = services.flatten(services.build_tree(services.list_areas(db)))
    return {
        "items": [
            {
                "id": n.item.id,
                "code": n.item.code,
                "name": n.item.name,
                "parent_id": n.item.parent_id,
                "depth": n.depth,
                "employee_count": people.get(n.item.id, 0),
                "terminal_count": terminals.get(n.item.id, 0),
            }
            for n in nodes
        ]
    }
