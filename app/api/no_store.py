"""`Cache-Control: no-store` on the owner's answers (/admin, /faq/entries, and the same under
/faqs/{faq}): they carry the FAQ's
unpublished entries, users' questions and feedback, which no shared cache or browser history
may keep."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.body_limit import split_faq

PRIVATE_PREFIXES = ("/admin", "/faq/entries")


class NoStoreForAdmin:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        _, path = split_faq(scope.get("path", "") if scope["type"] == "http" else "")
        if not any(path == p or path.startswith(p + "/") for p in PRIVATE_PREFIXES):
            await self.app(scope, receive, send)
            return

        async def send_no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control"]
                message = {**message, "headers": [*headers, (b"cache-control", b"no-store")]}
            await send(message)

        await self.app(scope, receive, send_no_store)
