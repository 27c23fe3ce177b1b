"""`FaqSearch`: given a servable and a store, the vectors of entries (`vectors_for`, used by the
index job) and the answers to a question (`ask`, used by the service, `faq ask`, evaluation and
the benchmark). What is matched and how is decided in `app.search.settings` and
`app.search.fusion`."""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np

from app.domain.entry import FaqEntry, wording_key
from app.encoding.servable import Servable
from app.search.asker_rule import ASKER_RULE, with_askers
from app.search.cache import EmbeddingCache
from app.search.decision import (
    ANSWERED,
    CLARIFY,
    FIT_QUERIES,
    NO_ANSWER,
    DecisionRule,
    FitInput,
    encoder_accuracy,
    far_questions,
    fit,
)
from app.search.fusion import blend_lexical, fuse
from app.search.lexical import Bm25Encoder, LexicalEncoder, lexical_encoder
from app.search.settings import (
    ANSWER_VECTOR,
    LEXICAL_VECTOR,
    QUESTION_VECTOR,
    WORDINGS_VECTOR,
    SearchSettings,
    answer_text,
    lexical_text,
    question_text,
)
from app.store.base import CollectionMissing, FaqStore, MissingVector, QueryVector, ScoredPoint, VectorBatch

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
    alternates: tuple[str, ...] = ()


@dataclass(frozen=True)
class Answers:
    """What the service says to a question (`status`, see app.search.decision): answered (the
    answers), clarify (no answers; the closest entries as suggestions, "did you mean ...") or
    no_answer (no answers; suggestions only the entries close enough to offer, often none)."""

    answers: list[Hit]
    suggestions: list[Hit]
    threshold: float | None
    # The best entry's dense score (None: nothing indexed), and the question's embedding as
    # `FaqSearch.embed_question` makes it, for logging what was asked without encoding twice.
    best_score: float | None = None
    embedding: np.ndarray | None = field(default=None, repr=False, compare=False)
    status: str = ANSWERED
    # How far the best entry is ahead of the best entry with a different answer.
    margin: float | None = None

    @property
    def answered(self) -> bool:
        return self.status == ANSWERED


SUGGESTIONS = 3
# Entries looked at to find the best one with a different answer (the margin).
DECISION_DEPTH = 10
# How long the rule stored with the collection version is trusted before it is read again
# (another process may have reindexed; this process forgets it at once when it does).
RULE_TTL_SECONDS = 5.0


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
        self._rule: tuple[float, DecisionRule | None, DecisionRule | None] | None = None
        self._rule_lock = threading.Lock()
        self._missing_sides: set[str] = set()  # said once each: a collection from an older release

    def on(self, collection: str) -> FaqSearch:
        """The same search over another collection version (a staged or older one), sharing
        the query-embedding cache (an embedding does not depend on the version)."""
        other = FaqSearch(self.servable, self.store, collection, self.settings)
        other.cache = self.cache
        return other

    @cached_property
    def lexical(self) -> LexicalEncoder | Bm25Encoder:
        return lexical_encoder(self.settings.lexical_tokens, self.servable.tokenizer)

    # ---- what is stored -------------------------------------------------------------------
    def vector_sizes(self) -> dict[str, int]:
        """The dense named vectors a collection for this search holds, with their sizes."""
        return dict.fromkeys(self.settings.dense_vectors, self.servable.embedding_size)

    def multivector_sizes(self) -> dict[str, int]:
        """The multivectors (several vectors an entry, max-sim) it holds, with their sizes."""
        return dict.fromkeys(self.settings.multi_vectors, self.servable.embedding_size)

    def vectors_for(self, entries: Sequence[FaqEntry], batch_size: int = 256) -> dict[str, VectorBatch]:
        """The named vectors stored for `entries`: which text each encodes and with which model."""
        answers = self.servable.encode([answer_text(e) for e in entries], batch_size=batch_size)
        vectors: dict[str, VectorBatch] = {ANSWER_VECTOR: unit_rows(answers)}
        if QUESTION_VECTOR in self.settings.vectors:
            texts = [question_text(e, self.settings.question_context) for e in entries]
            questions = self.servable.encode_question_side(texts, batch_size=batch_size)
            vectors[QUESTION_VECTOR] = unit_rows(questions)
        if WORDINGS_VECTOR in self.settings.multi_vectors:
            vectors[WORDINGS_VECTOR] = self._wording_vectors(entries, batch_size)
        if LEXICAL_VECTOR in self.settings.vectors:
            vectors[LEXICAL_VECTOR] = self.lexical.documents([lexical_text(e) for e in entries])
        return vectors

    def _wording_vectors(self, entries: Sequence[FaqEntry], batch_size: int) -> list[np.ndarray]:
        """Each entry's alternate wordings encoded like its question (one forward for all of
        them), one matrix an entry (no rows: none)."""
        texts = [
            question_text(replace(e, question=wording), self.settings.question_context)
            for e in entries
            for wording in e.alternates
        ]
        size = self.servable.embedding_size
        encoded = (
            unit_rows(self.servable.encode_question_side(texts, batch_size=batch_size))
            if texts
            else np.zeros((0, size), np.float32)
        )
        matrices, start = [], 0
        for entry in entries:
            matrices.append(encoded[start : start + len(entry.alternates)])
            start += len(entry.alternates)
        return matrices

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
        searched = self._search_many(
            [replace(q, top_k=max(q.top_k, SUGGESTIONS, DECISION_DEPTH)) for q in questions]
        )
        rule = self.decision_rule()
        return [
            self._decide(q, hits, embedding, rule)
            for q, (hits, embedding) in zip(questions, searched, strict=True)
        ]

    def _decide(
        self, question: Question, hits: list[Hit], embedding: np.ndarray, rule: DecisionRule | None
    ) -> Answers:
        best = hits[0].score if hits else None
        margin = _margin(hits)
        threshold: float | None
        if question.score_threshold is not None:  # the caller's threshold overrides the rule
            threshold = question.score_threshold
            if best is not None and best >= question.score_threshold:
                status = ANSWERED
            else:
                status = (
                    CLARIFY
                    if rule is None or (best is not None and best >= rule.clarify_score)
                    else NO_ANSWER
                )
        elif rule is not None:
            threshold = rule.answer_score
            status = rule.status(best, margin if margin is not None else 0.0)
            if status != ANSWERED and hits and _is_wording_of(question.text, hits[0]):
                # One of the FAQ's own questions (or a wording its owner confirmed), word for
                # word: its entry is the answer, even when a twin entry ("start" / "stop a
                # virtual machine") keeps the margin small.
                status = ANSWERED
        else:  # a collection and servable from before decision rules: the single threshold
            threshold = self.settings.no_answer_threshold
            status = ANSWERED if best is not None and (threshold is None or best >= threshold) else CLARIFY
            if best is None:
                status = NO_ANSWER
        if status == ANSWERED:
            # The best entry, and any other that clears the bar on its own.
            floor = threshold if threshold is not None else -np.inf
            answers = [hits[0], *(h for h in hits[1 : question.top_k] if h.score >= floor)]
            return Answers(answers, [], threshold, best, embedding, status, margin)
        if status == CLARIFY:
            return Answers([], hits[:SUGGESTIONS], threshold, best, embedding, status, margin)
        related = rule.related_score if rule is not None else np.inf
        offered = [h for h in hits[:SUGGESTIONS] if h.score >= related]
        return Answers([], offered, threshold, best, embedding, status, margin)

    # ---- the decision rule ------------------------------------------------------------------
    def decision_rule(self) -> DecisionRule | None:
        """The rule fitted to the FAQ that is served: the one stored with the collection version
        (the index job fits it, live changes refit it), else the servable's (fitted by `faq
        train` to the FAQ it was trained on), else None (the servable's single threshold)."""
        return self._rules()[1]

    def faq_rule(self) -> DecisionRule | None:
        """The rule fitted to the FAQ itself, without what its askers taught it
        (app.usage.calibration): what a refit from askers starts from."""
        return self._rules()[0]

    def _rules(self) -> tuple[DecisionRule | None, DecisionRule | None]:
        """(the FAQ's own rule, the rule in force), cached for RULE_TTL_SECONDS."""
        now = time.monotonic()
        with self._rule_lock:
            cached = self._rule
        if cached is not None and now - cached[0] < RULE_TTL_SECONDS:
            return cached[1], cached[2]
        rule = None
        stored: object = None
        try:
            # the version the alias points at, read with it (a switch in between is not an error)
            metadata = self.store.metadata(self.alias)
            rule = DecisionRule.from_record(metadata.get("decision"))
            stored = metadata.get(ASKER_RULE)
        except (CollectionMissing, ValueError):
            pass  # nothing indexed yet, or an unreadable rule: the servable's
        if rule is None:
            rule = DecisionRule.from_record(self.servable.meta.decision)
        in_force = None if rule is None else with_askers(rule, stored)
        with self._rule_lock:
            self._rule = (now, rule, in_force)
        return rule, in_force

    def forget_rule(self) -> None:
        """Read the collection's rule again at the next question (after a switch or a refit)."""
        with self._rule_lock:
            self._rule = None

    def query_vectors(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Unit query vectors of `texts` for both sides, not through the cache (for fitting)."""
        answer_side = unit_rows(self.servable.encode(list(texts)))
        if self._question_side_model:
            return answer_side, unit_rows(self.servable.encode_question_side(list(texts)))
        return answer_side, answer_side

    def fit_rule(
        self,
        entries: Sequence[FaqEntry],
        stored: Mapping[str, np.ndarray] | None = None,
        *,
        seed: int = 0,
        **targets: Any,
    ) -> DecisionRule:
        """The decision rule for `entries` searched this way; `stored`: their stored dense
        vectors (by name) when the caller has them, else they are encoded here. `targets`:
        `epsilon` and `near_rate` other than the defaults (for studies)."""
        return fit(self.settings, self.fit_input(entries, stored, seed=seed), **targets)

    def _far_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """The far-off set's query vectors: the same for every fit with this servable and
        question side, so encoded once."""
        key = self._question_side_model  # the set is fixed; the question side may differ
        cached = _FAR_VECTORS.setdefault(self.servable, {})
        if key not in cached:
            cached[key] = self.query_vectors(far_questions())
        return cached[key]

    def fit_input(
        self, entries: Sequence[FaqEntry], stored: Mapping[str, np.ndarray] | None = None, *, seed: int = 0
    ) -> FitInput:
        """What a rule for `entries` is fitted from (see app.search.decision.FitInput)."""
        if stored is None:
            stored = {k: v for k, v in self.vectors_for(entries).items() if isinstance(v, np.ndarray)}
        answers = np.asarray(stored[ANSWER_VECTOR], dtype=np.float32)
        questions = stored.get(QUESTION_VECTOR) if self.settings.mode == "fused" else None
        rng = np.random.default_rng(seed)
        n = len(entries)
        sample = np.arange(n) if n <= FIT_QUERIES else np.sort(rng.choice(n, FIT_QUERIES, replace=False))
        answer_queries, question_queries = self.query_vectors([entries[i].question for i in sample])
        far_answer, far_question = self._far_vectors()
        # The encoder's accuracy on entries it was not trained on: trained ones flatter it.
        trained = self.servable.trained_ids
        fresh = [k for k, i in enumerate(sample) if entries[i].id not in trained]
        if len(fresh) >= 20 or (fresh and self.servable.meta.encoder_accuracy is None):
            accuracy = encoder_accuracy(answer_queries[fresh], answers[sample[fresh]], rng)
            accuracy_from = f"{len(fresh)} FAQ questions the encoder was not trained on, pools of 64"
        elif self.servable.meta.encoder_accuracy is not None:
            accuracy = float(self.servable.meta.encoder_accuracy)
            accuracy_from = "measured by `faq train` on its held-out entries"
        else:
            accuracy = encoder_accuracy(answer_queries, answers[sample], rng)
            accuracy_from = f"{len(sample)} FAQ questions, pools of 64 (all trained on: optimistic)"
        wordings = None
        owners = np.array([i for i, e in enumerate(entries) for _ in e.alternates], dtype=np.int64)
        if len(owners) and self.settings.mode == "fused":
            # The owner's confirmed wordings: in the index (the question side is an entry's best
            # wording) and real users' wordings, so asked too (each with its entry left out).
            texts = [w for e in entries for w in e.alternates]
            alt_answer, alt_question = self.query_vectors(texts)
            contexts = [
                question_text(replace(entries[i], question=t), self.settings.question_context)
                for i, t in zip(owners, texts, strict=True)
            ]
            stored_side = (
                alt_question if not self.settings.question_context else self.query_vectors(contexts)[1]
            )
            wordings = (stored_side, owners)
            sample = np.concatenate([sample, owners])
            answer_queries = np.vstack([answer_queries, alt_answer])
            question_queries = np.vstack([question_queries, alt_question])
        return FitInput(
            entries=entries,
            answers=answers,
            questions=None if questions is None else np.asarray(questions, dtype=np.float32),
            sample=sample,
            answer_queries=answer_queries,
            question_queries=question_queries,
            wordings=wordings,
            far_answer_queries=far_answer,
            far_question_queries=far_question,
            accuracy=accuracy,
            accuracy_from=accuracy_from,
            fine_tuned=bool(trained) or self.servable.meta.train_pairs > 0,
        )

    def search(self, question: str, *, top_k: int = 5, source: str | None = None) -> list[Hit]:
        """The `top_k` best entries for `question`, best first, whatever their scores."""
        return self._search_many([Question(question, top_k, source)])[0][0]

    def search_many(self, questions: Sequence[Question]) -> list[list[Hit]]:
        """`search` for several questions: one forward per encoder, one store call per side."""
        return [hits for hits, _ in self._search_many(questions)]

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
            # An entry's question side is its best wording: the question or an alternate.
            by_wording = self._optional_side(
                [q[None, :] for q in question_queries], WORDINGS_VECTOR, deepest, sources
            )
            by_question = [_best_of(a, b) for a, b in zip(by_question, by_wording, strict=True)]
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
            if using not in self._missing_sides:
                self._missing_sides.add(using)
                logger.warning(
                    "collection '%s' has no %s vectors (indexed by an older release): searching "
                    "without them until the next `faq index`",
                    self.alias,
                    using,
                )
            return [[] for _ in queries]


# Per servable (dropped with it): its far-off set's query vectors.
_FAR_VECTORS: weakref.WeakKeyDictionary[Servable, dict[bool, tuple[np.ndarray, np.ndarray]]] = (
    weakref.WeakKeyDictionary()
)


def _best_of(*sides: Sequence[ScoredPoint]) -> list[ScoredPoint]:
    """Results of several searches of one side merged: each point once, with its best score."""
    best: dict[str, ScoredPoint] = {}
    for side in sides:
        for point in side:
            if point.id not in best or point.score > best[point.id].score:
                best[point.id] = point
    return sorted(best.values(), key=lambda p: p.score, reverse=True)


def _is_wording_of(text: str, hit: Hit) -> bool:
    """Whether `text` is the hit's question or one of its wordings, word for word."""
    asked = wording_key(text)
    return any(asked == wording_key(wording) for wording in (hit.question, *hit.alternates))


def _margin(hits: Sequence[Hit]) -> float | None:
    """The best hit's lead over the best hit with a different answer (None: no hits; 1.0 when
    every hit found has the same answer)."""
    if not hits:
        return None
    other = next((h.score for h in hits[1:] if h.answer != hits[0].answer), None)
    return 1.0 if other is None else hits[0].score - other


def _hit(pid: str, entry: FaqEntry, score: float) -> Hit:
    return Hit(pid, entry.answer, entry.question, entry.source, entry.filename, score, entry.alternates)
