"""All access to Qdrant: versioned collections behind an alias, points, and raw vector queries.

The same code talks to a Qdrant server (QDRANT_URL) and to qdrant-client's embedded local
mode (QDRANT_PATH); only the client construction differs. What a query *means* (which vectors,
how scores combine) is decided in `app.search`, not here.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime

import numpy as np
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from app.config import StoreSettings
from app.domain.entry import FaqEntry
from app.store.base import (
    CONTENT_ID,
    CollectionInfo,
    CollectionMissing,
    MissingVector,
    QueryVector,
    ScoredPoint,
    StoreError,
    StoreUnavailable,
    VectorBatch,
    entry_from_payload,
)

logger = logging.getLogger(__name__)


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
    def __init__(
        self,
        client: QdrantClient,
        *,
        embedded: bool,
        description: str,
        distribution: Mapping[str, int] | None = None,
    ):
        self.client = client
        self.embedded = embedded
        self.description = description
        # shard_number, replication_factor, write_consistency_factor of new collections: Qdrant's
        # own distributed mode, on a server (the embedded store is one process, one shard).
        self._distribution = dict(distribution or {})
        if self._distribution and embedded:
            logger.info("ignoring %s: the embedded store has one shard", ", ".join(self._distribution))
            self._distribution = {}
        # qdrant-client's local mode is not safe under concurrent writers (a known upstream
        # bug) and deletes a collection under a running search; in embedded mode every call
        # goes through this lock. A server does its own concurrency control.
        self._lock: threading.RLock | None = threading.RLock() if embedded else None
        self._record_collections: set[str] = set()  # record collections known to exist

    @classmethod
    def open(cls, settings: StoreSettings) -> FaqStore:
        return cls(
            _client_for(settings),
            embedded=settings.qdrant_url is None,
            description=settings.describe(),
            distribution=settings.distribution(),
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
            except ValueError as exc:
                # The embedded client's word for an unknown collection (a server answers 404).
                if str(exc).startswith("Collection ") and str(exc).endswith("not found"):
                    hint = "index the FAQ with `faq index`, or add entries"
                    raise CollectionMissing(f"{exc}: {hint}") from None
                raise
            except (ResponseHandlingException, ConnectionError, TimeoutError) as exc:
                raise StoreUnavailable(f"{self.description} is unreachable: {exc}") from exc
            except UnexpectedResponse as exc:
                if exc.status_code == 404:
                    raise CollectionMissing(
                        f"{self.description}: {exc.reason_phrase or 'not found'}"
                    ) from exc
                raise StoreError(f"{self.description} answered {exc.status_code}: {exc.content!r}") from exc

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
        dense = info.config.params.vectors
        sparse = info.config.params.sparse_vectors
        names = [*(dense if isinstance(dense, dict) else {}), *(sparse or {})]
        return CollectionInfo(alias=alias, collection=collection, points=count, vectors=tuple(sorted(names)))

    def versions(self, alias: str) -> list[str]:
        """Collections that are versions of `alias` (alias_vYYYYmmddTHHMMSS_xxxxxx)."""
        with self._locked():
            names = [c.name for c in self.client.get_collections().collections]
        return sorted(n for n in names if n.startswith(f"{alias}_v"))

    def orphan_versions(self, alias: str) -> list[str]:
        """Versions of `alias` that it does not point at: left by an index job that was killed
        (a finished job drops the versions it replaced)."""
        current = self.resolve_alias(alias)
        return [name for name in self.versions(alias) if name != current]

    def create_version(self, alias: str, dense: Mapping[str, int], sparse: Sequence[str] = ()) -> str:
        """A new, empty collection version with the named dense vectors (of the given sizes)
        and sparse vectors (IDF-weighted dot product, for lexical matching).

        Dense vectors are compared by dot product: the search stores and queries unit-length
        vectors, so the scores are their cosine similarities, without the norm of every stored
        vector being recomputed per query (which the embedded store does for cosine distance).
        """
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        name = f"{alias}_v{stamp}_{uuid.uuid4().hex[:6]}"
        with self._locked():
            self.client.create_collection(
                name,
                vectors_config={
                    vector: models.VectorParams(size=size, distance=models.Distance.DOT)
                    for vector, size in dense.items()
                },
                sparse_vectors_config={
                    vector: models.SparseVectorParams(modifier=models.Modifier.IDF) for vector in sparse
                }
                or None,
                shard_number=self._distribution.get("shard_number"),
                replication_factor=self._distribution.get("replication_factor"),
                write_consistency_factor=self._distribution.get("write_consistency_factor"),
            )
            if not self.embedded:  # the embedded store filters by scanning; it has no payload indexes
                self.client.create_payload_index(name, "source", models.PayloadSchemaType.KEYWORD)
        return name

    def upsert(
        self,
        collection: str,
        entries: Sequence[FaqEntry],
        vectors: Mapping[str, VectorBatch],
        ids: Sequence[str] | None = None,
    ) -> None:
        """Write `entries` with their vectors, under their own ids (uuid5 of their content) or,
        for an edited entry that keeps its id, under `ids`."""
        # The columnar Batch form skips building one PointStruct per entry.
        batch = models.Batch(
            ids=list(ids) if ids is not None else [entry.id for entry in entries],
            vectors={
                name: values.tolist() if isinstance(values, np.ndarray) else list(values)
                for name, values in vectors.items()
            },
            # `content_id`: the content's id, kept current through edits (an edited entry keeps
            # its point id), so that "this content is already stored" is one keyword match.
            payloads=[{**entry.to_record(), CONTENT_ID: entry.id} for entry in entries],
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

    # ---- raw queries ------------------------------------------------------------------------
    def query(
        self,
        alias: str,
        vector: QueryVector,
        using: str,
        *,
        limit: int,
        source: str | None = None,
        with_entries: bool = False,
    ) -> list[ScoredPoint]:
        """The `limit` points nearest to `vector` in the named vector space `using`, best first."""
        query: list[float] | models.SparseVector = (
            vector.tolist() if isinstance(vector, np.ndarray) else vector
        )
        query_filter = _source_filter(source)
        try:
            with self._locked():
                response = self.client.query_points(
                    alias,
                    query=query,
                    using=using,
                    query_filter=query_filter,
                    limit=limit,
                    with_payload=with_entries,
                )
        except (ValueError, StoreError) as exc:
            raise _query_error(exc, alias, using) from None
        return [
            ScoredPoint(str(p.id), float(p.score), entry_from_payload(p.payload) if with_entries else None)
            for p in response.points
        ]

    def query_batch(
        self,
        alias: str,
        vectors: Sequence[QueryVector],
        using: str,
        *,
        limit: int,
        sources: Sequence[str | None],
    ) -> list[list[ScoredPoint]]:
        """`query` for several vectors in one call (one request to a server), results in order."""
        requests = [
            models.QueryRequest(
                query=vector.tolist() if isinstance(vector, np.ndarray) else vector,
                using=using,
                filter=_source_filter(source),
                limit=limit,
                with_payload=False,
            )
            for vector, source in zip(vectors, sources, strict=True)
        ]
        try:
            with self._locked():
                responses = self.client.query_batch_points(alias, requests=requests)
        except (ValueError, StoreError) as exc:
            raise _query_error(exc, alias, using) from None
        return [[ScoredPoint(str(p.id), float(p.score)) for p in response.points] for response in responses]

    def entries(self, alias: str, ids: Sequence[str]) -> dict[str, FaqEntry]:
        """The entries stored under `ids` (those that exist)."""
        if not ids:
            return {}
        with self._locked():
            points = self.client.retrieve(alias, ids=list(ids), with_payload=True, with_vectors=False)
        return {str(p.id): entry_from_payload(p.payload) for p in points}

    def scroll_entries(
        self, alias: str, *, source: str | None = None, limit: int = 100, cursor: str | None = None
    ) -> tuple[list[tuple[str, FaqEntry]], str | None]:
        """A page of stored entries in id order, and the cursor of the next page (None: last)."""
        with self._locked():
            points, next_offset = self.client.scroll(
                alias,
                scroll_filter=_source_filter(source),
                limit=limit,
                offset=cursor,
                with_payload=True,
                with_vectors=False,
            )
        following = None if next_offset is None else str(next_offset)
        return [(str(p.id), entry_from_payload(p.payload)) for p in points], following

    def stored_vectors(
        self, collection: str, names: Sequence[str], page: int = 1000
    ) -> tuple[list[FaqEntry], dict[str, np.ndarray]]:
        """Every entry of a collection with its named dense vectors (for refitting the decision
        rule after live changes, without encoding the FAQ again)."""
        entries: list[FaqEntry] = []
        columns: dict[str, list[np.ndarray]] = {name: [] for name in names}
        offset = None
        while True:
            with self._locked():
                points, offset = self.client.scroll(
                    collection, limit=page, offset=offset, with_payload=True, with_vectors=list(names)
                )
            for p in points:
                vectors = p.vector if isinstance(p.vector, dict) else {}
                if not all(name in vectors for name in names):
                    continue
                entries.append(entry_from_payload(p.payload))
                for name in names:
                    columns[name].append(np.asarray(vectors[name], dtype=np.float32))
            if offset is None:
                break
        return entries, {
            name: np.stack(rows) if rows else np.zeros((0, 0), np.float32) for name, rows in columns.items()
        }

    def metadata(self, collection: str) -> dict:
        """The collection's metadata (what the index job stored with this version)."""
        with self._locked():
            info = self.client.get_collection(collection)
        return dict(info.config.metadata or {})

    def set_metadata(self, collection: str, values: Mapping[str, object]) -> None:
        """Store `values` with the collection version (merged into its metadata)."""
        with self._locked():
            self.client.update_collection(collection, metadata=dict(values))

    def ids_holding(self, alias: str, entries: Sequence[FaqEntry]) -> dict[str, str]:
        """For each of `entries` already stored (the same content, under whatever id): content
        id -> the id of the point that holds it. Never-edited entries are found by their id,
        edited ones by the content id kept in their payload."""
        wanted = {entry.id: entry for entry in entries}
        if not wanted:
            return {}
        found: dict[str, str] = {}
        with self._locked():
            by_id = self.client.retrieve(alias, ids=list(wanted), with_payload=True, with_vectors=False)
            edited, _ = self.client.scroll(
                alias,
                scroll_filter=models.Filter(
                    must=[models.FieldCondition(key=CONTENT_ID, match=models.MatchAny(any=list(wanted)))]
                ),
                limit=len(wanted) * 2 + 10,
                with_payload=True,
                with_vectors=False,
            )
        for point in [*by_id, *edited]:
            stored = entry_from_payload(point.payload)
            if stored.id in wanted:
                found.setdefault(stored.id, str(point.id))
        return found

    def delete_points(self, collection: str, ids: Sequence[str]) -> None:
        with self._locked():
            self.client.delete(collection, points_selector=models.PointIdsList(points=list(ids)), wait=True)

    def source_counts(self, alias: str) -> dict[str, int]:
        """How many entries each `source` value has (Qdrant's facet count)."""
        with self._locked():
            response = self.client.facet(alias, key="source", limit=1000, exact=True)
        return {str(hit.value): hit.count for hit in response.hits}

    # ---- record collections (feedback, unanswered questions) ----------------------------------
    def add_record(self, name: str, record_id: str, vector: np.ndarray, payload: dict) -> None:
        """Write a record to a plain collection (one unnamed cosine vector a record) kept beside
        the FAQ for a log (feedback, unanswered questions); created by its first record, never
        versioned or replaced by an index job."""
        point = models.PointStruct(id=record_id, vector=vector.tolist(), payload=payload)
        with self._locked():
            if name not in self._record_collections:
                if not self.client.collection_exists(name):
                    self.client.create_collection(
                        name,
                        vectors_config=models.VectorParams(size=len(vector), distance=models.Distance.COSINE),
                    )
                self._record_collections.add(name)
            self.client.upsert(name, points=[point], wait=True)

    # ---- shared state of several processes (reindex job records and their lease) -------------
    def put_state(self, name: str, record_id: str, payload: dict) -> None:
        """Write a small state record (no meaningful vector) to the plain collection `name`."""
        self.add_record(name, record_id, np.ones(1, dtype=np.float32), payload)

    def get_state(self, name: str, record_id: str) -> dict | None:
        with self._locked():
            if name not in self._record_collections and not self.client.collection_exists(name):
                return None
            points = self.client.retrieve(name, ids=[record_id], with_payload=True, with_vectors=False)
        return dict(points[0].payload or {}) if points else None

    def take_lease(self, name: str, lease_id: str, holder: str, now: float, ttl: float) -> str | None:
        """Take the lease `lease_id` for `holder` when it is free or its holder has not renewed
        it for `ttl` seconds; None when taken, else the holder that has it. A conditional write
        (the payload is set only on a lease point that matches "free or expired"), then read
        back: Qdrant applies a collection's updates one after another, so of two processes
        racing, one write matches and the other finds the lease held."""
        if self.get_state(name, lease_id) is None:
            self.put_state(name, lease_id, {"holder": "", "renewed": 0.0})
        free = models.Filter(
            must=[models.HasIdCondition(has_id=[lease_id])],
            should=[
                models.FieldCondition(key="holder", match=models.MatchValue(value="")),
                models.FieldCondition(key="renewed", range=models.Range(lt=now - ttl)),
            ],
        )
        with self._locked():
            self.client.set_payload(name, payload={"holder": holder, "renewed": now}, points=free, wait=True)
        current = self.get_state(name, lease_id) or {}
        held_by = str(current.get("holder", ""))
        return None if held_by == holder else held_by

    def renew_lease(self, name: str, lease_id: str, holder: str, now: float) -> None:
        mine = models.Filter(
            must=[
                models.HasIdCondition(has_id=[lease_id]),
                models.FieldCondition(key="holder", match=models.MatchValue(value=holder)),
            ]
        )
        with self._locked():
            self.client.set_payload(name, payload={"renewed": now}, points=mine, wait=True)

    def release_lease(self, name: str, lease_id: str, holder: str) -> None:
        mine = models.Filter(
            must=[
                models.HasIdCondition(has_id=[lease_id]),
                models.FieldCondition(key="holder", match=models.MatchValue(value=holder)),
            ]
        )
        with self._locked():
            self.client.set_payload(name, payload={"holder": "", "renewed": 0.0}, points=mine, wait=True)

    def records(
        self, name: str, *, with_vectors: bool = False, page: int = 1000
    ) -> Iterator[tuple[str, dict, np.ndarray | None]]:
        """Every record of a record collection: (id, payload, vector or None); none before the
        first record is written."""
        with self._locked():
            if name not in self._record_collections and not self.client.collection_exists(name):
                return
        offset = None
        while True:
            with self._locked():
                points, offset = self.client.scroll(
                    name, limit=page, offset=offset, with_payload=True, with_vectors=with_vectors
                )
            for p in points:
                vector = None
                if with_vectors and p.vector is not None:
                    vector = np.asarray(p.vector, dtype=np.float32)
                yield str(p.id), dict(p.payload or {}), vector
            if offset is None:
                return


def _query_error(exc: Exception, alias: str, using: str) -> Exception:
    """A failed query's error in the store's terms."""
    text = str(exc).lower()
    # Server: "Not existing vector name"; embedded: "Dense/Sparse vector question is not found".
    if "vector name" in text or f"vector {using} is not found" in text:
        return MissingVector(f"collection '{alias}' has no '{using}' vectors")
    if isinstance(exc, ValueError) and "not found" in text:
        # the embedded client's word for an unknown collection
        return CollectionMissing(f"collection '{alias}' does not exist: index the FAQ with `faq index`")
    return exc


def _source_filter(source: str | None) -> models.Filter | None:
    if not source:
        return None
    return models.Filter(must=[models.FieldCondition(key="source", match=models.MatchValue(value=source))])
