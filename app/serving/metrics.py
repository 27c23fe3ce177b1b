"""Prometheus metrics of one app (its own registry, so that several apps in one process, as in
the tests, do not share counters): requests by route and status with their latency, micro-batch
sizes, the batch queue's depth, embedding cache hits, and the index size."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "faq_http_requests",
            "HTTP requests by route and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "faq_http_request_seconds",
            "HTTP request latency by route.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "faq_ask_batch_size",
            "Questions answered together in one micro-batch.",
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "faq_ask_queue_depth", "Questions waiting for a micro-batch.", registry=self.registry
        )
        self.overloaded = Counter(
            "faq_ask_overloaded",
            "Questions refused with 503 because the queue was full.",
            registry=self.registry,
        )
        self._cache = _CacheCounters()
        self.registry.register(self._cache)
        self.index_points = Gauge(
            "faq_index_entries", "Entries in the collection the alias points at.", registry=self.registry
        )

    def track_index_size(self, count: Callable[[], float]) -> None:
        """Read the index size when scraped (a failing store reads as -1, not as an error)."""
        self.index_points.set_function(count)

    def track_cache(self, hits: Callable[[], float], misses: Callable[[], float]) -> None:
        self._cache.hits, self._cache.misses = hits, misses

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _CacheCounters(Collector):
    """The embedding cache's hits and misses as counters (they only grow), read from the cache
    when scraped: the cache keeps the numbers, the metrics do not copy them."""

    def __init__(self) -> None:
        self.hits: Callable[[], float] = lambda: 0.0
        self.misses: Callable[[], float] = lambda: 0.0

    def collect(self):
        yield CounterMetricFamily(
            "faq_embedding_cache_hits", "Questions whose embeddings came from the cache.", value=self.hits()
        )
        yield CounterMetricFamily(
            "faq_embedding_cache_misses", "Questions that were encoded.", value=self.misses()
        )
