import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from app.core.config import ServiceSettings
from app.core.data import load_faq
from app.core.servable import Servable
from app.core.store import FaqStore
from app.indexer import index_dataset
from app.main import create_app
from tests.conftest import MINI_FAQ, REPO_ROOT

ADMIN_KEY = "test-admin-key"


@pytest.fixture(scope="module")
def indexed_store_path(trained_servable, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("qdrant")
    store = FaqStore.open(ServiceSettings(QDRANT_PATH=str(path)))
    index_dataset(
        load_faq(MINI_FAQ), Servable.load(trained_servable, device="cpu"), store, "faq", progress=False
    )
    store.close()
    return path


def settings_for(servable: Path, qdrant_path: Path | None = None, **extra) -> ServiceSettings:
    values = {"FAQ_SERVABLE": str(servable), "DEVICE": "cpu", **extra}
    if qdrant_path is not None:
        values["QDRANT_PATH"] = str(qdrant_path)
    return ServiceSettings(**values)


@pytest.fixture(scope="module")
def client(trained_servable, indexed_store_path):
    app = create_app(settings_for(trained_servable, indexed_store_path, ADMIN_API_KEY=ADMIN_KEY))
    with TestClient(app) as test_client:
        yield test_client


def test_health_and_ready(client):
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready" and body["points"] == 40 and body["alias"] == "faq"
    assert body["collection"].startswith("faq_v")


def test_ask_returns_the_right_answer_first(client):
    response = client.post("/ask", json={"question": "How do I register a domain name?", "top_k": 3})
    assert response.status_code == 200
    body = response.json()
    assert body["question"] == "How do I register a domain name?"
    assert len(body["answers"]) == 3
    best = body["answers"][0]
    assert best["question"] == "how do i register a domain name?"
    assert set(best) == {"id", "answer", "question", "source", "score"}
    scores = [a["score"] for a in body["answers"]]
    assert scores == sorted(scores, reverse=True)
    assert body["took_ms"] > 0


def test_ask_filters_by_source_and_threshold(client):
    body = client.post("/ask", json={"question": "how do i pay?", "top_k": 10, "source": "acme"}).json()
    assert body["answers"] and {a["source"] for a in body["answers"]} == {"acme"}
    body = client.post("/ask", json={"question": "how do i pay my invoice?", "score_threshold": 0.99}).json()
    assert all(a["score"] >= 0.99 for a in body["answers"])
    assert len(body["answers"]) < 5


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"question": ""}, "question: question must not be empty"),
        ({"question": "   \n\t"}, "question must not be empty"),
        ({"question": "x" * 2001}, "limit is 2000"),
        ({"question": "q", "top_k": 0}, "top_k"),
        ({"question": "q", "top_k": 51}, "top_k"),
        ({"question": 123}, "question"),
        ({"question": "q", "top_k": "5"}, "top_k"),
        ({"top_k": 5}, "question: Field required"),
        ({"question": "q", "topk": 3}, "topk"),
    ],
)
def test_bad_input_is_a_readable_422(client, payload, message):
    response = client.post("/ask", json=payload)
    assert response.status_code == 422
    assert message in response.json()["detail"]


def test_non_json_body_is_a_422(client):
    response = client.post("/ask", content=b"what is dns?", headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert "JSON" in response.json()["detail"]


def test_ready_and_ask_without_an_index(trained_servable, tmp_path):
    with TestClient(create_app(settings_for(trained_servable, tmp_path / "empty"))) as client:
        ready = client.get("/ready")
        assert ready.status_code == 503
        assert any("does not exist" in p for p in ready.json()["problems"])
        response = client.post("/ask", json={"question": "what is dns?"})
        assert response.status_code == 503
        assert "faq index" in response.json()["detail"]


def test_store_down_gives_503_not_500(trained_servable):
    settings = settings_for(trained_servable, QDRANT_URL="http://127.0.0.1:9")
    with TestClient(create_app(settings)) as client:
        assert client.get("/health").status_code == 200
        ready = client.get("/ready")
        assert ready.status_code == 503 and "unreachable" in " ".join(ready.json()["problems"])
        response = client.post("/ask", json={"question": "what is dns?"})
        assert response.status_code == 503
        assert "unreachable" in response.json()["detail"]


def test_missing_servable_gives_503(tmp_path):
    with TestClient(create_app(settings_for(tmp_path / "no-servable", tmp_path / "q"))) as client:
        ready = client.get("/ready")
        assert ready.status_code == 503
        assert any("servable not loaded" in p for p in ready.json()["problems"])
        assert client.post("/ask", json={"question": "q"}).status_code == 503


def test_admin_needs_the_key(client, trained_servable, tmp_path):
    data = MINI_FAQ.read_bytes()
    assert client.post("/admin/reindex", content=data).status_code == 401
    assert client.post("/admin/reindex", content=data, headers={"X-API-Key": "wrong"}).status_code == 403
    with TestClient(create_app(settings_for(trained_servable, tmp_path / "q"))) as no_key:
        response = no_key.post("/admin/reindex", content=data, headers={"X-API-Key": "anything"})
        assert response.status_code == 403
        assert "ADMIN_API_KEY" in response.json()["detail"]


def test_reindex_with_bad_data_changes_nothing(client):
    before = client.get("/ready").json()["collection"]
    bad = MINI_FAQ.read_bytes() + b'{"question": "q"}\n'
    response = client.post("/admin/reindex", content=bad, headers={"X-API-Key": ADMIN_KEY})
    assert response.status_code == 422
    assert "line 41" in response.json()["detail"] and "missing field 'answer'" in response.json()["detail"]
    assert client.get("/ready").json()["collection"] == before
    empty = client.post("/admin/reindex", content=b"\n", headers={"X-API-Key": ADMIN_KEY})
    assert empty.status_code == 422 and "no valid FAQ entries" in empty.json()["detail"]


def wait_for_job(client, job_id: str) -> dict:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = client.get(f"/admin/reindex/{job_id}", headers={"X-API-Key": ADMIN_KEY}).json()
        if job["status"] != "running":
            return job
        time.sleep(0.1)
    raise AssertionError("reindex job did not finish")


def test_reindex_while_answering_has_zero_failures(client):
    before = client.get("/ready").json()["collection"]
    failures: list[str] = []
    answered = 0
    stop = threading.Event()

    def ask_in_a_loop() -> None:
        nonlocal answered
        while not stop.is_set():
            response = client.post("/ask", json={"question": "is phone support available?", "top_k": 3})
            if response.status_code != 200 or not response.json()["answers"]:
                failures.append(f"{response.status_code}: {response.text[:200]}")
            elif response.json()["answers"][0]["question"] != "is phone support available?":
                failures.append("wrong first answer")
            answered += 1

    asker = threading.Thread(target=ask_in_a_loop)
    asker.start()
    try:
        response = client.post(
            "/admin/reindex", content=MINI_FAQ.read_bytes(), headers={"X-API-Key": ADMIN_KEY}
        )
        assert response.status_code == 202
        job = wait_for_job(client, response.json()["id"])
    finally:
        stop.set()
        asker.join()
    assert job["status"] == "succeeded", job
    assert job["report"]["indexed"] == 40
    assert failures == []
    assert answered > 5
    after = client.get("/ready").json()
    assert after["collection"] != before and after["points"] == 40
    assert client.get("/admin/reindex/nope", headers={"X-API-Key": ADMIN_KEY}).status_code == 404


def test_openapi_docs_have_examples(client):
    assert client.get("/docs").status_code == 200
    schema = client.get("/openapi.json").json()
    assert schema["components"]["schemas"]["AskRequest"]["examples"]


def run_cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_faq_serve_subprocess_answers_over_http(trained_servable, tmp_path):
    qdrant = tmp_path / "qdrant"
    store = FaqStore.open(ServiceSettings(QDRANT_PATH=str(qdrant)))
    index_dataset(
        load_faq(MINI_FAQ), Servable.load(trained_servable, device="cpu"), store, "faq", progress=False
    )
    store.close()
    port = free_port()
    env = {
        **os.environ,
        "FAQ_SERVABLE": str(trained_servable),
        "QDRANT_PATH": str(qdrant),
        "DEVICE": "cpu",
        "ADMIN_API_KEY": ADMIN_KEY,
    }
    env.pop("QDRANT_URL", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, server.stdout.read()
            time.sleep(0.5)
        response = httpx.post(f"{url}/ask", json={"question": "is there a free tier?"}, timeout=30)
        assert response.status_code == 200
        assert response.json()["answers"][0]["question"] == "is there a free tier?"

        # `faq index` finds the embedded store held by the service and hands the job over.
        out = run_cli(env, "index", "--data", str(MINI_FAQ), "--url", url)
        assert out.returncode == 0, out.stderr
        assert "indexed" in out.stdout and "40" in out.stdout
        out = run_cli(env, "ask", "what are the support response times?", "--url", url, "--top-k", "2")
        assert out.returncode == 0, out.stderr
        assert "business plans get a reply" in out.stdout
    finally:
        server.terminate()
        server.wait(timeout=30)
