"""Upgrading a store written by the earlier release (qdrant-client's local mode at QDRANT_PATH)
to Qdrant Edge: detected at start, copied by `faq migrate-store`, verified, old files kept."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.config import ServiceSettings, StoreSettings
from app.domain.entry import FaqEntry
from app.domain.records import load_faq
from app.encoding.servable import Servable
from app.main import create_app
from app.search.faq_search import FaqSearch
from app.serving.services import Services
from app.store.client_engine import ClientStore
from app.store.edge_engine import EdgeStore
from app.store.migration import MigrationError, migrate_store
from app.store.opening import StoreNeedsMigration, open_store
from app.writes.index_job import index_dataset
from cli.main import app as cli_app
from tests.conftest import MINI_FAQ

QUESTIONS = [
    "How do I reset my password?",
    "what does the pro plan cost",
    "Where is the nearest parcel locker?",  # the live entry added below
    "is there a student discount",
]
LIVE = FaqEntry("Where is the nearest parcel locker?", "Lockers are listed on the map page.", "live", "")


def write_old_release_store(path, servable_dir) -> dict[str, list[str]]:
    """What the earlier release leaves at QDRANT_PATH after `faq index`, a live entry, feedback
    and a recorded question: its engine was qdrant-client's local mode, which ClientStore still
    is. Returns the entries answering QUESTIONS there."""
    servable = Servable.load(servable_dir, device="cpu")
    store = ClientStore.open_folder(path)
    search = FaqSearch(servable, store, "faq")
    services = Services.build(search, ServiceSettings(FAQ_SERVABLE=str(servable_dir)), None)
    try:
        index_dataset(load_faq(MINI_FAQ), search, progress=False)
        (live_id,) = services.entries.add([LIVE])
        services.feedback.record("parcel locker?", live_id, helpful=True)
        services.unanswered.record(
            "do you sell gift cards", 0.1, search.embed_question("do you sell gift cards")
        )
        return {q: [hit.id for hit in search.search(q, top_k=3)] for q in QUESTIONS}
    finally:
        services.close()
        store.close()


def rounded(payload: dict) -> dict:
    # Qdrant Edge reads JSON floats back to within one unit in the last place (see migration.py)
    return {k: float(f"{v:.12g}") if isinstance(v, float) else v for k, v in payload.items()}


def snapshot(store) -> dict:
    return {
        name: {
            p.id: (rounded(dict(p.payload)), {k: len(v) for k, v in p.dense.items()})
            for p in store.points(name)
        }
        for name in store.collection_names()
    }


@pytest.fixture()
def old_store(tmp_path, trained_servable):
    path = tmp_path / "qdrant"
    answers = write_old_release_store(path, trained_servable)
    return path, answers


def test_start_up_names_the_command_and_migration_keeps_everything(old_store, trained_servable):
    path, answers_before = old_store
    settings = ServiceSettings(QDRANT_PATH=str(path), FAQ_SERVABLE=str(trained_servable), DEVICE="cpu")
    with pytest.raises(StoreNeedsMigration, match="faq migrate-store"):
        open_store(settings)
    with TestClient(create_app(settings)) as client:  # the service starts and says what to do
        ready = client.get("/ready")
        assert ready.status_code == 503 and "faq migrate-store" in ready.text

    old = ClientStore.open_folder(path)
    before, aliases = snapshot(old), old.aliases()
    old.close()
    assert {"faq_feedback", "faq_unanswered"} <= set(before) and len(before) >= 3

    result = CliRunner().invoke(cli_app, ["migrate-store", "--path", str(path)])
    assert result.exit_code == 0, result.output
    assert "copied and verified" in result.output and "kept the earlier release's files" in result.output
    assert (path / "meta.json").exists() and (path / "collection").is_dir(), "old files kept"

    store = open_store(settings)
    assert isinstance(store, EdgeStore)
    assert snapshot(store) == before and store.aliases() == aliases, "every point, payload and alias"
    search = FaqSearch(Servable.load(trained_servable, device="cpu"), store, "faq")
    assert {q: [hit.id for hit in search.search(q, top_k=3)] for q in QUESTIONS} == answers_before
    store.close()

    # the service runs on the copy: same answers over HTTP, the live entry and feedback are there
    with TestClient(create_app(settings)) as client:
        assert client.get("/ready").status_code == 200
        hits = client.post("/ask", json={"question": QUESTIONS[2], "top_k": 3}).json()
        shown = [a["id"] for a in hits["answers"]] or [s["id"] for s in hits["suggestions"]]
        assert shown[0] == answers_before[QUESTIONS[2]][0]

    again = CliRunner().invoke(cli_app, ["migrate-store", "--path", str(path), "--remove-old"])
    assert again.exit_code == 0 and "removed the earlier release's files" in again.output
    assert not (path / "meta.json").exists() and not (path / "collection").exists()
    reopened = open_store(settings)
    after = snapshot(reopened)
    asks = after.pop("faq_asks")  # the service logged the question it was asked (insights)
    assert after == before and len(asks) == 1
    reopened.close()


def test_a_failed_verification_leaves_the_old_store_as_the_only_one(old_store, monkeypatch):
    path, _ = old_store

    def corrupt(source, target):
        raise MigrationError("faq_feedback: point x differs from the original")

    # The verification itself is exercised above; here, what a failed one leaves behind.
    monkeypatch.setattr("app.store.migration.verify_copy", corrupt)
    result = CliRunner().invoke(cli_app, ["migrate-store", "--path", str(path)])
    assert result.exit_code != 0 and "old store is untouched" in result.output
    assert not (path / "edge").exists() and not (path / "edge.migrating").exists()
    with pytest.raises(StoreNeedsMigration):
        open_store(StoreSettings(QDRANT_PATH=str(path)))


def test_verification_catches_a_changed_point(old_store, tmp_path):
    path, _ = old_store
    from app.store.migration import copy_store, verify_copy

    source = ClientStore.open_folder(path)
    target = EdgeStore.temporary()
    try:
        copy_store(source, target)
        verify_copy(source, target)
        point = next(iter(target.points("faq_feedback")))
        changed = type(point)(point.id, point.dense, point.sparse, {**point.payload, "helpful": False})
        target.write_points("faq_feedback", [changed])
        with pytest.raises(MigrationError, match=f"faq_feedback: point {point.id} differs"):
            verify_copy(source, target)
    finally:
        source.close()
        target.close()


def test_nothing_to_migrate_is_said(tmp_path):
    result = CliRunner().invoke(cli_app, ["migrate-store", "--path", str(tmp_path / "absent")])
    assert result.exit_code != 0 and "does not exist" in result.output
    (tmp_path / "empty").mkdir()
    with pytest.raises(MigrationError, match="no store of an earlier release"):
        migrate_store(tmp_path / "empty")


def test_commands_on_an_old_store_name_the_migration(tmp_path):
    import numpy as np

    old = ClientStore.open_folder(tmp_path / "qdrant")
    old.add_record("faq_feedback", "6f1c8d1e-4a57-4bb0-9d0e-0c1b2f9b9c11", np.ones(3, np.float32), {"n": 1})
    old.close()
    result = CliRunner().invoke(
        cli_app,
        ["index", "--data", str(MINI_FAQ), "--servable", str(tmp_path / "none")],
        env={"QDRANT_PATH": str(tmp_path / "qdrant"), "FAQ_URL": "http://127.0.0.1:9"},
    )
    assert result.exit_code != 0 and "faq migrate-store" in result.output
    assert "Traceback" not in result.output
