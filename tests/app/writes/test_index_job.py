import pytest

from app.domain.entry import unique_entries
from app.domain.records import load_faq
from app.encoding.servable import Servable
from app.search.faq_search import FaqSearch
from app.search.settings import (
    ANSWER_VECTOR,
    LEXICAL_VECTOR,
    QUESTION_VECTOR,
    WORDINGS_VECTOR,
    SearchSettings,
)
from app.store.base import FaqStore
from app.store.opening import scratch_store
from app.writes.index_job import index_dataset
from tests.conftest import MINI_FAQ


@pytest.fixture(scope="module")
def servable(trained_servable) -> Servable:
    return Servable.load(trained_servable, device="cpu")


def stored_points(store: FaqStore, alias: str) -> dict[str, list[float]]:
    return {
        point.id: point.dense[ANSWER_VECTOR] for point in store.points(store.resolve_alias(alias) or alias)
    }


def test_index_report_and_idempotent_reindex(servable):
    search = FaqSearch(servable, scratch_store(), "faq")
    dataset = load_faq(MINI_FAQ)
    first = index_dataset(dataset, search, batch_size=16, progress=False)
    assert (first.rows_read, first.indexed, first.skipped, first.duplicates) == (40, 40, 0, 0)
    assert first.previous is None and first.entries_per_second > 0
    points_first = stored_points(search.store, "faq")
    second = index_dataset(dataset, search, batch_size=7, progress=False)
    assert second.previous == first.collection and second.collection != first.collection
    # the replaced version is kept for rollback (FAQ_KEEP_VERSIONS), finished, not an orphan
    assert search.store.versions("faq") == [first.collection, second.collection]
    assert search.store.orphan_versions("faq") == []
    third = index_dataset(dataset, search, progress=False, keep=2)
    assert search.store.versions("faq") == [second.collection, third.collection], "beyond 2: dropped"
    points_second = stored_points(search.store, "faq")
    # the same ids (uuid5 of the entry) and the same vectors, whatever the batch size
    assert set(points_second) == set(points_first) == {e.id for e in dataset.entries}
    for pid, vector in points_first.items():
        assert points_second[pid] == pytest.approx(vector, abs=1e-5)


def test_duplicates_and_skipped_lines_are_reported(servable, tmp_path):
    lines = MINI_FAQ.read_text().splitlines()
    data = tmp_path / "faq.jsonl"
    data.write_text("\n".join([*lines[:5], lines[0], "{broken", lines[1]]) + "\n")
    dataset = load_faq(data, skip_invalid=True)
    report = index_dataset(dataset, FaqSearch(servable, scratch_store(), "faq"), progress=False)
    assert (report.rows_read, report.indexed, report.skipped, report.duplicates) == (8, 5, 1, 2)
    assert len(unique_entries(dataset.entries)) == 5


class ExplodingServable:
    """Encodes one batch, then fails: a reindex that dies half-way."""

    def __init__(self, real: Servable):
        self.real, self.calls = real, 0

    def __getattr__(self, name):  # everything else as the real servable
        return getattr(self.real, name)

    def encode(self, texts, batch_size=256):
        self.calls += 1
        if self.calls > 1:
            raise RuntimeError("simulated crash while encoding")
        return self.real.encode(texts, batch_size)


def test_failed_reindex_leaves_the_previous_version_serving(servable):
    search = FaqSearch(servable, scratch_store(), "faq")
    dataset = load_faq(MINI_FAQ)
    good = index_dataset(dataset, search, progress=False)
    exploding = FaqSearch(ExplodingServable(servable), search.store, "faq")  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="simulated crash"):
        index_dataset(dataset, exploding, batch_size=8, progress=False)
    assert search.store.resolve_alias("faq") == good.collection
    assert search.store.versions("faq") == [good.collection], "the unfinished version is dropped"
    hits = search.search("how do i register a domain name?", top_k=1)
    assert hits[0].question == "how do i register a domain name?"


def test_the_servable_settings_decide_the_stored_vectors(servable):
    fused = FaqSearch(servable, scratch_store(), "faq")  # the default recipe: fused, with words
    assert fused.settings.mode == "fused" and fused.settings.lexical_weight == 0.1
    index_dataset(load_faq(MINI_FAQ), fused, progress=False)
    assert fused.store.collection_info("faq").vectors == (
        ANSWER_VECTOR,
        LEXICAL_VECTOR,
        QUESTION_VECTOR,
        WORDINGS_VECTOR,
    )
    answers_only = FaqSearch(servable, scratch_store(), "faq", SearchSettings(mode="answer"))
    index_dataset(load_faq(MINI_FAQ), answers_only, progress=False)
    assert answers_only.store.collection_info("faq").vectors == (ANSWER_VECTOR,)
