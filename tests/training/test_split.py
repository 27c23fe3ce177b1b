import pytest

from app.domain.entry import DataError, FaqEntry
from app.domain.records import load_faq
from tests.conftest import REAL_FAQ, requires_real_data
from training.split import split_entries


def test_split_is_deterministic_and_stratified(mini_faq):
    entries = load_faq(mini_faq).entries
    first, second = split_entries(entries), split_entries(entries)
    assert first == second
    assert len(first.val) == 10 and len(first.train) == 30
    assert {e.source for e in first.val} == {"acme", "nimbus"}
    assert sum(e.source == "acme" for e in first.val) == 5
    assert set(first.train).isdisjoint(first.val)


def test_split_needs_a_few_entries():
    with pytest.raises(DataError, match="at least 4"):
        split_entries([FaqEntry("q", "a")] * 3)


@requires_real_data()
def test_real_data_split_matches_the_reference():
    entries = load_faq(REAL_FAQ).entries
    split = split_entries(entries)
    assert len(entries) == 8498
    assert (len(split.train), len(split.val)) == (6373, 2125)
