"""Fine-tune or not: `faq train` keeps the fine-tuned encoder only where it measurably helps.

On the cloud FAQ (8.5k entries) fine-tuning lifts the answer side a lot; on a 60-entry help
centre FAQ it gives nothing (there is too little to learn from, and nothing to hold out to
tell). So the default (`--encoder auto`) decides per FAQ, by measurement:

- a FAQ whose held-out part (the val split) would have fewer than MIN_HELD_OUT entries is too
  small to measure a difference on: it is served with the base encoder, untrained;
- otherwise the encoder is fine-tuned on the train split, and the held-out questions are
  matched against every answer of the FAQ by the fine-tuned encoder and by the base one (the
  answer side: the side fine-tuning changes; the question side uses the base encoder either
  way). The fine-tuned one is kept when its precision@1 beats the base one's by at least
  MIN_GAIN; else the base encoder is served.

The base encoder is served with search settings that hold across domains (`BASE_SEARCH`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from app.domain.entry import FaqEntry
from app.encoding.servable import Servable
from app.search.faq_search import unit_rows

ENCODER_CHOICES = ("auto", "finetune", "base")
MIN_HELD_OUT = 100
MIN_GAIN = 0.01


@dataclass(frozen=True)
class Choice:
    encoder: str  # "finetune" or "base"
    reason: str
    held_out: int = 0
    base_precision: float | None = None
    finetuned_precision: float | None = None

    def as_record(self) -> dict:
        return {
            "encoder": self.encoder,
            "reason": self.reason,
            "held_out_questions": self.held_out,
            "base_answer_precision_at_1": self.base_precision,
            "finetuned_answer_precision_at_1": self.finetuned_precision,
        }


def too_small(val: Sequence[FaqEntry]) -> Choice | None:
    """The base encoder, when the held-out part is too small to measure on; else None."""
    if len(val) >= MIN_HELD_OUT:
        return None
    return Choice(
        "base",
        f"the FAQ is too small to tell whether fine-tuning helps: {len(val)} entries could be held "
        f"out, {MIN_HELD_OUT} are needed (a FAQ of about {MIN_HELD_OUT * 4} entries); served with "
        "the base encoder",
        held_out=len(val),
    )


def answer_precision(servable: Servable, entries: Sequence[FaqEntry], val: Sequence[FaqEntry]) -> float:
    """Precision@1 of the held-out questions against every answer of the FAQ (an answer shared
    by several entries counts as one)."""
    answers = list(dict.fromkeys(e.answer for e in entries))
    position = {answer: i for i, answer in enumerate(answers)}
    stored = unit_rows(servable.encode(answers))
    queries = unit_rows(servable.encode([e.question for e in val]))
    top = (queries @ stored.T).argmax(axis=1)
    return float(np.mean([top[i] == position[e.answer] for i, e in enumerate(val)]))


def compare(
    finetuned: Servable, base: Servable, entries: Sequence[FaqEntry], val: Sequence[FaqEntry]
) -> Choice:
    tuned = answer_precision(finetuned, entries, val)
    untuned = answer_precision(base, entries, val)
    if tuned >= untuned + MIN_GAIN:
        encoder = "finetune"
        reason = (
            f"fine-tuning helps: held-out precision@1 {tuned:.3f} against {untuned:.3f} for the base encoder"
        )
    else:
        encoder = "base"
        reason = (
            f"fine-tuning does not help enough: held-out precision@1 {tuned:.3f} against {untuned:.3f} "
            f"for the base encoder (needs +{MIN_GAIN}); served with the base encoder"
        )
    return Choice(encoder, reason, len(val), round(untuned, 4), round(tuned, 4))
