"""RFC 9457 problem documents for every error the hub answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.plugins.problem_details import ProblemDetailsConfig, ProblemDetailsException

log = structlog.get_logger(__name__)
MEDIA_TYPE = "application/problem+json"


def problem(status: int, title: str, detail: str, headers: dict[str, str] | None = None,
            **extra: Any) -> ProblemDetailsException:
    return ProblemDetailsException(status_code=status, title=title, detail=detail,
                                   headers=headers, extra=extra or None)


def _document(status: int, title: str, detail: str, **extra: Any) -> Response[dict[str, Any]]:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return Response(body, status_code=status, media_type=MEDIA_TYPE)


def validation_to_problem(_: Request[Any, Any, Any], error: ValidationException) -> Response[Any]:
    return _document(400, "Invalid request", str(error.detail), errors=error.extra or [])


def http_to_problem(_: Request[Any, Any, Any], error: HTTPException) -> Response[Any]:
    response = _document(error.status_code, _title(error.status_code), str(error.detail))
    response.headers.update(error.headers or {})
    return response


def unexpected_to_problem(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    # The route's template, not the path: a share link's path is itself a secret.
    route = request.scope.get("path_template") or request.scope.get("route_handler", "?")
    log.exception("request.failed", route=str(route), method=request.method,
                  error=type(error).__name__)
    return _document(500, "Internal error", "the hub failed to answer; the error is logged")


def refusal_handler(titles: dict[int, str], other: str
                    ) -> Callable[[Request[Any, Any, Any], Any], Response[Any]]:
    """An exception handler for a domain error that carries its HTTP `status` (a playlist or
    report the request cannot change): its problem document, titled by status."""
    def handler(_: Request[Any, Any, Any], error: Any) -> Response[Any]:
        return _document(error.status, titles.get(error.status, other), str(error))
    return handler


def _title(status: int) -> str:
    titles = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found",
              405: "Method not allowed", 409: "Conflict", 413: "Content too large",
              415: "Unsupported media type", 422: "Unprocessable content",
              429: "Too many requests", 503: "Service unavailable"}
    return titles.get(status, "Error")


PROBLEM_DETAILS = ProblemDetailsConfig(enable_for_all_http_exceptions=False)
EXCEPTION_HANDLERS: dict[Any, Any] = {
    ValidationException: validation_to_problem,
    HTTPException: http_to_problem,
    Exception: unexpected_to_problem,
}
