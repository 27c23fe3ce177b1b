"""What only the embedded engine (Qdrant Edge) does: one process a folder, the alias file that
makes a switch atomic, versions left by a killed job, and the search index built apart."""

from __future__ import annotations

import json

import numpy as np
import pytest

from app.config import StoreSettings
from app.domain.entry import FaqEntry
from app.store import edge_engine
from app.store.base import PARTITION, StoreError, StoreUnavailable, pooled_point_id
from app.store.edge_engine import EdgeStore
from app.store.opening import open_store

ENTRIES = [FaqEntry(f"q{i}", f"answer {i}", "aws" if i % 2 else "gcp") for i in range(3)]
VECTORS = np.eye(3, 4, dtype=np.float32) + 0.01


def build(store, alias: str = "faq") -> str:
    name = store.create_version(alias, {"dense": 4})
    store.upsert(name, ENTRIES, {"dense": VECTORS})
    store.point_alias_to(alias, name)
    return name


def test_persists_and_one_process_holds_the_folder(tmp_path):
    settings = StoreSettings(QDRANT_PATH=str(tmp_path / "qdrant"))
    store = open_store(settings)
    assert isinstance(store, EdgeStore)
    name = build(store)
    store.add_record("faq_feedback", "6f1c8d1e-4a57-4bb0-9d0e-0c1b2f9b9c11", np.ones(3, np.float32), {"n": 1})
    with pytest.raises(StoreUnavailable, match="in use by another process"):
        open_store(settings)
    store.close()  # flushes: nothing is lost without a WAL replay either
    reopened = open_store(settings)
    assert reopened.collection_info("faq").points == 3 and reopened.resolve_alias("faq") == name
    assert [payload for _, payload, _ in reopened.records("faq_feedback")] == [{"n": 1}]
    assert json.loads((tmp_path / "qdrant" / "edge" / "aliases.json").read_text()) == {"faq": name}
    reopened.close()


def test_a_switch_is_one_file_replaced_whole(tmp_path):
    store = EdgeStore.open_folder(tmp_path)
    first = build(store)
    second = build(store)
    aliases_file = tmp_path / "edge" / "aliases.json"
    assert json.loads(aliases_file.read_text()) == {"faq": second}
    # a write that died before its rename leaves a temporary file, never a torn aliases.json
    (aliases_file.parent / ".aliases.json.dead").write_text('{"faq": "')
    store.close()
    store = EdgeStore.open_folder(tmp_path)
    assert store.resolve_alias("faq") == second and store.orphan_versions("faq") == [first]
    store.close()


def test_a_killed_jobs_version_is_dropped_at_start(tmp_path, trained_servable):
    from fastapi.testclient import TestClient

    from app.config import ServiceSettings
    from app.main import create_app

    store = EdgeStore.open_folder(tmp_path)
    live = build(store)
    half = store.create_version("faq", {"dense": 4})  # a job killed while writing it
    store.upsert(half, ENTRIES[:1], {"dense": VECTORS[:1]})
    store.close()
    # and one killed while creating its shard: a folder without its layout
    (tmp_path / "edge" / "collections" / "faq_v20260101T000000_dead00" / "shard").mkdir(parents=True)
    settings = ServiceSettings(QDRANT_PATH=str(tmp_path), FAQ_SERVABLE=str(trained_servable), DEVICE="cpu")
    with TestClient(create_app(settings)) as client:
        assert client.get("/ready").json()["unfinished_versions"] == []
    store = EdgeStore.open_folder(tmp_path)
    assert store.versions("faq") == [live] and store.count(live) == 3
    store.close()


def test_seal_builds_the_graph_of_a_large_version_in_another_process(tmp_path, monkeypatch):
    monkeypatch.setattr(edge_engine, "EXACT_SEARCH_POINTS", 200)  # a graph from 200 points on
    store = EdgeStore.open_folder(tmp_path)
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(1500, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    entries = [FaqEntry(f"question {i}", f"answer {i}") for i in range(1500)]
    store.pool_max_points = 1000  # a version of 1,500 entries gets a shard of its own
    name = store.create_version("faq", {"dense": 32}, expected_points=len(entries))
    store.upsert(name, entries, {"dense": vectors})
    handle = store._handle(name)
    assert handle.partition is None
    assert handle.edge.info().indexed_vectors_count == 0
    store.seal(name)
    store.point_alias_to("faq", name)
    assert store._handle(name).edge.info().indexed_vectors_count >= 1500, "HNSW built"
    # approximate search still finds the exact nearest neighbours here
    exact = np.argsort(-(vectors @ vectors[7]))[:10]
    found = [p.id for p in store.query("faq", vectors[7], "dense", limit=10)]
    assert found[0] == entries[7].id
    assert len(set(found) & {entries[i].id for i in exact}) >= 9
    store.close()


def test_distribution_settings_are_ignored_by_the_embedded_store_saying_so(tmp_path, caplog):
    settings = StoreSettings(QDRANT_PATH=str(tmp_path), FAQ_SHARD_NUMBER="3", FAQ_REPLICATION_FACTOR="2")
    with caplog.at_level("INFO"):
        store = open_store(settings)
    assert isinstance(store, EdgeStore)
    assert "ignoring shard_number, replication_factor: the embedded store has one shard" in caplog.text
    store.close()


def test_queries_through_the_alias_survive_switches_that_drop_the_old_version(tmp_path):
    """An index job drops the version it replaced right after the switch; a query that read the
    alias just before must find the new version, not fail (seen as 503s under load)."""
    import threading

    store = EdgeStore.open_folder(tmp_path)
    build(store)
    failures: list[Exception] = []
    answered = 0
    stop = threading.Event()

    def ask() -> None:
        nonlocal answered
        while not stop.is_set():
            try:
                assert store.query("faq", VECTORS[0], "dense", limit=1)[0].id == ENTRIES[0].id
                store.collection_info("faq")
                answered += 1
            except Exception as exc:  # noqa: BLE001 - every failure is the finding
                failures.append(exc)

    asker = threading.Thread(target=ask)
    asker.start()
    try:
        for _ in range(40):
            old = store.resolve_alias("faq")
            build(store)
            store.drop(old)
    finally:
        stop.set()
        asker.join()
    store.close()
    assert failures == [] and answered > 0


def test_beyond_max_open_the_least_recently_used_shards_close_and_reopen_when_asked(tmp_path):
    """A store of many FAQs keeps at most `max_open` shards open (each holds memory maps and
    memory), whatever is asked, from several threads at once; a closed one answers as before."""
    import threading

    store = EdgeStore.open_folder(tmp_path, max_open=4, pool_max_points=0)  # a shard each
    aliases = [f"faq--t{i}" for i in range(12)]
    for alias in aliases:
        build(store, alias)
    assert len(store._open) <= 4
    failures: list[Exception] = []

    def ask(offset: int) -> None:
        for _ in range(2):
            for alias in aliases[offset:] + aliases[:offset]:
                try:
                    assert store.query(alias, VECTORS[1], "dense", limit=1)[0].id == ENTRIES[1].id
                    assert store.collection_info(alias).points == 3
                except Exception as exc:  # noqa: BLE001 - every failure is the finding
                    failures.append(exc)
            assert len(store._open) <= 4 + 3  # in use by the three threads at most

    threads = [threading.Thread(target=ask, args=(i * 5,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(store._open) <= 4
    store.close()
    reopened = EdgeStore.open_folder(tmp_path, max_open=4, pool_max_points=0)
    assert [reopened.collection_info(a).points for a in aliases] == [3] * 12  # nothing lost
    reopened.close()


def pool_points(store: EdgeStore) -> int:
    """Every point in the store's pools, whatever collection it belongs to."""
    total = 0
    for folder in (store.root / "pools").iterdir():
        total += store._opened(store._key(folder)).edge.count(edge_engine.qe.CountRequest(exact=True))
    return total


def test_small_collections_share_one_shard_each_seeing_only_its_own_points(tmp_path):
    """Payload partitioning: the versions of many small FAQs are partitions of one pool shard,
    their records of another; the same entries in two FAQs (and two versions) are two points,
    each FAQ's queries, pages, counts, facets and ids see its own, and nothing else."""
    store = EdgeStore.open_folder(tmp_path, max_open=4)
    aliases = [f"faq--t{i}" for i in range(30)]
    for alias in aliases:
        build(store, alias)
        store.add_record(
            f"{alias}_asks", "6f1c8d1e-4a57-4bb0-9d0e-0c1b2f9b9c11", np.ones(3, np.float32), {"a": alias}
        )
    build(store, aliases[0])  # a second version of one FAQ, the same entries
    assert sorted(p.name.split("-")[0] for p in (tmp_path / "edge" / "pools").iterdir()) == [
        "entries",
        "records",
    ]
    assert len(store._open) == 2, "two shards open for 30 FAQs"
    assert pool_points(store) == 31 * 3 + 30
    other = FaqEntry("only in t7", "its answer", "azure")
    store.upsert(store.resolve_alias("faq--t7"), [other], {"dense": np.ones((1, 4), np.float32) / 2})
    for alias in aliases:
        found = store.query(alias, VECTORS[1], "dense", limit=10, with_entries=True)
        extra = [other.id] if alias == "faq--t7" else []
        assert sorted(p.id for p in found) == sorted([e.id for e in ENTRIES] + extra), alias
        assert found[0].id == ENTRIES[1].id and found[0].entry == ENTRIES[1]
        assert store.collection_info(alias).points == 3 + len(extra)
        assert store.source_counts(alias) == {"aws": 1, "gcp": 2, **({"azure": 1} if extra else {})}
        assert [p for _, p, _ in store.records(f"{alias}_asks")] == [{"a": alias}]
    assert store.entries("faq--t3", [other.id, ENTRIES[0].id]) == {ENTRIES[0].id: ENTRIES[0]}
    page, cursor = store.scroll_entries("faq--t7", limit=2)
    rest, end = store.scroll_entries("faq--t7", limit=10, cursor=cursor)
    assert end is None and sorted(i for i, _ in page + rest) == sorted([e.id for e in ENTRIES] + [other.id])
    store.close()
    reopened = EdgeStore.open_folder(tmp_path)
    assert [reopened.collection_info(a).points for a in aliases[:3]] == [3, 3, 3]  # kept on disk
    reopened.close()


def test_a_pooled_drop_deletes_its_points_and_one_cut_short_is_finished_at_the_next_start(tmp_path):
    store = EdgeStore.open_folder(tmp_path)
    first, second = build(store, "faq--a"), build(store, "faq--b")
    store.add_record("faq--a_asks", "6f1c8d1e-4a57-4bb0-9d0e-0c1b2f9b9c11", np.ones(3, np.float32), {"n": 1})
    store.drop(first)
    assert pool_points(store) == 3 + 1 and store.collection_names() == ["faq--a_asks", second]
    assert store.resolve_alias("faq--a") is None
    # a process that died in a drop: renamed, its points not deleted yet
    collections = tmp_path / "edge" / "collections"
    (collections / second).rename(collections / f".dropping-{second}")
    store.close()
    store = EdgeStore.open_folder(tmp_path)
    assert pool_points(store) == 1 and store.collection_names() == ["faq--a_asks"]
    assert not any(p.name.startswith(".dropping-") for p in collections.iterdir())
    store.close()


def test_a_large_version_gets_a_shard_of_its_own(tmp_path):
    store = EdgeStore.open_folder(tmp_path, pool_max_points=2)
    small = store.create_version("faq--s", {"dense": 4}, expected_points=2)
    large = store.create_version("faq--l", {"dense": 4}, expected_points=3)
    assert store.layout(small).pooled and not store.layout(large).pooled
    assert (tmp_path / "edge" / "collections" / large / "shard").is_dir()
    assert not (tmp_path / "edge" / "collections" / small / "shard").exists()
    store.close()


def test_a_store_of_the_release_before_pools_opens_and_one_of_a_later_format_is_refused(tmp_path):
    store = EdgeStore.open_folder(tmp_path, pool_max_points=0)  # written as the earlier release did
    name = build(store)
    store.add_record("faq_feedback", "6f1c8d1e-4a57-4bb0-9d0e-0c1b2f9b9c11", np.ones(3, np.float32), {"n": 1})
    store.close()
    marker = tmp_path / "edge" / "store.json"
    marker.write_text(json.dumps({"engine": "qdrant-edge", "format": 1}))
    store = EdgeStore.open_folder(tmp_path)
    assert store.resolve_alias("faq") == name and store.collection_info("faq").points == 3
    assert not store.layout(name).pooled and [p for _, p, _ in store.records("faq_feedback")] == [{"n": 1}]
    assert json.loads(marker.read_text())["format"] == 2
    newer = build(store)  # the next version of the FAQ is pooled
    assert store.layout(newer).pooled and store.collection_info("faq").points == 3
    store.close()
    marker.write_text(json.dumps({"engine": "qdrant-edge", "format": 3}))
    with pytest.raises(StoreError, match="format 3; this release reads 1, 2"):
        EdgeStore.open_folder(tmp_path)


def test_the_space_of_deleted_points_is_given_back_when_the_store_is_opened(tmp_path, monkeypatch):
    """Each reindex of a pooled FAQ deletes its old version's points; Edge keeps their space
    until its optimiser runs, which the store does when it is opened."""
    from benchmarks.store_scale import _disk_mb

    monkeypatch.setattr(edge_engine, "VACUUM_MIN_DELETED", 50)
    store = EdgeStore.open_folder(tmp_path)
    rng = np.random.default_rng(0)
    entries = [FaqEntry(f"question {i} {'q' * 80}", f"answer {'a' * 600}") for i in range(20)]
    for _ in range(40):
        name = store.create_version("faq--x", {"dense": 256}, expected_points=20)
        store.upsert(name, entries, {"dense": rng.normal(size=(20, 256)).astype(np.float32)})
        old = store.point_alias_to("faq--x", name)
        if old:
            store.drop(old)
    pool = next((tmp_path / "edge" / "pools").iterdir())
    assert json.loads((pool / "pool.json").read_text())["deleted"] == 39 * 20 == 780
    store.close()
    grown = _disk_mb(pool)
    monkeypatch.setattr(edge_engine, "VACUUM_MIN_DELETED", 1000)  # not yet: nothing changes
    EdgeStore.open_folder(tmp_path).close()
    assert _disk_mb(pool) == grown and json.loads((pool / "pool.json").read_text())["deleted"] == 780
    monkeypatch.setattr(edge_engine, "VACUUM_MIN_DELETED", 50)
    store = EdgeStore.open_folder(tmp_path)
    assert json.loads((pool / "pool.json").read_text())["deleted"] == 0
    # the 780 deleted points held about 1.3 MB (a 1 KB vector and a 0.7 KB payload each)
    assert _disk_mb(pool) < grown - 0.8, (grown, _disk_mb(pool))
    assert store.collection_info("faq--x").points == 20
    assert store.query("faq--x", np.ones(256, np.float32), "dense", limit=30)[0].id in {e.id for e in entries}
    store.close()


def test_a_collection_made_again_under_a_dropped_ones_name_never_meets_its_points(tmp_path):
    """A FAQ deleted and created again under its name while the old drop's delete has not run
    yet (another thread): the new collection is tagged apart, sees none of the old points, and
    the old drop's delete leaves its points alone."""
    store = EdgeStore.open_folder(tmp_path)
    one = np.ones(3, np.float32)
    record_id = "6f1c8d1e-4a57-4bb0-9d0e-0c1b2f9b9c11"
    store.add_record("faq--hr_asks", record_id, one, {"n": "old"})
    old_tag = store._partitions["faq--hr_asks"]
    pool = json.loads((tmp_path / "edge" / "collections" / "faq--hr_asks" / "layout.json").read_text())[
        "pool"
    ]
    store.drop("faq--hr_asks")
    store.add_record("faq--hr_asks", record_id, one, {"n": "new"})
    assert store._partitions["faq--hr_asks"] != old_tag
    # the old point as it would still be there before the old drop's delete ran
    shard = store._opened(f"pools/{pool}")
    old_point = edge_engine.qe.Point(
        pooled_point_id(old_tag, record_id), [1.0, 1.0, 1.0], {"n": "old", PARTITION: old_tag}
    )
    shard.edge.update(edge_engine.qe.UpdateOperation.upsert_points([old_point]))
    assert [p for _, p, _ in store.records("faq--hr_asks")] == [{"n": "new"}]
    store._delete_partition(old_tag, pool)  # the old drop's delete, late
    assert [p for _, p, _ in store.records("faq--hr_asks")] == [{"n": "new"}] and pool_points(store) == 1
    store.close()
