import numpy as np
import pytest

from app.core.config import StoreSettings
from app.core.data import FaqEntry
from app.core.store import (
    ANSWER_VECTOR,
    CollectionMissing,
    FaqStore,
    StoreUnavailable,
    point_id,
)

ENTRIES = [
    FaqEntry("q1", "answer one", "aws", "f1"),
    FaqEntry("q2", "answer two", "gcp", "f2"),
    FaqEntry("q3", "answer three", "aws", "f3"),
]
VECTORS = np.eye(3, 4, dtype=np.float32) + 0.01


@pytest.fixture()
def store():
    store = FaqStore.in_memory()
    yield store
    store.close()


def build(store: FaqStore, alias: str = "faq") -> str:
    name = store.create_version(alias, 4, [ANSWER_VECTOR])
    store.upsert(name, ENTRIES, {ANSWER_VECTOR: VECTORS})
    store.point_alias_to(alias, name)
    return name


def test_search_through_the_alias_best_first(store):
    name = build(store)
    hits = store.search("faq", VECTORS[1], limit=3)
    assert [h.answer for h in hits][0] == "answer two"
    assert hits[0].score > hits[1].score
    assert hits[0].id == point_id(ENTRIES[1])
    assert (hits[0].question, hits[0].source, hits[0].filename) == ("q2", "gcp", "f2")
    info = store.collection_info("faq")
    assert (info.collection, info.points, info.vectors) == (name, 3, (ANSWER_VECTOR,))


def test_filter_by_source_and_score_threshold(store):
    build(store)
    hits = store.search("faq", VECTORS[1], limit=3, source="aws")
    assert {h.source for h in hits} == {"aws"} and len(hits) == 2
    strict = store.search("faq", VECTORS[1], limit=3, score_threshold=0.9)
    assert [h.answer for h in strict] == ["answer two"]


def test_upserting_the_same_entries_twice_changes_nothing(store):
    name = build(store)
    store.upsert(name, ENTRIES, {ANSWER_VECTOR: VECTORS})
    assert store.count(name) == 3
    assert point_id(FaqEntry("q1", "answer one", "aws", "f1")) == point_id(ENTRIES[0])
    assert point_id(FaqEntry("q1", "answer one", "aws", "other")) != point_id(ENTRIES[0])


def test_alias_swap_returns_the_previous_version(store):
    first = build(store)
    second = store.create_version("faq", 4, [ANSWER_VECTOR])
    store.upsert(second, ENTRIES[:1], {ANSWER_VECTOR: VECTORS[:1]})
    assert store.point_alias_to("faq", second) == first
    assert store.resolve_alias("faq") == second
    assert store.collection_info("faq").points == 1
    assert set(store.versions("faq")) == {first, second}


def test_missing_collection_is_reported(store):
    with pytest.raises(CollectionMissing, match="faq index"):
        store.search("faq", VECTORS[0])
    with pytest.raises(CollectionMissing):
        store.collection_info("faq")


def test_embedded_store_persists_and_is_locked_to_one_client(tmp_path):
    settings = StoreSettings(QDRANT_PATH=str(tmp_path / "qdrant"))
    store = FaqStore.open(settings)
    build(store)
    with pytest.raises(StoreUnavailable, match="in use by another process"):
        FaqStore.open(settings)
    store.close()
    reopened = FaqStore.open(settings)
    assert reopened.collection_info("faq").points == 3
    reopened.close()


def test_server_that_is_down_is_unavailable():
    store = FaqStore.open(StoreSettings(QDRANT_URL="http://127.0.0.1:9"))
    with pytest.raises(StoreUnavailable, match="unreachable"):
        store.collection_info("faq")
    with pytest.raises(StoreUnavailable):
        store.search("faq", VECTORS[0])


def test_url_and_path_together_are_a_configuration_error():
    with pytest.raises(ValueError, match="both set"):
        StoreSettings(QDRANT_URL="http://localhost:6333", QDRANT_PATH="var/qdrant")
    assert StoreSettings(QDRANT_URL="http://x:6333").embedded_path is None
    assert str(StoreSettings().embedded_path) == "var/qdrant"
