"""What a search gives back, and what it is asked: the value types every piece of the search
(and its callers) share."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from app.domain.entry import FaqEntry
from app.search.decision import ANSWERED


class EntryNotFound(LookupError):
    pass


@dataclass(frozen=True)
class Hit:
    """An entry found for a question. `score` is its dense score (the cosine similarities of
    the searched sides, fused): comparable from one question to the next, so a threshold can
    read it. The ranking may also weigh the lexical side (see `blend_lexical`)."""

    id: str
    answer: str
    question: str
    source: str
    filename: str
    score: float
    alternates: tuple[str, ...] = ()
    # The entries offered after this answer: their ids as stored, and (for an answer given)
    # (id, question) of those that exist, in the owner's order.
    follow_up_ids: tuple[str, ...] = ()
    follow_ups: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, entry_id: str, entry: FaqEntry, score: float) -> Hit:
        """The stored entry `entry_id` found at `score`."""
        return cls(
            entry_id,
            entry.answer,
            entry.question,
            entry.source,
            entry.filename,
            score,
            entry.alternates,
            follow_up_ids=entry.follow_ups,
        )


@dataclass(frozen=True)
class Answers:
    """What the service says to a question (`status`, see app.search.decision): answered (the
    answers), clarify (no answers; the closest entries as suggestions, "did you mean ...") or
    no_answer (no answers; suggestions only the entries close enough to offer, often none)."""

    answers: list[Hit]
    suggestions: list[Hit]
    threshold: float | None
    # The best entry's dense score (None: nothing indexed), and the question's embedding on the
    # question side, for logging what was asked without encoding twice.
    best_score: float | None = None
    embedding: np.ndarray | None = field(default=None, repr=False, compare=False)
    status: str = ANSWERED
    # How far the best entry is ahead of the best entry with a different answer.
    margin: float | None = None

    @property
    def answered(self) -> bool:
        return self.status == ANSWERED


@dataclass(frozen=True)
class Question:
    """One question to answer, with its request's options (see FaqSearch.ask)."""

    text: str
    top_k: int = 5
    source: str | None = None
    score_threshold: float | None = None


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Each row scaled to length 1: stored and query vectors are unit length, so the store's
    dot product is their cosine similarity."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.maximum(norms, 1e-12)).astype(np.float32)


def per_entry(encoded: np.ndarray, counts: Sequence[int]) -> list[np.ndarray]:
    """Rows encoded flat for several entries (one forward for all of them) handed back one
    matrix an entry: `counts[i]` rows for entry i, in order."""
    matrices, start = [], 0
    for count in counts:
        matrices.append(encoded[start : start + count])
        start += count
    return matrices
