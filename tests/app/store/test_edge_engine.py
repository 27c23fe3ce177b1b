"""What only the embedded engine (Qdrant Edge) does: one process a folder, the alias file that
makes a switch atomic, versions left by a killed job, and the search index built apart."""

from __future__ import annotations

import json

import numpy as np
import pytest

from app.config import StoreSettings
from app.domain.entry import FaqEntry
from app.store import edge_engine
from app.store.base import StoreUnavailable
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
    name = store.create_version("faq", {"dense": 32})
    store.upsert(name, entries, {"dense": vectors})
    handle = store._handle(name)
    assert handle.shard.info().indexed_vectors_count == 0
    store.seal(name)
    store.point_alias_to("faq", name)
    assert store._handle(name).shard.info().indexed_vectors_count >= 1500, "HNSW built"
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

    store = EdgeStore.open_folder(tmp_path, max_open=4)
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
    reopened = EdgeStore.open_folder(tmp_path, max_open=4)
    assert [reopened.collection_info(a).points for a in aliases] == [3] * 12  # nothing lost
    reopened.close()
