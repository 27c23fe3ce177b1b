"""What only the qdrant-client engine does: talk to a server that may be down, and pass
Qdrant's distribution settings to the collections it creates."""

import numpy as np
import pytest
from qdrant_client import QdrantClient

from app.config import StoreSettings
from app.store.base import StoreUnavailable
from app.store.client_engine import ClientStore


def test_server_that_is_down_is_unavailable():
    store = ClientStore.open(StoreSettings(QDRANT_URL="http://127.0.0.1:9"))
    with pytest.raises(StoreUnavailable, match="unreachable"):
        store.collection_info("faq")
    with pytest.raises(StoreUnavailable):
        store.query("faq", np.ones(4, dtype=np.float32), "dense", limit=1)


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
    store = ClientStore(client, embedded=False, description="server", distribution=settings.distribution())
    store.create_version("faq", {"answer": 4})
    (created,) = client.created
    assert (created["shard_number"], created["replication_factor"], created["write_consistency_factor"]) == (
        3,
        2,
        1,
    )

    # local mode has one shard: the settings are ignored, saying so
    embedded = RecordingClient()
    with caplog.at_level("INFO"):
        local = ClientStore(
            embedded, embedded=True, description="embedded", distribution=settings.distribution()
        )
    local.create_version("faq", {"answer": 4})
    assert embedded.created[0]["shard_number"] is None
    assert "ignoring shard_number, replication_factor, write_consistency_factor" in caplog.text
