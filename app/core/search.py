"""How a question is matched: the one place that decides it.

- `SearchSettings`: which sides are searched and how their scores combine (recorded in the
  servable by `faq train`, so the index job, evaluation and the service all search alike);
- the text each stored vector is made from (`answer_text`, `question_text`);
- the fusion of the sides' scores (`fuse`);
- `FaqSearch`: given a servable and a store, the vectors of entries (`vectors_for`, used by the
  index job) and the answers to a question (`ask`, used by the service, `faq ask`, evaluation
  and the benchmark).
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from functools import cached_property

import numpy as np

from app.core.data import FaqEntry
from app.core.lexical import LexicalEncoder
from app.core.servable import Servable
from app.core.store import FaqStore, MissingVector, QueryVector, ScoredPoint, VectorBatch

logger = logging.getLogger(__name__)

ANSWER_VECTOR = "answer"
QUESTION_VECTOR = "question"
LEXICAL_VECTOR = "lexical"

SEARCH_MODES = ("answer", "fused")
FUSIONS = ("max", "sum", "rrf")
QUESTION_ENCODERS = ("servable", "base")
RRF_K = 60
# Names an older servable used for a setting, and the name it has now.
_RENAMED = {"method": "fusion"}


@dataclass(frozen=True)
class SearchSettings:
    """How a question is matched against the stored entries.

    mode: "answer" (answer vectors only) or "fused" (answer vectors and the entries' question
    vectors); fusion: how the two sides' cosine scores combine (see `fuse`); question_weight:
    the question side's weight for "sum"; candidates: how deep each side is searched before
    fusion; question_context: stored questions are encoded with their page's words;
    question_encoder: the model of the question side, "servable" (the trained one) or "base"
    (the untrained sentence encoder saved inside the servable: question-to-question matching is
    plain semantic similarity, which the base model was trained for); lexical_weight: weight of
    the lexical side (token matches, see app.core.lexical) added to the dense score, 0 for none;
    no_answer_threshold: the dense score under which the service declines to answer (None:
    always answer), calibrated per servable by `faq train`.
    """

    mode: str = "answer"
    fusion: str = "max"
    question_weight: float = 0.5
    candidates: int = 50
    question_context: bool = False
    question_encoder: str = "servable"
    lexical_weight: float = 0.0
    no_answer_threshold: float | None = None

    def __post_init__(self) -> None:
        if self.mode not in SEARCH_MODES:
            raise ValueError(f"unknown search mode '{self.mode}': use {', '.join(SEARCH_MODES)}")
        if self.fusion not in FUSIONS:
            raise ValueError(f"unknown fusion '{self.fusion}': use {', '.join(FUSIONS)}")
        if self.question_encoder not in QUESTION_ENCODERS:
            raise ValueError(
                f"unknown question encoder '{self.question_encoder}': use {', '.join(QUESTION_ENCODERS)}"
            )
        if not 0.0 <= self.question_weight <= 1.0:
            raise ValueError("question_weight must be between 0 and 1")
        if self.candidates < 1:
            raise ValueError("candidates must be at least 1")
        if not 0.0 <= self.lexical_weight <= 1.0:
            raise ValueError("lexical_weight must be between 0 and 1")
        if self.no_answer_threshold is not None and not -1.0 <= self.no_answer_threshold <= 1.0:
            raise ValueError("no_answer_threshold must be between -1 and 1")

    @classmethod
    def from_record(cls, record: Mapping[str, object]) -> SearchSettings:
        """Settings as recorded in a servable: old names are read, and keys this version does
        not know (written by a newer one) are ignored with a warning rather than refused."""
        known = {f.name for f in fields(cls)}
        values = {}
        for key, value in record.items():
            name = _RENAMED.get(key, key)
            if name in known:
                values[name] = value
            else:
                logger.warning("ignoring unknown search setting '%s'", key)
        return cls(**values)  # type: ignore[arg-type]  # values are validated in __post_init__

    @property
    def dense_vectors(self) -> tuple[str, ...]:
        """Named dense vectors the index needs for this search."""
        return (ANSWER_VECTOR,) if self.mode == "answer" else (ANSWER_VECTOR, QUESTION_VECTOR)

    @property
    def sparse_vectors(self) -> tuple[str, ...]:
        """Named sparse vectors the index needs for this search."""
        return (LEXICAL_VECTOR,) if self.lexical_weight > 0 else ()

    @property
    def vectors(self) -> tuple[str, ...]:
        return self.dense_vectors + self.sparse_vectors


# Words that name a page's kind rather than its topic ("lambda_faqs" is about lambda).
_PAGE_BOILERPLATE = frozenset({"faq", "faqs", "qa", "docs", "doc", "overview", "introduction"})


def page_context(entry: FaqEntry) -> str:
    """The entry's page as words: its source and filename, e.g. "aws fsx lustre".

    FAQ questions often leave the product implicit ("what is the daily backup retention
    period?") because the page says it; a user's question names it. Prefixing the stored
    question with its page restores that context. Empty when the entry has neither field.
    """
    words: list[str] = []
    for word in re.split(r"[^0-9a-z]+", f"{entry.source} {entry.filename}".lower()):
        if word and word not in _PAGE_BOILERPLATE and word not in words:
            words.append(word)
    return " ".join(words)


def answer_text(entry: FaqEntry) -> str:
    """The text encoded for an entry's answer vector."""
    return entry.answer


def question_text(entry: FaqEntry, with_context: bool) -> str:
    """The text encoded for an entry's question vector."""
    context = page_context(entry) if with_context else ""
    return f"{context}: {entry.question}" if context else entry.question


def lexical_text(entry: FaqEntry) -> str:
    """The text whose words make an entry's lexical vector: its page, question and answer."""
    return f"{page_context(entry)} {entry.question} {entry.answer}"


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


def fuse(
    by_answer: Sequence[ScoredPoint], by_question: Sequence[ScoredPoint], settings: SearchSettings
) -> list[tuple[str, float]]:
    """Combine answer-side and question-side results into one ranking of (id, score).

    - max: an entry scores its better cosine similarity of the two;
    - sum: question_weight * question score + (1 - question_weight) * answer score; an entry
      missing from one side's candidates gets that side's lowest candidate score (an upper
      bound of its real score there);
    - rrf: reciprocal rank fusion, 1/(60 + rank) summed over both sides. Rank-only: its
      scores are not comparable from one question to the next, so no threshold can read them
      (FaqSearch reads the "sum" score for its no-answer decision then).
    """
    answer_scores = {p.id: p.score for p in by_answer}
    question_scores = {p.id: p.score for p in by_question}
    if not question_scores:
        return [(p.id, p.score) for p in by_answer]
    ids = list(dict.fromkeys([*question_scores, *answer_scores]))
    floor_a = min(answer_scores.values(), default=0.0)
    floor_q = min(question_scores.values(), default=0.0)
    if settings.fusion == "rrf":
        answer_rank = {p.id: rank for rank, p in enumerate(by_answer, start=1)}
        question_rank = {p.id: rank for rank, p in enumerate(by_question, start=1)}
        combined = {
            pid: sum(1.0 / (RRF_K + ranks[pid]) for ranks in (answer_rank, question_rank) if pid in ranks)
            for pid in ids
        }
    elif settings.fusion == "max":
        combined = {
            pid: max(answer_scores.get(pid, floor_a), question_scores.get(pid, floor_q)) for pid in ids
        }
    else:
        w = settings.question_weight
        combined = {
            pid: w * question_scores.get(pid, floor_q) + (1 - w) * answer_scores.get(pid, floor_a)
            for pid in ids
        }
    return sorted(combined.items(), key=lambda item: item[1], reverse=True)


def blend_lexical(
    dense: Sequence[tuple[str, float]], by_lexical: Sequence[ScoredPoint], weight: float
) -> list[tuple[str, float]]:
    """Rank by the dense score plus `weight` times the lexical score, the latter divided by
    the best lexical score of this question (IDF-weighted token matches have no fixed scale).
    An entry found by one side only gets the other side's floor (lowest candidate, or 0)."""
    if not by_lexical or weight <= 0:
        return list(dense)
    dense_scores = dict(dense)
    best = max(p.score for p in by_lexical) or 1.0
    lexical = {p.id: p.score / best for p in by_lexical}
    floor = min(dense_scores.values(), default=0.0)
    ids = list(dict.fromkeys([*dense_scores, *lexical]))
    ranked = {pid: dense_scores.get(pid, floor) + weight * lexical.get(pid, 0.0) for pid in ids}
    return sorted(ranked.items(), key=lambda item: item[1], reverse=True)


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


class EmbeddingCache:
    """The query embeddings of recently asked questions (least recently used out first), keyed
    by the text as encoded. Users ask the same things; a hit skips both encoders."""

    def __init__(self, size: int):
        self.size = size
        self.hits = 0
        self.misses = 0
        self._items: OrderedDict[str, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> tuple[np.ndarray, np.ndarray] | None:
        with self._lock:
            found = self._items.get(key)
            if found is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return found

    def put(self, key: str, value: tuple[np.ndarray, np.ndarray]) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


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
