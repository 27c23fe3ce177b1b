"""/metrics in Prometheus format, request ids, and 503 with Retry-After when /ask is overloaded."""

from __future__ import annotations

import threading

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from app.main import create_app
from tests.app.api.conftest import settings_for


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_count_requests_batches_cache_and_index(client):
    for _ in range(3):
        assert client.post("/ask", json={"question": "is there a free tier?"}).status_code == 200
    client.post("/ask", json={"question": ""})  # a 422
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    samples = _samples(response.text)
    ok = ("faq_http_requests_total", (("method", "POST"), ("route", "/ask"), ("status", "200")))
    bad = ("faq_http_requests_total", (("method", "POST"), ("route", "/ask"), ("status", "422")))
    assert samples[ok] >= 3 and samples[bad] >= 1
    assert samples[("faq_http_request_seconds_count", (("method", "POST"), ("route", "/ask")))] >= 4
    assert samples[("faq_ask_batch_size_count", ())] >= 3
    assert samples[("faq_embedding_cache_hits_total", ())] >= 2  # the same question thrice (a counter)
    assert ("faq_embedding_cache_misses_total", ()) in samples
    assert samples[("faq_index_entries", ())] == client.get("/ready").json()["points"]
    assert ("faq_ask_queue_depth", ()) in samples
    # an unknown path is one series, not one per path
    client.get("/no/such/page/123")
    assert (
        "faq_http_requests_total",
        (("method", "GET"), ("route", "unmatched"), ("status", "404")),
    ) in _samples(client.get("/metrics").text)
    # the page's files count as one route of their own, not as unmatched
    assert client.get("/static/app.js").status_code == 200
    assert (
        "faq_http_requests_total",
        (("method", "GET"), ("route", "/static"), ("status", "200")),
    ) in _samples(client.get("/metrics").text)


def test_the_stages_of_an_ask_are_timed(client):
    """Where /ask's time goes (app.timing), as a histogram a stage: the request's own stages and
    its batch's, the encoder's and every store query's among them."""
    from app import timing

    def counts() -> dict[str, float]:
        found = _samples(client.get("/metrics").text)
        return {
            labels[0][1]: value
            for (name, labels), value in found.items()
            if name == "faq_ask_stage_seconds_count"
        }

    before = counts()
    assert (
        client.post("/ask", json={"question": "how do i start a virtual machine today?"}).status_code == 200
    )
    after = counts()
    grown = {stage for stage, value in after.items() if value > before.get(stage, 0)}
    expected = {
        timing.HTTP,
        timing.QUEUE,
        timing.TOKENIZE,
        timing.STORE_ANSWER,
        timing.STORE_ENTRIES,
        timing.DECIDE,
    }
    assert expected <= grown, grown
    assert grown & {timing.ENCODE_ANSWER, timing.ENCODE_BOTH}, grown
    assert timing.RESPONSE in after  # observed when the response has gone out
    assert grown <= set(timing.STAGES)


def test_every_response_carries_a_request_id(client):
    generated = client.get("/health").headers["x-request-id"]
    assert len(generated) == 16
    assert client.get("/health", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"
    # an id that could forge log lines is replaced
    forged = client.get("/health", headers={"X-Request-ID": "x\\nINFO fake"}).headers["x-request-id"]
    assert forged != "x\\nINFO fake" and len(forged) == 16


def test_an_overloaded_ask_is_a_503_with_retry_after(trained_servable, indexed_store_path, tmp_path):
    import shutil

    store = tmp_path / "qdrant"
    shutil.copytree(indexed_store_path, store, ignore=shutil.ignore_patterns(".lock"))
    settings = settings_for(
        trained_servable, store, FAQ_BATCH_QUEUE_SIZE="1", FAQ_BATCH_MAX_SIZE="1", FAQ_BATCH_MAX_WAIT_MS="0"
    )
    statuses: list[int] = []
    retry_after: list[str | None] = []
    with TestClient(create_app(settings)) as overloaded:

        def ask() -> None:
            response = overloaded.post("/ask", json={"question": "is there a free tier?"})
            statuses.append(response.status_code)
            retry_after.append(response.headers.get("retry-after"))

        threads = [threading.Thread(target=ask) for _ in range(24)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert 200 in statuses and 503 in statuses and set(statuses) <= {200, 503}
    assert {after for status, after in zip(statuses, retry_after, strict=True) if status == 503} == {"1"}
