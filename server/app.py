# SPDX-License-Identifier: GPL-2.0-or-later
"""The application factory: every subsystem wired here, in order, nothing at import time."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from flask import (
    Flask,
    Response,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from server.auth.throttle import SignInThrottle
from server.db import make_engine, make_sessionmaker, utcnow
from server.errors import AppError, AuthenticationError, PermissionDeniedError
from server.settings import Settings, load_settings
from server.web import close_session, current_account

logger = logging.getLogger(__name__)

csrf = CSRFProtect()

# While an account must change its password, only these open.
PASSWORD_CHANGE_OPEN = frozenset(
    {"auth.change_password", "auth.logout", "i18n.set_language", "static"}
)

# Endpoints reachable without signing in. Everything else is refused by default.
# The language switch is public so the sign-in page can be read in either language.
# auth.second_factor: after the password, before the code (the session is not signed in).
PUBLIC_ENDPOINTS = frozenset(
    {"static", "system.health", "auth.login", "auth.second_factor", "i18n.set_language"}
)

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    sessions: sessionmaker[Session] | None = None,
) -> Flask:
    """Build the web application. Tests pass ``settings`` and their own ``sessions``."""
    settings = settings or load_settings()
    app = Flask(__name__, instance_path=str(settings.home))

    # 1. Configuration
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        SESSION_COOKIE_NAME="rollcall_session",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        MAX_CONTENT_LENGTH=32 * 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None,  # the session's idle timeout bounds the token's life
    )
    app.extensions["rollcall.settings"] = settings

    # 2. Reverse proxy (TLS terminates in front of us)
    if settings.trusted_proxies:
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]  # werkzeug's documented use
            app.wsgi_app, x_for=n, x_proto=n, x_host=n
        )

    # 3. Database
    if sessions is None:
        engine = engine or make_engine(settings.database_url)
        app.extensions["rollcall.engine"] = engine
        sessions = make_sessionmaker(engine)
    app.extensions["rollcall.sessions"] = sessions
    app.extensions["rollcall.sign_in_throttle"] = SignInThrottle()
    app.teardown_appcontext(close_session)

    # 4. CSRF on every state-changing request
    csrf.init_app(app)

    # 4b. Interface language (Flask-Babel) and the header navigation
    from server import i18n, navigation

    i18n.init_app(app)
    navigation.init_app(app)

    # 5. Authentication: deny by default, idle timeout
    app.before_request(_require_sign_in)

    # 6. Security headers
    app.after_request(_security_headers)

    # 7. Errors
    _register_error_handlers(app)

    # 8. Blueprints
    from server.api.views import bp as api_bp
    from server.attendance.views import bp as punches_bp
    from server.audit.views import bp as audit_bp
    from server.auth.accounts import bp as accounts_bp
    from server.auth.security import bp as security_bp
    from server.auth.views import bp as auth_bp
    from server.dashboard.views import bp as dashboard_bp
    from server.devices.views import bp as terminals_bp
    from server.employees.views import bp as employees_bp
    from server.organization.settings_views import bp as settings_bp
    from server.organization.views import bp as organization_bp
    from server.privacy.views import bp as privacy_bp
    from server.rights.views import bp as rights_bp
    from server.system.views import bp as system_bp

    app.register_blueprint(system_bp)
    app.register_blueprint(i18n.bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(dashboard_bp)
    app.register_blueprint(punches_bp)
    app.register_blueprint(terminals_bp)
    app.register_blueprint(employees_bp)
    app.register_blueprint(organization_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(rights_bp)
    app.register_blueprint(audit_bp)
    app.register_blueprint(settings_bp)
    app.register_blueprint(privacy_bp)
    app.register_blueprint(security_bp)
    app.register_blueprint(api_bp)
    # Bearer-token calls need no CSRF token; cookie calls are checked by the blueprint.
    csrf.exempt(api_bp)
    return app


def _wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def _require_sign_in() -> ResponseReturnValue | None:
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if request.blueprint == "api" and "Authorization" in request.headers:
        from server.api.blueprint import sign_in_with_token

        sign_in_with_token()  # or 401; the request then acts as the token's owner
        account = current_account()
        if account is not None and account.must_change_password:
            raise PermissionDeniedError(
                _("Change your password first."), code="password_change_required"
            )
        return None
    # None when the session is missing, idle too long, or ended (signed out elsewhere,
    # a new password, a deactivated account).
    account = current_account()
    if account is not None:
        session["seen"] = utcnow().timestamp()
        if account.must_change_password and request.endpoint not in PASSWORD_CHANGE_OPEN:
            # A password set by an administrator is known to two people: until the
            # account holder picks their own, only that page (and signing out) opens.
            if _wants_json():
                raise PermissionDeniedError(
                    _("Change your password first."), code="password_change_required"
                )
            return redirect(url_for("auth.change_password"))
        return None
    if _wants_json():
        raise AuthenticationError(_("Sign in first."))
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def _security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if request.endpoint != "static":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


# What a page says for an HTTP error, in the reader's language: werkzeug's descriptions
# are English (#6 review). The JSON ``error`` code still comes from werkzeug's name.
HTTP_ERRORS: dict[int, tuple[object, object]] = {
    400: (
        _l("Bad request"),
        _l("The request could not be understood. Reload the page and try again."),
    ),
    403: (_l("Not allowed"), _l("Your account may not open this page or do this.")),
    404: (
        _l("Not found"),
        _l("There is nothing at this address. It may have been removed, or the link is wrong."),
    ),
    405: (_l("Not allowed here"), _l("This address does not accept this kind of request.")),
    409: (
        _l("Conflict"),
        _l("This conflicts with a change made in the meantime. Reload the page and try again."),
    ),
    413: (_l("Too large"), _l("What was sent is too large.")),
    422: (
        _l("Cannot be processed"),
        _l("What was sent could not be processed. Check it and try again."),
    ),
    429: (
        _l("Too many requests"),
        _l("Too many requests in a short time. Wait a moment and try again."),
    ),
    500: (_l("Server error"), _l("Something went wrong; the log has the details.")),
}


def _error_response(
    status: int, code: str, message: str, details: dict[str, Any] | None = None
) -> ResponseReturnValue:
    if _wants_json():
        return jsonify({"error": code, "message": message, "details": details or {}}), status
    title = HTTP_ERRORS[status][0] if status in HTTP_ERRORS else None
    return render_template("error.html", status=status, title=title, message=message), status


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(AppError)
    def _app_error(exc: AppError) -> ResponseReturnValue:
        return _error_response(exc.status, exc.code, exc.message, exc.details)

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError) -> ResponseReturnValue:
        return _error_response(
            400, "csrf", _("The form expired or did not come from Rollcall. Reload and try again.")
        )

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> ResponseReturnValue:
        code = (exc.name or "error").lower().replace(" ", "_")
        status = exc.code or 500
        # Never werkzeug's English description, nor an English one given to abort():
        # the reader gets the status's own message, or a general one.
        if status in HTTP_ERRORS:
            message = str(HTTP_ERRORS[status][1])
        else:
            message = _("The request could not be completed (HTTP %(status)s).", status=status)
        response = make_response(_error_response(status, code, message))
        # What werkzeug's own answer carried: Allow on 405, Retry-After on 429, ...
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> ResponseReturnValue:
        logger.error("unhandled error on %s %s", request.method, request.path, exc_info=exc)
        return _error_response(500, "internal", str(HTTP_ERRORS[500][1]))
