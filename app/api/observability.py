"""Per-request bookkeeping, as one ASGI middleware: a request id (the client's X-Request-ID
when it sends a sane one, else a new one) returned in the response and carried by every log
line written while the request is handled; and the request's count and latency in the metrics,
by route template (not by raw path, which would make a series per entry id)."""

from __future__ import annotations

import contextvars
import logging
import re
import time
import uuid

from app import timing
from app.api.body_limit import ASGIApp, Message, Receive, Scope, Send
from app.serving.metrics import Metrics

REQUEST_ID_HEADER = b"x-request-id"
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
# Sent with every response; the page also gets a policy that allows only its own files.
SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY")]
PAGE_POLICY = (b"content-security-policy", b"default-src 'self'; frame-ancestors 'none'; base-uri 'none'")
_SANE_ID = re.compile(rb"^[A-Za-z0-9._-]{1,64}$")
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


STATIC_PREFIX = "/static/"
PAGES = ("/", "/admin")


class RequestIdFilter(logging.Filter):
    """Puts the current request id on every log record (`%(request_id)s`; "-" outside requests)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get()
        return True


class RequestContext:
    def __init__(self, app: ASGIApp, *, metrics: Metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = dict(scope.get("headers") or []).get(REQUEST_ID_HEADER, b"")
        rid = sent.decode("ascii") if _SANE_ID.match(sent) else uuid.uuid4().hex[:16]
        token = request_id.set(rid)
        started = time.perf_counter()
        # For the /ask route's stages (app.timing): when the request came, and when its answer
        # was ready (the route says).
        state = scope.setdefault("state", {})
        state["request_started"] = started
        status = 500  # unless the app answers

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                extra = [(REQUEST_ID_HEADER, rid.encode("ascii")), *SECURITY_HEADERS]
                if any(name.lower() == PAGE_POLICY[0] for name, _ in message["headers"]):
                    # A response with a policy of its own (the embed page, framed by the sites
                    # its policy names): X-Frame-Options would forbid every frame.
                    extra = [header for header in extra if header[0] != b"x-frame-options"]
                elif scope.get("path") in PAGES or scope.get("path", "").startswith("/static/"):
                    extra.append(PAGE_POLICY)
                message["headers"] = [*message["headers"], *extra]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            if template == "unmatched" and scope.get("path", "").startswith(STATIC_PREFIX):
                template = STATIC_PREFIX.rstrip("/")  # the page's files: one series, a mount has no route
            # Labels take known values only: a method or status as sent would be a new series
            # (and memory) per request.
            method = scope.get("method", "")
            method = method if method in KNOWN_METHODS else "other"
            self.metrics.requests.labels(method, template, str(status)).inc()
            ended = time.perf_counter()
            self.metrics.latency.labels(method, template).observe(ended - started)
            answered = state.get("answered_at")
            if answered is not None:
                self.metrics.stage_seconds.labels(timing.RESPONSE).observe(ended - answered)
            request_id.reset(token)
