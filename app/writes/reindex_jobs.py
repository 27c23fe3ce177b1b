"""Reindex jobs run inside the service process.

The embedded Qdrant store can be opened by one process only, so while `faq serve` runs, a
reindex is handed to it (POST /admin/reindex) and runs here, on a worker thread, against the
store the service already holds. One job at a time.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from app.domain.records import FaqDataset
from app.search.faq_search import FaqSearch
from app.writes.index_job import index_dataset

logger = logging.getLogger(__name__)


class JobAlreadyRunning(RuntimeError):
    pass


class ReindexRunning(RuntimeError):
    """A live FAQ change was refused because a reindex is building the next version."""


@dataclass
class JobState:
    id: str
    status: str = "running"
    done: int = 0
    total: int = 0
    report: dict | None = None
    error: str | None = None


class ReindexJobs:
    def __init__(self, search: FaqSearch):
        self.search = search
        self._jobs: dict[str, JobState] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self, dataset: FaqDataset) -> JobState:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                raise JobAlreadyRunning("a reindex job is already running")
            job = JobState(id=uuid.uuid4().hex[:12], total=len(dataset.entries))
            self._jobs[job.id] = job
            self._thread = threading.Thread(
                target=self._run, args=(job, dataset), name=f"reindex-{job.id}", daemon=True
            )
            self._thread.start()
        return job

    @contextmanager
    def idle(self) -> Iterator[None]:
        """Hold off new reindex jobs while the body runs (a live entry change); raise
        ReindexRunning if one is running. A change written to the collection that a running job
        is about to replace would be lost at the swap, so it is refused until the job is done."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                jobs = self._jobs.values()
                running = [f"{j.id}, {j.done}/{j.total}" for j in jobs if j.status == "running"]
                raise ReindexRunning(
                    f"a reindex job ({'; '.join(running) or 'finishing'}) is building the next "
                    "version of the FAQ, which replaces the current one: try again when it has finished"
                )
            yield

    def get(self, job_id: str) -> JobState | None:
        return self._jobs.get(job_id)

    def wait(self, timeout: float | None = None) -> None:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self, job: JobState, dataset: FaqDataset) -> None:
        def progress(done: int, total: int) -> None:
            job.done, job.total = done, total

        try:
            report = index_dataset(dataset, self.search, progress=False, on_batch=progress)
        except Exception as exc:  # the job's outcome is reported through its status, not raised
            logger.exception("reindex job %s failed", job.id)
            job.status, job.error = "failed", f"{type(exc).__name__}: {exc}"
            return
        job.report = report.as_dict()
        job.status = "succeeded"
