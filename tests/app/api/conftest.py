"""Clients for the route tests.

- `client`: the whole app with its real lifespan, the servable trained on the mini data set
  and an embedded store indexed with it (end to end);
- `fast_client`: the app with its search replaced (FastAPI dependency_overrides) by the base
  encoder over an in-memory store: real HTTP handling, real encoder and Qdrant, no training.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.api.deps import get_search, get_services
from app.config import ServiceSettings
from app.domain.records import load_faq
from app.encoding.servable import Servable
from app.main import create_app
from app.search.faq_search import FaqSearch
from app.serving.services import Services
from app.store.opening import open_store
from app.writes.index_job import index_dataset
from tests.conftest import MINI_FAQ

ADMIN_KEY = "test-admin-key"


def settings_for(servable: Path, qdrant_path: Path | None = None, **extra) -> ServiceSettings:
    values = {"FAQ_SERVABLE": str(servable), "DEVICE": "cpu", **extra}
    if qdrant_path is not None:
        values["QDRANT_PATH"] = str(qdrant_path)
    return ServiceSettings(**values)


# One indexed store per servable for the whole session, copied for each module that asks for
# one: indexing the mini FAQ (loading the servable, encoding, writing) costs seconds, and about
# twenty modules need a store of their own to change.
_INDEXED: dict[Path, Path] = {}


def index_into(path: Path, servable_dir: Path) -> None:
    """A store at `path` holding the mini FAQ indexed with `servable_dir`, as `faq index` writes it."""
    indexed = _INDEXED.get(servable_dir)
    if indexed is None:
        indexed = Path(tempfile.mkdtemp(prefix="indexed-qdrant-"))
        atexit.register(shutil.rmtree, indexed, ignore_errors=True)
        _index(indexed, servable_dir)
        _INDEXED[servable_dir] = indexed
    shutil.copytree(indexed, path, dirs_exist_ok=True)


def _index(path: Path, servable_dir: Path, **settings: str) -> None:
    store = open_store(ServiceSettings(QDRANT_PATH=str(path), **settings))
    try:
        index_dataset(
            load_faq(MINI_FAQ),
            FaqSearch(Servable.load(servable_dir, device="cpu"), store, "faq"),
            progress=False,
        )
    finally:
        store.close()


@pytest.fixture(scope="module")
def indexed_store_path(trained_servable, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("qdrant")
    index_into(path, trained_servable)
    return path


@pytest.fixture(scope="module")
def client(trained_servable, indexed_store_path):
    app = create_app(settings_for(trained_servable, indexed_store_path, ADMIN_API_KEY=ADMIN_KEY))
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def fast_client(base_search, tmp_path_factory):
    root = tmp_path_factory.mktemp("fast")
    app = create_app(settings_for(root / "no-servable", root / "qdrant"))
    with TestClient(app) as test_client:
        services = serve_search(app, base_search)
        yield test_client
        services.close()


def serve_search(app, search: FaqSearch) -> Services:
    """The app's routes on `search` instead of the one its lifespan opened: the search and the
    services built on it, as dependency overrides (close the services after)."""
    services = Services.build(search, app.state.settings, app.state.metrics)
    app.dependency_overrides[get_search] = lambda: search
    app.dependency_overrides[get_services] = lambda: services
    return services


def wait_for_job(client, job: dict, *, faq: str | None = None, headers: dict | None = None) -> dict:
    """The reindex job `job` (as POST /admin/reindex or /admin/import answered) once it has
    finished; it must have succeeded."""
    prefix = f"/faqs/{faq}" if faq else ""
    deadline = time.monotonic() + 120
    while job["status"] == "running" and time.monotonic() < deadline:
        time.sleep(0.1)
        job = client.get(
            f"{prefix}/admin/reindex/{job['id']}", headers=headers or {"X-API-Key": ADMIN_KEY}
        ).json()
    assert job["status"] == "succeeded", job
    return job


@pytest.fixture()
def empty(trained_servable, tmp_path):
    """A service of its own over an empty store, with the admin key."""
    with TestClient(
        create_app(settings_for(trained_servable, tmp_path / "qdrant", ADMIN_API_KEY=ADMIN_KEY))
    ) as client:
        yield client
