"""The train/val split of the published reference results."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from app.domain.entry import DataError, FaqEntry

logger = logging.getLogger(__name__)

# The published reference results use exactly this split; keep it so numbers compare.
VAL_FRACTION = 0.25
SPLIT_SEED = 42


@dataclass(frozen=True)
class Split:
    train: list[FaqEntry]
    val: list[FaqEntry]


def split_entries(entries: Sequence[FaqEntry]) -> Split:
    """The reference split: 25% validation, stratified by source, seed 42, on file order.

    Same call as the published results (scikit-learn's train_test_split), so the real data
    set gives the same 6,373 / 2,125 rows in the same order.
    """
    from sklearn.model_selection import train_test_split

    if len(entries) < 4:
        raise DataError(f"need at least 4 FAQ entries to split into train and val, got {len(entries)}")
    sources = [e.source for e in entries]
    counts = Counter(sources)
    # Stratifying needs every source on both sides; a source with a single entry cannot be,
    # so small or unlabelled data sets fall back to a plain seeded shuffle split.
    n_val = int(-(-len(entries) * VAL_FRACTION // 1))
    stratify = sources if min(counts.values()) >= 2 and n_val >= len(counts) else None
    if stratify is None and len(counts) > 1:
        logger.warning("some sources have too few entries to stratify; splitting without stratification")
    indices = list(range(len(entries)))
    train_idx, val_idx = train_test_split(
        indices, test_size=VAL_FRACTION, stratify=stratify, random_state=SPLIT_SEED
    )
    return Split([entries[i] for i in train_idx], [entries[i] for i in val_idx])


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
