"""The vectors stored for FAQ entries: which text each named vector encodes, with which model.
The index job and live writes store exactly these, so a live entry is found as an indexed one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from app.domain.entry import FaqEntry
from app.encoding.servable import Servable
from app.search.answers import per_entry, unit_rows
from app.search.lexical import Bm25Encoder, LexicalEncoder
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
from app.store.base import VectorBatch


class EntryVectors:
    def __init__(self, servable: Servable, settings: SearchSettings, lexical: LexicalEncoder | Bm25Encoder):
        self.servable = servable
        self.settings = settings
        self.lexical = lexical

    def sizes(self) -> dict[str, int]:
        """The dense named vectors a collection for this search holds, with their sizes."""
        return dict.fromkeys(self.settings.dense_vectors, self.servable.embedding_size)

    def multivector_sizes(self) -> dict[str, int]:
        """The multivectors (several vectors an entry, max-sim) it holds, with their sizes."""
        return dict.fromkeys(self.settings.multi_vectors, self.servable.embedding_size)

    def of(self, entries: Sequence[FaqEntry], batch_size: int = 256) -> dict[str, VectorBatch]:
        """The named vectors stored for `entries`."""
        answers = self.servable.encode([answer_text(e) for e in entries], batch_size=batch_size)
        vectors: dict[str, VectorBatch] = {ANSWER_VECTOR: unit_rows(answers)}
        if QUESTION_VECTOR in self.settings.vectors:
            texts = [question_text(e, self.settings.question_context) for e in entries]
            questions = self.servable.encode_question_side(texts, batch_size=batch_size)
            vectors[QUESTION_VECTOR] = unit_rows(questions)
        if WORDINGS_VECTOR in self.settings.multi_vectors:
            vectors[WORDINGS_VECTOR] = self._alternates(entries, batch_size)
        if LEXICAL_VECTOR in self.settings.vectors:
            vectors[LEXICAL_VECTOR] = self.lexical.documents([lexical_text(e) for e in entries])
        return vectors

    def _alternates(self, entries: Sequence[FaqEntry], batch_size: int) -> list[np.ndarray]:
        """Each entry's alternate wordings encoded like its question (one forward for all of
        them), one matrix an entry (no rows: none)."""
        texts = [
            question_text(replace(e, question=wording), self.settings.question_context)
            for e in entries
            for wording in e.alternates
        ]
        encoded = (
            unit_rows(self.servable.encode_question_side(texts, batch_size=batch_size))
            if texts
            else np.zeros((0, self.servable.embedding_size), np.float32)
        )
        return per_entry(encoded, [len(e.alternates) for e in entries])
