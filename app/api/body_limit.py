"""Request bodies have a size limit: beyond it the answer is 413, before the app sees a byte.

A question is at most a few kilobytes; an admin upload is a whole data file, and only a request
with the admin key is allowed one (checked here, before the body is read). The limit is read
from Content-Length when the client sends one, and counted while reading otherwise (chunked
uploads), so a client that lies about or omits the length cannot push more through.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Awaitable, Callable, MutableMapping
from typing import IO, Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SPOOL_IN_MEMORY = 1 << 20  # bodies up to 1 MiB stay in memory; larger ones go to a temporary file
REPLAY_PIECE = 1 << 20


class BodySizeLimit:
    """`by_path`: larger limits for path prefixes (uploads), granted only to requests whose key
    may use them (`may_upload(faq, key)`: the service key, or the owner key of the FAQ in the
    path; none given: never): a client without one gets the default limit, so it cannot make the
    service read a 200 MB body just to answer 401. A FAQ's own routes (/faqs/{faq}/admin/...)
    have the limits of the default FAQ's (/admin/...)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        default: int,
        by_path: dict[str, int],
        may_upload: Callable[[str | None, bytes], bool] | None = None,
        timeout_s: float = 15.0,
    ):
        self.app = app
        self.timeout_s = timeout_s
        self.default = default
        self.by_path = by_path
        self.may_upload = may_upload

    async def limit_for(self, path: str, headers: dict[bytes, bytes]) -> int:
        faq, path = split_faq(path)
        for prefix, limit in self.by_path.items():
            # "/admin/reindex" and "/admin" itself, not "/adminXYZ"
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                sent = headers.get(b"x-api-key")
                if self.may_upload is None or sent is None:
                    return self.default
                # A FAQ's key is read from the store (a server's is a network call): not on
                # the event loop.
                allowed = await asyncio.to_thread(self.may_upload, faq, sent)
                return limit if allowed else self.default
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        if b"transfer-encoding" in headers and b"content-length" in headers:
            # Two framings: the server and a proxy in front of it may split the bytes into
            # requests differently (request smuggling). RFC 9112: reject, and close.
            await _reply(
                send, 400, "a request must not have both Content-Length and Transfer-Encoding", close=True
            )
            return
        limit = await self.limit_for(scope.get("path", ""), headers)
        declared = headers.get(b"content-length", b"").strip()
        if declared.isdigit() and int(declared) > limit:
            await _too_large(send, limit)
            return
        # Read the body here, up to the limit, into a file that stays in memory while small and
        # moves to disk beyond SPOOL_IN_MEMORY (an upload of 200 MB is not held in memory), then
        # hand it on in pieces.
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115 - closed below
        try:
            size = await self._receive_into(spool, receive, send, limit)
            if size is not None:
                spool.seek(0)
                await self.app(scope, _replay(spool, size, receive), send)
        finally:
            spool.close()

    async def _receive_into(self, spool: IO[bytes], receive: Receive, send: Send, limit: int) -> int | None:
        """The whole body into `spool`, and its size; None (having answered) when it is too
        large, too slow, or the client went away."""
        size = 0
        deadline = asyncio.get_running_loop().time() + self.timeout_s
        while True:
            try:
                # The whole body within the timeout: a client trickling bytes (slowloris) does
                # not hold a connection and a worker slot for ever.
                message = await asyncio.wait_for(receive(), deadline - asyncio.get_running_loop().time())
            except TimeoutError:
                await _reply(
                    send, 408, f"the request body did not arrive within {self.timeout_s:g} s", close=True
                )
                return None
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _too_large(send, limit)
                return None
            spool.write(chunk)
            if not message.get("more_body", False):
                return size


def split_faq(path: str) -> tuple[str | None, str]:
    """("hr", "/admin/import") for "/faqs/hr/admin/import"; (None, path) for another path."""
    if path.startswith("/faqs/"):
        name, _, rest = path[len("/faqs/") :].partition("/")
        return name, "/" + rest
    return None, path


def _replay(spool: IO[bytes], size: int, receive: Receive) -> Receive:
    """The spooled body (`size` bytes) as the app's receive: pieces of REPLAY_PIECE bytes, then
    the client's own messages (the disconnect), as the server would send them."""
    left = size
    finished = False

    async def replay() -> Message:
        nonlocal left, finished
        if finished:
            return await receive()
        piece = spool.read(min(REPLAY_PIECE, left))
        left -= len(piece)
        finished = left <= 0
        return {"type": "http.request", "body": piece, "more_body": not finished}

    return replay


async def _too_large(send: Send, limit: int) -> None:
    await _reply(send, 413, f"the request body is larger than the limit of {limit} bytes")


async def _reply(send: Send, status: int, detail: str, *, close: bool = False) -> None:
    payload = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
