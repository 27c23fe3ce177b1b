"""Versions over HTTP: kept for rollback (FAQ_KEEP_VERSIONS), staged without switching, asked
by an admin, tested with a FAQ test set, refused on activation when worse, forced, and rolled
back with /ask answering throughout."""

from __future__ import annotations

import json
import threading
import time

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.app.api.conftest import ADMIN_KEY, settings_for, wait_for_job
from tests.conftest import MINI_FAQ

ADMIN = {"X-API-Key": ADMIN_KEY}
JSONL = {"Content-Type": "application/x-ndjson", **ADMIN}
FAQ = [json.loads(line) for line in MINI_FAQ.read_text().splitlines()]


def _reindex(client, entries, **params) -> dict:
    body = "\n".join(json.dumps(e) for e in entries).encode()
    job = client.post("/admin/reindex", content=body, params=params, headers=JSONL).json()
    deadline = time.monotonic() + 120
    while job["status"] == "running" and time.monotonic() < deadline:
        time.sleep(0.1)
        job = client.get(f"/admin/reindex/{job['id']}", headers=ADMIN).json()
    assert job["status"] == "succeeded", job
    return job["report"]


def _top(client, question: str) -> str | None:
    body = client.post("/ask", json={"question": question}).json()
    return body["answers"][0]["question"] if body["answers"] else None


def _versions(client) -> list[dict]:
    response = client.get("/admin/versions", headers=ADMIN)
    assert response.status_code == 200, response.text
    return response.json()["versions"]


def _test(client, **params) -> dict:
    cases = [{"question": e["question"], "expected_question": e["question"]} for e in FAQ[:12]]
    cases.append({"question": "what is the capital of australia?", "expected_question": "none"})
    body = "\n".join(json.dumps(c) for c in cases).encode()
    response = client.post("/admin/test", content=body, params=params, headers=JSONL)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture()
def client(trained_servable, tmp_path):
    settings = settings_for(
        trained_servable, tmp_path / "qdrant", ADMIN_API_KEY=ADMIN_KEY, FAQ_KEEP_VERSIONS="2"
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_stage_test_refuse_force_and_roll_back(client):
    first = _reindex(client, FAQ)
    (live,) = _versions(client)
    assert live["name"] == first["version"] and live["live"] and live["origin"] == "reindex"
    assert live["entries"] == len(FAQ) and live["test"] is None
    good = _test(client)
    assert good["total"] == 13 and good["right"] >= 12 and good["version"] == first["version"]
    assert {r["outcome"] for r in good["results"]} <= {"right", "clarified", "wrong", "declined"}
    assert _versions(client)[0]["test"]["right"] == good["right"], "kept with the version"

    # a bad FAQ (half the entries gone), staged: built, kept, not switched
    staged = _reindex(client, FAQ[20:], stage="true")
    assert staged["staged"] is True and staged["version"] != first["version"]
    names = {v["name"]: v for v in _versions(client)}
    assert names[staged["version"]]["staged"] and not names[staged["version"]]["live"]
    assert names[first["version"]]["live"]
    question = {"question": FAQ[0]["question"], "version": staged["version"]}
    assert client.post("/ask", json=question).status_code == 401, "asking a version is admin only"
    from_staged = client.post("/ask", json=question, headers=ADMIN).json()
    assert all(a["question"] != FAQ[0]["question"] for a in from_staged["answers"])
    assert (
        client.post("/ask", json={"question": FAQ[0]["question"]}).json()["answers"][0]["question"]
        == FAQ[0]["question"]
    )
    worse = _test(client, version=staged["version"])
    assert worse["right"] < good["right"]

    refused = client.post(f"/admin/versions/{staged['version']}/activate", headers=ADMIN)
    assert refused.status_code == 409
    assert (
        refused.json()["version"]["right"] == worse["right"]
        and refused.json()["live"]["right"] == good["right"]
    )
    assert _versions(client)[-1]["live"], "nothing switched"

    forced = client.post(
        f"/admin/versions/{staged['version']}/activate", params={"force": "true"}, headers=ADMIN
    )
    assert (
        forced.status_code == 200 and forced.json()["live"] and forced.json()["activated"]["forced"] is True
    )
    assert client.get("/ready").json()["points"] == len(FAQ) - 20

    # a bad import replaces the FAQ (a new version, live at once) ...
    answers_before = {e["question"]: _top(client, e["question"]) for e in FAQ[20:30]}
    bad = "\n".join(json.dumps(e) for e in FAQ[30:]).encode()
    imported = client.post("/admin/import", content=bad, params={"mode": "replace"}, headers=JSONL)
    assert imported.status_code == 202 and imported.json()["removed"] == len(FAQ) - 20 - 10
    import_version = wait_for_job(client, imported.json()["job"])["report"]["version"]
    assert client.get("/ready").json()["points"] == 10
    assert _versions(client)[0]["origin"] == "import" and _versions(client)[0]["live"]
    # ... and one call rolls back to the version before, with /ask answering throughout (8 clients)
    failures: list[int] = []
    stop = threading.Event()

    def ask_all_the_time() -> None:
        while not stop.is_set():
            status = client.post("/ask", json={"question": FAQ[25]["question"]}).status_code
            if status != 200:
                failures.append(status)

    askers = [threading.Thread(target=ask_all_the_time) for _ in range(8)]
    for thread in askers:
        thread.start()
    try:
        back = client.post(f"/admin/versions/{staged['version']}/activate", headers=ADMIN)
    finally:
        stop.set()
        for thread in askers:
            thread.join()
    assert back.status_code == 200, back.text
    assert failures == []
    assert client.get("/ready").json()["points"] == len(FAQ) - 20, "the point count as before"
    assert {q: _top(client, q) for q in answers_before} == answers_before, "the same answers as before"
    assert _test(client)["right"] == worse["right"]

    # FAQ_KEEP_VERSIONS=2: the first version was dropped when the import's was built; a further
    # build drops the oldest finished one that is not live
    assert {v["name"] for v in _versions(client)} == {staged["version"], import_version}
    third = _reindex(client, FAQ)
    assert {v["name"] for v in _versions(client)} == {third["version"], import_version}


def test_bad_version_requests(client):
    _reindex(client, FAQ)
    assert client.post("/admin/versions/faq_v0_nope/activate", headers=ADMIN).status_code == 404
    assert client.post("/admin/versions/..%2F/activate", headers=ADMIN).status_code in (404, 422)
    unknown = client.post("/ask", json={"question": "x y", "version": "faq_v0_nope"}, headers=ADMIN)
    assert unknown.status_code == 404
    bad_case = client.post("/admin/test", content=b'{"expected_question": "x"}\n', headers=JSONL)
    assert bad_case.status_code == 422 and "line 1" in bad_case.json()["detail"]
    assert client.post("/admin/test", content=b"", headers=JSONL).status_code == 422
    assert (
        client.post(
            "/admin/test", content=b'{"question": "a b"}\n', params={"version": "nope"}, headers=JSONL
        ).status_code
        == 404
    )
    assert client.get("/admin/versions").status_code == 401


def test_the_version_made_by_the_first_live_entry_is_kept_for_rollback(client):
    """A FAQ begun with live entries has a version the askers were served from: a reindex that
    replaces it keeps it (it was dropped as one a killed job left behind, and a test set running
    on it then answered 503), and the FAQ rolls back to it."""
    added = client.post("/faq/entries", json=FAQ[:3], headers=ADMIN)
    assert added.status_code in (200, 201), added.text
    (first,) = _versions(client)
    assert first["live"] and first["origin"] == "live" and first["entries"] == 3
    assert first["created"]
    report = _reindex(client, FAQ)
    names = {v["name"]: v for v in _versions(client)}
    assert set(names) == {first["name"], report["version"]}
    assert names[report["version"]]["live"] and not names[first["name"]]["live"]
    assert _test(client, version=first["name"])["version"] == first["name"]
    back = client.post(f"/admin/versions/{first['name']}/activate", params={"force": "true"}, headers=ADMIN)
    assert back.status_code == 200, back.text
    assert _top(client, FAQ[0]["question"]) == FAQ[0]["question"]
    assert _top(client, FAQ[10]["question"]) != FAQ[10]["question"], "the 3-entry version answers"
