"""Training pairs beyond the reference split: extra pairs (feedback) and owners' wordings."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from app.domain.entry import FaqEntry
from app.domain.split import Split

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExtraPairs:
    """What became of extra training pairs: how many were added, and how many were left out
    and why (already in the data, or answered by a val entry)."""

    added: int
    duplicates: int
    val_answers: int


def add_extra_pairs(split: Split, extra: Sequence[FaqEntry]) -> tuple[Split, ExtraPairs]:
    """`split` with `extra` pairs added to its training side, never to val.

    A pair whose answer is a val entry's answer is left out too: training on it would teach
    the model that val answer, and the val metrics would no longer measure held-out entries.
    """
    known = {entry.id for entry in (*split.train, *split.val)}
    val_answers = {entry.answer for entry in split.val}
    added: list[FaqEntry] = []
    duplicates = held_out = 0
    for pair in extra:
        if pair.id in known:
            duplicates += 1
        elif pair.answer in val_answers:
            held_out += 1
        else:
            known.add(pair.id)
            added.append(pair)
    report = ExtraPairs(added=len(added), duplicates=duplicates, val_answers=held_out)
    logger.info(
        "extra pairs: %d added to training, %d already present, %d left out (their answer is in val)",
        report.added,
        report.duplicates,
        report.val_answers,
    )
    return Split([*split.train, *added], split.val), report


def wording_pairs(entries: Sequence[FaqEntry]) -> list[FaqEntry]:
    """Each alternate wording of `entries` as a (wording, answer) training pair: a user's
    wording that the owner confirmed is a positive pair for its answer. Called on the
    training side only (with `add_extra_pairs`, which keeps val answers out), as with
    feedback pairs."""
    return [
        FaqEntry(question=wording, answer=e.answer, source=e.source, filename=e.filename)
        for e in entries
        for wording in e.alternates
    ]
