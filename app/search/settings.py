"""How a question is matched: which sides are searched and how their scores combine
(`SearchSettings`, recorded in the servable by `faq train`, so the index job, evaluation and
the service all search alike), and the text each stored vector is made from."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

from app.domain.entry import FaqEntry

logger = logging.getLogger(__name__)

ANSWER_VECTOR = "answer"
QUESTION_VECTOR = "question"
LEXICAL_VECTOR = "lexical"
# An entry's alternate wordings, encoded like its question: a multivector scored by the best
# of its rows (max-sim), so an entry is matched by its closest wording.
WORDINGS_VECTOR = "wordings"

SEARCH_MODES = ("answer", "fused")
FUSIONS = ("max", "sum", "rrf")
QUESTION_ENCODERS = ("servable", "base", "encoder")
LEXICAL_TOKENS = ("wordpiece", "bm25")
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
    plain semantic similarity, which the base model was trained for), or "encoder" (the
    servable's own encoder before its head: for a servable trained with its encoder frozen, the
    base encoder again, and both sides of a question come out of one forward); lexical_weight: weight of
    the lexical side (token matches, see app.search.lexical) added to the dense score, 0 for none;
    lexical_tokens: how the lexical side splits text, "wordpiece" (the encoder's tokenizer) or
    "bm25" (Qdrant's BM25: words, English stemming and stopwords);
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
    lexical_tokens: str = "wordpiece"
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
        if self.lexical_tokens not in LEXICAL_TOKENS:
            raise ValueError(
                f"unknown lexical tokens '{self.lexical_tokens}': use {', '.join(LEXICAL_TOKENS)}"
            )
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
    def multi_vectors(self) -> tuple[str, ...]:
        """Named dense multivectors the index needs: the alternate wordings, searched with the
        question side (only a fused search has one)."""
        return (WORDINGS_VECTOR,) if self.mode == "fused" else ()

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
    """The text whose words make an entry's lexical vector: its page, its wordings (question
    and alternates) and its answer."""
    return f"{page_context(entry)} {' '.join(entry.wordings)} {entry.answer}"


# What the service searches with, defined here once (training records one of them in the
# servable it saves; the dataclass's own defaults are the plain answers-only search of a
# servable that recorded nothing). A fine-tuned servable: the user's question against the
# answers with the fine-tuned encoder and against the page-contextual FAQ questions with the
# base encoder, scores summed (question side 0.7), token matches weighing 0.1 (measured on
# Qdrant Edge: experiments/README.md, "The lexical side on Qdrant Edge").
SERVED_SEARCH = SearchSettings(
    mode="fused",
    fusion="sum",
    question_weight=0.7,
    question_context=True,
    question_encoder="base",
    lexical_weight=0.1,
)
# The base encoder on both sides (the servable's own model is the base one), question and
# answer scores weighed equally, FAQ questions without their page's words (page names of a help
# centre are categories, not products): the settings that held across domains.
BASE_SEARCH = replace(SERVED_SEARCH, question_weight=0.5, question_context=False, question_encoder="servable")
