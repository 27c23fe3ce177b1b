"""The train/val split of the published reference results: training fits on one side, and
evaluation and the benchmarks ask the other (questions the model never trained on)."""

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
