"""Hostile and careless requests, sent as exact bytes: each gets a clear 4xx, never a 500."""

import pytest

from tests.app.api.conftest import ADMIN_KEY

JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"question": "lambda \\ud800"}', "lone UTF-16 surrogate"),
        (b'{"question": "lambda \xed\xa0\xbd\xed\xba\x80"}', ""),
        (b'{"question": "\\u0000\\u0000"}', "at least one letter or digit"),
        (b'{"question": "\\u200b\\u200b\\u200d"}', "at least one letter or digit"),
        (b'{"question": "what is dns?", "source": "aws\\udc80"}', "source"),
        (b'{"question": "q", "score_threshold": NaN}', "score_threshold"),
        (b'{"question": "q", "score_threshold": Infinity}', "score_threshold"),
        (b'{"question": "q", "score_threshold": -1e308}', "score_threshold"),
        (b'{"question": "q", "top_k": 1e400}', "top_k"),
        (b'{"question": "q", "top_k": 99999999999999999999999}', "top_k"),
        (b'{"question": "q", "source": "' + b"s" * 201 + b'"}', "source"),
        (b'{"question": "' + b" " * 3000 + b'dns"}', "limit is 2000"),
        (b"[" * 100_000, ""),
        (b"\xff\xfe", ""),
    ],
)
def test_bad_ask_bodies_are_4xx_with_a_reason(fast_client, body, message):
    response = fast_client.post("/ask", content=body, headers=JSON)
    assert 400 <= response.status_code < 500, response.text
    assert message in response.json()["detail"]


def test_bodies_over_the_limit_are_413_with_or_without_a_length(fast_client):
    huge = b'{"question": "' + b" " * 10_000_000 + b'dns"}'
    response = fast_client.post("/ask", content=huge, headers=JSON)
    assert response.status_code == 413 and "limit" in response.json()["detail"]
    big_source = b'{"question": "dns", "source": "' + b"a" * 10_000_000 + b'"}'
    assert fast_client.post("/ask", content=big_source, headers=JSON).status_code == 413

    def chunked():  # no Content-Length: the limit is counted while reading
        for _ in range(100):
            yield b" " * 100_000

    assert fast_client.post("/ask", content=chunked(), headers=JSON).status_code == 413
    assert fast_client.post("/ask", json={"question": "is there a free tier?"}).status_code == 200


@pytest.mark.parametrize("key", ["ключ".encode(), b"\xe9", b"k\xc3\xa9y"])
def test_non_ascii_api_keys_are_refused_not_crashed(client, key):
    response = client.post("/admin/reindex", content=b"{}", headers={"X-API-Key": key})
    assert response.status_code == 403 and response.json()["detail"] == "wrong API key"


def test_a_deeply_nested_upload_names_the_line(client):
    body = b'{"question": "q", "answer": "a"}\n' + b"[" * 100_000 + b"\n"
    response = client.post("/admin/reindex", content=body, headers={"X-API-Key": ADMIN_KEY})
    assert response.status_code == 422
    assert "line 2: invalid JSON (nested too deeply)" in response.json()["detail"]


def test_head_probes(fast_client):
    assert fast_client.head("/health").status_code == 200
    assert fast_client.head("/ready").status_code in (200, 503)  # never 405


def test_the_published_422_schema_is_the_one_sent(fast_client):
    schema = fast_client.get("/openapi.json").json()
    declared = schema["paths"]["/ask"]["post"]["responses"]["422"]["content"]["application/json"]["schema"]
    assert declared["$ref"].endswith("/ValidationProblem")
    body = fast_client.post("/ask", json={"question": ""}).json()
    assert isinstance(body["detail"], str) and isinstance(body["errors"], list)
