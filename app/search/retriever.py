"""Finding a question's entries: each side of the search (answers, questions and their
wordings, the lexical side) queried in one store call for a batch of questions, fused, and the
entries fetched for the few that are returned."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from app import timing
from app.search.answers import Hit, Question
from app.search.fusion import blend_lexical, fuse
from app.search.lexical import Bm25Encoder, LexicalEncoder
from app.search.question_encoder import QuestionEncoder
from app.search.settings import (
    ANSWER_VECTOR,
    LEXICAL_VECTOR,
    QUESTION_VECTOR,
    WORDINGS_VECTOR,
    SearchSettings,
)
from app.store.base import FaqStore, MissingVector, QueryVector, ScoredPoint

logger = logging.getLogger(__name__)


class Retriever:
    def __init__(
        self,
        store: FaqStore,
        alias: str,
        settings: SearchSettings,
        encoder: QuestionEncoder,
        lexical: LexicalEncoder | Bm25Encoder,
    ):
        self.store = store
        self.alias = alias
        self.settings = settings
        self.encoder = encoder
        self.lexical = lexical
        self._missing_sides: set[str] = set()  # said once each: a collection from an older release

    def search(
        self, questions: Sequence[Question], *, encoded: tuple[np.ndarray, np.ndarray] | None = None
    ) -> list[tuple[list[Hit], np.ndarray]]:
        """Each question's best `top_k` entries, best first, with its question-side embedding:
        one forward per encoder (none when `encoded` has their query vectors already) and one
        store call per side for all of them."""
        settings = self.settings
        answer_queries, question_queries = encoded or self.encoder.encode([q.text for q in questions])
        sources = [q.source for q in questions]
        # Each side is searched deeper than `top_k`, so entries strong on one side only are
        # still scored on both before the cut (answers-only search needs just `top_k`).
        answers_only = settings.mode == "answer" and not settings.sparse_vectors
        depths = [q.top_k if answers_only else max(q.top_k, settings.candidates) for q in questions]
        deepest = max(depths)
        with timing.stage(timing.STORE_ANSWER):
            by_answer = self.store.query_batch(
                self.alias, list(answer_queries), ANSWER_VECTOR, limit=deepest, sources=sources
            )
        by_question: list[list[ScoredPoint]] = [[] for _ in questions]
        if settings.mode == "fused":
            with timing.stage(timing.STORE_QUESTION):
                by_question = self._optional_side(list(question_queries), QUESTION_VECTOR, deepest, sources)
            # An entry's question side is its best wording: the question or an alternate.
            with timing.stage(timing.STORE_WORDINGS):
                by_wording = self._optional_side(
                    [q[None, :] for q in question_queries], WORDINGS_VECTOR, deepest, sources
                )
            by_question = [_best_of(a, b) for a, b in zip(by_question, by_wording, strict=True)]
        by_lexical: list[list[ScoredPoint]] = [[] for _ in questions]
        if settings.sparse_vectors:
            with timing.stage(timing.LEXICAL):
                lexical_queries = [self.lexical.query(q.text) for q in questions]
            with timing.stage(timing.STORE_LEXICAL):
                by_lexical = self._optional_side(lexical_queries, LEXICAL_VECTOR, deepest, sources)
        started = time.perf_counter()
        rankings: list[tuple[list[tuple[str, float]], dict[str, float]]] = []
        for n, question in enumerate(questions):
            depth = depths[n]
            # Results come sorted: the first `depth` are what a query of that limit returns.
            answer_side, question_side = by_answer[n][:depth], by_question[n][:depth]
            dense = fuse(answer_side, question_side, settings)
            if settings.fusion == "rrf":  # rank-only: the comparable score is the weighted sum
                dense_scores = dict(fuse(answer_side, question_side, replace(settings, fusion="sum")))
            else:
                dense_scores = dict(dense)
            ranked = dense
            if settings.sparse_vectors:
                ranked = blend_lexical(dense, by_lexical[n][:depth], settings.lexical_weight)
            rankings.append((ranked[: question.top_k], dense_scores))
        fused = time.perf_counter() - started
        # Payloads only for the entries returned, not for every fusion candidate: one fetch.
        wanted = list(dict.fromkeys(pid for ranked, _ in rankings for pid, _ in ranked))
        with timing.stage(timing.STORE_ENTRIES):
            entries = self.store.entries(self.alias, wanted)
        timing.add(timing.DECIDE, fused)  # fusion; the decision is timed by FaqSearch
        results = []
        for n, (ranked, dense_scores) in enumerate(rankings):
            floor = min(dense_scores.values(), default=0.0)
            hits = [
                Hit.of(pid, entries[pid], dense_scores.get(pid, floor))
                for pid, _ in ranked
                if pid in entries  # an entry deleted between the query and the fetch is skipped
            ]
            results.append((hits, question_queries[n]))
        return results

    def _optional_side(
        self, queries: Sequence[QueryVector], using: str, depth: int, sources: list[str | None]
    ) -> list[list[ScoredPoint]]:
        """One side's candidates; a collection indexed without that side is searched without it."""
        try:
            return self.store.query_batch(self.alias, queries, using, limit=depth, sources=sources)
        except MissingVector:
            if using not in self._missing_sides:
                self._missing_sides.add(using)
                logger.warning(
                    "collection '%s' has no %s vectors (indexed by an older release): searching "
                    "without them until the next `faq index`",
                    self.alias,
                    using,
                )
            return [[] for _ in queries]


def _best_of(*sides: Sequence[ScoredPoint]) -> list[ScoredPoint]:
    """Results of several searches of one side merged: each point once, with its best score."""
    best: dict[str, ScoredPoint] = {}
    for side in sides:
        for point in side:
            if point.id not in best or point.score > best[point.id].score:
                best[point.id] = point
    return sorted(best.values(), key=lambda p: p.score, reverse=True)
