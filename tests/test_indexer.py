import pytest

from app.core.data import load_faq
from app.core.servable import Servable
from app.core.store import FaqStore
from app.indexer import index_dataset, unique_entries
from tests.conftest import MINI_FAQ


@pytest.fixture(scope="module")
def servable(trained_servable) -> Servable:
    return Servable.load(trained_servable, device="cpu")


def test_index_report_and_idempotent_reindex(servable):
    store = FaqStore.in_memory()
    dataset = load_faq(MINI_FAQ)
    first = index_dataset(dataset, servable, store, "faq", batch_size=16, progress=False)
    assert (first.rows_read, first.indexed, first.skipped, first.duplicates) == (40, 40, 0, 0)
    assert first.previous is None and first.answers_per_second > 0
    second = index_dataset(dataset, servable, store, "faq", batch_size=16, progress=False)
    assert second.previous == first.collection
    assert store.versions("faq") == [second.collection], "the replaced version is dropped"
    assert store.collection_info("faq").points == 40
    ids_first = {h.id for h in store.search("faq", servable.encode(["dns"])[0], limit=40)}
    assert len(ids_first) == 40


def test_duplicates_and_skipped_lines_are_reported(servable, tmp_path):
    lines = MINI_FAQ.read_text().splitlines()
    data = tmp_path / "faq.jsonl"
    data.write_text("\n".join([*lines[:5], lines[0], "{broken", lines[1]]) + "\n")
    dataset = load_faq(data, skip_invalid=True)
    report = index_dataset(dataset, servable, FaqStore.in_memory(), "faq", progress=False)
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
    store = FaqStore.in_memory()
    dataset = load_faq(MINI_FAQ)
    good = index_dataset(dataset, servable, store, "faq", progress=False)
    with pytest.raises(RuntimeError, match="simulated crash"):
        index_dataset(dataset, ExplodingServable(servable), store, "faq", batch_size=8, progress=False)
    assert store.resolve_alias("faq") == good.collection
    assert store.versions("faq") == [good.collection], "the unfinished version is dropped"
    hits = store.search("faq", servable.encode(["how do i register a domain name?"])[0], limit=1)
    assert hits[0].question == "how do i register a domain name?"


def test_fused_servable_indexes_question_vectors_too(trained_servable, tmp_path):
    import json
    import shutil

    from app.core.servable import SERVABLE_META
    from app.core.store import SearchSettings

    fused = tmp_path / "fused"
    shutil.copytree(trained_servable, fused)
    meta = json.loads((fused / SERVABLE_META).read_text())
    meta["search"] = {"mode": "fused", "method": "max"}
    (fused / SERVABLE_META).write_text(json.dumps(meta))
    servable = Servable.load(fused, device="cpu")
    assert servable.search_settings == SearchSettings(mode="fused", method="max")
    store = FaqStore.in_memory()
    index_dataset(load_faq(MINI_FAQ), servable, store, "faq", progress=False)
    assert store.collection_info("faq").vectors == ("answer", "question")
    from app.answering import answer_question

    hits = answer_question(servable, store, "faq", "is there a free tier?", top_k=3)
    assert hits[0].question == "is there a free tier?"
    assert hits[0].score == pytest.approx(1.0, abs=1e-3)  # the stored question itself, max-fused
