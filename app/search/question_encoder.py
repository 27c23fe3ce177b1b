"""Questions into query vectors, for both sides of the search: the answer side (the servable's
encoder) and the question side (its own model when the search has one, else the same vectors),
with a cache of recent questions."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from app.encoding.servable import Servable
from app.search.answers import unit_rows
from app.search.cache import EmbeddingCache
from app.search.settings import SearchSettings


class QuestionEncoder:
    def __init__(self, servable: Servable, settings: SearchSettings, cache: EmbeddingCache):
        self.servable = servable
        self.settings = settings
        self.cache = cache
        # An uncased tokenizer lowercases anyway: "How" and "how" are one cache entry.
        self._lowercase = bool(getattr(servable.tokenizer, "do_lower_case", False))

    @property
    def has_question_model(self) -> bool:
        """Whether the question side's vectors differ from the answer side's: a fused search
        over a servable with a question model of its own, or whose question side is its encoder
        before the head."""
        servable = self.servable
        return self.settings.mode == "fused" and (
            servable.has_question_model or servable.question_from_encoder
        )

    def key(self) -> object:
        """What the vectors depend on: the model(s), which side has its own model, the cache."""
        return (id(self.servable), self.has_question_model, id(self.cache))

    def _cache_key(self, text: str) -> str:
        words = " ".join(text.split())  # the tokenizer splits on whitespace: runs of it are one
        return words.lower() if self._lowercase else words

    def encode(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Unit query vectors of `texts` for the answer side and the question side (the same
        matrix when the question side has no model of its own): one forward per encoder for
        all the texts that are not in the cache."""
        keys = [self._cache_key(text) for text in texts]
        found = {key: self.cache.get(key) for key in dict.fromkeys(keys)}
        missing = [key for key, value in found.items() if value is None]
        if missing:
            answer_side, question_side = self._both(missing)
            for row, key in enumerate(missing):
                found[key] = (answer_side[row], question_side[row])
                self.cache.put(key, (answer_side[row], question_side[row]))
        pairs = [found[key] for key in keys]
        return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])  # type: ignore[index]

    def uncached(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """`encode` without the cache (for fitting and checking: many texts, asked once)."""
        return self._both(list(texts))

    def _both(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Unit query vectors for both sides, in as few forwards as the servable allows."""
        if not self.has_question_model:
            answer_side = unit_rows(self.servable.encode(texts))
            return answer_side, answer_side
        answer_side, question_side = self.servable.encode_both(texts)
        return unit_rows(answer_side), unit_rows(question_side)
