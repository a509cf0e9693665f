"""Every failure leaves the server as one JSON shape, `{"error": {"type", "message"}}`, whose
type is the name of the error class the in-process library raises for the same mistake (the
remote client raises that class again), with the HTTP status that says who must act."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

from engram_agents.errors import AccessDeniedError, AuthenticationError, EngramError
from engram_agents.store.errors import (
    AuditIntegrityError,
    BackendUnavailableError,
    ConflictError,
    ConsentError,
    InvalidInputError,
    NotFoundError,
)

log = logging.getLogger(__name__)

STATUS: dict[type[EngramError], int] = {
    InvalidInputError: 400,
    AuthenticationError: 401,
    AccessDeniedError: 403,
    NotFoundError: 404,
    AuditIntegrityError: 409,  # the stored state conflicts with its own hash chain
    ConsentError: 403,  # the user switched persistent memory off
    ConflictError: 409,  # other writers kept changing the user's engrams; retry
    BackendUnavailableError: 503,
}
_HTTP_TYPES = {404: "NotFoundError", 405: "MethodNotAllowedError"}


def json_error(status: int, type_name: str, message: str) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": {"type": type_name, "message": message}}, status, headers)


def engram_error(exc: EngramError, request: Request | None = None) -> JSONResponse:
    status = next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 500)
    principal = getattr(request.state, "principal", None) if request is not None else None
    message = principal.message(str(exc)) if principal is not None else str(exc)
    return json_error(status, type(exc).__name__, message)


def _validation_message(exc: RequestValidationError | ValidationError) -> str:
    """Field and reason for each problem, without pydantic's internals (input echoes, URLs)."""
    problems = []
    for error in exc.errors():
        if error.get("type") == "json_invalid":
            return "request body is not valid JSON"
        if tuple(error.get("loc", ())) == ("body",) and error.get("type") != "missing":
            return "request body must be a JSON object (Content-Type: application/json)"
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
        problems.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(problems)


def install(app: FastAPI) -> None:
    async def on_engram(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, EngramError)
        return engram_error(exc, request)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError | ValidationError)
        return json_error(400, InvalidInputError.__name__, _validation_message(exc))

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        name = _HTTP_TYPES.get(exc.status_code, "HTTPError")
        message = f"no route {request.method} {request.url.path}"
        return json_error(
            exc.status_code, name, str(exc.detail) if name == "HTTPError" else message
        )

    async def on_crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return json_error(500, "InternalServerError", "internal server error (see server log)")

    app.add_exception_handler(EngramError, on_engram)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(ValidationError, on_validation)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(Exception, on_crash)
