"""The project's failures as HTTP answers (the table is app.errors'), so that the routes stay
thin: a route lets `EntryNotFound` or `StoreError` propagate and the client gets its status
with the message as `detail`."""

from __future__ import annotations

import re

from fastapi import FastAPI, Request, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.errors import KNOWN_ERRORS
from app.serving.batcher import Overloaded

RETRY_AFTER_SECONDS = "1"
# An absolute path in a message (not the "//" of a URL): a 503 says what is missing, not where
# the machine keeps it (the owner sees paths in /ready with the admin key).
_ABSOLUTE_PATH = re.compile(r"(?<![\w:/])/[^\s'\",;]+")


def hide_paths(text: str) -> str:
    return _ABSOLUTE_PATH.sub("<path>", text)


# The project's table of failures (app.errors), as the API answers them.
STATUS_OF = KNOWN_ERRORS
# Headers that go with a status: an overloaded service says when to come back.
HEADERS_OF: dict[type[Exception], dict[str, str]] = {Overloaded: {"Retry-After": RETRY_AFTER_SECONDS}}


def problem(code: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    if code >= 500:
        detail = hide_paths(detail)
    return JSONResponse(status_code=code, content={"detail": detail}, headers=headers)


def answer_for(exc: Exception) -> JSONResponse:
    for kind, code, template in STATUS_OF:
        if isinstance(exc, kind):
            return problem(code, template.format(exc), HEADERS_OF.get(kind))
    raise exc  # not ours to map


def validation_problem(exc: RequestValidationError) -> JSONResponse:
    """A 422 with a readable `detail` ("question: question must not be empty") and the errors."""
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        problems.append(f"{where}: {message}" if where else message)
    return JSONResponse(
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        content={
            "detail": "; ".join(problems) or "invalid request",
            "errors": [
                {"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
                for e in exc.errors()
            ],
        },
    )


# What Starlette says when it cannot decode a JSON body at all (invalid UTF-8, nesting deeper
# than the parser allows): a request that does not validate, so 422 like any other.
UNPARSABLE_BODY = "There was an error parsing the body"


def unparsable_body() -> JSONResponse:
    message = "the body is not valid JSON (invalid UTF-8, or nested too deeply)"
    return JSONResponse(
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        content={"detail": message, "errors": [{"loc": ["body"], "msg": message, "type": "json_invalid"}]},
    )


def add_error_handlers(app: FastAPI) -> None:
    async def mapped(request: Request, exc: Exception) -> JSONResponse:
        return answer_for(exc)

    async def invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return validation_problem(exc)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == status.HTTP_400_BAD_REQUEST and exc.detail == UNPARSABLE_BODY:
            return unparsable_body()
        return await http_exception_handler(request, exc)

    for kind, _, _ in STATUS_OF:
        app.add_exception_handler(kind, mapped)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(StarletteHTTPException, http_error)
