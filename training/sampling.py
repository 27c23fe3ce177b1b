"""Batches of hard negatives: pairs from the same FAQ page (filename) land in the same batch.

With in-batch negatives, a random batch mostly holds answers about other products, which the
base encoder already tells apart. The answers users confuse come from the same page; batching
them together makes every step learn exactly those distinctions.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator, Sequence

from torch.utils.data import Sampler

from app.domain.entry import FaqEntry


class SamePageSampler(Sampler[int]):
    """Yields indices so that consecutive runs of `batch_size` hold pages' entries together.

    Each epoch: entries are grouped by (source, filename), each group is shuffled, groups are
    laid out in a shuffled order and cut into batches, and the batches are shuffled, so a
    batch holds one or a few whole pages (big pages span batches). Used as the `sampler` of a
    DataLoader with `batch_size` and no shuffle.
    """

    def __init__(self, entries: Sequence[FaqEntry], batch_size: int, seed: int = 0):
        self.batch_size = batch_size
        self.seed = seed
        self.epoch = 0
        groups: dict[tuple[str, str], list[int]] = defaultdict(list)
        for index, entry in enumerate(entries):
            groups[(entry.source, entry.filename)].append(index)
        self.groups = list(groups.values())
        self.size = len(entries)

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[int]:
        rng = random.Random(self.seed + self.epoch)
        self.epoch += 1
        groups = [list(group) for group in self.groups]
        for group in groups:
            rng.shuffle(group)
        rng.shuffle(groups)
        flat = [index for group in groups for index in group]
        batches = [flat[i : i + self.batch_size] for i in range(0, len(flat), self.batch_size)]
        # Shuffle whole batches only, keeping a short last batch last: the DataLoader cuts
        # consecutive indices, so a short batch in the middle would merge two batches.
        full = [b for b in batches if len(b) == self.batch_size]
        rng.shuffle(full)
        batches = full + [b for b in batches if len(b) < self.batch_size]
        for batch in batches:
            yield from batch
