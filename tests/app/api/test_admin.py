import threading
import time

from fastapi.testclient import TestClient

from app.api.deps import get_jobs
from app.main import create_app
from app.search.faq_search import FaqSearch
from app.store.opening import scratch_store
from app.writes.reindex_jobs import ReindexJobs
from tests.app.api.conftest import ADMIN_KEY, settings_for
from tests.conftest import MINI_FAQ, bigger_faq

KEY = {"X-API-Key": ADMIN_KEY}


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
    response = client.post("/admin/reindex", content=bad, headers=KEY)
    assert response.status_code == 422
    assert "line 41" in response.json()["detail"] and "missing field 'answer'" in response.json()["detail"]
    assert client.get("/ready").json()["collection"] == before
    empty = client.post("/admin/reindex", content=b"\n", headers=KEY)
    assert empty.status_code == 422 and "no valid FAQ entries" in empty.json()["detail"]
    binary = client.post("/admin/reindex", content=b"\xff\xfe\x00", headers=KEY)
    assert binary.status_code == 422 and "not UTF-8" in binary.json()["detail"]


def test_reindex_reads_the_formats_teams_keep(client):
    """A CSV told by its Content-Type, Markdown told by ?format=: indexed, with the decision
    rule fitted to the new FAQ; a bad row of a spreadsheet is named as the spreadsheet shows it."""
    import json

    records = [json.loads(line) for line in MINI_FAQ.read_text().splitlines()]
    rows = "Category,Question,Answer,Page\n" + "".join(
        f'{r["source"]},"{r["question"]}","{r["answer"]}",{r["filename"]}\n' for r in records
    )
    bad = client.post(
        "/admin/reindex", content=rows + "acme,,no question,x\n", headers={**KEY, "Content-Type": "text/csv"}
    )
    assert bad.status_code == 422 and "row 42: field 'question' must not be empty" in bad.json()["detail"]
    job = client.post("/admin/reindex", content=rows.encode(), headers={**KEY, "Content-Type": "text/csv"})
    assert job.status_code == 202
    done = wait_for_job(client, job.json()["id"])
    assert done["status"] == "succeeded" and done["report"]["indexed"] == 40
    assert done["report"]["decision"]["entries"] == 40
    answer = client.post("/ask", json={"question": records[0]["question"]}).json()
    assert answer["status"] == "answered" and answer["answers"][0]["answer"] == records[0]["answer"]

    markdown = "".join(f"## {r['source']}\n\n### {r['question']}\n\n{r['answer']}\n\n" for r in records[:5])
    job = client.post("/admin/reindex", params={"format": "md"}, content=markdown.encode(), headers=KEY)
    assert job.status_code == 202
    done = wait_for_job(client, job.json()["id"])
    assert done["status"] == "succeeded" and done["report"]["indexed"] == 5
    unknown = client.post("/admin/reindex", params={"format": "yaml"}, content=b"x", headers=KEY)
    assert unknown.status_code == 422 and "unknown format 'yaml'" in unknown.json()["detail"]
    # back to the FAQ the other tests expect
    restored = client.post("/admin/reindex", content=MINI_FAQ.read_bytes(), headers=KEY)
    assert wait_for_job(client, restored.json()["id"])["status"] == "succeeded"


def wait_for_job(client, job_id: str) -> dict:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = client.get(f"/admin/reindex/{job_id}", headers=KEY).json()
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
        response = client.post("/admin/reindex", content=MINI_FAQ.read_bytes(), headers=KEY)
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
    assert client.get("/admin/reindex/nope", headers=KEY).status_code == 404


def test_a_second_reindex_while_one_runs_is_a_409(client):
    first = client.post("/admin/reindex", content=bigger_faq(10), headers=KEY)
    assert first.status_code == 202
    second = client.post("/admin/reindex", content=MINI_FAQ.read_bytes(), headers=KEY)
    assert second.status_code == 409 and "already running" in second.json()["detail"]
    assert wait_for_job(client, first.json()["id"])["status"] == "succeeded"
    # put the usual 40 entries back for the tests that follow
    again = client.post("/admin/reindex", content=MINI_FAQ.read_bytes(), headers=KEY)
    assert wait_for_job(client, again.json()["id"])["report"]["indexed"] == 40


def test_an_oversized_upload_is_a_413(trained_servable, tmp_path):
    settings = settings_for(
        trained_servable, tmp_path / "q", ADMIN_API_KEY=ADMIN_KEY, FAQ_MAX_UPLOAD_BYTES=1000
    )
    with TestClient(create_app(settings)) as small:
        response = small.post("/admin/reindex", content=MINI_FAQ.read_bytes(), headers=KEY)
        assert response.status_code == 413 and "1000 bytes" in response.json()["detail"]
        assert (
            small.post("/admin/reindex", content=MINI_FAQ.read_bytes()[:900], headers=KEY).status_code != 413
        )


def test_a_failed_job_is_reported_through_the_api(client, base_servable):
    # A store that goes away under the job (closed once the job has started): the job fails
    # and says so; nothing raises.
    gone = scratch_store()
    failing = ReindexJobs(FaqSearch(base_servable, gone, "faq"))
    client.app.dependency_overrides[get_jobs] = lambda: failing
    try:
        response = client.post("/admin/reindex", content=bigger_faq(3), headers=KEY)
        assert response.status_code == 202
        gone.close()
        job = wait_for_job(client, response.json()["id"])
    finally:
        client.app.dependency_overrides.clear()
    assert job["status"] == "failed" and "closed" in job["error"]
    assert client.get("/ready").status_code == 200  # the service's own index is untouched
