"""The questions the FAQ could not answer, kept so that its owners see what to write next.

Every `/ask` whose best entry scores under the no-answer threshold is recorded (question, time,
best score, the question's embedding) in a Qdrant collection beside the FAQ
(`<alias>_unanswered`). `groups()` clusters them by similarity of their embeddings, so that
twenty wordings of one missing topic show as one group with a count. Retention is bounded by
count and age (RecordingSettings), and recording can be switched off.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from app.config import RecordingSettings
from app.search.decision import ANSWERED, NO_ANSWER
from app.search.faq_search import Answers, FaqSearch
from app.store.base import StoreError

logger = logging.getLogger(__name__)

DEFAULT_MIN_SIMILARITY = 0.7
# Retention is enforced every this many records (a pass over the collection), not on each one.
PRUNE_EVERY = 100
EXAMPLES_PER_GROUP = 5


@dataclass
class UnansweredGroup:
    """Questions about the same thing: how many times it was asked, one representative wording
    (the one nearest the group's centre), a few others, and when it was last asked."""

    representative: str
    count: int
    best_score: float | None
    first_asked: str
    last_asked: str
    examples: list[str] = field(default_factory=list)


class UnansweredLog:
    def __init__(self, search: FaqSearch, settings: RecordingSettings):
        self.search = search
        self.store = search.store
        self.name = f"{search.alias}_unanswered"
        self.settings = settings
        self._since_prune = 0
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.settings.record_questions

    def missed(self, answers: Answers) -> bool:
        """Whether `answers` are a miss to record: the FAQ's own decision rule (or, before rules,
        the servable's threshold) would not answer it confidently, whatever the request asked
        for (a missing topic is missing for every user). Asked back or declined: both count."""
        if not self.enabled or answers.embedding is None:
            return False
        rule = self.search.decision_rule()
        if rule is not None:
            margin = answers.margin if answers.margin is not None else 0.0
            return rule.status(answers.best_score, margin) != ANSWERED
        threshold = self.search.settings.no_answer_threshold
        if threshold is None:
            return False
        return answers.best_score is None or answers.best_score < threshold

    def record_missed(self, question: str, answers: Answers, client: str = "") -> None:
        """`record` for a miss, after its answer was sent: a store failure is only logged."""
        assert answers.embedding is not None  # as `missed` checked
        try:
            self.record(question, answers.best_score, answers.embedding, answers.status, client)
        except StoreError as exc:
            logger.warning("could not record an unanswered question: %s", exc)

    def record(
        self,
        question: str,
        best_score: float | None,
        embedding: np.ndarray,
        status: str = NO_ANSWER,
        client: str = "",
    ) -> None:
        """Keep one missed question; `client`: who asked, as `client_id` makes it (the asker
        calibration counts labels per client)."""
        if not self.enabled:
            return
        payload = {
            "question": question,
            "best_score": best_score,
            "asked_at": time.time(),
            "status": status,
            "client": client,
        }
        self.store.add_record(self.name, str(uuid.uuid4()), embedding, payload)
        with self._lock:
            self._since_prune += 1
            due = self._since_prune >= PRUNE_EVERY
            if due:
                self._since_prune = 0
        if due:
            self.prune()

    def prune(self) -> int:
        """Drop records older than the age limit, then the oldest beyond the count limit."""
        cutoff = time.time() - self.settings.unanswered_max_days * 86400
        stamps = sorted(
            (float(payload.get("asked_at", 0.0)), record_id)
            for record_id, payload, _ in self.store.records(self.name)
        )
        too_old = [record_id for asked, record_id in stamps if asked < cutoff]
        kept = len(stamps) - len(too_old)
        excess = max(0, kept - self.settings.unanswered_max_records)
        doomed = too_old + [record_id for _, record_id in stamps[len(too_old) : len(too_old) + excess]]
        if doomed:
            self.store.delete_points(self.name, doomed)
            logger.info("dropped %d recorded unanswered questions (retention limits)", len(doomed))
        return len(doomed)

    def clear(self) -> int:
        ids = [record_id for record_id, _, _ in self.store.records(self.name)]
        if ids:
            self.store.delete_points(self.name, ids)
        return len(ids)

    def groups(
        self, min_similarity: float = DEFAULT_MIN_SIMILARITY, limit: int | None = None
    ) -> tuple[list[UnansweredGroup], int]:
        """The recorded questions grouped by similarity, most asked first (the first `limit`
        groups, described in full), and how many questions there are in all."""
        records = [
            (payload, vector)
            for _, payload, vector in self.store.records(self.name, with_vectors=True)
            if vector is not None
        ]
        records.sort(key=lambda item: float(item[0].get("asked_at", 0.0)))
        if not records:
            return [], 0
        vectors = np.stack([vector for _, vector in records])
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        members = cluster(vectors, min_similarity)
        # Order by size and latest question (members are in time order), then describe only
        # the groups that are shown: 10,000 singleton groups need not all be summarised.
        members.sort(
            key=lambda idx: (len(idx), float(records[idx[-1]][0].get("asked_at", 0.0))), reverse=True
        )
        shown = members if limit is None else members[:limit]
        return [_group([records[i][0] for i in idx], vectors[idx]) for idx in shown], len(records)


CLUSTER_BLOCK = 256


def cluster(vectors: np.ndarray, min_similarity: float) -> list[list[int]]:
    """Leader clustering in time order: each question joins the group whose centre it is most
    similar to when that similarity reaches `min_similarity`, else starts a group. One pass,
    no number of groups to choose, and the same record set always gives the same groups.

    Questions are taken in blocks: their similarities to the existing centres are one matrix
    product, and within a block each is also compared with the groups the block started; the
    centres move at the end of each block. Linear in the records (10,000 in well under a
    second, whatever `min_similarity`), where comparing one question at a time with a growing
    stack of centres was quadratic."""
    n, dim = vectors.shape
    vectors = vectors.astype(np.float32, copy=False)
    centres = np.zeros((n, dim), dtype=np.float32)  # at most one group a question
    sums = np.zeros((n, dim), dtype=np.float32)
    members: list[list[int]] = []
    for start in range(0, n, CLUSTER_BLOCK):
        block = vectors[start : start + CLUSTER_BLOCK]
        known = len(members)
        existing = block @ centres[:known].T if known else np.zeros((len(block), 0), np.float32)
        for offset, vector in enumerate(block):
            index = start + offset
            best, similarity = -1, -np.inf
            if known:
                best = int(np.argmax(existing[offset]))
                similarity = float(existing[offset, best])
            if len(members) > known:  # groups started earlier in this block
                fresh = centres[known : len(members)] @ vector
                candidate = int(np.argmax(fresh))
                if fresh[candidate] > similarity:
                    best, similarity = known + candidate, float(fresh[candidate])
            if best >= 0 and similarity >= min_similarity:
                members[best].append(index)
                sums[best] += vector
                if best >= known:  # a group of this block: its centre moves at once
                    centres[best] = sums[best] / max(float(np.linalg.norm(sums[best])), 1e-12)
                continue
            members.append([index])
            sums[len(members) - 1] = vector
            centres[len(members) - 1] = vector
        grown = np.linalg.norm(sums[: len(members)], axis=1, keepdims=True)
        centres[: len(members)] = sums[: len(members)] / np.maximum(grown, 1e-12)
    return members


def recent_misses(log: UnansweredLog, limit: int) -> list[dict]:
    """The newest `limit` recorded misses' payloads, newest first."""
    payloads = [payload for _, payload, _ in log.store.records(log.name)]
    payloads.sort(key=lambda p: float(p.get("asked_at", 0.0)), reverse=True)
    return payloads[:limit]


def _group(payloads: list[dict], vectors: np.ndarray) -> UnansweredGroup:
    centre = vectors.mean(axis=0)
    order = np.argsort(-(vectors @ centre))
    questions = [str(payloads[i].get("question", "")) for i in order]
    scores = [float(p["best_score"]) for p in payloads if isinstance(p.get("best_score"), int | float)]
    asked = [float(p.get("asked_at", 0.0)) for p in payloads]
    return UnansweredGroup(
        representative=questions[0],
        count=len(payloads),
        best_score=max(scores) if scores else None,
        first_asked=_iso(min(asked)),
        last_asked=_iso(max(asked)),
        examples=list(dict.fromkeys(questions))[:EXAMPLES_PER_GROUP],
    )


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")
