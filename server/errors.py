# SPDX-License-Identifier: GPL-2.0-or-later
"""One error hierarchy: services raise these, handlers turn them into pages or JSON."""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    """An expected failure with a message fit for the user. Not logged as an error."""

    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        self.details = details or {}

    def to_json(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message, "details": self.details}


class ValidationError(AppError):
    status = 422
    code = "invalid"


class NotFoundError(AppError):
    status = 404
    code = "not_found"


class ConflictError(AppError):
    status = 409
    code = "conflict"


class PermissionDeniedError(AppError):
    status = 403
    code = "forbidden"


class AuthenticationError(AppError):
    status = 401
    code = "unauthenticated"
