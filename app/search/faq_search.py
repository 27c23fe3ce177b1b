"""`FaqSearch`: a FAQ's search over a servable and a store, put together from pieces named for
what they do, and the one object the rest of the service holds:

- `EntryVectors` (app.search.entry_vectors): the vectors stored for entries (`vectors_for`,
  used by the index job and live writes);
- `QuestionEncoder` (app.search.question_encoder): questions into query vectors, cached;
- `Retriever` (app.search.retriever): a batch of questions' entries, each side queried and fused;
- `Decider` (app.search.decider): answer, ask back or decline, by the rule in force;
- `RuleFitting` (app.search.rule_fitting): what the FAQ's rule is fitted from.

What is matched and how is decided in `app.search.settings` and `app.search.fusion`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from functools import cached_property
from typing import Any

import numpy as np

from app import timing
from app.domain.entry import FaqEntry
from app.encoding.priority import WriteEncoder
from app.encoding.servable import Servable
from app.search.answers import Answers, EntryNotFound, Hit, Question, per_entry, unit_rows
from app.search.cache import EmbeddingCache
from app.search.decider import DECISION_DEPTH, SUGGESTIONS, Decider
from app.search.decision import ANSWERED, DecisionRule, FitInput
from app.search.entry_vectors import EntryVectors
from app.search.lexical import Bm25Encoder, LexicalEncoder, lexical_encoder
from app.search.question_encoder import QuestionEncoder
from app.search.retriever import Retriever
from app.search.rule_fitting import RuleFitting
from app.search.settings import SearchSettings
from app.store.base import FaqStore, VectorBatch

__all__ = ["SUGGESTIONS", "Answers", "FaqSearch", "Hit", "Question", "unit_rows"]


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
        cache: EmbeddingCache | None = None,
        lexical: LexicalEncoder | Bm25Encoder | None = None,
    ):
        """`cache` and `lexical`: a query-embedding cache and a lexical encoder to share with
        another search of the same servable and settings (another version, another FAQ): the
        lexical encoder holds the tokenizer's vocabulary, 3 MB."""
        if lexical is not None:
            self.__dict__["lexical"] = lexical  # the cached property's value, given
        self.servable = servable
        self.store = store
        self.alias = alias
        self.settings = settings or SearchSettings.from_record(servable.meta.search)
        self.cache = cache if cache is not None else EmbeddingCache(cache_size)
        self.encoder = QuestionEncoder(servable, self.settings, self.cache)
        self.entry_vectors = EntryVectors(servable, self.settings, self.lexical)
        self.retriever = Retriever(store, alias, self.settings, self.encoder, self.lexical)
        self.decider = Decider(store, alias, servable, self.settings)
        self.fitting = RuleFitting(servable, self.settings, self.encoder, self.entry_vectors)

    def on(self, collection: str) -> FaqSearch:
        """The same search over another collection version (a staged or older one), sharing
        the query-embedding cache (an embedding does not depend on the version)."""
        return FaqSearch(
            self.servable, self.store, collection, self.settings, cache=self.cache, lexical=self.lexical
        )

    def for_writes(self, writes: WriteEncoder | None) -> FaqSearch:
        """This search with its encoding sent to the service's write-encoding process (the
        index job's and live writes' search); None: itself. It shares the query cache; the
        served rule is read (and forgotten) through the search that answers."""
        if writes is None:
            return self
        return FaqSearch(
            self.servable.for_writes(writes),
            self.store,
            self.alias,
            self.settings,
            cache=self.cache,
            lexical=self.lexical,
        )

    @cached_property
    def lexical(self) -> LexicalEncoder | Bm25Encoder:
        return lexical_encoder(self.settings.lexical_tokens, self.servable.tokenizer)

    # ---- what is stored -----------------------------------------------------------------------
    def vector_sizes(self) -> dict[str, int]:
        return self.entry_vectors.sizes()

    def multivector_sizes(self) -> dict[str, int]:
        return self.entry_vectors.multivector_sizes()

    def vectors_for(self, entries: Sequence[FaqEntry], batch_size: int = 256) -> dict[str, VectorBatch]:
        """The named vectors stored for `entries`: which text each encodes and with which model."""
        return self.entry_vectors.of(entries, batch_size)

    # ---- questions as vectors -----------------------------------------------------------------
    def encode_questions(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Unit query vectors of `texts` for the answer side and the question side, cached."""
        return self.encoder.encode(texts)

    def encoding_key(self) -> object:
        """Equal for two searches whose questions encode to the same vectors (the FAQs of one
        service), so their questions can share a forward."""
        return self.encoder.key()

    def embed_question(self, question: str) -> np.ndarray:
        """The question's embedding on the question side (the model that compares questions with
        questions), used to group and compare what users asked; `ask` returns the same vector."""
        return self.encoder.encode([question])[1][0]

    def query_vectors(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Unit query vectors of `texts` for both sides, not through the cache (for fitting)."""
        return self.encoder.uncached(texts)

    def wording_queries(self, entries: Sequence[FaqEntry]) -> list[np.ndarray]:
        """Each entry's wordings (its question first) on the question side, as asked: one
        matrix an entry, one forward for all of them (for comparing entries with each other)."""
        encoded = self.encoder.uncached([w for e in entries for w in e.wordings])[1]
        return per_entry(encoded, [len(e.wordings) for e in entries])

    # ---- answering ----------------------------------------------------------------------------
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

    def ask_many(
        self, questions: Sequence[Question], *, encoded: tuple[np.ndarray, np.ndarray] | None = None
    ) -> list[Answers]:
        """`ask` for several questions at once: one forward per encoder and one store call per
        side for all of them (the service's micro-batches); `encoded`: their query vectors
        (`encode_questions`), when encoded already with other FAQs' questions."""
        searched = self.retriever.search(
            [replace(q, top_k=max(q.top_k, SUGGESTIONS, DECISION_DEPTH)) for q in questions],
            encoded=encoded,
        )
        with timing.stage(timing.DECIDE):
            rule = self.decision_rule()
            return self._with_follow_ups(
                [
                    self.decider.decide(q, hits, embedding, rule)
                    for q, (hits, embedding) in zip(questions, searched, strict=True)
                ]
            )

    def answer_entry(self, entry_id: str) -> Answers:
        """The entry `entry_id` as the answer, chosen by the asker (a follow-up or a "did you
        mean" picked): answered, with its follow-ups; EntryNotFound when the FAQ has none such."""
        found = self.store.entries(self.alias, [entry_id])
        if entry_id not in found:
            raise EntryNotFound(f"no FAQ entry '{entry_id}'")
        hit = Hit.of(entry_id, found[entry_id], 1.0)
        return self._with_follow_ups([Answers([hit], [], None, status=ANSWERED)])[0]

    def _with_follow_ups(self, answered: list[Answers]) -> list[Answers]:
        """The answers given, each with its follow-ups' questions (one fetch for a batch; an
        entry deleted since is left out)."""
        wanted = sorted({i for a in answered for hit in a.answers for i in hit.follow_up_ids})
        if not wanted:
            return answered
        found = self.store.entries(self.alias, wanted)

        def offered(hit: Hit) -> Hit:
            pairs = tuple((i, found[i].question) for i in hit.follow_up_ids if i in found)
            return replace(hit, follow_ups=pairs)

        return [replace(a, answers=[offered(h) for h in a.answers]) if a.answers else a for a in answered]

    def search(self, question: str, *, top_k: int = 5, source: str | None = None) -> list[Hit]:
        """The `top_k` best entries for `question`, best first, whatever their scores."""
        return self.retriever.search([Question(question, top_k, source)])[0][0]

    def search_many(self, questions: Sequence[Question]) -> list[list[Hit]]:
        """`search` for several questions: one forward per encoder, one store call per side."""
        return [hits for hits, _ in self.retriever.search(questions)]

    # ---- the decision rule --------------------------------------------------------------------
    def decision_rule(self) -> DecisionRule | None:
        """The rule fitted to the FAQ that is served: the one stored with the collection version
        (the index job fits it, live changes refit it), with what askers taught it; else the
        servable's (fitted by `faq train`); else None (the servable's single threshold)."""
        return self.decider.rule()

    def faq_rule(self) -> DecisionRule | None:
        """The rule fitted to the FAQ itself, without what its askers taught it
        (app.usage.calibration): what a refit from askers starts from."""
        return self.decider.faq_rule()

    def forget_rule(self) -> None:
        """Read the collection's rule again at the next question (after a switch or a refit)."""
        self.decider.forget()

    def fit_rule(
        self,
        entries: Sequence[FaqEntry],
        stored: Mapping[str, np.ndarray] | None = None,
        *,
        seed: int = 0,
        **targets: Any,
    ) -> DecisionRule:
        """The decision rule for `entries` searched this way (app.search.rule_fitting)."""
        return self.fitting.fit(entries, stored, seed=seed, **targets)

    def fit_input(
        self, entries: Sequence[FaqEntry], stored: Mapping[str, np.ndarray] | None = None, *, seed: int = 0
    ) -> FitInput:
        return self.fitting.fit_input(entries, stored, seed=seed)
