"""The ask log: every question asked (question, outcome, top entry, score, time), kept in the
store beside the FAQ (`<alias>_asks`) for the owner's insights (app.usage.insights). The same
rules as the unanswered questions: nothing is kept when FAQ_RECORD_QUESTIONS is off, and
records older than FAQ_UNANSWERED_MAX_DAYS go; the log holds at most FAQ_ASK_LOG_MAX_RECORDS.

Records are written in small batches (every FLUSH_EVERY asks, or FLUSH_SECONDS after the
first one waiting, and at shutdown), so an ask costs a list append, not a store write; the
insights flush this process's batch before they count. In the service an `AskLogWriter` writes
the batches of every FAQ's log from a thread of its own, all FAQs' records in one store call
(measured: at 1,000 FAQs asked at random, each ask was a store write of its own when every log
flushed itself, 0.3 ms on the 2 cores that answer).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import UTC, datetime

import numpy as np

from app.config import RecordingSettings
from app.search.faq_search import Answers, FaqSearch
from app.store.base import NO_VECTOR, FaqStore, StoreError

logger = logging.getLogger(__name__)

FLUSH_EVERY = 64
FLUSH_SECONDS = 5.0
# Retention is enforced every this many records (a pass over the log), not on each write.
PRUNE_EVERY = 5000
KEYS = ("date", "status", "top_id", "via")


def day_of(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")


class AskLog:
    def __init__(self, search: FaqSearch, settings: RecordingSettings, writer: AskLogWriter | None = None):
        """`writer`: the service's writer of every FAQ's batches (None: this log writes its own,
        in the thread of the ask that fills a batch)."""
        self.store = search.store
        self.name = f"{search.alias}_asks"
        self.settings = settings
        self.writer = writer
        self._buffer: list[tuple[str, np.ndarray, dict]] = []
        self._oldest = 0.0
        self._lock = threading.Lock()
        self._indexed = False
        self._since_prune = 0
        if writer is not None:
            writer.add(self)

    @property
    def enabled(self) -> bool:
        return self.settings.record_questions

    def record(self, question: str, answers: Answers, at: float | None = None, *, via: str = "") -> None:
        """Log one ask (flushed with the next batch); `via`: the entry whose follow-up the asker
        chose to get here (the path insights show)."""
        if not self.enabled:
            return
        now = time.time() if at is None else at
        top = (
            answers.answers[0]
            if answers.answers
            else (answers.suggestions[0] if answers.suggestions else None)
        )
        payload = {
            "question": question,
            "status": answers.status,
            "top_id": top.id if top is not None and answers.answered else "",
            "top_question": top.question if top is not None else "",
            "score": None if answers.best_score is None else round(float(answers.best_score), 4),
            "at": now,
            "date": day_of(now),
        }
        if via:
            payload["via"] = via
        with self._lock:
            if not self._buffer:
                self._oldest = time.monotonic()
            self._buffer.append((str(uuid.uuid4()), NO_VECTOR, payload))
            due = len(self._buffer) >= FLUSH_EVERY or time.monotonic() - self._oldest >= FLUSH_SECONDS
        if due:
            if self.writer is not None:
                self.writer.wake()
            else:
                self.flush()

    def take(self) -> list[tuple[str, np.ndarray, dict]]:
        """The batch waiting to be written (the log's buffer emptied)."""
        with self._lock:
            batch, self._buffer = self._buffer, []
        return batch

    def write(self, records: list[tuple[str, np.ndarray, dict]]) -> None:
        """Write records straight to the log (a benchmark's bulk load; the batches' writer)."""
        self.store.add_records(self.name, records)
        self.written(len(records))

    def written(self, count: int) -> None:
        """`count` records of this log were written: its indexes made once, pruned now and then."""
        if not self._indexed:
            self.store.index_records(self.name, KEYS)
            self._indexed = True
        self._since_prune += count
        if self._since_prune >= PRUNE_EVERY:
            self._since_prune = 0
            self.prune()

    def flush(self) -> None:
        batch = self.take()
        if not batch:
            return
        try:
            self.write(batch)
        except StoreError as exc:  # the log is for insights; answering goes on
            logger.warning("could not write %d asks to the ask log: %s", len(batch), exc)

    def prune(self) -> int:
        """Drop records older than the age limit, then the oldest beyond the count limit."""
        cutoff = time.time() - self.settings.unanswered_max_days * 86400
        stamps = sorted((float(p.get("at", 0.0)), rid) for rid, p, _ in self.store.records(self.name))
        too_old = [rid for at, rid in stamps if at < cutoff]
        excess = max(0, len(stamps) - len(too_old) - self.settings.ask_log_max_records)
        doomed = too_old + [rid for _, rid in stamps[len(too_old) : len(too_old) + excess]]
        if doomed:
            self.store.delete_points(self.name, doomed)
            logger.info("dropped %d logged asks (retention limits)", len(doomed))
        return len(doomed)

    def close(self) -> None:
        """Write what waits, and leave the writer (the FAQ's services are closing)."""
        if self.writer is not None:
            self.writer.remove(self)
        self.flush()

    def counts(self, key: str, *, where: dict[str, list[str]], limit: int) -> dict[str, int]:
        return self.store.count_records(self.name, key, where=where, limit=limit)

    def clear(self) -> int:
        self.flush()
        ids = [rid for rid, _, _ in self.store.records(self.name)]
        if ids:
            self.store.delete_points(self.name, ids)
        return len(ids)


class AskLogWriter:
    """Writes the batches of every FAQ's ask log, FLUSH_SECONDS apart (or as soon as a log has
    FLUSH_EVERY waiting), all in one store call, from a thread of its own."""

    def __init__(self, store: FaqStore):
        self.store = store
        self._logs: dict[int, AskLog] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="ask-log-writer", daemon=True)
        self._thread.start()

    def add(self, log: AskLog) -> None:
        with self._lock:
            self._logs[id(log)] = log

    def remove(self, log: AskLog) -> None:
        """`log` is written no more by this writer (its FAQ's services are closing: the log
        writes what waits itself, AskLog.close)."""
        with self._lock:
            self._logs.pop(id(log), None)

    def wake(self) -> None:
        self._wake.set()

    def flush(self) -> None:
        """Write what every log has waiting, now."""
        with self._lock:
            logs = list(self._logs.values())
        batches = [(log, batch) for log in logs if (batch := log.take())]
        if not batches:
            return
        try:
            self.store.add_records_to({log.name: batch for log, batch in batches})
        except StoreError as exc:  # the log is for insights; answering goes on
            logger.warning(
                "could not write %d asks to the ask logs: %s", sum(len(b) for _, b in batches), exc
            )
            return
        for log, batch in batches:
            try:
                log.written(len(batch))
            except StoreError as exc:
                logger.warning("could not index or prune the ask log %s: %s", log.name, exc)

    def _run(self) -> None:
        while not self._stopping:
            self._wake.wait(FLUSH_SECONDS)
            self._wake.clear()
            self.flush()

    def close(self) -> None:
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout=30)
        self.flush()
