from itertools import permutations

from app.domain.entry import FaqEntry
from training.sampling import SamePageSampler


def entries() -> list[FaqEntry]:
    pages = {"a": 5, "b": 3, "c": 4}
    return [
        FaqEntry(f"{page}{i}?", f"{page}{i}.", "src", page) for page, n in pages.items() for i in range(n)
    ]


def test_every_index_once_per_epoch_and_pages_stay_together():
    data = entries()
    sampler = SamePageSampler(data, batch_size=4, seed=1)
    order = list(sampler)
    assert sorted(order) == list(range(len(data)))
    # consecutive positions from the same page: a page is laid out as one run
    pages_in_order = [data[i].filename for i in order]
    runs = sum(1 for i, page in enumerate(pages_in_order) if i == 0 or page != pages_in_order[i - 1])
    assert runs <= 3 + len(data) // 4  # one run a page, split at most at batch borders


def test_epochs_differ_but_are_reproducible():
    data = entries()
    first, second = SamePageSampler(data, 4, seed=3), SamePageSampler(data, 4, seed=3)
    epoch1, epoch2 = list(first), list(first)
    assert epoch1 != epoch2
    assert list(second) == epoch1


def pages_are_contiguous(order: list[int], data: list[FaqEntry]) -> bool:
    pages = [data[i].filename for i in order]
    runs = [page for i, page in enumerate(pages) if i == 0 or page != pages[i - 1]]
    return len(runs) == len(set(runs))


def test_short_batch_comes_last():
    """The DataLoader cuts consecutive indices into batches: only if the short batch is last
    are the cuts the sampler's own batches, i.e. chunks of one page layout."""
    data = entries()  # 12 entries, batch 5 -> batches of 5, 5, 2
    for seed in range(20):
        order = list(SamePageSampler(data, batch_size=5, seed=seed))
        assert sorted(order) == list(range(12))
        cuts = [order[i : i + 5] for i in range(0, 12, 5)]
        assert [len(c) for c in cuts] == [5, 5, 2]
        layouts = [[*a, *b, *cuts[2]] for a, b in permutations(cuts[:2])]
        assert any(pages_are_contiguous(layout, data) for layout in layouts), seed
