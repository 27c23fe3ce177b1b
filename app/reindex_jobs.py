"""Reindex jobs run inside the service process.

The embedded Qdrant store can be opened by one process only, so while `faq serve` runs, a
reindex is handed to it (POST /admin/reindex) and runs here, on a worker thread, against the
store the service already holds. One job at a time.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass

from app.core.data import FaqDataset
from app.core.search import FaqSearch
from app.indexer import index_dataset

logger = logging.getLogger(__name__)


class JobAlreadyRunning(RuntimeError):
    pass


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
        self._search = search
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
            report = index_dataset(dataset, self._search, progress=False, on_batch=progress)
        except Exception as exc:  # the job's outcome is reported through its status, not raised
            logger.exception("reindex job %s failed", job.id)
            job.status, job.error = "failed", f"{type(exc).__name__}: {exc}"
            return
        job.report = report.as_dict()
        job.status = "succeeded"
