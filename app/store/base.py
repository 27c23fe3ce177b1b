"""What every store engine shares: its errors, and the typed results it returns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from qdrant_client import models

from app.domain.entry import FaqEntry

# A named vector's values for a batch of points: a dense matrix, or one sparse vector a point.
VectorBatch = np.ndarray | list[models.SparseVector]
QueryVector = np.ndarray | models.SparseVector


# The payload field holding an entry's content id (FaqEntry.id of what it holds now).
CONTENT_ID = "content_id"


class StoreError(RuntimeError):
    """The vector store failed; the message says how."""


class StoreUnavailable(StoreError):
    """Qdrant cannot be reached (server down, or the embedded folder is locked)."""


class CollectionMissing(StoreError):
    """The collection alias does not exist yet (nothing was indexed)."""


class MissingVector(StoreError):
    """The collection has no vectors of the asked name (indexed before that vector existed)."""


@dataclass(frozen=True)
class ScoredPoint:
    """One query result: the point's id and score, and its entry when it was asked for."""

    id: str
    score: float
    entry: FaqEntry | None = None


@dataclass(frozen=True)
class CollectionInfo:
    alias: str
    collection: str
    points: int
    vectors: tuple[str, ...]


def entry_from_payload(payload: Mapping | None) -> FaqEntry:
    payload = payload or {}
    return FaqEntry(
        question=str(payload.get("question", "")),
        answer=str(payload.get("answer", "")),
        source=str(payload.get("source", "")),
        filename=str(payload.get("filename", "")),
    )
