"""The hostile pass's cases, each with the exact request that broke the service before."""

from __future__ import annotations

import threading
import time

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.app.api.conftest import ADMIN_KEY, index_into, settings_for

KEY = {"X-API-Key": ADMIN_KEY}
MB = 1024 * 1024


def test_a_big_body_without_the_key_is_refused_before_it_is_read(client):
    # 190 MB declared, no key: 413 at once (before: read in full, then 401)
    declared = client.post("/admin/reindex", content=b"x" * 100, headers={"Content-Length": str(190_000_000)})
    assert declared.status_code == 413

    # no declared length (chunked): cut at the public limit, not the upload limit
    def chunks():
        for _ in range(4):
            yield b"x" * MB

    chunked = client.post("/admin/reindex", content=chunks())
    assert chunked.status_code == 413 and "65536 bytes" in chunked.json()["detail"]
    # a wrong key is no key; a path that merely starts like an upload route is not one
    assert client.post("/admin/reindex", content=b"x" * MB, headers={"X-API-Key": "wrong"}).status_code == 413
    assert client.post("/adminXYZ", content=b"x" * MB, headers=KEY).status_code == 413
    # with the key, an upload over the public limit is read and validated (bad data: 422)
    big = client.post("/admin/reindex", content=b"{not json}\n" * 10_000, headers=KEY)
    assert big.status_code == 422 and "line 1: invalid JSON" in big.json()["detail"]
    # a small body without the key still gets its 401
    assert client.post("/admin/reindex", content=b"{}").status_code == 401


def test_metric_labels_take_known_values_only(client):
    before = len(client.get("/metrics").text)
    for n in range(50):
        client.request(f"XMETHOD{n}{'Q' * 200}", "/x")
    text = client.get("/metrics").text
    assert "XMETHOD" not in text and 'method="other"' in text
    assert len(text) - before < 5_000  # one series for all of them, not one each


def test_an_entry_update_with_null_fields_is_refused_and_writes_nothing(client):
    entry_id = client.post("/ask", json={"question": "how do i create a storage bucket?"}).json()["answers"][
        0
    ]["id"]
    before = client.get(f"/faq/entries/{entry_id}", headers=KEY).json()
    for body in ({"source": None}, {"answer": None}, {"question": None}, {"filename": None}, {"page": None}):
        response = client.put(f"/faq/entries/{entry_id}", json=body, headers=KEY)
        assert response.status_code == 422, body
        assert "must not be null" in response.json()["detail"]
    assert client.get(f"/faq/entries/{entry_id}", headers=KEY).json() == before
    sources = {s["source"] for s in client.get("/sources").json()["sources"]}
    assert "None" not in sources


def test_a_reindex_upload_keeps_the_api_length_limits(client):
    row = '{"question": "q?", "answer": "a.", "source": "%s"}\n' % ("s" * 1000)
    response = client.post("/admin/reindex", content=row.encode(), headers=KEY)
    assert response.status_code == 422
    assert "line 1: field 'source' is 1000 characters long; the limit is 200" in response.json()["detail"]


def test_the_page_answers_head_and_sends_security_headers(client):
    assert client.head("/").status_code == 200
    page = client.get("/")
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/health").headers["x-content-type-options"] == "nosniff"


@pytest.fixture
def own_client(trained_servable, tmp_path):
    """A service over a store of its own: for the tests that replace the FAQ, so that the
    module's other tests never depend on the order they run in."""
    index_into(tmp_path / "qdrant", trained_servable)
    app = create_app(settings_for(trained_servable, tmp_path / "qdrant", ADMIN_API_KEY=ADMIN_KEY))
    with TestClient(app) as own:
        yield own


def visitor(client, address: str) -> TestClient:
    """The module's service as seen from another address: budgets are per client, so a test
    that spends one spends its own."""
    return TestClient(client.app, client=(address, 50000))


def test_a_reindex_request_during_a_live_write_does_not_stall_the_service(own_client):
    """The request waits for the live change (in a worker thread), never on the event loop."""
    client = own_client
    jobs = client.app.state.services.jobs
    held = threading.Event()
    release = threading.Event()

    def live_write() -> None:  # what a large POST /faq/entries does while it encodes
        with jobs.idle():
            held.set()
            release.wait(30)

    writer = threading.Thread(target=live_write)
    writer.start()
    assert held.wait(10)
    result: dict = {}
    reindex = threading.Thread(
        target=lambda: result.update(
            response=client.post(
                "/admin/reindex", content=b'{"question": "q?", "answer": "a."}\n', headers=KEY
            )
        )
    )
    reindex.start()
    time.sleep(0.5)  # the reindex request is now waiting for the live change
    try:
        started = time.perf_counter()
        assert client.get("/health").status_code == 200
        asked = client.post("/ask", json={"question": "how do i create a storage bucket?"})
        assert asked.status_code == 200
        assert time.perf_counter() - started < 5  # before: every route waited for the write
        assert reindex.is_alive()
    finally:
        release.set()
        writer.join(10)
        reindex.join(60)
    assert result["response"].status_code == 202
    job = result["response"].json()["id"]
    deadline = time.monotonic() + 60
    while client.get(f"/admin/reindex/{job}", headers=KEY).json()["status"] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert client.get("/ready").json()["points"] == 1  # the reindex replaced the FAQ


def test_bodies_that_are_not_json_get_422_with_errors(client):
    for body in (b'{"question": "caf\xe9"}', b"[" * 10_000):
        response = client.post("/ask", content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 422, body[:20]
        assert "not valid JSON" in response.json()["detail"] and response.json()["errors"]


def test_feedback_on_a_question_of_only_invisible_characters_is_refused(client):
    entry_id = client.post("/ask", json={"question": "how do i create a storage bucket?"}).json()["answers"][
        0
    ]["id"]
    response = client.post(
        "/feedback", json={"question": "\x00\x00\u200b", "entry_id": entry_id, "helpful": True}
    )
    assert response.status_code == 422 and "at least one letter or digit" in response.json()["detail"]


def test_content_length_with_chunked_encoding_is_refused(client):
    """RFC 9112: a request with both framings is a smuggling shape: 400, connection closed."""
    response = client.post(
        "/ask",
        content=b'{"question": "how do i create a storage bucket?"}',
        headers={"Content-Length": "60", "Transfer-Encoding": "chunked", "Content-Type": "application/json"},
    )
    assert response.status_code == 400 and response.headers.get("connection") == "close"


def test_public_writes_have_a_per_client_budget_and_feedback_can_be_deleted(client):
    client = visitor(client, "198.51.100.20")  # a budget of its own
    entry_id = client.post("/ask", json={"question": "how do i create a storage bucket?"}).json()["answers"][
        0
    ]["id"]
    body = {"question": "how do i make a bucket?", "entry_id": entry_id, "helpful": True}
    codes = [client.post("/feedback", json=body).status_code for _ in range(15)]
    # FAQ_FEEDBACK_PER_MINUTE (10): the first ten are taken, then 429 with Retry-After
    assert codes[:10] == [201] * 10 and set(codes[10:]) == {429}
    refused = client.post("/feedback", json=body)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    records = client.get("/admin/feedback", params={"pairs": "false"}, headers=KEY).text.splitlines()
    assert len(records) >= 10
    import json

    first = json.loads(records[0])["id"]
    assert client.delete("/admin/feedback", params={"id": first}, headers=KEY).json() == {"deleted": 1}
    assert client.delete("/admin/feedback", headers=KEY).json()["deleted"] == len(records) - 1
    assert client.get("/admin/feedback", headers=KEY).text == ""
    assert client.delete("/admin/feedback").status_code == 401


def test_no_redirect_built_from_the_host_header(client):
    response = client.get("/faq/entries/", headers={**KEY, "Host": "evil.example"}, follow_redirects=False)
    assert response.status_code == 404 and "location" not in response.headers


def test_a_body_that_trickles_in_is_cut_off():
    """Slowloris on the body: the bytes stop coming; 408 and the connection closes."""
    import asyncio

    from app.api.body_limit import BodySizeLimit

    async def app(scope, receive, send):  # never reached
        raise AssertionError("the app must not see a body that never arrived")

    sent: list[dict] = []

    async def receive():
        if not sent and not getattr(receive, "first", False):
            receive.first = True  # type: ignore[attr-defined]
            return {"type": "http.request", "body": b'{"question": ', "more_body": True}
        await asyncio.sleep(60)  # the rest never comes

    async def send(message):
        sent.append(message)

    limit = BodySizeLimit(app, default=65536, by_path={}, timeout_s=0.2)
    scope = {"type": "http", "path": "/ask", "headers": [(b"content-type", b"application/json")]}
    asyncio.run(asyncio.wait_for(limit(scope, receive, send), 5))
    assert sent[0]["status"] == 408 and (b"connection", b"close") in sent[0]["headers"]


def test_an_upload_beyond_a_mebibyte_arrives_whole_through_the_spool(trained_servable, tmp_path):
    """Bodies over 1 MiB are spooled to a temporary file and handed on in pieces: a 1.3 MB FAQ
    file is indexed entry for entry, its last bytes included."""
    import json

    from fastapi.testclient import TestClient

    from app.api.body_limit import SPOOL_IN_MEMORY
    from app.main import create_app
    from tests.app.api.conftest import settings_for

    entries = [
        {"question": f"question number {i}?", "answer": f"answer {i}: " + "long text " * 1990 + f"end {i}"}
        for i in range(65)
    ]
    body = "\n".join(json.dumps(e) for e in entries).encode()
    assert len(body) > SPOOL_IN_MEMORY
    app = create_app(settings_for(trained_servable, tmp_path / "q", ADMIN_API_KEY=ADMIN_KEY))
    with TestClient(app) as client:
        started = client.post("/admin/reindex", content=body, headers=KEY)
        assert started.status_code == 202, started.text[:300]
        job_id = started.json()["id"]
        deadline = time.monotonic() + 120
        while (job := client.get(f"/admin/reindex/{job_id}", headers=KEY).json())["status"] == "running":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert job["status"] == "succeeded" and client.get("/ready").json()["points"] == 65
        listed = client.get("/faq/entries?limit=100", headers=KEY).json()["entries"]
        last = next(e for e in listed if e["question"] == "question number 64?")
        assert last["answer"] == entries[-1]["answer"]
