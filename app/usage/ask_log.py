"""The ask log: every question asked (question, outcome, top entry, score, time), kept in the
store beside the FAQ (`<alias>_asks`) for the owner's insights (app.usage.insights). The same
rules as the unanswered questions: nothing is kept when FAQ_RECORD_QUESTIONS is off, and
records older than FAQ_UNANSWERED_MAX_DAYS go; the log holds at most FAQ_ASK_LOG_MAX_RECORDS.

Records are written in small batches (every FLUSH_EVERY asks, or FLUSH_SECONDS after the
first one waiting, and at shutdown), so an ask costs a list append, not a store write; the
insights flush this process's batch before they count.
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
from app.store.base import NO_VECTOR, StoreError

logger = logging.getLogger(__name__)

FLUSH_EVERY = 64
FLUSH_SECONDS = 5.0
# Retention is enforced every this many records (a pass over the log), not on each write.
PRUNE_EVERY = 5000
KEYS = ("date", "status", "top_id")


def day_of(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")


class AskLog:
    def __init__(self, search: FaqSearch, settings: RecordingSettings):
        self.store = search.store
        self.name = f"{search.alias}_asks"
        self.settings = settings
        self._buffer: list[tuple[str, np.ndarray, dict]] = []
        self._oldest = 0.0
        self._lock = threading.Lock()
        self._indexed = False
        self._since_prune = 0

    @property
    def enabled(self) -> bool:
        return self.settings.record_questions

    def record(self, question: str, answers: Answers, at: float | None = None) -> None:
        """Log one ask (flushed with the next batch)."""
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
        with self._lock:
            if not self._buffer:
                self._oldest = time.monotonic()
            self._buffer.append((str(uuid.uuid4()), NO_VECTOR, payload))
            due = len(self._buffer) >= FLUSH_EVERY or time.monotonic() - self._oldest >= FLUSH_SECONDS
        if due:
            self.flush()

    def write(self, records: list[tuple[str, np.ndarray, dict]]) -> None:
        """Write records straight to the log (a benchmark's bulk load; the batches' writer)."""
        self.store.add_records(self.name, records)
        if not self._indexed:
            self.store.index_records(self.name, KEYS)
            self._indexed = True
        self._since_prune += len(records)
        if self._since_prune >= PRUNE_EVERY:
            self._since_prune = 0
            self.prune()

    def flush(self) -> None:
        with self._lock:
            batch, self._buffer = self._buffer, []
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

    def counts(self, key: str, *, where: dict[str, list[str]], limit: int) -> dict[str, int]:
        return self.store.count_records(self.name, key, where=where, limit=limit)

    def clear(self) -> int:
        self.flush()
        ids = [rid for rid, _, _ in self.store.records(self.name)]
        if ids:
            self.store.delete_points(self.name, ids)
        return len(ids)
