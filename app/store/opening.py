"""Which engine a configuration opens: Qdrant Edge in-process for a folder (QDRANT_PATH, the
default), qdrant-client for a server (QDRANT_URL)."""

from __future__ import annotations

import logging
from pathlib import Path

from app.config import StoreSettings
from app.store.base import FaqStore, StoreError
from app.store.client_engine import ClientStore
from app.store.edge_engine import EdgeStore, has_edge_store

logger = logging.getLogger(__name__)

# What qdrant-client's local mode writes into its folder (the embedded store of earlier releases).
LEGACY_FILES = ("meta.json", "collection", ".lock")


class StoreNeedsMigration(StoreError):
    """The folder holds a store of an earlier release (qdrant-client's local mode)."""


def has_legacy_store(path: Path) -> bool:
    """True when `path` holds a store written by qdrant-client's local mode."""
    return (path / "meta.json").is_file() and (path / "collection").is_dir()


def open_store(settings: StoreSettings) -> FaqStore:
    if settings.qdrant_url:
        return ClientStore.open(settings)
    path = settings.embedded_path
    assert path is not None  # no URL means an embedded path, by construction of the settings
    if has_legacy_store(path):
        if not has_edge_store(path):
            raise StoreNeedsMigration(
                f"the embedded store at {path} was written by an earlier release (qdrant-client's "
                f"local mode); copy it into Qdrant Edge with `faq migrate-store` (QDRANT_PATH={path}), "
                "which keeps the old files until you pass --remove-old"
            )
        logger.warning(
            "%s still holds the store of an earlier release, already copied into Qdrant Edge; "
            "`faq migrate-store --remove-old` deletes it",
            path,
        )
    if settings.distribution():
        logger.info("ignoring %s: the embedded store has one shard", ", ".join(settings.distribution()))
    return EdgeStore.open_folder(
        path, max_open=settings.edge_open_shards, pool_max_points=settings.edge_pool_max_entries
    )


def scratch_store() -> FaqStore:
    """An empty store of the embedded engine in a temporary folder, removed when closed
    (calibration, evaluation and studies index a FAQ there)."""
    return EdgeStore.temporary()
