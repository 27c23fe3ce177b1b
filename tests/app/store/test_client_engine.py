import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from app.config import StoreSettings
from app.domain.entry import FaqEntry
from app.store.base import CollectionMissing, MissingVector, StoreUnavailable
from app.store.client_engine import FaqStore

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
    name = store.create_version(alias, {"dense": 4})
    store.upsert(name, ENTRIES, {"dense": VECTORS})
    store.point_alias_to(alias, name)
    return name


def test_query_through_the_alias_best_first(store):
    name = build(store)
    points = store.query("faq", VECTORS[1], "dense", limit=3, with_entries=True)
    assert points[0].id == ENTRIES[1].id and points[0].entry == ENTRIES[1]
    assert points[0].score > points[1].score >= points[2].score
    bare = store.query("faq", VECTORS[1], "dense", limit=3)
    assert [p.id for p in bare] == [p.id for p in points] and bare[0].entry is None
    info = store.collection_info("faq")
    assert (info.collection, info.points, info.vectors) == (name, 3, ("dense",))


def test_filter_by_source(store):
    build(store)
    points = store.query("faq", VECTORS[1], "dense", limit=3, source="aws", with_entries=True)
    assert {p.entry.source for p in points if p.entry} == {"aws"} and len(points) == 2


def test_entries_are_fetched_by_id(store):
    build(store)
    found = store.entries("faq", [ENTRIES[2].id, FaqEntry("nope", "nope").id])
    assert found == {ENTRIES[2].id: ENTRIES[2]}
    assert store.entries("faq", []) == {}


def test_upserting_the_same_entries_twice_changes_nothing(store):
    name = build(store)
    store.upsert(name, ENTRIES, {"dense": VECTORS})
    assert store.count(name) == 3


def test_sparse_vectors_with_idf(store):
    name = store.create_version("faq", {"dense": 4}, sparse=["words"])
    words = [
        models.SparseVector(indices=[1, 2], values=[1.0, 1.0]),
        models.SparseVector(indices=[2], values=[1.0]),
    ]
    store.upsert(name, ENTRIES[:2], {"dense": VECTORS[:2], "words": words})
    store.point_alias_to("faq", name)
    assert store.collection_info("faq").vectors == ("dense", "words")
    points = store.query("faq", models.SparseVector(indices=[1], values=[1.0]), "words", limit=2)
    assert [p.id for p in points] == [ENTRIES[0].id]


def test_alias_swap_returns_the_previous_version(store):
    first = build(store)
    second = store.create_version("faq", {"dense": 4})
    store.upsert(second, ENTRIES[:1], {"dense": VECTORS[:1]})
    assert store.point_alias_to("faq", second) == first
    assert store.resolve_alias("faq") == second
    assert store.collection_info("faq").points == 1
    assert set(store.versions("faq")) == {first, second}


def test_missing_collection_and_vector_are_reported(store):
    with pytest.raises(CollectionMissing, match="faq index"):
        store.query("faq", VECTORS[0], "dense", limit=1)
    with pytest.raises(CollectionMissing):
        store.collection_info("faq")
    build(store)
    with pytest.raises(MissingVector, match="no 'question' vectors"):
        store.query("faq", VECTORS[0], "question", limit=1)


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
        store.query("faq", VECTORS[0], "dense", limit=1)


class RecordingClient(QdrantClient):
    """qdrant-client's own in-memory client, recording the arguments of create_collection (the
    distribution settings only mean something to a server cluster, which these machines lack)."""

    def __init__(self) -> None:
        super().__init__(location=":memory:")
        self.created: list[dict] = []

    def create_collection(self, collection_name, **kwargs):  # type: ignore[override]
        self.created.append({"name": collection_name, **kwargs})
        return super().create_collection(collection_name, **kwargs)


def test_distribution_settings_reach_create_collection_on_a_server(caplog):
    settings = StoreSettings(
        QDRANT_URL="http://qdrant-node1:6333",
        FAQ_SHARD_NUMBER="3",
        FAQ_REPLICATION_FACTOR="2",
        FAQ_WRITE_CONSISTENCY_FACTOR="1",
    )
    client = RecordingClient()
    store = FaqStore(client, embedded=False, description="server", distribution=settings.distribution())
    store.create_version("faq", {"answer": 4})
    (created,) = client.created
    assert (created["shard_number"], created["replication_factor"], created["write_consistency_factor"]) == (
        3,
        2,
        1,
    )

    # the embedded store has one shard: the settings are ignored, saying so
    embedded = RecordingClient()
    with caplog.at_level("INFO"):
        local = FaqStore(
            embedded, embedded=True, description="embedded", distribution=settings.distribution()
        )
    local.create_version("faq", {"answer": 4})
    assert embedded.created[0]["shard_number"] is None
    assert "ignoring shard_number, replication_factor, write_consistency_factor" in caplog.text
