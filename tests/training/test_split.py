import pytest

from app.domain.entry import DataError, FaqEntry
from app.domain.records import load_faq
from app.domain.split import split_entries
from tests.conftest import REAL_FAQ, requires_real_data


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


def test_wordings_become_training_pairs_of_training_entries_only(mini_faq):
    from app.domain.records import load_faq
    from app.domain.split import split_entries
    from training.split import add_extra_pairs, wording_pairs

    entries = load_faq(mini_faq).entries
    worded = [e.with_alternates([f"another way to ask {n}"]) for n, e in enumerate(entries)]
    split = split_entries(worded)
    pairs = wording_pairs(split.train)
    assert len(pairs) == len(split.train)
    assert {(p.question, p.answer) for p in pairs} == {(e.alternates[0], e.answer) for e in split.train}
    trained, report = add_extra_pairs(split, pairs)
    val_answers = {e.answer for e in split.val}
    assert report.added == sum(e.answer not in val_answers for e in split.train)
    assert trained.val == split.val and not any(
        p.answer in val_answers for p in trained.train[len(split.train) :]
    )
    val_wordings = {(p.question, p.answer) for p in wording_pairs(split.val)}
    assert val_wordings and not val_wordings & {(p.question, p.answer) for p in trained.train}
