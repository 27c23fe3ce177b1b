"""Metrics that add up over several processes (prometheus-client's multiprocess mode, which
`faq serve --workers N` turns on): two `faq serve` processes share the metrics folder, as the
workers of one service do, and a scrape of either counts the requests of both."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.cli.conftest import start_service, stop_service


def health_requests(metrics: str) -> float:
    found = re.search(r'faq_http_requests_total\{method="GET",route="/health",status="200"\} (\S+)', metrics)
    return float(found.group(1)) if found else 0.0


@pytest.mark.slow  # a process started and stopped more than once: `make test-slow`
def test_two_processes_metrics_add_up(tmp_path):
    shared = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")}
    (tmp_path / "metrics").mkdir()
    # no servable needed: /health and /metrics answer without one (start-up is then quick)
    first = start_service(tmp_path / "no-servable", {"QDRANT_PATH": str(tmp_path / "q1")}, **shared)
    second = start_service(tmp_path / "no-servable", {"QDRANT_PATH": str(tmp_path / "q2")}, **shared)
    try:
        base = health_requests(httpx.get(f"{first.url}/metrics").text)
        for _ in range(3):
            assert httpx.get(f"{first.url}/health").status_code == 200
        for _ in range(4):
            assert httpx.get(f"{second.url}/health").status_code == 200
        assert health_requests(httpx.get(f"{first.url}/metrics").text) == base + 7
        assert health_requests(httpx.get(f"{second.url}/metrics").text) == base + 7
        assert "faq_index_entries" in httpx.get(f"{second.url}/metrics").text
    finally:
        stop_service(first)
        stop_service(second)
