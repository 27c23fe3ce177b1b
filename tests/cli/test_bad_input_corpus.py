"""Raw bytes over a socket to a running `faq serve`: invalid UTF-8, lone surrogates, NULs, 10 MB
bodies, 100k-deep nesting, wrong content types, bad methods, every bad top_k and
score_threshold, bad and non-ASCII keys. None may get a 5xx or hang over 10 s, and /health must
answer 200 after each."""

from __future__ import annotations

import socket

import httpx
import pytest

from tests.app.api.conftest import ADMIN_KEY

TIMEOUT = 10.0


def request(method: str, path: str, body: bytes = b"", headers: dict[str, bytes] | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1".encode(), b"Host: 127.0.0.1", b"Connection: close"]
    all_headers = {
        "Content-Type": b"application/json",
        "Content-Length": str(len(body)).encode(),
        **(headers or {}),
    }
    lines += [name.encode() + b": " + value for name, value in all_headers.items() if value is not None]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def chunked(method: str, path: str, body: bytes, chunk: int = 65536) -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n"
    parts = [head.encode() + b"Transfer-Encoding: chunked\r\n\r\n"]
    for start in range(0, len(body), chunk):
        piece = body[start : start + chunk]
        parts.append(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
    return b"".join(parts) + b"0\r\n\r\n"


def ask(body: bytes, **headers: bytes) -> bytes:
    return request("POST", "/ask", body, {k.replace("_", "-"): v for k, v in headers.items()})


BIG = 10 * 1024 * 1024
CORPUS: dict[str, bytes] = {
    "invalid utf-8": ask(b'{"question": "\xff\xfe\xfa"}'),
    "lone surrogate escape": ask(b'{"question": "lambda \\ud800"}'),
    "surrogate bytes": ask(b'{"question": "lambda \xed\xa0\xbd\xed\xba\x80"}'),
    "nul escapes": ask(b'{"question": "\\u0000\\u0000\\u0000"}'),
    "raw nul bytes": ask(b'{"question": "dns\x00\x00"}'),
    "zero-width only": ask('{"question": "\u200b\u200c\u200d"}'.encode()),
    "10 MB of spaces": ask(b'{"question": "' + b" " * BIG + b'dns"}'),
    "10 MB source": ask(b'{"question": "dns", "source": "' + b"a" * BIG + b'"}'),
    "10 MB chunked": chunked("POST", "/ask", b'{"question": "' + b" " * BIG + b'"}'),
    "100k-deep nesting": ask(b"[" * 100_000),
    "100k-deep object": ask(b'{"a":' * 100_000),
    "not json": ask(b"what is dns?"),
    "empty body": ask(b""),
    "json null": ask(b"null"),
    "json list": ask(b'["what is dns?"]'),
    "text/plain": ask(b'{"question": "dns"}', Content_Type=b"text/plain"),
    "form": ask(b"question=dns", Content_Type=b"application/x-www-form-urlencoded"),
    "multipart": ask(b"--x\r\n\r\ndns\r\n--x--", Content_Type=b"multipart/form-data; boundary=x"),
    "xml": ask(b"<question>dns</question>", Content_Type=b"application/xml"),
    "no content type": request("POST", "/ask", b'{"question": "dns"}', {"Content-Type": None}),  # type: ignore[dict-item]
    "PUT /ask": request("PUT", "/ask", b'{"question": "dns"}'),
    "DELETE /ask": request("DELETE", "/ask"),
    "PATCH /health": request("PATCH", "/health"),
    "TRACE /": request("TRACE", "/"),
    "unknown method": request("BREW", "/ask"),
    "unknown path": request("GET", "/../../etc/passwd"),
    "garbage request line": b"\x00\x01\x02 / HTTP/1.1\r\n\r\n",
    "bad http version": b"GET /health HTTP/9.9\r\nHost: x\r\n\r\n",
    "huge header": request("GET", "/health", headers={"X-Big": b"a" * 100_000}),
    "admin without key": request("POST", "/admin/reindex", b'{"question": "q", "answer": "a"}'),
    "admin wrong key": request("POST", "/admin/reindex", b"{}", {"X-API-Key": b"wrong"}),
    "admin cyrillic key": request("POST", "/admin/reindex", b"{}", {"X-API-Key": "ключ".encode()}),
    "admin latin-1 key": request("POST", "/admin/reindex", b"{}", {"X-API-Key": b"\xe9"}),
    "admin deep nesting": request(
        "POST", "/admin/reindex", b"[" * 100_000, {"X-API-Key": ADMIN_KEY.encode()}
    ),
    "admin invalid utf-8": request("POST", "/admin/reindex", b"\xff\xfe", {"X-API-Key": ADMIN_KEY.encode()}),
    "admin bad job id": request("GET", "/admin/reindex/%00%ff", headers={"X-API-Key": ADMIN_KEY.encode()}),
}
for value in (
    b"0",
    b"-1",
    b"51",
    b"1e9",
    b'"5"',
    b"null",
    b"true",
    b"1.5",
    b"NaN",
    b"1e400",
    b"99999999999999999999",
):
    CORPUS[f"top_k {value.decode()}"] = ask(b'{"question": "dns", "top_k": ' + value + b"}")
for value in (b"NaN", b"Infinity", b"-Infinity", b"1e309", b"2", b"-2", b'"x"', b"[]", b"1e-400"):
    CORPUS[f"score_threshold {value.decode()}"] = ask(
        b'{"question": "dns", "score_threshold": ' + value + b"}"
    )


def send(port: int, raw: bytes) -> int | None:
    """The response's status code, or None when the server closed without one."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        try:
            sock.sendall(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer (413) and close before a big body is all sent
        received = b""
        try:
            while b"\r\n" not in received:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                received += chunk
        except ConnectionResetError:
            pass
    if not received:
        return None
    return int(received.split(b"\r\n", 1)[0].split(b" ")[1])


@pytest.mark.parametrize("name", list(CORPUS))
def test_no_5xx_no_hang_health_stays_up(served, name):
    status = send(served.port, CORPUS[name])  # a hang raises socket.timeout after 10 s
    assert status is None or status < 500, f"{name}: {status}"
    assert httpx.get(f"{served.url}/health", timeout=TIMEOUT).status_code == 200
    assert served.alive()
