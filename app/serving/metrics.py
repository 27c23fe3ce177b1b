"""Prometheus metrics of one app (its own registry, so that several apps in one process, as in
the tests, do not share counters): requests by route and status with their latency, micro-batch
sizes, the batch queue's depth, embedding cache hits, and the index size.

With several worker processes (`faq serve --workers N`, or PROMETHEUS_MULTIPROC_DIR set by the
operator) prometheus-client's multiprocess mode is on: every process writes its samples to
files in that folder, and a scrape, whichever worker answers it, reads them all, so counters add
up over the workers. Values that live in objects (cache hits, queue depth, index size) are
copied into metrics by `sync`, at each scrape and after each micro-batch, because in that mode
a metric cannot call back into another process."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_on() -> bool:
    return bool(os.environ.get(MULTIPROCESS_DIR))


LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)
# A stage of an answer takes from tens of microseconds (a store query) to tens of milliseconds.
STAGE_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


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
        self.stage_seconds = Histogram(
            "faq_ask_stage_seconds",
            "Where /ask's time goes, by stage (app.timing): a request's HTTP part, its wait in the "
            "queue and its response, and each micro-batch's stages (shared by its questions).",
            ["stage"],
            buckets=STAGE_BUCKETS,
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "faq_ask_queue_depth",
            "Questions waiting for a micro-batch (summed over the live workers).",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.overloaded = Counter(
            "faq_ask_overloaded",
            "Questions refused with 503 because the queue was full.",
            registry=self.registry,
        )
        self.cache_hits = Counter(
            "faq_embedding_cache_hits",
            "Questions whose embeddings came from the cache.",
            registry=self.registry,
        )
        self.cache_misses = Counter(
            "faq_embedding_cache_misses", "Questions that were encoded.", registry=self.registry
        )
        self.index_points = Gauge(
            "faq_index_entries",
            "Entries in the collection the alias points at.",
            registry=self.registry,
            multiprocess_mode="livemax",
        )
        self._read_index: Callable[[], float] = lambda: -1.0
        # Each FAQ's batcher queue depth, by FAQ (the gauge is their sum: the questions waiting).
        self._read_queues: dict[str, Callable[[], float]] = {}
        self._read_cache: tuple[Callable[[], float], Callable[[], float]] = (lambda: 0.0, lambda: 0.0)
        self._cache_seen = [0.0, 0.0]  # hits and misses already counted
        self._sync_lock = threading.Lock()

    def stages(self, seconds: dict[str, float]) -> None:
        """Observe the stages timed (app.timing), seconds by stage."""
        for name, value in seconds.items():
            self.stage_seconds.labels(name).observe(max(0.0, value))

    def track_index_size(self, count: Callable[[], float]) -> None:
        """Read the index size when scraped (a failing store reads as -1, not as an error)."""
        self._read_index = count

    def track_queue(self, depth: Callable[[], float], label: str = "") -> None:
        self._read_queues[label] = depth

    def untrack_queue(self, label: str) -> None:
        self._read_queues.pop(label, None)

    def track_cache(self, hits: Callable[[], float], misses: Callable[[], float]) -> None:
        self._read_cache = (hits, misses)

    def sync(self, with_index: bool = False) -> None:
        """Copy the cache counts (as increments: counters only grow), the queue depth and, at a
        scrape, the index size into the metrics."""
        with self._sync_lock:
            for i, (read, counter) in enumerate(
                zip(self._read_cache, (self.cache_hits, self.cache_misses), strict=True)
            ):
                now = float(read())
                if now > self._cache_seen[i]:
                    counter.inc(now - self._cache_seen[i])
                self._cache_seen[i] = max(now, self._cache_seen[i])
            self.queue_depth.set(sum(read() for read in list(self._read_queues.values())))
        if with_index:
            self.index_points.set(self._read_index())

    def render(self) -> bytes:
        self.sync(with_index=True)
        if multiprocess_on():
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)

    @staticmethod
    def process_ended() -> None:
        """This worker's live gauges leave the sums (at shutdown, in multiprocess mode)."""
        if multiprocess_on():
            multiprocess.mark_process_dead(os.getpid())
