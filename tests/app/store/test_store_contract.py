"""The store's contract: every operation the service uses, run against each engine. Qdrant Edge
(the embedded default), qdrant-client's local mode in memory (standing in for a server's API,
which these machines cannot run), and a real Qdrant server when QDRANT_TEST_URL is set."""

import os
import uuid

import numpy as np
import pytest
from qdrant_client import models

from app.config import StoreSettings
from app.domain.entry import FaqEntry
from app.store.base import CONTENT_ID, CollectionMissing, FaqStore, MissingVector, payload_time
from app.store.client_engine import ClientStore
from app.store.edge_engine import EdgeStore

ENTRIES = [
    FaqEntry("q1", "answer one", "aws", "f1"),
    FaqEntry("q2", "answer two", "gcp", "f2"),
    FaqEntry("q3", "answer three", "aws", "f3"),
]
VECTORS = np.eye(3, 4, dtype=np.float32) + 0.01
QDRANT_TEST_URL = os.environ.get("QDRANT_TEST_URL")
ENGINES = [
    "edge",  # small collections pooled, as by default
    "edge-own-shards",  # every collection a shard of its own (FAQ_EDGE_POOL_MAX_ENTRIES=0)
    "local-mode",
    pytest.param(
        "server",
        marks=pytest.mark.skipif(
            not QDRANT_TEST_URL,
            reason="QDRANT_TEST_URL is not set: no Qdrant server to run the contract against",
        ),
    ),
]


@pytest.fixture(params=ENGINES)
def store(request):
    if request.param == "edge":
        store: FaqStore = EdgeStore.temporary()
    elif request.param == "edge-own-shards":
        store = EdgeStore.temporary()
        store.pool_max_points = 0
    elif request.param == "local-mode":
        store = ClientStore.in_memory()
    else:
        store = ClientStore.open(StoreSettings(QDRANT_URL=str(QDRANT_TEST_URL)))
    before = set(store.collection_names())
    yield store
    for name in set(store.collection_names()) - before:  # a server outlives the test
        store.drop(name)
    store.close()


@pytest.fixture()
def alias() -> str:
    """A name of its own a test (a shared server holds other tests' collections too)."""
    return f"faq{uuid.uuid4().hex[:8]}"


def _by_id(point) -> str:
    return point.id


def build(store: FaqStore, alias: str) -> str:
    name = store.create_version(alias, {"dense": 4})
    store.upsert(name, ENTRIES, {"dense": VECTORS})
    store.seal(name)
    store.point_alias_to(alias, name)
    return name


def test_query_through_the_alias_best_first(store, alias):
    name = build(store, alias)
    points = store.query(alias, VECTORS[1], "dense", limit=3, with_entries=True)
    assert points[0].id == ENTRIES[1].id and points[0].entry == ENTRIES[1]
    assert points[0].score > points[1].score >= points[2].score
    assert points[0].score == pytest.approx(float(VECTORS[1] @ VECTORS[1]), rel=1e-5), "dot product"
    bare = store.query(alias, VECTORS[1], "dense", limit=3)
    assert [p.id for p in bare] == [p.id for p in points] and bare[0].entry is None
    info = store.collection_info(alias)
    assert (info.collection, info.points, info.vectors) == (name, 3, ("dense",))
    assert store.count(name) == 3


def test_batch_query_with_a_filter_each(store, alias):
    build(store, alias)
    results = store.query_batch(
        alias, [VECTORS[0], VECTORS[1], VECTORS[1]], "dense", limit=3, sources=[None, "aws", "gcp"]
    )
    assert [len(r) for r in results] == [3, 2, 1]
    assert results[0][0].id == ENTRIES[0].id and results[2][0].id == ENTRIES[1].id
    assert {p.id for p in results[1]} == {ENTRIES[0].id, ENTRIES[2].id}


def test_filter_by_source_and_facet(store, alias):
    build(store, alias)
    points = store.query(alias, VECTORS[1], "dense", limit=3, source="aws", with_entries=True)
    assert {p.entry.source for p in points if p.entry} == {"aws"} and len(points) == 2
    assert store.source_counts(alias) == {"aws": 2, "gcp": 1}


def test_entries_are_fetched_by_id_and_paged_each_once(store, alias):
    build(store, alias)
    found = store.entries(alias, [ENTRIES[2].id, FaqEntry("nope", "nope").id])
    assert found == {ENTRIES[2].id: ENTRIES[2]}
    assert store.entries(alias, []) == {}
    first, cursor = store.scroll_entries(alias, limit=2)
    assert len(first) == 2 and cursor is not None
    rest, end = store.scroll_entries(alias, limit=2, cursor=cursor)
    assert end is None and len(rest) == 1
    # in the store's order of its point ids (a pool's are the entries' ids masked): each once
    ids = [point_id for point_id, _ in [*first, *rest]]
    assert sorted(ids) == sorted(e.id for e in ENTRIES)
    aws, _ = store.scroll_entries(alias, source="aws")
    assert sorted(entry.question for _, entry in aws) == ["q1", "q3"]


def test_upsert_is_idempotent_and_edits_keep_their_id(store, alias):
    name = build(store, alias)
    store.upsert(name, ENTRIES, {"dense": VECTORS})
    assert store.count(name) == 3
    edited = FaqEntry("q1 edited", "answer one, edited", "aws", "f1")
    store.upsert(name, [edited], {"dense": VECTORS[:1]}, ids=[ENTRIES[0].id])
    assert store.count(name) == 3
    assert store.entries(alias, [ENTRIES[0].id]) == {ENTRIES[0].id: edited}
    # the content id travels in the payload: the edited content is found under the old point id
    assert store.ids_holding(alias, [edited, ENTRIES[1], FaqEntry("x", "y")]) == {
        edited.id: ENTRIES[0].id,
        ENTRIES[1].id: ENTRIES[1].id,
    }
    assert CONTENT_ID == "content_id"


def test_delete_points(store, alias):
    name = build(store, alias)
    store.delete_points(name, [ENTRIES[1].id])
    assert store.count(name) == 2
    assert store.entries(alias, [ENTRIES[1].id]) == {}
    assert store.source_counts(alias) == {"aws": 2}


def test_stored_vectors_and_metadata(store, alias):
    name = build(store, alias)
    entries, vectors = store.stored_vectors(name, ["dense"], page=2)
    assert sorted(e.question for e in entries) == ["q1", "q2", "q3"]
    order = {e.id: i for i, e in enumerate(ENTRIES)}
    rows = [order[e.id] for e in entries]
    np.testing.assert_allclose(vectors["dense"], VECTORS[rows], rtol=1e-6)
    assert store.metadata(name) == {}
    store.set_metadata(name, {"decision": {"answer_score": 0.5}})
    store.set_metadata(name, {"other": 1})
    assert store.metadata(name) == {"decision": {"answer_score": 0.5}, "other": 1}
    assert store.metadata(alias) == store.metadata(name), "through the alias: the version it points at"


def test_sparse_vectors_with_idf(store, alias):
    name = store.create_version(alias, {"dense": 4}, sparse=["words"])
    words = [
        models.SparseVector(indices=[1, 2], values=[1.0, 1.0]),
        models.SparseVector(indices=[2], values=[1.0]),
    ]
    store.upsert(name, ENTRIES[:2], {"dense": VECTORS[:2], "words": words})
    store.point_alias_to(alias, name)
    assert store.collection_info(alias).vectors == ("dense", "words")
    points = store.query(alias, models.SparseVector(indices=[1], values=[1.0]), "words", limit=2)
    assert [p.id for p in points] == [ENTRIES[0].id]
    # a rare word outweighs a common one (IDF): index 1 is in one point, index 2 in both
    both = store.query(alias, models.SparseVector(indices=[1, 2], values=[1.0, 1.0]), "words", limit=2)
    assert both[0].id == ENTRIES[0].id and both[0].score > both[1].score


def test_versions_switch_and_drop(store, alias):
    first = build(store, alias)
    second = store.create_version(alias, {"dense": 4})
    assert store.orphan_versions(alias) == [second], "a version being built is not served"
    assert store.collection_info(alias).collection == first
    store.upsert(second, ENTRIES[:1], {"dense": VECTORS[:1]})
    assert store.point_alias_to(alias, second) == first
    assert store.resolve_alias(alias) == second
    assert store.collection_info(alias).points == 1
    assert store.versions(alias) == [first, second], "oldest first, even built back to back"
    assert store.orphan_versions(alias) == [first]
    store.drop(first)
    assert store.versions(alias) == [second]
    assert store.aliases()[alias] == second
    # versions built within one second (a staged reindex, then an import) list in that order
    quick = [store.create_version(alias, {"dense": 4}) for _ in range(5)]
    assert store.versions(alias) == [second, *quick]


def test_missing_collection_and_vector_are_reported(store, alias):
    with pytest.raises(CollectionMissing, match="faq index"):
        store.query(alias, VECTORS[0], "dense", limit=1)
    with pytest.raises(CollectionMissing):
        store.collection_info(alias)
    assert store.resolve_alias(alias) is None
    build(store, alias)
    with pytest.raises(MissingVector, match="no 'question' vectors"):
        store.query(alias, VECTORS[0], "question", limit=1)


def test_records_state_and_leases(store, alias):
    log = f"{alias}_log"
    assert list(store.records(log)) == [] and store.get_state(log, str(uuid.uuid4())) is None
    ids = [str(uuid.uuid4()) for _ in range(3)]
    for i, record_id in enumerate(ids):
        store.add_record(log, record_id, np.array([1.0, float(i), 0.0], dtype=np.float32), {"n": i})
    got = sorted(store.records(log, with_vectors=True, page=2), key=lambda r: r[1]["n"])
    assert [(r[0], r[1]) for r in got] == [(ids[i], {"n": i}) for i in range(3)]
    assert got[1][2] is not None and got[1][2].shape == (3,)
    # record vectors are compared by cosine: stored at unit length
    assert np.linalg.norm(got[1][2]) == pytest.approx(1.0, rel=1e-5)
    assert all(vector is None for _, _, vector in store.records(log))
    store.delete_points(log, ids[:1])
    assert len(list(store.records(log))) == 2

    jobs, lease = f"{alias}_jobs", str(uuid.uuid4())
    store.put_state(jobs, ids[0], {"status": "running"})
    assert store.get_state(jobs, ids[0]) == {"status": "running"}
    assert store.take_lease(jobs, lease, "a", now=100.0, ttl=30) is None
    assert store.take_lease(jobs, lease, "b", now=110.0, ttl=30) == "a", "held"
    store.renew_lease(jobs, lease, "a", now=125.0)
    assert store.take_lease(jobs, lease, "b", now=150.0, ttl=30) == "a", "renewed at 125"
    store.renew_lease(jobs, lease, "b", now=150.0)  # not the holder: changes nothing
    assert store.take_lease(jobs, lease, "b", now=160.0, ttl=30) is None, "expired at 155"
    store.release_lease(jobs, lease, "a")  # not the holder any more: changes nothing
    assert store.take_lease(jobs, lease, "c", now=161.0, ttl=30) == "b"
    store.release_lease(jobs, lease, "b")
    assert store.take_lease(jobs, lease, "c", now=162.0, ttl=30) is None


def test_payload_times_come_back_as_written_and_in_order(store, alias):
    # A full-precision time.time() came back one ulp off from Qdrant Edge now and then, so a key
    # record read from the store was not equal to the one made (a CI failure).
    times = [payload_time() for _ in range(300)]
    assert all(a < b for a, b in zip(times, times[1:], strict=False)), "strictly increasing"
    name = f"{alias}_times"
    store.add_records(
        name, [(str(uuid.uuid4()), np.array([0.0, 0.0, 1.0], dtype=np.float32), {"at": t}) for t in times]
    )
    assert sorted(payload["at"] for _, payload, _ in store.records(name)) == times


def test_a_store_copies_into_another_engine(store, alias):
    """layout, points and write_points: what `faq migrate-store` copies a store with."""
    name = store.create_version(alias, {"dense": 4}, sparse=["words"])
    words = [models.SparseVector(indices=[i, 7], values=[1.0, 0.5]) for i in range(3)]
    store.upsert(name, ENTRIES, {"dense": VECTORS, "words": words})
    store.set_metadata(name, {"decision": {"answer_score": 0.4}})
    store.point_alias_to(alias, name)
    store.add_record(f"{alias}_log", str(uuid.uuid4()), np.array([3.0, 4.0], dtype=np.float32), {"q": "x"})
    assert {name, f"{alias}_log"} <= set(store.collection_names())

    target = EdgeStore.temporary()
    try:
        for collection in (name, f"{alias}_log"):
            layout = store.layout(collection)
            target.create_collection(layout)
            target.write_points(collection, list(store.points(collection, page=2)))
            assert target.layout(collection) == layout
            # the same points (each engine lists them in the order of its own ids)
            assert sorted(target.points(collection), key=_by_id) == sorted(
                store.points(collection), key=_by_id
            )
        target.point_alias_to(alias, name)
        assert store.layout(name).dense == {"dense": 4} and store.layout(name).sparse == ("words",)
        assert store.layout(f"{alias}_log").distance == "cosine"
        assert target.query(alias, VECTORS[2], "dense", limit=1)[0].id == ENTRIES[2].id
        assert target.metadata(name) == {"decision": {"answer_score": 0.4}}
    finally:
        target.close()


def test_multivectors_score_each_point_by_its_best_row(store, alias):
    """Alternate wordings: a point holds any number of rows (none: no such vector), a query of
    one row scores a point by its best row (max-sim), and the rows survive a copy."""
    name = store.create_version(alias, {"dense": 4}, multi={"rows": 4})
    rows = [VECTORS[[1, 2]], np.zeros((0, 4), np.float32), VECTORS[[0]]]
    store.upsert(name, ENTRIES, {"dense": VECTORS, "rows": rows})
    store.point_alias_to(alias, name)
    found = store.query(alias, VECTORS[2][None, :], "rows", limit=3)
    assert [p.id for p in found] == [ENTRIES[0].id, ENTRIES[2].id], "the point without rows is not found"
    assert found[0].score == pytest.approx(float(VECTORS[2] @ VECTORS[2]), rel=1e-5)
    assert store.layout(name).multi == ("rows",) and store.collection_info(alias).vectors == ("dense", "rows")
    # metadata set afterwards (as the index job sets the decision rule) keeps the layout whole
    store.set_metadata(name, {"decision": {"answer_score": 0.5}})
    assert (
        store.layout(name).multi == ("rows",)
        and store.layout(name).metadata["decision"]["answer_score"] == 0.5
    )
    target = EdgeStore.temporary()
    try:
        target.create_collection(store.layout(name))
        target.write_points(name, list(store.points(name)))
        assert sorted(target.points(name), key=_by_id) == sorted(store.points(name), key=_by_id)
    finally:
        target.close()


def test_records_in_bulk_counted_by_a_key(store, alias):
    """What the ask log needs: many records in one write, and counts by a payload key among
    those matching other keys (a facet), read from keyword indexes."""
    name = f"{alias}_asks"
    one = np.ones(1, dtype=np.float32)
    rows = [
        (str(uuid.uuid4()), one, {"date": f"2026-11-{day:02d}", "status": status, "top_id": top})
        for day, status, top in [
            (1, "answered", "a"),
            (1, "clarify", "b"),
            (2, "answered", "a"),
            (2, "answered", "c"),
        ]
    ]
    assert store.count_records(name, "date") == {}, "no collection yet: nothing counted"
    store.add_records(name, rows)
    store.index_records(name, ["date", "status", "top_id"])
    store.index_records(name, ["date"])  # idempotent
    assert store.count_records(name, "date") == {"2026-11-01": 2, "2026-11-02": 2}
    answered = store.count_records(name, "top_id", where={"status": ["answered"]})
    assert answered == {"a": 2, "c": 1}
    assert store.count_records(name, "status", where={"date": ["2026-11-02"], "top_id": ["a", "c"]}) == {
        "answered": 2
    }
    assert len(list(store.records(name))) == 4


def test_records_of_several_collections_in_one_write(store, alias):
    """The ask logs of many FAQs written together: each record lands in its own collection,
    whether the collection existed or is made by its first records."""
    one = np.ones(1, dtype=np.float32)
    existing, new = f"{alias}--a_asks", f"{alias}--b_asks"
    store.add_records(existing, [(str(uuid.uuid4()), one, {"n": 0})])
    batches = {
        existing: [(str(uuid.uuid4()), one, {"n": i}) for i in range(1, 4)],
        new: [(str(uuid.uuid4()), one, {"n": 10})],
        f"{alias}--c_asks": [],
    }
    store.add_records_to(batches)
    assert sorted(p["n"] for _, p, _ in store.records(existing)) == [0, 1, 2, 3]
    assert [p for _, p, _ in store.records(new)] == [{"n": 10}]
    assert list(store.records(f"{alias}--c_asks")) == []
