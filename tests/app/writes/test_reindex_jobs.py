"""Reindex jobs across processes: two app instances over one store (as `--workers 2` or two
replicas on one Qdrant) see each other's jobs and never run two at once."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.writes.reindex_jobs import LEASE_ID
from tests.app.api.conftest import ADMIN_KEY, serve_search, settings_for
from tests.conftest import MINI_FAQ, bigger_faq

KEY = {"X-API-Key": ADMIN_KEY}


@pytest.fixture
def two_apps(base_search, tmp_path):
    """Two apps, each with its own services (jobs, live entries), over one search and store."""
    clients = []
    for name in ("one", "two"):
        app = create_app(settings_for(tmp_path / "none", tmp_path / name, ADMIN_API_KEY=ADMIN_KEY))
        client = TestClient(app)
        client.__enter__()
        clients.append((client, serve_search(app, base_search)))
    yield [client for client, _ in clients]
    for client, services in clients:
        services.close()
        client.__exit__(None, None, None)


def _wait(client, job_id: str) -> dict:
    deadline = time.monotonic() + 120
    while True:
        job = client.get(f"/admin/reindex/{job_id}", headers=KEY).json()
        if job["status"] != "running":
            return job
        assert time.monotonic() < deadline, "the job did not finish"
        time.sleep(0.1)


def test_a_job_started_through_one_is_seen_and_guarded_through_the_other(two_apps):
    one, two = two_apps
    started = one.post("/admin/reindex", content=bigger_faq(6), headers=KEY)
    assert started.status_code == 202
    job_id = started.json()["id"]
    # the other instance: the job is visible, a second job is refused naming it, and a live
    # change (which the switch would lose) is refused too
    seen = two.get(f"/admin/reindex/{job_id}", headers=KEY)
    assert seen.status_code == 200 and seen.json()["id"] == job_id
    second = two.post("/admin/reindex", content=MINI_FAQ.read_bytes(), headers=KEY)
    assert second.status_code == 409 and job_id in second.json()["detail"]
    change = two.post("/faq/entries", json={"question": "q?", "answer": "a."}, headers=KEY)
    assert change.status_code == 409
    done = _wait(one, job_id)
    assert done["status"] == "succeeded" and done["report"]["indexed"] == 240
    # the outcome is the same through both, and the lease is free again
    assert _wait(two, job_id) == done
    again = two.post("/admin/reindex", content=MINI_FAQ.read_bytes(), headers=KEY)
    assert again.status_code == 202
    assert _wait(one, again.json()["id"])["status"] == "succeeded"
    assert two.get("/admin/reindex/nope", headers=KEY).status_code == 404


def test_a_lease_left_by_a_dead_process_expires(base_search):
    from app.writes.reindex_jobs import LEASE_TTL

    store = base_search.store
    name = f"{base_search.alias}_jobs"
    now = time.time()
    assert store.take_lease(name, LEASE_ID, "dead-process:job1", now - LEASE_TTL - 1, LEASE_TTL) is None
    # not renewed since: another holder takes it; a fresh lease is not taken
    assert store.take_lease(name, LEASE_ID, "alive:job2", now, LEASE_TTL) is None
    assert store.take_lease(name, LEASE_ID, "third:job3", now + 1, LEASE_TTL) == "alive:job2"
    store.release_lease(name, LEASE_ID, "alive:job2")
    assert store.take_lease(name, LEASE_ID, "third:job3", now + 2, LEASE_TTL) is None
    store.release_lease(name, LEASE_ID, "third:job3")


def test_no_live_change_racing_a_reindex_in_another_instance_is_lost(two_apps):
    """100 live changes through one instance racing a reindex through the other. The job's data
    replaces the FAQ (by design: entries written before it started are gone after it); what must
    never happen is a change acknowledged after the job started that the switch then drops."""
    import threading

    one, two = two_apps
    results: list[tuple[float, int, str]] = []  # (sent at, status, question)

    def writer() -> None:
        for n in range(100):
            entry = {"question": f"is room {n} free on mondays?", "answer": f"room {n} is free on mondays"}
            sent = time.monotonic()
            response = two.post("/faq/entries", json=entry, headers=KEY)
            results.append((sent, response.status_code, entry["question"]))

    thread = threading.Thread(target=writer)
    thread.start()
    time.sleep(0.2)
    started = one.post("/admin/reindex", content=bigger_faq(3), headers=KEY)
    accepted_at = time.monotonic()
    assert started.status_code in (202, 409)  # 409: a live change held the lease that moment
    if started.status_code == 202:
        assert _wait(one, started.json()["id"])["status"] == "succeeded"
    thread.join(120)
    assert {code for _, code, _ in results} <= {201, 409} and len(results) == 100
    refused = sum(code == 409 for _, code, _ in results)
    later = [q for sent, code, q in results if code == 201 and sent > accepted_at]
    assert refused or started.status_code == 409  # the race happened
    for question in later:  # acknowledged after the job was accepted: in the FAQ served now
        hits = one.post("/ask", json={"question": question, "score_threshold": 0.99}).json()["answers"]
        assert hits and hits[0]["question"] == question, question
    restored = one.post("/admin/reindex", content=MINI_FAQ.read_bytes(), headers=KEY)
    _wait(one, restored.json()["id"])


def test_a_reindex_request_during_a_long_live_change_is_answered_at_once(base_search):
    """A live change holds off reindex jobs while it writes (a large one for a minute); a
    reindex asked for meanwhile gets 409 within seconds instead of waiting it out."""
    import threading

    from app.domain.records import load_faq
    from app.writes.reindex_jobs import START_WAIT, JobAlreadyRunning, ReindexJobs

    jobs = ReindexJobs(base_search)
    writing, finish = threading.Event(), threading.Event()

    def long_change() -> None:
        with jobs.idle():
            writing.set()
            finish.wait(30)

    change = threading.Thread(target=long_change)
    change.start()
    try:
        assert writing.wait(10)
        started = time.monotonic()
        with pytest.raises(JobAlreadyRunning, match="a live change is being written"):
            jobs.start(load_faq(MINI_FAQ))
        assert time.monotonic() - started < START_WAIT + 5
    finally:
        finish.set()
        change.join()
