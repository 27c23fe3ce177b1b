"""Which sites' pages may call a FAQ's asker routes (ask, feedback, sources): its own pages, and
the sites its owner lists for the widget (/admin/widget). As one ASGI middleware, before any
route runs:

- a request without an Origin header (a server, curl, the service's own forms), or from the
  service's own host, goes through as before;
- from an allowed site: a CORS preflight is answered (POST and GET, the Content-Type and
  X-API-Key headers), and the answer carries Access-Control-Allow-Origin for that site only;
- from any other site: 403, preflight or not, and the route never runs (no budget spent, no
  question logged), with no Access-Control-Allow-Origin, so the page cannot read even that.

Every other route sends no CORS header at all, so no other site's page can read what it answers
(the admin routes among them); the API takes its keys from a header, never a cookie, so a page
cannot borrow a logged-in owner's rights either.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from app.api.body_limit import ASGIApp, Message, Receive, Scope, Send
from app.config import FAQ_NAME_PATTERN
from app.domain.origins import DEFAULT_PORTS

# The asker's routes of the default FAQ, or of the FAQ named in the path (a name as
# FAQ_NAME_PATTERN allows: a path that is no FAQ's is left to the router).
_NAME = FAQ_NAME_PATTERN.removeprefix("^").removesuffix("$")
ASKER_ROUTES = re.compile(rf"^(?:/faqs/(?P<faq>{_NAME}))?/(?:ask|feedback|sources)$")
ALLOWED_METHODS = b"POST, GET"
ALLOWED_HEADERS = b"Content-Type, X-API-Key, X-Request-ID"
EXPOSED_HEADERS = b"X-Request-ID, Retry-After"
PREFLIGHT_MAX_AGE = b"600"

# The allowed origins of a FAQ (None: the default one), or None when there is no such FAQ (the
# route then answers 404) or nothing to ask yet (503).
OriginsOf = Callable[[str | None], Awaitable[tuple[str, ...] | None]]


def same_origin(origin: str, host: str) -> bool:
    """Whether a page of `origin` is one of the service's own, reached at `host` (the Host
    header): the same host name and port (a Host without a port has the origin's default)."""
    try:
        page = urlsplit(origin)
        served = urlsplit(f"//{host}")
        page_port = page.port or DEFAULT_PORTS.get(page.scheme)
        served_port = served.port or DEFAULT_PORTS.get(page.scheme)
    except ValueError:
        return False
    return bool(page.hostname) and page.hostname == served.hostname and page_port == served_port


class WidgetCors:
    def __init__(self, app: ASGIApp, *, origins_of: OriginsOf):
        self.app = app
        self.origins_of = origins_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        match = ASKER_ROUTES.match(scope.get("path", ""))
        headers = {name.lower(): value for name, value in scope.get("headers") or []}
        origin = headers.get(b"origin", b"").decode("latin-1")
        host = headers.get(b"host", b"").decode("latin-1")
        if match is None or not origin or same_origin(origin, host):
            await self.app(scope, receive, send)
            return
        allowed = await self.origins_of(match.group("faq"))
        if allowed is None:
            await self.app(scope, receive, send)  # no such FAQ, or not ready: the route says so
            return
        if origin not in allowed:
            await _answer(
                send,
                403,
                {
                    "detail": f"pages of {origin} may not use this FAQ: its owner lists the sites "
                    "that may (PUT /admin/widget)"
                },
            )
            return
        cors = [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"vary", b"Origin"),
        ]
        if scope.get("method") == "OPTIONS" and b"access-control-request-method" in headers:
            await _answer(
                send,
                204,
                None,
                [
                    *cors,
                    (b"access-control-allow-methods", ALLOWED_METHODS),
                    (b"access-control-allow-headers", ALLOWED_HEADERS),
                    (b"access-control-max-age", PREFLIGHT_MAX_AGE),
                ],
            )
            return

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    *cors,
                    (b"access-control-expose-headers", EXPOSED_HEADERS),
                ]
            await send(message)

        await self.app(scope, receive, with_cors)


async def _answer(
    send: Send, status: int, body: dict | None, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    payload = b"" if body is None else json.dumps(body).encode("utf-8")
    start = [(b"content-length", str(len(payload)).encode("ascii")), *(headers or [])]
    if body is not None:
        start.append((b"content-type", b"application/json"))
    await send({"type": "http.response.start", "status": status, "headers": start})
    await send({"type": "http.response.body", "body": payload})
