"""Reindex jobs run inside the service process.

The embedded Qdrant store can be opened by one process only, so while `faq serve` runs, a
reindex is handed to it (POST /admin/reindex) and runs here, on a worker thread, against the
store the service already holds.

One job at a time **across every process on the store** (`faq serve --workers N`, replicas of
the cluster profile): a job holds a lease kept in the store (`<alias>_jobs`, taken with a
conditional write, renewed as the job progresses, free again when it ends or when its process
has not renewed it for LEASE_TTL seconds), so a second job started anywhere gets 409 naming the
first. The job's state is a record in the same collection, so any process answers
GET /admin/reindex/{id}.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace

from app.domain import follow_ups
from app.domain.entry import unique_entries
from app.domain.records import FaqDataset
from app.encoding.priority import WriteEncoder
from app.search.faq_search import FaqSearch
from app.writes.index_job import index_dataset

logger = logging.getLogger(__name__)

LEASE_TTL = 60.0  # a job whose process stopped renewing for this long no longer holds the lease
RENEW_EVERY = 2.0
LIVE = "live"  # the lease's holder is a live change (not a job) when its name says so
LIVE_WAIT = 10.0  # how long a live change waits for another process's live change
START_WAIT = 2.0  # how long a reindex request waits for this process's live change
_NAMESPACE = uuid.UUID("0d6e3f4a-5b8c-4e1d-9a7f-2c3b4d5e6f70")
LEASE_ID = str(uuid.uuid5(_NAMESPACE, "reindex-lease"))


def _record_id(job_id: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, job_id))


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
    def __init__(self, search: FaqSearch, keep_versions: int = 3, write_encoder: WriteEncoder | None = None):
        self.search = search
        self.keep_versions = keep_versions
        self.write_encoder = write_encoder  # where jobs encode (app.encoding.priority)
        self.store = search.store
        self.name = f"{search.alias}_jobs"
        # This process's name on the lease (a host, a pid, and an instance: two apps in one
        # process are two holders).
        self.instance = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._jobs: dict[str, JobState] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._saved = 0.0

    def start(self, dataset: FaqDataset, *, stage: bool = False, origin: str = "reindex") -> JobState:
        """Start indexing `dataset` in the background: a new version, switched to when complete
        (or, `stage`, kept beside the live one); JobAlreadyRunning when one runs anywhere; a
        follow-up that names no entry of the file is refused here (FollowUpNotFound), not by
        the job."""
        follow_ups.within(unique_entries(dataset.entries))
        # A live change holds the lock while it writes (a large one for a minute): a reindex
        # request is answered at once, not kept waiting behind it.
        if not self._lock.acquire(timeout=START_WAIT):
            raise JobAlreadyRunning("a live change is being written: try again when it has finished")
        try:
            running = [j.id for j in self._jobs.values() if j.status == "running"]
            if running:
                raise JobAlreadyRunning(f"a reindex job ({running[0]}) is already running")
            job = JobState(id=uuid.uuid4().hex[:12], total=len(dataset.entries))
            held = self.store.take_lease(self.name, LEASE_ID, self._holder(job), time.time(), LEASE_TTL)
            if held is not None and f":{LIVE}:" in held:
                raise JobAlreadyRunning(
                    "a live change is being written by another process: try again in a moment"
                )
            if held is not None:
                raise JobAlreadyRunning(f"a reindex job ({held.rsplit(':', 1)[-1]}) is already running")
            self._jobs[job.id] = job
            self._save(job, force=True)
            self._thread = threading.Thread(
                target=self._run, args=(job, dataset, stage, origin), name=f"reindex-{job.id}", daemon=True
            )
            self._thread.start()
        finally:
            self._lock.release()
        return job

    def _holder(self, job: JobState) -> str:
        return f"{self.instance}:{job.id}"

    def _save(self, job: JobState, *, force: bool = False) -> None:
        """The job's state where every process can read it (progress at most every RENEW_EVERY
        seconds), renewing the lease with it."""
        now = time.time()
        if not force and now - self._saved < RENEW_EVERY:
            return
        self._saved = now
        try:
            self.store.put_state(self.name, _record_id(job.id), {**asdict(job), "updated": now})
            if job.status == "running":
                self.store.renew_lease(self.name, LEASE_ID, self._holder(job), now)
        except Exception:  # progress is reporting; the job itself goes on
            logger.exception("could not save the state of reindex job %s", job.id)

    @contextmanager
    def idle(self) -> Iterator[Callable[[], None]]:
        """Hold off new reindex jobs, in every process, while the body runs (a live entry
        change); raise ReindexRunning if one is running. A change written to the collection that
        a running job is about to replace would be lost at the switch, so it is refused until the
        job is done. The body gets a function to call now and then on long writes (it renews the
        lease, which would otherwise expire after LEASE_TTL seconds)."""
        with self._lock:
            running = [f"{j.id}, {j.done}/{j.total}" for j in self._jobs.values() if j.status == "running"]
            if running:
                raise ReindexRunning(
                    f"a reindex job ({'; '.join(running)}) is building the next "
                    "version of the FAQ, which replaces the current one: try again when it has finished"
                )
            holder = f"{self.instance}:{LIVE}:{uuid.uuid4().hex[:8]}"
            deadline = time.monotonic() + LIVE_WAIT
            while (
                held := self.store.take_lease(self.name, LEASE_ID, holder, time.time(), LEASE_TTL)
            ) is not None:
                if f":{LIVE}:" not in held:
                    raise ReindexRunning(
                        f"a reindex job ({held.rsplit(':', 1)[-1]}, in another process) is building "
                        "the next version of the FAQ, which replaces the current one: try again when "
                        "it has finished"
                    )
                if time.monotonic() > deadline:  # another process's live change, a long one
                    raise ReindexRunning("another process is writing live changes: try again in a moment")
                time.sleep(0.05)
            try:
                yield lambda: self.store.renew_lease(self.name, LEASE_ID, holder, time.time())
            finally:
                try:
                    self.store.release_lease(self.name, LEASE_ID, holder)
                except Exception:  # it expires after LEASE_TTL anyway
                    logger.exception("could not release the live-change lease")

    def get(self, job_id: str) -> JobState | None:
        """A job of this process, or of any other on the same store."""
        local = self._jobs.get(job_id)
        if local is not None:
            return local
        record = self.store.get_state(self.name, _record_id(job_id))
        if record is None:
            return None
        known = {k: record.get(k) for k in ("id", "status", "done", "total", "report", "error")}
        return JobState(**known)  # type: ignore[arg-type]

    def wait(self, timeout: float | None = None) -> None:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self, job: JobState, dataset: FaqDataset, stage: bool, origin: str) -> None:
        def progress(done: int, total: int) -> None:
            job.done, job.total = done, total
            self._save(job)

        status, report_record = "failed", None
        error: str | None = "the job's thread was interrupted"
        try:
            report = index_dataset(
                dataset,
                self.search,
                progress=False,
                on_batch=progress,
                stage=stage,
                origin=origin,
                keep=self.keep_versions,
                write_encoder=self.write_encoder,
            )
        except Exception as exc:  # the job's outcome is reported through its status, not raised
            logger.exception("reindex job %s failed", job.id)
            error = f"{type(exc).__name__}: {exc}"
        else:
            status, report_record, error = "succeeded", report.as_dict(), None
        finally:
            # Finished only once the lease is free: a client that sees "succeeded" may write a
            # live change at once, and that change must not find the job still holding the store.
            self._save(replace(job, status=status, report=report_record, error=error), force=True)
            try:
                self.store.release_lease(self.name, LEASE_ID, self._holder(job))
            except Exception:  # it expires after LEASE_TTL anyway
                logger.exception("could not release the reindex lease of job %s", job.id)
            job.status, job.report, job.error = status, report_record, error
