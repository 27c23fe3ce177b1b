"""`FaqSearch`: given a servable and a store, the vectors of entries (`vectors_for`, used by the
index job) and the answers to a question (`ask`, used by the service, `faq ask`, evaluation and
the benchmark). What is matched and how is decided in `app.search.settings` and
`app.search.fusion`."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np

from app.domain.entry import FaqEntry
from app.encoding.servable import Servable
from app.search.cache import EmbeddingCache
from app.search.fusion import blend_lexical, fuse
from app.search.lexical import LexicalEncoder
from app.search.settings import (
    ANSWER_VECTOR,
    LEXICAL_VECTOR,
    QUESTION_VECTOR,
    SearchSettings,
    answer_text,
    lexical_text,
    question_text,
)
from app.store.base import MissingVector, QueryVector, ScoredPoint, VectorBatch
from app.store.client_engine import FaqStore

logger = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class Answers:
    """What the service says to a question: the answers that passed the threshold, or, when
    none did, no answers and the closest FAQ entries as suggestions ("did you mean ...")."""

    answers: list[Hit]
    suggestions: list[Hit]
    threshold: float | None
    # The best entry's dense score (None: nothing indexed), and the question's embedding as
    # `FaqSearch.embed_question` makes it, for logging what was asked without encoding twice.
    best_score: float | None = None
    embedding: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def answered(self) -> bool:
        return bool(self.answers)


SUGGESTIONS = 3


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


class FaqSearch:
    """Answers questions from the entries stored under `alias`, the way `settings` say (by
    default the servable's own settings). `cache_size` query embeddings are kept (0: none)."""

    def __init__(
        self,
        servable: Servable,
        store: FaqStore,
        alias: str,
        settings: SearchSettings | None = None,
        *,
        cache_size: int = 0,
    ):
        self.servable = servable
        self.store = store
        self.alias = alias
        self.settings = settings or SearchSettings.from_record(servable.meta.search)
        self.cache = EmbeddingCache(cache_size)
        # An uncased tokenizer lowercases anyway: "How" and "how" are one cache entry.
        self._lowercase = bool(getattr(servable.tokenizer, "do_lower_case", False))

    @cached_property
    def lexical(self) -> LexicalEncoder:
        return LexicalEncoder(self.servable.tokenizer)

    # ---- what is stored -------------------------------------------------------------------
    def vector_sizes(self) -> dict[str, int]:
        """The dense named vectors a collection for this search holds, with their sizes."""
        return dict.fromkeys(self.settings.dense_vectors, self.servable.embedding_size)

    def vectors_for(self, entries: Sequence[FaqEntry], batch_size: int = 256) -> dict[str, VectorBatch]:
        """The named vectors stored for `entries`: which text each encodes and with which model."""
        answers = self.servable.encode([answer_text(e) for e in entries], batch_size=batch_size)
        vectors: dict[str, VectorBatch] = {ANSWER_VECTOR: unit_rows(answers)}
        if QUESTION_VECTOR in self.settings.vectors:
            texts = [question_text(e, self.settings.question_context) for e in entries]
            questions = self.servable.encode_question_side(texts, batch_size=batch_size)
            vectors[QUESTION_VECTOR] = unit_rows(questions)
        if LEXICAL_VECTOR in self.settings.vectors:
            vectors[LEXICAL_VECTOR] = self.lexical.documents([lexical_text(e) for e in entries])
        return vectors

    # ---- encoding questions -----------------------------------------------------------------
    @property
    def _question_side_model(self) -> bool:
        return self.settings.mode == "fused" and self.servable.has_question_model

    def _cache_key(self, text: str) -> str:
        words = " ".join(text.split())  # the tokenizer splits on whitespace: runs of it are one
        return words.lower() if self._lowercase else words

    def encode_questions(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Unit query vectors of `texts` for the answer side and the question side (the same
        matrix when the question side has no model of its own): one forward per encoder for
        all the texts that are not in the cache."""
        keys = [self._cache_key(text) for text in texts]
        found = {key: self.cache.get(key) for key in dict.fromkeys(keys)}
        missing = [key for key, value in found.items() if value is None]
        if missing:
            answer_side = unit_rows(self.servable.encode(missing))
            question_side = (
                unit_rows(self.servable.encode_question_side(missing))
                if self._question_side_model
                else answer_side
            )
            for row, key in enumerate(missing):
                found[key] = (answer_side[row], question_side[row])
                self.cache.put(key, (answer_side[row], question_side[row]))
        pairs = [found[key] for key in keys]
        return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])  # type: ignore[index]

    def embed_question(self, question: str) -> np.ndarray:
        """The question's embedding on the question side (the model that compares questions with
        questions), used to group and compare what users asked; `ask` returns the same vector."""
        return self.encode_questions([question])[1][0]

    # ---- answering --------------------------------------------------------------------------
    def ask(
        self,
        question: str,
        *,
        top_k: int = 5,
        source: str | None = None,
        score_threshold: float | None = None,
    ) -> Answers:
        """The answers to `question`: the best `top_k` entries whose score reaches the threshold
        (`score_threshold`, else the servable's calibrated one, else none), or suggestions."""
        return self.ask_many([Question(question, top_k, source, score_threshold)])[0]

    def ask_many(self, questions: Sequence[Question]) -> list[Answers]:
        """`ask` for several questions at once: one forward per encoder and one store call per
        side for all of them (the service's micro-batches)."""
        searched = self._search_many([replace(q, top_k=max(q.top_k, SUGGESTIONS)) for q in questions])
        return [
            self._decide(q, hits, embedding) for q, (hits, embedding) in zip(questions, searched, strict=True)
        ]

    def _decide(self, question: Question, hits: list[Hit], embedding: np.ndarray) -> Answers:
        threshold = (
            question.score_threshold
            if question.score_threshold is not None
            else self.settings.no_answer_threshold
        )
        top_k = question.top_k
        best = hits[0].score if hits else None
        if threshold is None:
            return Answers(hits[:top_k], [], None, best, embedding)
        # The decision reads the best-ranked entry: when it is under the threshold, nothing in
        # the FAQ answers the question; otherwise the answers are the entries that pass.
        if best is None or best < threshold:
            return Answers([], hits[:SUGGESTIONS], threshold, best, embedding)
        passed = [hit for hit in hits[:top_k] if hit.score >= threshold]
        return Answers(passed, [], threshold, best, embedding)

    def search(self, question: str, *, top_k: int = 5, source: str | None = None) -> list[Hit]:
        """The `top_k` best entries for `question`, best first, whatever their scores."""
        return self._search_many([Question(question, top_k, source)])[0][0]

    def _search_many(self, questions: Sequence[Question]) -> list[tuple[list[Hit], np.ndarray]]:
        settings = self.settings
        answer_queries, question_queries = self.encode_questions([q.text for q in questions])
        sources = [q.source for q in questions]
        # Each side is searched deeper than `top_k`, so entries strong on one side only are
        # still scored on both before the cut (answers-only search needs just `top_k`).
        answers_only = settings.mode == "answer" and not settings.sparse_vectors
        depths = [q.top_k if answers_only else max(q.top_k, settings.candidates) for q in questions]
        deepest = max(depths)
        by_answer = self.store.query_batch(
            self.alias, list(answer_queries), ANSWER_VECTOR, limit=deepest, sources=sources
        )
        by_question: list[list[ScoredPoint]] = [[] for _ in questions]
        if settings.mode == "fused":
            by_question = self._optional_side(list(question_queries), QUESTION_VECTOR, deepest, sources)
        by_lexical: list[list[ScoredPoint]] = [[] for _ in questions]
        if settings.sparse_vectors:
            lexical_queries = [self.lexical.query(q.text) for q in questions]
            by_lexical = self._optional_side(lexical_queries, LEXICAL_VECTOR, deepest, sources)
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
        # Payloads only for the entries returned, not for every fusion candidate: one fetch.
        wanted = list(dict.fromkeys(pid for ranked, _ in rankings for pid, _ in ranked))
        entries = self.store.entries(self.alias, wanted)
        results = []
        for n, (ranked, dense_scores) in enumerate(rankings):
            floor = min(dense_scores.values(), default=0.0)
            hits = [
                _hit(pid, entries[pid], dense_scores.get(pid, floor))
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
            logger.warning("collection '%s' has no %s vectors: searching without them", self.alias, using)
            return [[] for _ in queries]


def _hit(pid: str, entry: FaqEntry, score: float) -> Hit:
    return Hit(pid, entry.answer, entry.question, entry.source, entry.filename, score)
