"""Load and faults against a real `faq serve`: concurrent clients, a reindex under that load, a
SIGKILL in the middle of a reindex, and a Qdrant server that refuses connections.

The default run uses the mini FAQ and a few seconds of load; `make test-proof` runs the `proof`
version: 16 clients for 60 s on the real data set with a servable trained on it.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from app.config import StoreSettings
from app.store.opening import open_store
from tests.app.api.conftest import ADMIN_KEY, index_into
from tests.cli.conftest import Service, free_port, start_service, stop_service
from tests.conftest import MINI_FAQ, MINI_PARAPHRASES, PARAPHRASES, REAL_FAQ, REPO_ROOT, bigger_faq

# Load and faults against a service process (twenty seconds): `make test-slow`.
pytestmark = pytest.mark.slow

KEY = {"X-API-Key": ADMIN_KEY}


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


def run_load(url: str, questions: list[str], clients: int, seconds: float, during=None) -> LoadResult:
    """`clients` closed-loop clients asking in turn for `seconds`; `during()` runs meanwhile."""
    result = LoadResult()
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(offset: int) -> None:
        with httpx.Client(timeout=30) as http:
            i = offset
            while time.monotonic() < stop:
                question = questions[i % len(questions)]
                i += clients
                started = time.perf_counter()
                try:
                    response = http.post(f"{url}/ask", json={"question": question, "top_k": 3})
                    ok = response.status_code == 200
                    problem = f"{response.status_code}: {response.text[:120]}"
                except httpx.HTTPError as exc:
                    ok, problem = False, repr(exc)
                with lock:
                    result.latencies.append(time.perf_counter() - started)
                    if not ok:
                        result.failures.append(problem)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    if during is not None:
        during()
    for thread in threads:
        thread.join()
    return result


def reindex(url: str, data: bytes) -> dict:
    response = httpx.post(f"{url}/admin/reindex", content=data, headers=KEY, timeout=60)
    assert response.status_code == 202, response.text
    job = response.json()
    deadline = time.monotonic() + 900
    while job["status"] == "running" and time.monotonic() < deadline:
        time.sleep(0.2)
        job = httpx.get(f"{url}/admin/reindex/{job['id']}", headers=KEY, timeout=30).json()
    return job


def load_and_reindex(
    service: Service, data: Path, questions: list[str], clients: int, seconds: float
) -> None:
    before = httpx.get(f"{service.url}/ready", timeout=30).json()
    jobs: list[dict] = []
    result = run_load(
        service.url,
        questions,
        clients,
        seconds,
        during=lambda: jobs.append(reindex(service.url, data.read_bytes())),
    )
    after = httpx.get(f"{service.url}/ready", timeout=30).json()
    print(  # the numbers the README reports
        f"\n{clients} clients, {seconds:.0f} s: {len(result.latencies)} requests, "
        f"{len(result.failures)} failed, "
        f"p50 {result.percentile(0.5):.0f} ms, p99 {result.percentile(0.99):.0f} ms"
    )
    assert result.failures == []
    assert len(result.latencies) > clients
    assert jobs and jobs[0]["status"] == "succeeded", jobs
    assert after["collection"] != before["collection"] and after["points"] == before["points"]
    assert statistics.median(result.latencies) < 10


def assert_answers_its_own_question(service: Service) -> None:
    answer = httpx.post(f"{service.url}/ask", json={"question": "is there a free tier?"}, timeout=30).json()
    assert answer["answers"][0]["question"] == "is there a free tier?"


def questions_from(path: Path) -> list[str]:
    return [json.loads(line)["query"] for line in path.read_text().splitlines() if line.strip()]


def test_load_with_a_reindex_under_it(served):
    load_and_reindex(served, MINI_FAQ, questions_from(MINI_PARAPHRASES), clients=16, seconds=4)


def test_admin_writes_under_load_lose_nothing(served):
    """8 clients ask while an admin adds 12 entries one by one and deletes every third: no
    request fails, every write is applied (the count moves by exactly the writes made)."""
    url = served.url
    before = httpx.get(f"{url}/ready", timeout=30).json()["points"]
    added: list[str] = []
    deleted: list[str] = []
    refused: list[str] = []

    def write() -> None:
        with httpx.Client(timeout=60, headers=KEY) as http:
            for n in range(12):
                entry = {"question": f"what is office rule number {n}?", "answer": f"rule {n}: be kind"}
                response = http.post(f"{url}/faq/entries", json=entry)
                if response.status_code != 201:
                    refused.append(response.text)
                    continue
                added.append(response.json()["ids"][0])
                if n % 3 == 2:
                    gone = http.delete(f"{url}/faq/entries/{added[-1]}")
                    (deleted if gone.status_code == 204 else refused).append(added[-1])

    result = run_load(url, questions_from(MINI_PARAPHRASES), clients=8, seconds=4, during=write)
    assert result.failures == [] and refused == []
    assert len(result.latencies) > 8
    assert httpx.get(f"{url}/ready", timeout=30).json()["points"] == before + len(added) - len(deleted)
    for entry_id in set(added) - set(deleted):
        assert httpx.get(f"{url}/faq/entries/{entry_id}", headers=KEY).status_code == 200
    for entry_id in deleted:
        assert httpx.get(f"{url}/faq/entries/{entry_id}", headers=KEY).status_code == 404


@pytest.mark.proof
def test_load_on_the_real_data_set(tmp_path):
    servable = Path(os.environ.get("FAQ_PROOF_SERVABLE", REPO_ROOT / "var" / "servable"))
    if not (servable / "config.json").is_file() or not REAL_FAQ.is_file():
        pytest.skip(f"needs a servable trained on the real data at {servable} (make train) and {REAL_FAQ}")
    qdrant = tmp_path / "qdrant"
    from app.domain.records import load_faq
    from app.encoding.servable import Servable
    from app.search.faq_search import FaqSearch
    from app.writes.index_job import index_dataset

    store = open_store(StoreSettings(QDRANT_PATH=str(qdrant)))
    index_dataset(
        load_faq(REAL_FAQ), FaqSearch(Servable.load(servable, device="cpu"), store, "faq"), progress=False
    )
    store.close()
    service = start_service(servable, {"QDRANT_PATH": str(qdrant)})
    try:
        load_and_reindex(service, REAL_FAQ, questions_from(PARAPHRASES), clients=16, seconds=60)
    finally:
        stop_service(service)


@pytest.mark.slow  # a process started and stopped more than once: `make test-slow`
def test_sigkill_mid_reindex_then_restart_serves_the_old_index(trained_servable, tmp_path):
    qdrant = tmp_path / "qdrant"
    index_into(qdrant, trained_servable)
    service = start_service(trained_servable, {"QDRANT_PATH": str(qdrant)})
    try:
        before = httpx.get(f"{service.url}/ready", timeout=30).json()
        big = bigger_faq(30)
        job = httpx.post(f"{service.url}/admin/reindex", content=big, headers=KEY, timeout=60).json()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # kill it once the new version holds some points
            state = httpx.get(f"{service.url}/admin/reindex/{job['id']}", headers=KEY, timeout=30).json()
            if state["done"] > 0:
                break
            time.sleep(0.05)
        assert state["status"] == "running", "the job finished before it could be killed: make it bigger"
        os.kill(service.process.pid, signal.SIGKILL)
        service.process.wait(timeout=30)
    finally:
        stop_service(service)
    # The killed job left its version on disk ...
    store = open_store(StoreSettings(QDRANT_PATH=str(qdrant)))
    assert len(store.versions("faq")) == 2
    store.close()
    # ... the restarted service serves the old version and drops the orphan at start-up.
    service = start_service(trained_servable, {"QDRANT_PATH": str(qdrant)})
    try:
        after = httpx.get(f"{service.url}/ready", timeout=30).json()
        assert after["status"] == "ready"
        assert (after["collection"], after["points"]) == (before["collection"], before["points"])
        assert after["unfinished_versions"] == []
        assert_answers_its_own_question(service)
    finally:
        stop_service(service)
    store = open_store(StoreSettings(QDRANT_PATH=str(qdrant)))
    assert store.versions("faq") == [before["collection"]]
    store.close()


@pytest.mark.slow  # a process started and stopped more than once: `make test-slow`
def test_a_qdrant_server_that_refuses_connections(trained_servable):
    refused = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    service = start_service(trained_servable, {"QDRANT_URL": refused})
    try:
        with httpx.Client(timeout=15) as http:
            assert http.get(f"{service.url}/health").status_code == 200
            started = time.monotonic()
            ready = http.get(f"{service.url}/ready")
            assert ready.status_code == 503 and "unreachable" in " ".join(ready.json()["problems"])
            ask = http.post(f"{service.url}/ask", json={"question": "what is dns?"})
            assert ask.status_code == 503 and "unreachable" in ask.json()["detail"]
            assert time.monotonic() - started < 15
        assert service.alive()
    finally:
        stop_service(service)


QDRANT_TEST_URL = os.environ.get("QDRANT_TEST_URL")
needs_qdrant_server = pytest.mark.skipif(
    not QDRANT_TEST_URL, reason="QDRANT_TEST_URL is not set: no Qdrant server to test the server path against"
)


@needs_qdrant_server
def test_the_server_path_end_to_end(trained_servable):
    collection = f"faq_test_{os.getpid()}"
    service = start_service(trained_servable, {"QDRANT_URL": str(QDRANT_TEST_URL)}, FAQ_COLLECTION=collection)
    try:
        job = reindex(service.url, MINI_FAQ.read_bytes())
        assert job["status"] == "succeeded", job
        ready = httpx.get(f"{service.url}/ready", timeout=30).json()
        assert ready["status"] == "ready" and ready["points"] == 40
        assert_answers_its_own_question(service)
    finally:
        stop_service(service)
        store = open_store(StoreSettings(QDRANT_URL=str(QDRANT_TEST_URL)))
        for name in store.versions(collection):
            store.drop(name)
        store.close()
