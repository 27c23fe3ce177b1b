"""All access to Qdrant: versioned FAQ collections behind an alias, and answer search.

The same code talks to a Qdrant server (QDRANT_URL) and to qdrant-client's embedded local
mode (QDRANT_PATH); only the client construction differs.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from app.core.config import StoreSettings
from app.core.data import FaqEntry

logger = logging.getLogger(__name__)

ANSWER_VECTOR = "answer"
QUESTION_VECTOR = "question"
# A fixed namespace makes point ids a pure function of the entry: re-indexing is idempotent.
POINT_NAMESPACE = uuid.UUID("6f1c1a8e-7a0b-4a53-9d1f-4b2f8f0e6c11")


class StoreError(RuntimeError):
    """The vector store failed; the message says how."""


class StoreUnavailable(StoreError):
    """Qdrant cannot be reached (server down, or the embedded folder is locked)."""


class CollectionMissing(StoreError):
    """The collection alias does not exist yet (nothing was indexed)."""


@dataclass(frozen=True)
class Hit:
    id: str
    answer: str
    question: str
    source: str
    filename: str
    score: float


@dataclass(frozen=True)
class CollectionInfo:
    alias: str
    collection: str
    points: int
    vectors: tuple[str, ...]


def point_id(entry: FaqEntry) -> str:
    key = "\x1f".join((entry.question, entry.answer, entry.source, entry.filename))
    return str(uuid.uuid5(POINT_NAMESPACE, key))


def _client_for(settings: StoreSettings) -> QdrantClient:
    if settings.qdrant_url:
        api_key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
        # No version handshake at start-up: a server that is down must not stop the service from
        # starting; /ready reports it instead.
        return QdrantClient(url=settings.qdrant_url, api_key=api_key, timeout=10, check_compatibility=False)
    path = settings.embedded_path
    assert path is not None  # no URL means an embedded path, by construction of the settings
    path.mkdir(parents=True, exist_ok=True)
    try:
        return QdrantClient(path=str(path))
    except RuntimeError as exc:
        if "already accessed" in str(exc):
            raise StoreUnavailable(
                f"the embedded Qdrant store at {path} is in use by another process "
                "(is `faq serve` running? hand the job to it with --url)"
            ) from None
        raise


class FaqStore:
    def __init__(self, client: QdrantClient, *, embedded: bool, description: str):
        self.client = client
        self.embedded = embedded
        self.description = description
        # qdrant-client's local mode is not safe under concurrent writers (a known upstream
        # bug) and deletes a collection under a running search; in embedded mode every call
        # goes through this lock. A server does its own concurrency control.
        self._lock: threading.RLock | None = threading.RLock() if embedded else None

    @classmethod
    def open(cls, settings: StoreSettings) -> FaqStore:
        return cls(
            _client_for(settings), embedded=settings.qdrant_url is None, description=settings.describe()
        )

    @classmethod
    def in_memory(cls) -> FaqStore:
        return cls(QdrantClient(location=":memory:"), embedded=True, description="in-memory Qdrant")

    def close(self) -> None:
        with self._locked():
            self.client.close()

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock if self._lock is not None else nullcontext():
            try:
                yield
            except StoreError:
                raise
            except (ResponseHandlingException, ConnectionError, TimeoutError) as exc:
                raise StoreUnavailable(f"{self.description} is unreachable: {exc}") from exc
            except UnexpectedResponse as exc:
                if exc.status_code == 404:
                    raise CollectionMissing(
                        f"{self.description}: {exc.reason_phrase or 'not found'}"
                    ) from exc
                raise StoreError(f"{self.description} answered {exc.status_code}: {exc.content!r}") from exc

    # ---- health -------------------------------------------------------------------------
    def ping(self) -> None:
        with self._locked():
            self.client.get_collections()

    # ---- collections and aliases --------------------------------------------------------
    def resolve_alias(self, alias: str) -> str | None:
        with self._locked():
            for item in self.client.get_aliases().aliases:
                if item.alias_name == alias:
                    return item.collection_name
        return None

    def collection_info(self, alias: str) -> CollectionInfo:
        collection = self.resolve_alias(alias)
        if collection is None:
            raise CollectionMissing(f"collection '{alias}' does not exist: index the FAQ with `faq index`")
        with self._locked():
            info = self.client.get_collection(collection)
            count = self.client.count(collection, exact=True).count
        vectors = info.config.params.vectors
        names = tuple(sorted(vectors)) if isinstance(vectors, dict) else ()
        return CollectionInfo(alias=alias, collection=collection, points=count, vectors=names)

    def versions(self, alias: str) -> list[str]:
        """Collections that are versions of `alias` (alias_YYYYmmddTHHMMSS_xxxxxx)."""
        with self._locked():
            names = [c.name for c in self.client.get_collections().collections]
        return sorted(n for n in names if n.startswith(f"{alias}_v"))

    def create_version(self, alias: str, vector_size: int, vector_names: Sequence[str]) -> str:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        name = f"{alias}_v{stamp}_{uuid.uuid4().hex[:6]}"
        with self._locked():
            self.client.create_collection(
                name,
                vectors_config={
                    vector: models.VectorParams(size=vector_size, distance=models.Distance.COSINE)
                    for vector in vector_names
                },
            )
            if not self.embedded:  # the embedded store filters by scanning; it has no payload indexes
                self.client.create_payload_index(name, "source", models.PayloadSchemaType.KEYWORD)
        return name

    def upsert(self, collection: str, entries: Sequence[FaqEntry], vectors: dict[str, np.ndarray]) -> None:
        # The columnar Batch form skips building one PointStruct per entry.
        batch = models.Batch(
            ids=[point_id(entry) for entry in entries],
            vectors={name: matrix.tolist() for name, matrix in vectors.items()},
            payloads=[entry.to_payload() for entry in entries],
        )
        with self._locked():
            self.client.upsert(collection, points=batch, wait=True)

    def count(self, collection: str) -> int:
        with self._locked():
            return self.client.count(collection, exact=True).count

    def point_alias_to(self, alias: str, collection: str) -> str | None:
        """Atomically move `alias` to `collection`; returns the collection it pointed at before."""
        previous = self.resolve_alias(alias)
        operations: list[models.AliasOperations] = []
        if previous is not None:
            operations.append(models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=alias)))
        operations.append(
            models.CreateAliasOperation(
                create_alias=models.CreateAlias(collection_name=collection, alias_name=alias)
            )
        )
        with self._locked():
            self.client.update_collection_aliases(change_aliases_operations=operations)
        return previous

    def drop(self, collection: str) -> None:
        with self._locked():
            self.client.delete_collection(collection)

    # ---- search ---------------------------------------------------------------------------
    def search(
        self,
        alias: str,
        answer_query: np.ndarray,
        *,
        limit: int = 5,
        source: str | None = None,
        score_threshold: float | None = None,
    ) -> list[Hit]:
        query_filter = None
        if source:
            query_filter = models.Filter(
                must=[models.FieldCondition(key="source", match=models.MatchValue(value=source))]
            )
        try:
            with self._locked():
                response = self.client.query_points(
                    alias,
                    query=answer_query.tolist(),
                    using=ANSWER_VECTOR,
                    query_filter=query_filter,
                    limit=limit,
                    score_threshold=score_threshold,
                    with_payload=True,
                )
        except ValueError as exc:  # the embedded client's word for an unknown collection
            if "not found" in str(exc).lower():
                raise CollectionMissing(
                    f"collection '{alias}' does not exist: index the FAQ with `faq index`"
                ) from None
            raise
        return [_hit(point) for point in response.points]


def _hit(point: models.ScoredPoint) -> Hit:
    payload = point.payload or {}
    return Hit(
        id=str(point.id),
        answer=str(payload.get("answer", "")),
        question=str(payload.get("question", "")),
        source=str(payload.get("source", "")),
        filename=str(payload.get("filename", "")),
        score=float(point.score),
    )
