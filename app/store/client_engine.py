"""The qdrant-client engine: a Qdrant server (QDRANT_URL), with versioned collections behind
Qdrant's aliases.

qdrant-client's local mode (`ClientStore.in_memory()`, or a folder) runs the same code
in-process; it stands in for the server's API in the store's contract tests, and it is what
`faq migrate-store` reads a store of an earlier release from. What a query *means* (which
vectors, how scores combine) is decided in `app.search`, not here.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from app.config import StoreSettings
from app.domain.entry import FaqEntry
from app.store.base import (
    CONTENT_ID,
    ENTRY_KEYWORDS,
    CollectionInfo,
    CollectionLayout,
    CollectionMissing,
    FaqStore,
    MissingVector,
    QueryVector,
    ScoredPoint,
    StoredPoint,
    StoreError,
    StoreUnavailable,
    VectorBatch,
    entry_from_payload,
    point_vectors,
)

logger = logging.getLogger(__name__)


def _server_client(settings: StoreSettings) -> QdrantClient:
    api_key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
    # No version handshake at start-up: a server that is down must not stop the service from
    # starting; /ready reports it instead.
    return QdrantClient(url=settings.qdrant_url, api_key=api_key, timeout=10, check_compatibility=False)


class ClientStore(FaqStore):
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
    def open(cls, settings: StoreSettings) -> ClientStore:
        """The Qdrant server QDRANT_URL names."""
        if not settings.qdrant_url:
            raise StoreError("the qdrant-client engine opens a server: QDRANT_URL is not set")
        return cls(
            _server_client(settings),
            embedded=False,
            description=settings.describe(),
            distribution=settings.distribution(),
        )

    @classmethod
    def open_folder(cls, path: Path) -> ClientStore:
        """qdrant-client's local mode on a folder: the embedded store of earlier releases, which
        `faq migrate-store` copies from."""
        try:
            client = QdrantClient(path=str(path))
        except RuntimeError as exc:
            if "already accessed" in str(exc):
                raise StoreUnavailable(
                    f"the store at {path} is in use by another process (stop the service first)"
                ) from None
            raise
        return cls(client, embedded=True, description=f"qdrant-client local-mode store at {path}")

    @classmethod
    def in_memory(cls) -> ClientStore:
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
        return self.aliases().get(alias)

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
        """Collections that are versions of `alias` (alias_vYYYYmmddTHHMMSSffffff_xxxxxx)."""
        with self._locked():
            names = [c.name for c in self.client.get_collections().collections]
        return sorted(n for n in names if n.startswith(f"{alias}_v"))

    def upsert(
        self,
        collection: str,
        entries: Sequence[FaqEntry],
        vectors: Mapping[str, VectorBatch],
        ids: Sequence[str] | None = None,
    ) -> None:
        """Write `entries` with their vectors, under their own ids (uuid5 of their content) or,
        for an edited entry that keeps its id, under `ids`."""
        point_ids = list(ids) if ids is not None else [entry.id for entry in entries]
        # `content_id`: the content's id, kept current through edits (an edited entry keeps
        # its point id), so that "this content is already stored" is one keyword match.
        payloads = [{**entry.to_record(), CONTENT_ID: entry.id} for entry in entries]
        points: models.Batch | list[models.PointStruct]
        if all(isinstance(values, np.ndarray) or _is_sparse(values) for values in vectors.values()):
            # The columnar Batch form skips building one PointStruct per entry.
            points = models.Batch(
                ids=list[int | str | uuid.UUID](point_ids),
                vectors={
                    name: values.tolist() if isinstance(values, np.ndarray) else list(values)  # type: ignore[arg-type]
                    for name, values in vectors.items()
                },
                payloads=payloads,
            )
        else:  # multivectors: a point may have none, which a Batch cannot say
            points = [
                models.PointStruct(id=pid, vector=point_vectors(vectors, i), payload=payloads[i])  # type: ignore[arg-type]
                for i, pid in enumerate(point_ids)
            ]
        with self._locked():
            self.client.upsert(collection, points=points, wait=True)

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
            self._record_collections.discard(collection)

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
        """A page of stored entries in the store's order (of its point ids), and the cursor of
        the next page (None: the last)."""
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

    def metadata(self, collection: str) -> dict:
        # Qdrant resolves an alias here itself, in one request.
        with self._locked():
            info = self.client.get_collection(collection)
        return dict(info.config.metadata or {})

    def set_metadata(self, collection: str, values: Mapping[str, object]) -> None:
        """Store `values` with the collection version (merged into its metadata)."""
        with self._locked():
            self.client.update_collection(collection, metadata=dict(values))

    def set_payload(self, collection: str, point_id: str, values: Mapping[str, object]) -> None:
        with self._locked():
            self.client.set_payload(collection, payload=dict(values), points=[point_id], wait=True)

    def delete_points(self, collection: str, ids: Sequence[str]) -> None:
        with self._locked():
            self.client.delete(collection, points_selector=models.PointIdsList(points=list(ids)), wait=True)

    def source_counts(self, alias: str) -> dict[str, int]:
        """How many entries each `source` value has (Qdrant's facet count)."""
        with self._locked():
            response = self.client.facet(alias, key="source", limit=1000, exact=True)
        return {str(hit.value): hit.count for hit in response.hits}

    # ---- record collections (feedback, unanswered questions) ----------------------------------
    def index_records(self, name: str, keys: Sequence[str]) -> None:
        if self.embedded:
            return  # local mode filters and counts by scanning; it has no payload indexes
        with self._locked():
            for key in keys:
                self.client.create_payload_index(name, key, models.PayloadSchemaType.KEYWORD)

    def count_records(
        self, name: str, key: str, *, where: Mapping[str, Sequence[str]] | None = None, limit: int = 100
    ) -> dict[str, int]:
        conditions: list[models.Condition] = [
            models.FieldCondition(key=k, match=models.MatchAny(any=list(v))) for k, v in (where or {}).items()
        ]
        with self._locked():
            if not self.client.collection_exists(name):
                return {}
            response = self.client.facet(
                name,
                key=key,
                limit=limit,
                exact=True,
                facet_filter=models.Filter(must=conditions) if conditions else None,
            )
        return {str(hit.value): hit.count for hit in response.hits if hit.count > 0}

    # ---- shared state of several processes (reindex job records and their lease) -------------
    # ---- the whole store, for copying it ------------------------------------------------------
    def aliases(self) -> dict[str, str]:
        with self._locked():
            return {item.alias_name: item.collection_name for item in self.client.get_aliases().aliases}

    def collection_names(self) -> list[str]:
        with self._locked():
            return sorted(c.name for c in self.client.get_collections().collections)

    def layout(self, collection: str) -> CollectionLayout:
        with self._locked():
            config = self.client.get_collection(collection).config
        params, metadata = config.params, dict(config.metadata or {})
        vectors = params.vectors
        named = vectors if isinstance(vectors, dict) else {"": vectors} if vectors is not None else {}
        distances = {v.distance for v in named.values()}
        if len(distances) > 1:
            raise StoreError(f"{collection}: vectors with different distances ({distances}) cannot be copied")
        distance = "cosine" if distances == {models.Distance.COSINE} else "dot"
        return CollectionLayout(
            name=collection,
            dense={name: v.size for name, v in named.items()},
            distance=distance,
            sparse=tuple(sorted(params.sparse_vectors or {})),
            metadata=metadata,
            multi=tuple(sorted(name for name, v in named.items() if v.multivector_config is not None)),
        )

    def create_collection(self, layout: CollectionLayout) -> None:
        distance = models.Distance.COSINE if layout.distance == "cosine" else models.Distance.DOT
        dense: dict[str, models.VectorParams] | models.VectorParams = {
            name: models.VectorParams(
                size=size, distance=distance, multivector_config=_max_sim(name in layout.multi)
            )
            for name, size in layout.dense.items()
        }
        if set(layout.dense) == {""}:  # a record collection's one unnamed vector
            dense = models.VectorParams(size=layout.dense[""], distance=distance)
        with self._locked():
            self.client.create_collection(
                layout.name,
                vectors_config=dense,
                sparse_vectors_config={
                    name: models.SparseVectorParams(modifier=models.Modifier.IDF) for name in layout.sparse
                }
                or None,
                metadata=dict(layout.metadata) or None,
                shard_number=self._distribution.get("shard_number"),
                replication_factor=self._distribution.get("replication_factor"),
                write_consistency_factor=self._distribution.get("write_consistency_factor"),
            )
            # A FAQ version's keyword indexes (local mode filters by scanning: it has none).
            if set(layout.dense) != {""} and not self.embedded:
                for key in ENTRY_KEYWORDS:
                    self.client.create_payload_index(layout.name, key, models.PayloadSchemaType.KEYWORD)

    def points(self, collection: str, page: int = 500) -> Iterator[StoredPoint]:
        for p in self._scroll(collection, True, page):
            raw: dict[str, Any] = (
                p.vector if isinstance(p.vector, dict) else {"": p.vector} if p.vector is not None else {}
            )
            dense: dict[str, Any] = {
                n: [[float(x) for x in row] for row in v]
                if v and isinstance(v[0], list)
                else [float(x) for x in v]
                for n, v in raw.items()
                if isinstance(v, list)
            }
            sparse = {
                n: (list(v.indices), [float(x) for x in v.values])
                for n, v in raw.items()
                if isinstance(v, models.SparseVector)
            }
            yield StoredPoint(str(p.id), dense, sparse, dict(p.payload or {}))

    def _scroll(self, collection: str, with_vectors: bool | list[str], page: int) -> Iterator[models.Record]:
        """Every point of `collection` with its payload, a page at a time (the lock is held for
        one page, never across the caller's work)."""
        offset = None
        while True:
            with self._locked():
                points, offset = self.client.scroll(
                    collection, limit=page, offset=offset, with_payload=True, with_vectors=with_vectors
                )
            yield from points
            if offset is None:
                return

    # ---- the primitives of app.store.base's shared algorithms ------------------------------
    def _has_collection(self, name: str) -> bool:
        if name in self._record_collections:
            return True
        with self._locked():
            exists = self.client.collection_exists(name)
        if exists:
            self._record_collections.add(name)
        return exists

    def _retrieve(self, collection: str, ids: Sequence[str]) -> list[tuple[str, dict]]:
        with self._locked():
            points = self.client.retrieve(collection, ids=list(ids), with_payload=True, with_vectors=False)
        return [(str(p.id), dict(p.payload or {})) for p in points]

    def _having(
        self, collection: str, key: str, values: Sequence[str], *, limit: int
    ) -> list[tuple[str, dict]]:
        match = models.Filter(must=[models.FieldCondition(key=key, match=models.MatchAny(any=list(values)))])
        with self._locked():
            points, _ = self.client.scroll(
                collection, scroll_filter=match, limit=limit, with_payload=True, with_vectors=False
            )
        return [(str(p.id), dict(p.payload or {})) for p in points]

    def _scan(
        self, collection: str, vectors: bool | list[str], page: int
    ) -> Iterator[tuple[str, dict, dict[str, object]]]:
        for p in self._scroll(collection, vectors, page):
            raw = p.vector if isinstance(p.vector, dict) else ({"": p.vector} if p.vector is not None else {})
            yield str(p.id), dict(p.payload or {}), dict(raw)

    def _upsert_records(self, name: str, records: Sequence[tuple[str, np.ndarray, dict]]) -> None:
        points = [
            models.PointStruct(id=record_id, vector=vector.tolist(), payload=payload)
            for record_id, vector, payload in records
        ]
        with self._locked():
            self.client.upsert(name, points=points, wait=True)

    def _set_lease(
        self,
        name: str,
        lease_id: str,
        payload: dict,
        *,
        holder: str | None = None,
        free_before: float | None = None,
    ) -> None:
        conditions: list[models.Condition] = [models.HasIdCondition(has_id=[lease_id])]
        if holder is not None:
            conditions.append(models.FieldCondition(key="holder", match=models.MatchValue(value=holder)))
        either: list[models.Condition] | None = None
        if free_before is not None:
            either = [
                models.FieldCondition(key="holder", match=models.MatchValue(value="")),
                models.FieldCondition(key="renewed", range=models.Range(lt=free_before)),
            ]
        where = models.Filter(must=conditions, should=either)
        with self._locked():
            self.client.set_payload(name, payload=payload, points=where, wait=True)

    def write_points(self, collection: str, points: Sequence[StoredPoint]) -> None:
        structs = []
        for p in points:
            vector: dict = {
                **p.dense,
                **{n: models.SparseVector(indices=i, values=v) for n, (i, v) in p.sparse.items()},
            }
            structs.append(
                models.PointStruct(
                    id=p.id, vector=vector[""] if set(vector) == {""} else vector, payload=dict(p.payload)
                )
            )
        with self._locked():
            self.client.upsert(collection, points=structs, wait=True)


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


def _max_sim(multi: bool) -> models.MultiVectorConfig | None:
    return models.MultiVectorConfig(comparator=models.MultiVectorComparator.MAX_SIM) if multi else None


def _is_sparse(values: object) -> bool:
    return isinstance(values, list) and all(isinstance(v, models.SparseVector) for v in values)


def _source_filter(source: str | None) -> models.Filter | None:
    if not source:
        return None
    return models.Filter(must=[models.FieldCondition(key="source", match=models.MatchValue(value=source))])
