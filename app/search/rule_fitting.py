"""What a FAQ's decision rule is fitted from (app.search.decision.FitInput): its entries' stored
vectors, its own questions and its owners' wordings asked as queries, the general far-off set,
and how accurate the encoder is on entries it was not trained on."""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from app.domain.entry import FaqEntry
from app.encoding.servable import Servable
from app.search.decision import FIT_QUERIES, DecisionRule, FitInput, encoder_accuracy, far_questions, fit
from app.search.entry_vectors import EntryVectors
from app.search.question_encoder import QuestionEncoder
from app.search.settings import ANSWER_VECTOR, QUESTION_VECTOR, SearchSettings, question_text

# Per servable (dropped with it): its far-off set's query vectors, by whether the question side
# has its own model.
_FAR_VECTORS: weakref.WeakKeyDictionary[Servable, dict[bool, tuple[np.ndarray, np.ndarray]]] = (
    weakref.WeakKeyDictionary()
)


class RuleFitting:
    def __init__(
        self, servable: Servable, settings: SearchSettings, encoder: QuestionEncoder, vectors: EntryVectors
    ):
        self.servable = servable
        self.settings = settings
        self.encoder = encoder
        self.vectors = vectors

    def fit(
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
        key = self.encoder.has_question_model  # the set is fixed; the question side may differ
        cached = _FAR_VECTORS.setdefault(self.servable, {})
        if key not in cached:
            cached[key] = self.encoder.uncached(far_questions())
        return cached[key]

    def fit_input(
        self, entries: Sequence[FaqEntry], stored: Mapping[str, np.ndarray] | None = None, *, seed: int = 0
    ) -> FitInput:
        """What a rule for `entries` is fitted from (see app.search.decision.FitInput)."""
        if stored is None:
            stored = {k: v for k, v in self.vectors.of(entries).items() if isinstance(v, np.ndarray)}
        answers = np.asarray(stored[ANSWER_VECTOR], dtype=np.float32)
        questions = stored.get(QUESTION_VECTOR) if self.settings.mode == "fused" else None
        rng = np.random.default_rng(seed)
        n = len(entries)
        sample = np.arange(n) if n <= FIT_QUERIES else np.sort(rng.choice(n, FIT_QUERIES, replace=False))
        answer_queries, question_queries = self.encoder.uncached([entries[i].question for i in sample])
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
            alt_answer, alt_question = self.encoder.uncached(texts)
            contexts = [
                question_text(replace(entries[i], question=t), self.settings.question_context)
                for i, t in zip(owners, texts, strict=True)
            ]
            stored_side = (
                alt_question if not self.settings.question_context else self.encoder.uncached(contexts)[1]
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
