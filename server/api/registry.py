# SPDX-License-Identifier: GPL-2.0-or-later
"""One place that declares each JSON API endpoint: its route, roles, parameters, request
body and response. The declaration registers the Flask route, checks the role, validates
query and body against the JSON Schemas it names, and is what ``/api/v1/openapi.json``
describes, so the description cannot drift from the code (issue #6).

Declare an endpoint::

    @api.route("/terminals/<int:terminal_id>/sync", "POST", tag="terminals",
               summary="Sync a terminal now", roles=(Role.HR_MANAGER,),
               body={...json schema...} | None, query=(Param(...), ...),
               response=ref("SyncRun"), status=200)
    def sync_terminal(terminal_id: int, body: dict) -> ...: ...

The view receives the path parameters, ``query`` (a dict of parsed, validated parameters,
when any are declared) and ``body`` (the validated JSON object, when a body is declared).
``paginated=True`` adds ``limit`` and ``cursor`` and wraps the response schema in a page.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from flask import Blueprint, request
from flask_babel import gettext as _
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError as SchemaError

from server.auth.models import Role
from server.errors import ValidationError
from server.web import require_role

COMPONENTS = "#/components/schemas/"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_RULE_PARAM = re.compile(r"<(?:(?P<conv>\w+):)?(?P<name>\w+)>")


def ref(name: str) -> dict[str, Any]:
    return {"$ref": COMPONENTS + name}


def page_of(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": item},
            "next_cursor": {
                "type": ["string", "null"],
                "description": "Pass as ?cursor= for the next page; null on the last page.",
            },
        },
        "additionalProperties": False,
    }


@dataclass(frozen=True, slots=True)
class Param:
    """A query parameter: its JSON Schema (integer, boolean or string) and description."""

    name: str
    schema: dict[str, Any]
    description: str = ""
    required: bool = False


@dataclass(frozen=True, slots=True)
class Operation:
    method: str
    rule: str  # Flask's, relative to the blueprint
    endpoint: str
    summary: str
    description: str
    tag: str
    roles: frozenset[Role]
    query: tuple[Param, ...]
    body: dict[str, Any] | None
    body_required: bool
    response: dict[str, Any] | None
    status: int
    errors: tuple[int, ...]

    @property
    def path(self) -> str:
        """The OpenAPI path template: ``/terminals/{terminal_id}``."""
        return _RULE_PARAM.sub(lambda m: "{" + m["name"] + "}", self.rule)

    @property
    def path_params(self) -> list[tuple[str, str]]:
        return [
            (m["name"], "integer" if m["conv"] == "int" else "string")
            for m in _RULE_PARAM.finditer(self.rule)
        ]

    @property
    def writes(self) -> bool:
        return self.method in WRITE_METHODS


def _first_error(errors: Iterable[SchemaError]) -> SchemaError | None:
    ordered = sorted(errors, key=lambda e: (len(e.path), list(map(str, e.path))))
    return ordered[0] if ordered else None


def _field(error: SchemaError) -> str:
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [n for n in error.validator_value if n not in error.instance]
        return ".".join([*map(str, error.path), *missing[:1]])
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - allowed)
        return ".".join([*map(str, error.path), *extra[:1]])
    return ".".join(map(str, error.path))


def _schema_failure(error: SchemaError) -> ValidationError:
    """The body's first error in the reader's language; the schema's own wording (English,
    from jsonschema) follows as the technical detail."""
    name = _field(error)
    if error.validator == "required":
        message = _("%(field)s is required.", field=name)
    elif error.validator == "additionalProperties":
        message = _("%(field)s is not a field of this request.", field=name)
    elif name:
        message = _("%(field)s is not valid: %(detail)s", field=name, detail=error.message)
    else:
        message = _("The request body is not valid: %(detail)s", detail=error.message)
    return ValidationError(message, details={"field": name, "problem": str(error.validator)})


def _coerce(param: Param, raw: str) -> object:
    kind = param.schema.get("type")
    if kind == "integer":
        try:
            return int(raw)
        except ValueError:
            raise ValidationError(
                _("%(field)s must be a whole number.", field=param.name),
                details={"field": param.name},
            ) from None
    if kind == "boolean":
        if raw.lower() in ("true", "1"):
            return True
        if raw.lower() in ("false", "0"):
            return False
        raise ValidationError(
            _("%(field)s must be true or false.", field=param.name), details={"field": param.name}
        )
    return raw


def parse_query(params: Sequence[Param]) -> dict[str, Any]:
    known = {p.name: p for p in params}
    unknown = sorted(set(request.args) - set(known))
    if unknown:
        raise ValidationError(
            _("This endpoint has no query parameter %(field)s.", field=unknown[0]),
            details={"field": unknown[0]},
        )
    out: dict[str, Any] = {}
    for param in params:
        raw = request.args.get(param.name)
        if raw is None:
            if param.required:
                raise ValidationError(
                    _("%(field)s is required.", field=param.name), details={"field": param.name}
                )
            if "default" in param.schema:
                out[param.name] = param.schema["default"]
            continue
        value = _coerce(param, raw)
        error = _first_error(Draft202012Validator(param.schema).iter_errors(value))
        if error is not None:
            raise ValidationError(
                _("%(field)s is not valid: %(detail)s", field=param.name, detail=error.message),
                details={"field": param.name},
            )
        out[param.name] = value
    return out


def parse_body(schema: dict[str, Any], *, required: bool = True) -> dict[str, Any]:
    if not required and not request.get_data():
        return {}
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ValidationError(
            _("The request body must be a JSON object (Content-Type: application/json)."),
            details={"field": ""},
        )
    error = _first_error(Draft202012Validator(schema).iter_errors(data))
    if error is not None:
        raise _schema_failure(error)
    return data


@dataclass
class ApiRegistry:
    """The endpoints of one API blueprint, as declared."""

    blueprint: Blueprint
    operations: list[Operation] = field(default_factory=list)

    def route(
        self,
        rule: str,
        method: str = "GET",
        *,
        summary: str,
        tag: str,
        roles: Sequence[Role | str],
        description: str = "",
        query: Sequence[Param] = (),
        body: dict[str, Any] | None = None,
        body_required: bool = True,
        response: dict[str, Any] | None = None,
        status: int = 200,
        paginated: bool = False,
        errors: Sequence[int] = (),
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        from server.api.pagination import PAGE_PARAMS

        method = method.upper()
        params = tuple(query) + (PAGE_PARAMS if paginated else ())
        if paginated and response is not None:
            response = page_of(response)
        if body is not None:
            Draft202012Validator.check_schema(body)
        for p in params:
            Draft202012Validator.check_schema(p.schema)

        def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
            @wraps(fn)
            def view(**kwargs: Any) -> Any:
                parsed = parse_query(params)  # also refuses parameters nobody declared
                if params:
                    kwargs["query"] = parsed
                if body is not None:
                    kwargs["body"] = parse_body(body, required=body_required)
                return fn(**kwargs)

            protected = require_role(*roles)(view)
            self.blueprint.add_url_rule(
                rule, endpoint=fn.__name__, view_func=protected, methods=[method]
            )
            self.operations.append(
                Operation(
                    method=method,
                    rule=rule,
                    endpoint=fn.__name__,
                    summary=summary,
                    description=description or (fn.__doc__ or "").strip(),
                    tag=tag,
                    roles=frozenset(protected.required_roles),  # type: ignore[attr-defined]
                    query=params,
                    body=body,
                    body_required=body_required,
                    response=response,
                    status=status,
                    errors=tuple(errors),
                )
            )
            return protected

        return decorate


# --------------------------------------------------------------------------- OpenAPI
_ERROR_TEXT = {
    400: "A session-authenticated write without its CSRF token (X-CSRFToken).",
    401: "No valid bearer token or signed-in session.",
    403: "The role, or a read-only token, does not allow this.",
    404: "No such object.",
    409: "The object's state does not allow this now.",
    410: "Gone.",
    422: "The input is invalid; nothing was changed.",
    429: "Too many refused tokens or sign-ins from this address; retry after Retry-After "
    "seconds (details.retry_after_s).",
    502: "A terminal did not answer or broke off.",
}

_ERROR_HEADERS: dict[int, dict[str, Any]] = {
    401: {
        "WWW-Authenticate": {
            "description": "How to authenticate.",
            "schema": {"type": "string"},
        }
    },
    429: {
        "Retry-After": {
            "description": "Seconds to wait before trying again.",
            "schema": {"type": "integer", "minimum": 1},
        }
    },
}

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error", "message", "details"],
    "properties": {
        "error": {"type": "string", "description": "A stable code, e.g. invalid, forbidden."},
        "message": {"type": "string", "description": "For people; may change."},
        "details": {"type": "object", "description": 'e.g. {"field": "reason"}.'},
    },
}


def _describe(op: Operation) -> dict[str, Any]:
    roles = sorted(r.value for r in op.roles)
    text = op.description
    access = f"Roles: {', '.join(roles)}."
    if op.writes:
        access += " Needs a read-write token (or a signed-in session with X-CSRFToken)."
    out: dict[str, Any] = {
        "operationId": op.endpoint,
        "summary": op.summary,
        "description": f"{text}\n\n{access}".strip(),
        "tags": [op.tag],
        "x-roles": roles,
    }
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": kind}}
        for name, kind in op.path_params
    ]
    parameters += [
        {
            "name": p.name,
            "in": "query",
            "required": p.required,
            "description": p.description,
            "schema": p.schema,
        }
        for p in op.query
    ]
    if parameters:
        out["parameters"] = parameters
    if op.body is not None:
        out["requestBody"] = {
            "required": op.body_required,
            "content": {"application/json": {"schema": op.body}},
        }
    ok: dict[str, Any] = {"description": "Success."}
    if op.response is not None:
        ok["content"] = {"application/json": {"schema": op.response}}
    responses: dict[str, Any] = {str(op.status): ok}
    # 422: any query parameter not declared, too. 429: every operation needs a token, and
    # refused tokens go through the per-address sign-in throttle (#6 review).
    codes = {401, 403, 422, 429, *op.errors}
    if op.path_params:
        codes.add(404)
    if op.writes:
        codes.update((400, 409))
    for code in sorted(codes):
        responses[str(code)] = {"$ref": f"#/components/responses/E{code}"}
    out["responses"] = responses
    return out


def build_spec(
    registry: ApiRegistry,
    *,
    prefix: str,
    schemas: dict[str, dict[str, Any]],
    version: str,
    tags: Sequence[tuple[str, str]] = (),
) -> dict[str, Any]:
    """The OpenAPI 3.1 description of every declared operation."""
    paths: dict[str, dict[str, Any]] = {}
    for op in registry.operations:
        paths.setdefault(op.path, {})[op.method.lower()] = _describe(op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Rollcall API",
            "version": version,
            "summary": "Attendance, terminals and data-subject rights, as the pages see them.",
            "description": (
                "Authenticate with `Authorization: Bearer <token>` (`rollcall tokens create`, "
                "or Account > API tokens). Tokens starting `rc_ro_` can only read. A browser "
                "session works too; its state-changing calls send the page's CSRF token in "
                "`X-CSRFToken`. Errors are `{error, message, details}`; lists are pages "
                "`{items, next_cursor}`. Templates and biometric data never leave Rollcall."
            ),
            "license": {"name": "GPL-2.0-or-later", "identifier": "GPL-2.0-or-later"},
        },
        "servers": [{"url": prefix}],
        "security": [{"bearerToken": []}, {"sessionCookie": []}],
        "tags": [{"name": n, "description": d} for n, d in tags],
        "paths": dict(sorted(paths.items())),
        "components": {
            "securitySchemes": {
                "bearerToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API token: rc_ro_... (read-only) or rc_rw_....",
                },
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "rollcall_session"},
            },
            "schemas": {"Error": ERROR_SCHEMA, **schemas},
            "responses": {
                f"E{code}": {
                    "description": text,
                    **({"headers": _ERROR_HEADERS[code]} if code in _ERROR_HEADERS else {}),
                    "content": {"application/json": {"schema": ref("Error")}},
                }
                for code, text in _ERROR_TEXT.items()
            },
        },
    }
